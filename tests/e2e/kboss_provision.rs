//! kboss clusters built from the center's idle devices over SSH (real sshd
//! per device, fixture kubeadm against a simulated cluster): devices move
//! idle -> occupied -> idle, the cluster's kubeconfig and join command are
//! sealed, the widgets' stock follows the devices that join and leave.

use serde_json::{json, Value};
use simcluster::{ClusterSpec, SimCluster};

use crate::common::*;
use crate::kb::{Kb, ORG};
use crate::machine::{Machine, PASSWORD, USER};
use computehub::store::Value as V;

async fn field(kb: &Kb, collection: &str, id: &str, name: &str) -> Option<V> {
    let row = kb.s.store().await.get(ORG, collection, id).await.unwrap()?;
    row.fields
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
}

async fn text(kb: &Kb, collection: &str, id: &str, name: &str) -> Option<String> {
    match field(kb, collection, id, name).await? {
        V::Text(t) => Some(t),
        _ => None,
    }
}

async fn widget_stock(kb: &Kb, cpcid: &str, kind: &str, model: &str) -> (i64, Vec<(String, i64)>) {
    let widget =
        kb.s.rows(
            "SELECT id, stock FROM \"kboss.widgets\" WHERE cpcid = ?1 AND type = ?2 AND model = ?3",
            vec![cpcid.into(), kind.into(), model.into()],
        )
        .await;
    let (id, total): (String, i64) = (widget[0].get(0).unwrap(), widget[0].get(1).unwrap());
    let rows = kb
        .s
        .rows(
            "SELECT clusterid, stock FROM \"kboss.widget_stock\" WHERE widgetid = ?1 ORDER BY clusterid",
            vec![id.into()],
        )
        .await
        .iter()
        .map(|r| (r.get(0).unwrap(), r.get(1).unwrap()))
        .collect();
    (total, rows)
}

