//! kboss's live cluster boards and label binding against a simulated
//! cluster: what the boards show is what the cluster holds, and a label
//! bound through kboss is on the node when read back from the simulation.

use serde_json::{json, Value};
use simcluster::{ClusterSpec, SimCluster};

use crate::kb::*;
use computehub::store::Value as V;

pub struct Live {
    pub kb: Kb,
    pub sim: SimCluster,
    pub cpcid: String,
    pub cid: String,
}

/// A server, a simulated cluster (master-1, worker-1..3, worker-3 with 8
/// RTX5090-32G) and `acme`'s center and cluster record pointing at it.
pub async fn live() -> Live {
    let sim = SimCluster::start(ClusterSpec::demo("live", 3, 8, "RTX5090-32G")).unwrap();
    live_on(Kb::start(), sim).await
}

/// `acme`'s center and a cluster record for `sim`, on `kb`'s server.
pub async fn live_on(kb: Kb, sim: SimCluster) -> Live {
    let cpcid = kb.center("首都算力中心1").await;
    let t = |s: &str| V::Text(s.to_string());
    let cid =
        kb.s.store()
            .await
            .insert(
                ORG,
                "clusters",
                &[
                    ("cpcid".to_string(), t(&cpcid)),
                    ("name".to_string(), t("朝阳区")),
                    ("clustertype".to_string(), t("0")),
                    ("kubeconfig".to_string(), V::Secret(sim.kubeconfig_yaml())),
                    ("ready".to_string(), V::Integer(1)),
                ],
            )
            .await
            .unwrap()
            .id;
    Live {
        kb,
        sim,
        cpcid,
        cid,
    }
}

impl Live {
    pub fn at(&self) -> Vec<(&str, &str)> {
        vec![
            ("cpcid", self.cpcid.as_str()),
            ("clusterid", self.cid.as_str()),
        ]
    }

