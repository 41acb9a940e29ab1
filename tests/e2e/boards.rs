//! Cluster boards read the cluster's lists a page at a time (the SDK's
//! `boards`, the `kubernetes.list-page` import), so a cluster whose pod list
//! is several times the plugin's memory cap still gets its whole board, in
//! kubectl's order.

use serde_json::{json, Value};
use simcluster::{ClusterSpec, NodeSpec, SimCluster};

use crate::common::*;

/// Plugins get 8 MiB of memory here; the pod list below is about 14 MB.
const SMALL_MEMORY: &str = concat!(
    r#"
default-deadline-ms = 30000
memory-limit-mib = 8
[plugins.pcapi]
role = "endpoint"
grants = ["log", "inventory", "kubernetes", "scheduling", "ssh", "operations"]
kube-targets = ["127.0.0.1"]
read = ["devices", "clusters"]
"#,
    crate::common::loopback_clusters!()
);
const PODS: usize = 3_000;

/// The namespace of pod `i` in [`big_cluster`].
fn team(i: usize) -> &'static str {
    if i.is_multiple_of(3) {
        "team-a"
    } else {
        "team-b"
    }
}

/// master-1 and worker-1 (room for 5,000 pods), with [`PODS`] pods
/// `pod-00000`.. on worker-1 in two namespaces ([`team`]), created in
/// reverse: the boards' order must be the cluster's, not creation order.
/// Each pod carries 4 KB of annotation, as real pods carry managed fields
/// and last-applied configuration: the list is about 14 MB.
fn big_cluster() -> SimCluster {
    let sim = SimCluster::start(
        ClusterSpec::new("big")
            .node(NodeSpec::control_plane("master-1"))
            .node(
                NodeSpec::new("worker-1")
                    .cpu("512")
                    .memory("2Ti")
                    .pods(5_000),
            ),
    )
    .unwrap();
    for ns in ["team-a", "team-b"] {
        sim.create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
            .unwrap();
    }
    let filler = "x".repeat(4 * 1024);
    for i in (0..PODS).rev() {
        sim.create(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("pod-{i:05}"), "namespace": team(i),
                         "annotations": {"example.com/filler": filler}},
            "spec": {"nodeName": "worker-1", "containers": [{"name": "c", "image": "busybox"}]},
        }))
        .unwrap();
    }
    sim
}

/// The `namespace/name` of the rows of [`big_cluster`]'s pods, as shown.
fn shown(rows: &[Value]) -> Vec<String> {
    rows.iter()
        .filter(|r| r["pod_namespace"].as_str().unwrap().starts_with("team-"))
        .map(|r| {
            let field = |k: &str| r[k].as_str().unwrap().to_string();
            format!("{}/{}", field("pod_namespace"), field("pod_name"))
        })
        .collect()
}

/// Every pod of [`big_cluster`] once, in kubectl's (namespace, name) order.
fn all_pods() -> Vec<String> {
    let mut want: Vec<String> = (0..PODS)
        .map(|i| format!("{}/pod-{i:05}", team(i)))
        .collect();
    want.sort();
    want
}

fn small_memory() -> Options {
    Options {
        config: SMALL_MEMORY,
        plugins: vec![],
        ..Options::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pod_list_larger_than_the_plugins_memory_is_shown_whole() {
    let sim = big_cluster();
    let s = Server::with(small_memory());
    let basic = s.key("acme", "basic");
    let (user, pass) = basic.split_once(':').unwrap();
    let r = s
        .http
        .get(s.url("/pcapi/api/v1/cluster/common/get_cluster_pods"))
        .query(&[("kubeconfig", sim.kubeconfig_yaml())])
        .basic_auth(user, Some(pass))
        .send()
        .await
        .unwrap();
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, 200, "{body}\n{}", s.log_text());
    let rows = body["data"]["rows"].as_array().unwrap();
    assert_eq!(shown(rows), all_pods());
    assert_eq!(body["data"]["total"].as_u64(), Some(rows.len() as u64));
    assert_eq!(rows[0]["pod_node"], "worker-1", "{}", rows[0]);
}

/// kboss's live pod board: pods a page at a time, their metrics kept as two
/// numbers a pod.
#[tokio::test(flavor = "multi_thread")]
async fn the_kboss_pod_board_of_a_cluster_larger_than_the_plugins_memory() {
    let sim = big_cluster();
    assert!(sim.wait_until(std::time::Duration::from_secs(30), |c| {
        c.get("v1", "Pod", Some("team-b"), "pod-02500")
            .is_some_and(|p| p["status"]["phase"] == "Running")
    }));
    sim.set_pod_usage("team-b", "pod-02500", "250m", "512Mi");
    let kb = crate::kb::Kb::with(small_memory());
    let l = crate::kboss_live::live_on(kb, sim).await;
    let (status, body) = l.kb.get("cpcpod/get_cpcpod", &l.at()).await;
    assert_eq!(status, 200, "{body}");
    let rows = body["data"]["rows"].as_array().unwrap();
    assert_eq!(shown(rows), all_pods());
    let used = rows.iter().find(|r| r["pod_name"] == "pod-02500").unwrap();
    assert_eq!(used["pod_cpurate"], "0.25核", "{used}");
    assert_eq!(used["pod_memrate"], "512Mi", "{used}");
}

/// IEF's pod list pages (`limit`/`offset`) over a sort by creation time:
/// the plugin reads the project's pods a page at a time, keeping sort keys,
/// then only the asked window's objects.
#[tokio::test(flavor = "multi_thread")]
async fn an_ief_project_with_more_pods_than_the_plugins_memory_answers_its_window() {
    use crate::ief::{env_on, N1, PROJECT};
    let sim = SimCluster::start(
        ClusterSpec::new("edge").node(
            NodeSpec::new("edge-1")
                .label("ief.computehub.io/node-id", N1)
                .cpu("512")
                .memory("2Ti")
                .pods(5_000),
        ),
    )
    .unwrap();
    let e = env_on(Server::with(small_memory()), sim);
    let ns = format!("ief-{PROJECT}");
    e.sim
        .create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
        .ok();
    let filler = "x".repeat(4 * 1024);
    let deployment = "web-0b6f0a3e";
    // In name order, so creation time (seconds) and name agree on the order.
    for i in 0..PODS {
        e.sim.create(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("web-{i:05}"), "namespace": ns,
                         "labels": {"ief.computehub.io/deployment-id": deployment},
                         "annotations": {"example.com/filler": filler}},
            "spec": {"nodeName": "edge-1", "containers": [{"name": "c", "image": "nginx:1.25"}]},
        }))
        .unwrap();
    }
    let names = |body: &Value| -> Vec<String> {
        body["pods"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect()
    };
    let tail = format!("pods?deployment_id={deployment}&limit=3&offset=2000");
    let (status, body) = e.call("GET", &tail, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["count"].as_u64(), Some(PODS as u64));
    assert_eq!(names(&body), ["web-02000", "web-02001", "web-02002"]);
    // By node: the same pods, the last window short.
    let tail = format!("pods?node_id={N1}&limit=5&offset={}", PODS - 2);
    let (status, body) = e.call("GET", &tail, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(names(&body), ["web-02998", "web-02999"]);
    // Past the end: nothing, and the count still.
    let tail = format!("pods?deployment_id={deployment}&offset={PODS}");
    let (_, body) = e.call("GET", &tail, None).await;
    assert_eq!(names(&body), Vec::<String>::new());
    assert_eq!(body["count"].as_u64(), Some(PODS as u64));
}
