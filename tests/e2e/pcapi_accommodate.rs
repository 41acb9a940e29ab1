//! pcapi `determine_accommodat` against a simulated cluster with CPU and GPU
//! nodes: the unplaceable ids, the explanations, and bad products refused.

use std::time::Duration;

use serde_json::{json, Value};
use simcluster::{ClusterSpec, NodeSpec, SimCluster};

use crate::pcapi::{env, Env};

fn gpu_cluster() -> SimCluster {
    SimCluster::start(
        ClusterSpec::new("cap")
            .node(NodeSpec::control_plane("master"))
            .node(NodeSpec::new("cpu-a").cpu("8").memory("16Gi"))
            .node(
                NodeSpec::new("cpu-b")
                    .cpu("8")
                    .memory("16Gi")
                    .label("kyy-gpu", "false"),
            )
            .node(
                NodeSpec::new("gpu-a")
                    .cpu("16")
                    .memory("64Gi")
                    .gpus(2, "RTX4090-24G")
                    .label("kyy-gpu", "true"),
            ),
    )
    .unwrap()
}

async fn accommodate(e: &Env, resources: Value, explain: bool) -> (u16, Value) {
    let text = resources.to_string();
    let mut p = vec![("resources", text.as_str())];
    if explain {
        p.push(("explain", "true"));
    }
    e.call("GET", "determine_accommodat", &p).await
}

#[tokio::test(flavor = "multi_thread")]
async fn determine_accommodat_answers_the_unplaceable_ids() {
    let mut e = env();
    e.sim = gpu_cluster();
    let products = json!([
        {"id": "fits", "cpu": "4", "memory": "8Gi"},
        {"id": "too-big-for-one-node", "cpu": "12", "memory": "24Gi"},
        {"id": "no-such-gpu", "cpu": "2", "memory": "4Gi", "gpu": 1, "gpu_model": "A100-80G"},
        {"id": "gpu-ok", "cpu": "2", "memory": "4Gi", "gpu": 1, "gpu_model": "RTX4090-24G"},
        {"id": "label-only", "cpu": "1", "memory": "1Gi", "labels": {"kyy-gpu": "maybe"}},
        {"id": "millicores", "cpu": "500m", "memory": "512Mi", "labels": {"kyy-gpu": "false"}}
    ]);
    // 20 cores: the cluster's total (8 + 8 + 16) would hold it, no single node does.
    let products = {
        let mut p = products;
        p[1]["cpu"] = json!("20");
        p
    };
    let (status, body) = accommodate(&e, products.clone(), false).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!(["too-big-for-one-node", "no-such-gpu", "label-only"])
    );

    // A cordoned node is ignored: cordon the only GPU node.
    let cordon_gpu_a = |unschedulable: bool| {
        let patch = json!({"spec": {"unschedulable": unschedulable}});
        e.sim
            .patch_merge("v1", "Node", None, "gpu-a", &patch)
            .unwrap();
    };
    cordon_gpu_a(true);
    let (_, body) = accommodate(
        &e,
        json!([{"id": "gpu-ok", "gpu": 1, "gpu_model": "RTX4090-24G"}]),
        false,
    )
    .await;
    assert_eq!(body, json!(["gpu-ok"]));
    cordon_gpu_a(false);

    // Nodes filling up change the answer: take both GPUs.
    let (_, body) = accommodate(
        &e,
        json!([{"id": "gpu-ok", "gpu": 2, "gpu_model": "RTX4090-24G"}]),
        false,
    )
    .await;
    assert_eq!(body, json!([]));
    e.sim
        .create(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "trainer", "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "x", "resources": {
                "requests": {"nvidia.com/gpu": "1", "cpu": "1"}, "limits": {"nvidia.com/gpu": "1"}}}]}}))
        .unwrap();
    assert!(e.sim.wait_until(Duration::from_secs(10), |c| {
        c.get("v1", "Pod", Some("default"), "trainer")
            .is_some_and(|p| p["spec"]["nodeName"] == "gpu-a")
    }));
    let (_, body) = accommodate(
        &e,
        json!([{"id": "gpu-ok", "gpu": 2, "gpu_model": "RTX4090-24G"}]),
        false,
    )
    .await;
    assert_eq!(body, json!(["gpu-ok"]));

    // The explanation names every node's shortfall, and which are hopeless.
    let (status, body) = accommodate(&e, json!([{"id": "big", "cpu": "20"}]), true).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["unplaceable"], json!(["big"]));
    let why = body["data"]["products"][0]["shortfalls"]
        .as_array()
        .unwrap();
    let gpu_cpu = why
        .iter()
        .find(|s| s["node"] == "gpu-a" && s["reason"] == "cpu")
        .unwrap();
    assert_eq!(gpu_cpu["unresolvable"], true);
    assert_eq!(gpu_cpu["requested"], "20000");
    assert!(
        why.iter()
            .any(|s| s["node"] == "master" && s["reason"] == "taint"),
        "{why:?}"
    );

    // Bad products: the documented failure (HTTP 200, `operate failed`),
    // the parameter named in `detail`.
    for bad in [
        json!(42),
        json!([{"cpu": "1"}]),
        json!([{"id": "x", "memory": "lots"}]),
    ] {
        let (status, body) = accommodate(&e, bad, false).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            (&body["status"], &body["info"], &body["data"]),
            (&json!(false), &json!("operate failed"), &json!("")),
            "{body}"
        );
        assert!(
            body["detail"].as_str().unwrap().contains("`resources`"),
            "{body}"
        );
    }
}

/// `resources` repeated with one product each (as form libraries send a
/// list; axios writes `resources[]`), or one product alone: the same
/// answer as one JSON array.
#[tokio::test(flavor = "multi_thread")]
async fn products_in_every_list_form() {
    let mut e = env();
    e.sim = gpu_cluster();
    let fits = json!({"id": "fits", "cpu": "4", "memory": "8Gi"}).to_string();
    let big = json!({"id": "too-big", "cpu": "20", "memory": "24Gi"}).to_string();
    for name in ["resources", "resources[]"] {
        let p = [(name, fits.as_str()), (name, big.as_str())];
        let (status, body) = e.call("GET", "determine_accommodat", &p).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body, json!(["too-big"]), "{name}");
    }
    let (status, body) = e
        .call(
            "GET",
            "determine_accommodat",
            &[("resources", big.as_str())],
        )
        .await;
    assert_eq!((status, body), (200, json!(["too-big"])));
}
