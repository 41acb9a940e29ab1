//! pcapi against a simulated cluster: every endpoint, asserting what changed
//! in the cluster (read back from the simulation), not only the answer.
//! Boards, labels and credentials here; node operations and YAML in
//! `nodes.rs`.

use std::time::Duration;

use serde_json::{json, Value};
use simcluster::{ClusterSpec, NodeSpec, SimCluster};

use crate::common::*;

mod nodes;

const BASE: &str = "/pcapi/api/v1/cluster/common";

pub(crate) struct Env {
    pub(crate) s: Server,
    pub(crate) sim: SimCluster,
    user: String,
    pass: String,
}

pub(crate) fn env() -> Env {
    let sim = SimCluster::start(
        ClusterSpec::new("pc")
            .node(
                NodeSpec::control_plane("k8s-master")
                    .age(Duration::from_secs(5 * 86400 + 18 * 3600)),
            )
            .node(
                NodeSpec::new("worker-1")
                    .cpu("8")
                    .memory("16Gi")
                    .age(Duration::from_secs(17 * 3600)),
            )
            .node(NodeSpec::new("worker-2").cpu("8").memory("16Gi")),
    )
    .unwrap();
    let s = Server::start();
    let basic = s.key("acme", "basic");
    let (user, pass) = basic.split_once(':').unwrap();
    Env {
        user: user.into(),
        pass: pass.into(),
        s,
        sim,
    }
}

impl Env {
    pub(crate) async fn call(
        &self,
        method: &str,
        op: &str,
        params: &[(&str, &str)],
    ) -> (u16, Value) {
        self.call_with(&self.sim.kubeconfig_yaml(), method, op, params)
            .await
    }