    fn node_labels(&self, node: &str) -> Value {
        self.sim.get("v1", "Node", None, node).unwrap()["metadata"]["labels"].clone()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_worker_board_shows_the_cluster_with_usage_and_availability() {
    let l = live().await;
    l.sim.set_node_usage("worker-1", "4", "16Gi");
    let (status, body) = l.kb.get("cpcworker/get_cpcworker", &l.at()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], true);
    assert_eq!(body["msg"], "获取集群实时成员节点成功");
    assert_eq!(body["data"]["total"], 4);
    let rows = body["data"]["rows"].as_array().unwrap();
    let row = |n: &str| rows.iter().find(|r| r["node_name"] == n).unwrap().clone();
    let master = row("master-1");
    assert_eq!(master["node_role"], "控制节点");
    assert_eq!(master["node_status"], "已就绪");
    assert_eq!(master["node_externalip"], "未分配");
    let w1 = row("worker-1");
    assert_eq!(w1["node_role"], "工作节点");
    // 4 of 16 cores, 16Gi of 64Gi used (metrics API); nothing requested.
    assert_eq!(w1["node_cpurate"], "25.0%");
    assert_eq!(w1["node_memrate"], "25.0%");
    assert_eq!(w1["available_cpu"], "16.00核");
    assert_eq!(w1["available_memory"], "64.00Gi");
    assert_eq!(w1["available_gpu"], 0);
    let w3 = row("worker-3");
    assert_eq!(w3["available_gpu"], 8);
    assert_eq!(w3["available_cpu"], "64.00核");
    assert!(w3["node_version"].as_str().unwrap().starts_with('v'));

    // A pod requesting 2 GPUs and 1.5 cores lowers what is available.
    l.sim
        .create(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "train", "namespace": "default"},
            "spec": {"nodeName": "worker-3", "containers": [{"name": "c", "image": "x",
                "resources": {"limits": {"cpu": "1500m", "memory": "2Gi", "nvidia.com/gpu": "2"},
                              "requests": {"cpu": "1500m", "memory": "2Gi", "nvidia.com/gpu": "2"}}}]}
        }))
        .unwrap();
    let (_, body) = l.kb.get("cpcworker/get_cpcworker", &l.at()).await;
    let w3 = body["data"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["node_name"] == "worker-3")
        .unwrap()
        .clone();
    assert_eq!(w3["available_gpu"], 6, "{w3}");
    assert_eq!(w3["available_cpu"], "62.50核");
    assert_eq!(w3["available_memory"], "510.00Gi");
    assert_eq!(w3["node_gpu"], "25.0%");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_pod_board_shows_pods_with_usage_and_limits() {
    let l = live().await;
    l.sim
        .create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}))
        .unwrap();
    l.sim
        .create(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "web-0", "namespace": "shop"},
            "spec": {"containers": [{"name": "c", "image": "x",
                "resources": {"limits": {"cpu": "2", "memory": "5Gi"}}}],
                "readinessGates": [{"conditionType": "example.com/lb-ready"}]}
        }))
        .unwrap();
    assert!(l.sim.wait_until(std::time::Duration::from_secs(10), |s| {
        s.get("v1", "Pod", Some("shop"), "web-0")
            .is_some_and(|p| p["status"]["phase"] == "Running")
    }));
    l.sim.set_pod_usage("shop", "web-0", "4m", "2662Ki");
    let (status, body) = l.kb.get("cpcpod/get_cpcpod", &l.at()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["msg"], "获取集群实时资源实例成功");
    let row = body["data"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["pod_name"] == "web-0")
        .unwrap()
        .clone();
    assert_eq!(row["pod_namespace"], "shop");
    assert_eq!(row["pod_ready"], "1/1");
    assert_eq!(row["pod_running"], "Running");
    assert_eq!(row["pod_restart"], "0");
    assert_eq!(row["pod_nominated_node"], "无");
    assert_eq!(row["pod_cpurate"], "0.004核");
    assert_eq!(row["pod_memrate"], "2.6Mi");
    assert_eq!(row["pod_cpu_limit"], "2");
    assert_eq!(row["pod_memory_limit"], "5Gi");
    assert_eq!(row["pod_gpu_limit"], "0");
    assert_eq!(row["pod_readiness_gates"], json!(["example.com/lb-ready"]));
    let node = row["pod_node"].as_str().unwrap();
    assert!(node.starts_with("worker-"), "{row}");
    assert_eq!(
        row["pod_ip"],
        l.sim.get("v1", "Pod", Some("shop"), "web-0").unwrap()["status"]["podIP"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn boards_refuse_bad_and_foreign_clusters() {
    let l = live().await;
    // Missing and unknown ids name their field.
    let (status, body) =
        l.kb.get("cpcworker/get_cpcworker", &[("cpcid", l.cpcid.as_str())])
            .await;
    refused_as(status, &body, "无算力集群ID", "`clusterid`");
    let (status, body) =
        l.kb.get(
            "cpcpod/get_cpcpod",
            &[("cpcid", l.cpcid.as_str()), ("clusterid", "nope")],
        )
        .await;
    refused_as(status, &body, "算力集群不存在", "`clusterid`");
    // Another organisation cannot see acme's cluster.
    let (status, body) =
        l.kb.call(
            reqwest::Method::GET,
            "cpcworker/get_cpcworker",
            Some(&l.kb.other),
            &l.at(),
        )
        .await;
    refused_as(status, &body, "算力中心不存在", &l.cpcid);
    assert!(!body.to_string().contains("worker-1"));
    // The kubeconfig's token never appears in answers or the log.
    let (_, body) = l.kb.get("cpcworker/get_cpcworker", &l.at()).await;
    assert!(!body.to_string().contains(l.sim.token()));
    assert!(!l.kb.s.log_text().contains(l.sim.token()));
}

#[tokio::test(flavor = "multi_thread")]
async fn setup_cpclabel_binds_and_unbinds_a_stored_label_on_the_node() {
    let l = live().await;
    let (status, body) =
        l.kb.post(
            "cpclabel/add_cpclabel",
            &[
                ("name", "非GPU设备"),
                ("labeltype", "1"),
                ("label_key", "kyy-gpu"),
                ("label_value", "false"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let mut params = l.at();
    params.extend([
        ("label", "kyy-gpu=false"),
        ("worker_node", "worker-1"),
        ("opt", "label"),
    ]);
    let (status, body) = l.kb.post("cpclabel/setup_cpclabel", &params).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["msg"], "设置节点标签成功");
    assert_eq!(body["data"]["label"], "kyy-gpu=false");
    assert_eq!(body["data"]["worker_node"], "worker-1");
    assert_eq!(body["data"]["orgid"], ORG);
    assert_eq!(l.node_labels("worker-1")["kyy-gpu"], "false");
    // The board lists it.
    let (_, board) = l.kb.get("cpcworker/get_cpcworker", &l.at()).await;
    assert!(board.to_string().contains("kyy-gpu=false"));

    // Bad input changes nothing and names the field.
    let cases: Vec<Case> = vec![
        (
            vec![
                ("label", "kyy-gpu=true"),
                ("worker_node", "worker-2"),
                ("opt", "label"),
            ],
            "资源标签不存在",
            "`label`",
        ),
        (
            vec![
                ("label", "kyy-gpu=false"),
                ("worker_node", "worker-9"),
                ("opt", "label"),
            ],
            "集群节点不存在",
            "`worker_node`",
        ),
        (
            vec![
                ("label", "kyy-gpu=false"),
                ("worker_node", "Bad Node"),
                ("opt", "label"),
            ],
            INVALID,
            "`worker_node`",
        ),
        (
            vec![
                ("label", "kyy-gpu=false"),
                ("worker_node", "worker-2"),
                ("opt", "tag"),
            ],
            INVALID,
            "`opt`",
        ),
        (
            vec![
                ("label", "kyy gpu=false"),
                ("worker_node", "worker-2"),
                ("opt", "label"),
            ],
            INVALID,
            "`label`",
        ),
        (
            vec![("worker_node", "worker-2"), ("opt", "label")],
            INVALID,
            "`label`",
        ),
    ];
    for (extra, msg, field) in cases {
        let mut p = l.at();
        p.extend(extra.iter().cloned());
        let (status, body) = l.kb.post("cpclabel/setup_cpclabel", &p).await;
        refused_as(status, &body, msg, field);
    }
    assert!(l.node_labels("worker-2").get("kyy-gpu").is_none());
    // Another organisation's call reaches nothing.
    let (status, body) =
        l.kb.call(
            reqwest::Method::POST,
            "cpclabel/setup_cpclabel",
            Some(&l.kb.other),
            &[
                ("cpcid", l.cpcid.as_str()),
                ("clusterid", l.cid.as_str()),
                ("label", "kyy-gpu=false"),
                ("worker_node", "worker-2"),
                ("opt", "label"),
            ],
        )
        .await;
    refused_as(status, &body, "资源标签不存在", "`label`");
    assert!(l.node_labels("worker-2").get("kyy-gpu").is_none());

    params.retain(|(k, _)| *k != "opt");
    params.push(("opt", "unlabel"));
    let (status, body) = l.kb.post("cpclabel/setup_cpclabel", &params).await;
    assert_eq!(status, 200, "{body}");
    assert!(l.node_labels("worker-1").get("kyy-gpu").is_none());
}
