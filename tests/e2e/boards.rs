//! Cluster boards read the cluster's lists a page at a time (the SDK's
//! `boards`, the `kubernetes.list-page` import), so a cluster whose pod list
//! is several times the plugin's memory cap still gets its whole board, in
//! kubectl's order.

use serde_json::{json, Value};
use simcluster::{ClusterSpec, NodeSpec, SimCluster};

use crate::common::*;

/// Plugins get 8 MiB of memory here; the pod list below is about 14 MB.
const SMALL_MEMORY: &str = "default-deadline-ms = 30000\nmemory-limit-mib = 8\n";
const PODS: usize = 3_000;

#[tokio::test(flavor = "multi_thread")]
async fn a_pod_list_larger_than_the_plugins_memory_is_shown_whole() {
    let sim = SimCluster::start(
        ClusterSpec::new("big")
            .node(NodeSpec::control_plane("master"))
            .node(
                NodeSpec::new("worker-1")
                    .cpu("512")
                    .memory("2Ti")
                    .pods(5_000),
            ),
    )
    .unwrap();
    // 4 KB of annotation a pod: what real pods carry in managed fields,
    // last-applied configuration and the like.
    let filler = "x".repeat(4 * 1024);
    for ns in ["team-a", "team-b"] {
        sim.create(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
            .unwrap();
    }
    // Created out of order: the board's order is the cluster's, not this.
    for i in (0..PODS).rev() {
        let ns = if i % 3 == 0 { "team-a" } else { "team-b" };
        sim.create(json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("pod-{i:05}"), "namespace": ns,
                         "annotations": {"example.com/filler": filler}},
            "spec": {"nodeName": "worker-1", "containers": [{"name": "c", "image": "busybox"}]},
        }))
        .unwrap();
    }
    let s = Server::with(Options {
        config: SMALL_MEMORY,
        plugins: vec![],
        ..Options::default()
    });
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
    let ours: Vec<String> = rows
        .iter()
        .filter(|r| r["pod_namespace"] != "kube-system")
        .map(|r| {
            format!(
                "{}/{}",
                r["pod_namespace"].as_str().unwrap(),
                r["pod_name"].as_str().unwrap()
            )
        })
        .collect();
    // Every pod once, across the pages, in (namespace, name) order.
    let mut want: Vec<String> = (0..PODS)
        .map(|i| {
            let ns = if i % 3 == 0 { "team-a" } else { "team-b" };
            format!("{ns}/pod-{i:05}")
        })
        .collect();
    want.sort();
    assert_eq!(ours.len(), PODS);
    assert_eq!(ours, want);
    assert_eq!(body["data"]["total"].as_u64(), Some(rows.len() as u64));
    assert_eq!(rows[0]["pod_node"], "worker-1", "{}", rows[0]);
}