    /// [`Self::call`] with another kubeconfig.
    pub(crate) async fn call_with(
        &self,
        kc: &str,
        method: &str,
        op: &str,
        params: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut form: Vec<(&str, &str)> = vec![("kubeconfig", kc)];
        form.extend_from_slice(params);
        let url = self.s.url(&format!("{BASE}/{op}"));
        let req = match method {
            "GET" => self.s.http.get(url).query(&form),
            _ => self.s.http.post(url).form(&form),
        };
        let r = req
            .basic_auth(&self.user, Some(&self.pass))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    pub(crate) fn node(&self, name: &str) -> Option<Value> {
        self.sim.get("v1", "Node", None, name)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn nodes_board_has_kubectl_values() {
    let e = env();
    e.sim
        .patch_merge(
            "v1",
            "Node",
            None,
            "worker-2",
            &json!({"spec": {"unschedulable": true}}),
        )
        .unwrap();
    let (status, body) = e.call("GET", "get_cluster_nodes", &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], true);
    assert_eq!(body["info"], "operate success");
    assert_eq!(body["data"]["total"], 3);
    let rows = body["data"]["rows"].as_array().unwrap();
    let master = rows
        .iter()
        .find(|r| r["node_name"] == "k8s-master")
        .unwrap();
    assert_eq!(master["node_role"], "control-plane");
    assert_eq!(master["node_status"], "Ready");
    assert_eq!(master["node_age"], "5d18h");
    assert_eq!(master["node_externalip"], "<none>");
    assert!(master["node_version"].as_str().unwrap().starts_with('v'));
    for key in [
        "node_internalip",
        "node_osversion",
        "node_kernelversion",
        "node_containeruntime",
    ] {
        assert!(
            master[key].as_str().is_some_and(|v| !v.is_empty()),
            "{key}: {master}"
        );
    }
    let w1 = rows.iter().find(|r| r["node_name"] == "worker-1").unwrap();
    assert_eq!(w1["node_role"], "<none>");
    assert_eq!(w1["node_age"], "17h");
    let w2 = rows.iter().find(|r| r["node_name"] == "worker-2").unwrap();
    assert_eq!(w2["node_status"], "Ready,SchedulingDisabled");
}

#[tokio::test(flavor = "multi_thread")]
async fn pods_board_lists_every_pod() {
    let e = env();
    e.sim
        .create(
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "my-namespace"}}),
        )
        .unwrap();
    e.sim
        .create(json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "mysql", "namespace": "my-namespace"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "mysql"}},
                "template": {"metadata": {"labels": {"app": "mysql"}},
                    "spec": {"containers": [{"name": "mysql", "image": "mysql:8.0",
                        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]}}}
        }))
        .unwrap();
    assert!(e.sim.wait_until(Duration::from_secs(10), |c| {
        c.list("v1", "Pod", Some("my-namespace"))
            .iter()
            .filter(|p| p["status"]["phase"] == "Running")
            .count()
            == 2
    }));
    let (status, body) = e.call("GET", "get_cluster_pods", &[]).await;
    assert_eq!(status, 200, "{body}");
    let rows: Vec<&Value> = body["data"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["pod_namespace"] == "my-namespace")
        .collect();
    assert_eq!(rows.len(), 2);
    for r in rows {
        assert!(r["pod_name"].as_str().unwrap().starts_with("mysql-"));
        assert_eq!(r["pod_ready"], "1/1");
        assert_eq!(r["pod_running"], "Running");
        assert_eq!(r["pod_restart"], "0");
        assert!(
            r["pod_node"].as_str().unwrap().starts_with("worker-") || r["pod_node"] == "k8s-master"
        );
        assert_ne!(r["pod_ip"], "<none>");
        assert_eq!(r["pod_nominated_node"], "<none>");
        assert_eq!(r["pod_readiness_gates"], "<none>");
        assert!(r["pod_age"].as_str().unwrap().ends_with('s'));
    }
    assert_eq!(
        body["data"]["total"].as_u64().unwrap() as usize,
        body["data"]["rows"].as_array().unwrap().len()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn labels_are_bound_and_unbound_on_the_live_node() {
    let e = env();
    let (status, body) = e
        .call(
            "POST",
            "node_label_opt",
            &[
                ("worker_node", "worker-1"),
                ("label", "kyy-gpu=true"),
                ("opt", "label"),
            ],
        )
        .await;
    assert_eq!(
        (status, body["status"].as_bool()),
        (200, Some(true)),
        "{body}"
    );
    assert_eq!(body["info"], "节点绑定标签成功");
    assert_eq!(
        e.node("worker-1").unwrap()["metadata"]["labels"]["kyy-gpu"],
        "true"
    );

    let (status, body) = e
        .call(
            "POST",
            "node_label_opt",
            &[
                ("worker_node", "worker-1"),
                ("label", "kyy-gpu"),
                ("opt", "unlabel"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(e.node("worker-1").unwrap()["metadata"]["labels"]
        .get("kyy-gpu")
        .is_none());

    // Bad input: the documented failure (HTTP 200; node_label_opt's failure
    // example is `switch node failed`), the field in `detail`, and nothing
    // changes.
    for (params, field) in [
        (
            vec![
                ("worker_node", "worker-1"),
                ("label", "bad key=x"),
                ("opt", "label"),
            ],
            "label",
        ),
        (
            vec![
                ("worker_node", "worker-1"),
                ("label", "a=b"),
                ("opt", "tag"),
            ],
            "opt",
        ),
        (
            vec![
                ("worker_node", "w;rm -rf /"),
                ("label", "a=b"),
                ("opt", "label"),
            ],
            "worker_node",
        ),
        (vec![("label", "a=b"), ("opt", "label")], "worker_node"),
    ] {
        let (status, body) = e.call("POST", "node_label_opt", &params).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["status"], false);
        assert_eq!(body["info"], "switch node failed");
        assert!(body["detail"].as_str().unwrap().contains(field), "{body}");
        assert!(body["data"].is_object(), "{body}");
    }
    assert!(e.node("worker-1").unwrap()["metadata"]["labels"]
        .get("a")
        .is_none());
    // An unknown node: the same documented failure, the cluster's answer in
    // `detail`; the data echoes what was asked.
    let (status, body) = e
        .call(
            "POST",
            "node_label_opt",
            &[("worker_node", "nope"), ("label", "a=b"), ("opt", "label")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], false);
    assert_eq!(body["info"], "switch node failed");
    assert_eq!(
        body["data"],
        json!({"worker_node": "nope", "label": "a=b", "opt": "label"})
    );
    assert!(body["detail"].as_str().unwrap().contains("nope"), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn pcapi_needs_basic_credentials_and_a_known_master() {
    let e = env();
    let r =
        e.s.http
            .get(e.s.url(&format!("{BASE}/get_cluster_nodes")))
            .send()
            .await
            .unwrap();
    // Authentication keeps its status (the host answers before the plugin).
    assert_eq!(r.status(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], false);
    assert!(body["info"].is_string());
    assert_eq!(body["data"], "");
    // host/port naming no inventory master: the documented failure.
    let r =
        e.s.http
            .get(e.s.url(&format!("{BASE}/get_cluster_nodes")))
            .query(&[
                ("host", "127.0.0.1"),
                ("port", "22"),
                ("user", "root"),
                ("psssword", "x"),
            ])
            .basic_auth(&e.user, Some(&e.pass))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body,
        json!({"status": false, "info": "operate failed", "data": "",
            "detail": "no cluster has a master at 127.0.0.1:22"})
    );

    // The documented `clusterid` names an inventory cluster when no master
    // address is given; another organisation's id is unknown.
    let id = e.s.import_cluster("acme", "pc", &e.sim);
    let by_id = |clusterid: &str| {
        e.s.http
            .get(e.s.url(&format!("{BASE}/get_cluster_nodes")))
            .query(&[("clusterid", clusterid)])
            .basic_auth(&e.user, Some(&e.pass))
            .send()
    };
    let r = by_id(&id).await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["data"]["total"], 3, "{body}");
    let other = e.s.import_cluster("globex", "theirs", &e.sim);
    let r = by_id(&other).await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        (&body["status"], &body["info"]),
        (&json!(false), &json!("operate failed"))
    );
    // Neither master, kubeconfig nor cluster id: refused naming `host`.
    let r =
        e.s.http
            .get(e.s.url(&format!("{BASE}/get_cluster_nodes")))
            .basic_auth(&e.user, Some(&e.pass))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["info"], "operate failed");
    assert!(
        body["detail"].as_str().unwrap().contains("`host`"),
        "{body}"
    );
}