fn nodes(sim: &SimCluster) -> Vec<String> {
    let mut n: Vec<String> = sim
        .list("v1", "Node", None)
        .iter()
        .map(|n| n["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    n.sort();
    n
}

async fn device(kb: &Kb, cpcid: &str, name: &str, m: &Machine, cpu: &str) -> String {
    let port = m.port.to_string();
    let (st, body) = kb
        .device(
            cpcid,
            name,
            &[
                ("ip", "127.0.0.1"),
                ("sshport", &port),
                ("adminuser", USER),
                ("adminpwd", PASSWORD),
                ("cpu_model", "STANDARD"),
                ("cpu_stock", cpu),
                ("gpu_stock", "0"),
                ("memory_stock", "0"),
            ],
        )
        .await;
    assert_eq!(st, 200, "{body}");
    body["data"]["id"].as_str().unwrap().to_string()
}

/// kboss's built-in grant, with the test's loopback machines: it logs in to
/// devices inside `ssh-targets` only, and checks the new cluster through the
/// kubeconfig it fetched from the control plane, an inline one, so its
/// server must be inside `kube-targets` (loopback only when named).
const KBOSS_LOOPBACK: &str = r#"
default-deadline-ms = 5000
[plugins.kboss]
role = "endpoint"
grants = ["log", "inventory", "pricing", "scheduling", "kubernetes", "ssh", "operations"]
ssh-targets = ["127.0.0.0/8"]
kube-targets = ["127.0.0.1"]
write = ["compute_centers", "clusters", "devices", "labels", "pod_configs", "widgets", "widget_stock"]
secrets = ["compute_centers.api_pwd", "clusters.kubeconfig", "clusters.clusterjoin", "devices.adminpwd", "pod_configs.source_authpasswd"]
"#;

#[tokio::test(flavor = "multi_thread")]
async fn kboss_builds_a_cluster_from_idle_devices_and_releases_them() {
    let sim = SimCluster::start(ClusterSpec::new("kb")).unwrap();
    let kb = Kb::with(Options {
        config: KBOSS_LOOPBACK,
        plugins: vec![],
        ..Options::default()
    });
    let m = Machine::start("node-m", "127.0.0.2");
    m.attach(&sim);
    let w = Machine::start("node-w1", "127.0.0.3");
    w.attach(&sim);
    let cpcid = kb.center("c1").await;
    // Widgets live in a cluster; an existing one holds the CPU widget.
    let existing = kb.cluster(ORG, &cpcid, "existing", None).await;
    let (st, body) = kb
        .widget(&cpcid, &existing, "cpu", "STANDARD", "2.2", "核", "0", "no")
        .await;
    assert_eq!(st, 200, "{body}");
    let dm = device(&kb, &cpcid, "dev-m", &m, "64").await;
    let dw = device(&kb, &cpcid, "dev-w1", &w, "32").await;

    // The control plane.
    let (st, body) = kb
        .post(
            "cpccluster/new_cluster",
            &[
                ("cpcid", cpcid.as_str()),
                ("ctl_nodeid", dm.as_str()),
                ("cluster_type", "0"),
                ("cluster_name", "k1"),
                ("enable_date", "2025-05-16"),
                ("export_date", "2026-06-17"),
            ],
        )
        .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["status"], true);
    let msg = body["msg"].as_str().unwrap();
    assert!(
        msg.starts_with("操作成功!\n加入集群凭证: kubeadm join 127.0.0.2:"),
        "{msg}"
    );
    assert!(
        msg.contains("--token ******"),
        "the token is not shown: {msg}"
    );
    assert_eq!(body["data"]["role"], "master");
    assert_eq!(body["data"]["node_status"], "1");
    let cid = body["data"]["clusterid"].as_str().unwrap().to_string();
    assert_eq!(nodes(&sim), ["node-m"]);
    assert_eq!(
        text(&kb, "devices", &dm, "node_status").await.as_deref(),
        Some("1")
    );
    assert_eq!(
        text(&kb, "devices", &dm, "role").await.as_deref(),
        Some("master")
    );
    assert_eq!(
        text(&kb, "devices", &dm, "clusterid").await.as_deref(),
        Some(cid.as_str())
    );
    let store = kb.s.store().await;
    let kubeconfig = store
        .reveal(ORG, "clusters", &cid, "kubeconfig")
        .await
        .unwrap()
        .unwrap();
    assert!(kubeconfig.contains(&format!("server: https://127.0.0.1:{}", sim.addr().port())));
    let join = store
        .reveal(ORG, "clusters", &cid, "clusterjoin")
        .await
        .unwrap()
        .unwrap();
    assert!(
        join.starts_with("kubeadm join 127.0.0.2:")
            && !msg.contains(join.split_whitespace().nth(4).unwrap())
    );
    assert_eq!(widget_stock(&kb, &cpcid, "cpu", "STANDARD").await.0, 64);

    // An occupied device cannot become another cluster's master; nothing runs.
    let before = m.ssh_lines().len();
    let (st, body) = kb
        .post(
            "cpccluster/new_cluster",
            &[
                ("cpcid", cpcid.as_str()),
                ("ctl_nodeid", dm.as_str()),
                ("cluster_type", "0"),
                ("cluster_name", "k2"),
                ("enable_date", "2025-05-16"),
                ("export_date", "2026-06-17"),
            ],
        )
        .await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["status"], false);
    assert_eq!(body["msg"], "算力设备已被占用");
    assert!(
        body["detail"].as_str().unwrap().contains("`ctl_nodeid`"),
        "{body}"
    );
    assert_eq!(m.ssh_lines().len(), before);

    // A worker joins with a fresh token from the control plane.
    let params = [
        ("cpcid", cpcid.as_str()),
        ("clusterid", cid.as_str()),
        ("worker_nodeid", dw.as_str()),
    ];
    let (st, body) = kb.post("cpcworker/new_cpcworker", &params).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["data"]["role"], "worker");
    assert_eq!(nodes(&sim), ["node-m", "node-w1"]);
    let ready = sim.get("v1", "Node", None, "node-w1").unwrap();
    assert!(ready["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["type"] == "Ready" && c["status"] == "True"));
    assert_eq!(
        text(&kb, "devices", &dw, "role").await.as_deref(),
        Some("worker")
    );
    assert_eq!(
        m.commands().last().unwrap(),
        "kubeadm token create --ttl 1h0m0s --print-join-command"
    );
    assert!(w
        .commands()
        .iter()
        .any(|c| c.starts_with("kubeadm join 127.0.0.2:")
            && c.contains("--discovery-token-ca-cert-hash sha256:")
            && c.ends_with("--node-name node-w1")));
    let (total, per_cluster) = widget_stock(&kb, &cpcid, "cpu", "STANDARD").await;
    assert_eq!(total, 96);
    assert!(per_cluster.contains(&(cid.clone(), 96)), "{per_cluster:?}");

    // The worker leaves: drained, deleted, reset, idle again.
    let (st, body) = kb.post("cpcworker/delete_cpcworker", &params).await;
    assert_eq!(st, 200, "{body}");
    assert_eq!(nodes(&sim), ["node-m"]);
    assert_eq!(w.commands().last().unwrap(), "kubeadm reset -f");
    assert_eq!(
        text(&kb, "devices", &dw, "node_status").await.as_deref(),
        Some("0")
    );
    assert_eq!(field(&kb, "devices", &dw, "clusterid").await, Some(V::Null));
    assert_eq!(widget_stock(&kb, &cpcid, "cpu", "STANDARD").await.0, 64);
    // The device board names each device's cluster (none for an idle one).
    let (_, page) = kb
        .get("cpcnode/get_cpcnode", &[("cpcid", cpcid.as_str())])
        .await;
    let cluster_of = |id: &str| {
        page["data"]["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .map(|r| r["cluster_name"].clone())
    };
    assert_eq!(cluster_of(&dm), Some(json!("k1")), "{page}");
    assert_eq!(cluster_of(&dw), Some(json!("")), "{page}");

    // The cluster goes: every member reset and released, the record removed.
    let r =
        kb.s.http
            .post(kb.s.url("/computing/cpcluster_delete.dspy"))
            .query(&[("id", cid.as_str())])
            .bearer_auth(&kb.key)
            .send()
            .await
            .unwrap();
    let st = r.status().as_u16();
    let body: Value = r.json().await.unwrap();
    assert_eq!(st, 200, "{body}");
    assert_eq!(m.commands().last().unwrap(), "kubeadm reset -f");
    assert!(nodes(&sim).is_empty());
    assert_eq!(
        text(&kb, "devices", &dm, "node_status").await.as_deref(),
        Some("0")
    );
    assert!(kb
        .s
        .store()
        .await
        .get(ORG, "clusters", &cid)
        .await
        .unwrap()
        .is_none());
    let (total, per_cluster) = widget_stock(&kb, &cpcid, "cpu", "STANDARD").await;
    assert_eq!(total, 0);
    assert!(
        per_cluster.iter().all(|(c, _)| c != &cid),
        "{per_cluster:?}"
    );
}

/// A machine that cannot be reached: the document's failure body exactly
/// (HTTP 200, `算力中心服务操作失败`), the phase and the operation in
/// `detail`; the device stays idle and no cluster is recorded.
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_install_answers_the_documented_failure() {
    let kb = Kb::with(Options {
        config: KBOSS_LOOPBACK,
        plugins: vec![],
        ..Options::default()
    });
    let cpcid = kb.center("c1").await;
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let (st, body) = kb
        .device(&cpcid, "gone", &[("ip", "127.0.0.1"), ("sshport", &port)])
        .await;
    assert_eq!(st, 200, "{body}");
    let id = body["data"]["id"].as_str().unwrap().to_string();
    let r =
        kb.s.http
            .post(kb.s.url(&crate::kb::path("cpccluster/new_cluster")))
            .query(&[
                ("cpcid", cpcid.as_str()),
                ("ctl_nodeid", id.as_str()),
                ("cluster_type", "0"),
                ("cluster_name", "k1"),
                ("enable_date", "2025-05-16"),
                ("export_date", "2026-06-17"),
            ])
            .bearer_auth(&kb.key)
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 200);
    let op = r
        .headers()
        .get("x-operation-id")
        .map(|v| v.to_str().unwrap().to_string());
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], false, "{body}");
    assert_eq!(body["msg"], "算力中心服务操作失败");
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["detail", "msg", "status"], "{body}");
    let detail = body["detail"].as_str().unwrap();
    if let Some(op) = op {
        assert!(detail.contains(&format!("(operation {op})")), "{detail}");
    }
    assert_eq!(
        text(&kb, "devices", &id, "node_status").await.as_deref(),
        Some("0")
    );
    let (_, clusters) = kb
        .get("cpccluster/get_cpccluster", &[("cpcid", cpcid.as_str())])
        .await;
    assert_eq!(clusters["data"]["total"], 0, "{clusters}");
}
