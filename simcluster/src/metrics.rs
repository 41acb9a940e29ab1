//! The resource metrics API (`metrics.k8s.io/v1beta1`), as metrics-server
//! serves it to `kubectl top` and to dashboards.
//!
//! Pod usage is an explicit override ([`crate::SimCluster::set_pod_usage`]) or
//! derived from requests (half the CPU request, 60% of the memory request, and
//! small floors for pods without requests); only Running pods report. Node
//! usage is an explicit override ([`crate::NodeSpec::usage`],
//! [`crate::SimCluster::set_node_usage`]) or the sum of its pods plus a system
//! baseline (100m CPU, 512Mi).

use serde_json::{json, Value};

use crate::pods;
use crate::quantity::{format_kibibytes, format_nanocores};
use crate::selectors::LabelSelector;
use crate::state::{State, Usage};
use crate::store::now_rfc3339;

const WINDOW: &str = "20.05s";

fn container_usage(c: &Value) -> Usage {
    let req = pods::container_requests(c);
    let cpu = req.get("cpu").copied().unwrap_or(0);
    let mem = req.get("memory").copied().unwrap_or(0) / 1000;
    Usage {
        cpu_milli: if cpu > 0 { (cpu / 2).max(1) } else { 5 },
        memory_bytes: if mem > 0 { mem * 6 / 10 } else { 16 << 20 },
    }
}

fn running(pod: &Value) -> bool {
    pods::phase(pod) == "Running" && pods::bound_node(pod).is_some()
}

/// Per-container usage of a running pod.
fn pod_containers(st: &State, pod: &Value) -> Vec<(String, Usage)> {
    let ns = pod["metadata"]["namespace"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let name = pod["metadata"]["name"].as_str().unwrap_or("").to_string();
    let containers = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let n = containers.len().max(1) as i128;
    let forced = st.pod_usage.get(&(ns, name));
    containers
        .iter()
        .map(|c| {
            let u = match forced {
                Some(f) => Usage {
                    cpu_milli: f.cpu_milli / n,
                    memory_bytes: f.memory_bytes / n,
                },
                None => container_usage(c),
            };
            (c["name"].as_str().unwrap_or("").to_string(), u)
        })
        .collect()
}

/// Total usage of a pod (None unless Running).
pub fn pod_usage(st: &State, pod: &Value) -> Option<Usage> {
    if !running(pod) {
        return None;
    }
    let mut total = Usage::default();
    for (_, u) in pod_containers(st, pod) {
        total.cpu_milli += u.cpu_milli;
        total.memory_bytes += u.memory_bytes;
    }
    Some(total)
}

/// Usage of a node: its override, or its pods plus a baseline.
pub fn node_usage(st: &State, node: &str) -> Usage {
    if let Some(u) = st.node_usage.get(node) {
        return *u;
    }
    let mut total = Usage {
        cpu_milli: 100,
        memory_bytes: 512 << 20,
    };
    for p in st
        .store
        .list("pods", None)
        .filter(|p| pods::bound_node(p) == Some(node))
    {
        if let Some(u) = pod_usage(st, p) {
            total.cpu_milli += u.cpu_milli;
            total.memory_bytes += u.memory_bytes;
        }
    }
    total
}

fn usage_json(u: &Usage) -> Value {
    json!({"cpu": format_nanocores(u.cpu_milli), "memory": format_kibibytes(u.memory_bytes)})
}

/// The NodeMetrics object of a node.
pub fn node_metrics(st: &State, node: &Value) -> Value {
    let name = node["metadata"]["name"].as_str().unwrap_or("");
    let now = now_rfc3339();
    json!({
        "kind": "NodeMetrics", "apiVersion": "metrics.k8s.io/v1beta1",
        "metadata": {"name": name, "creationTimestamp": now, "labels": node["metadata"]["labels"]},
        "timestamp": now, "window": WINDOW, "usage": usage_json(&node_usage(st, name))
    })
}

/// The PodMetrics object of a running pod.
pub fn pod_metrics(st: &State, pod: &Value) -> Option<Value> {
    if !running(pod) {
        return None;
    }
    let now = now_rfc3339();
    let containers: Vec<Value> = pod_containers(st, pod)
        .iter()
        .map(|(n, u)| json!({"name": n, "usage": usage_json(u)}))
        .collect();
    Some(json!({
        "kind": "PodMetrics", "apiVersion": "metrics.k8s.io/v1beta1",
        "metadata": {"name": pod["metadata"]["name"], "namespace": pod["metadata"]["namespace"], "creationTimestamp": now, "labels": pod["metadata"]["labels"]},
        "timestamp": now, "window": WINDOW, "containers": containers
    }))
}

/// `NodeMetricsList` of the nodes matching `sel`.
pub fn node_metrics_list(st: &State, sel: &LabelSelector) -> Value {
    let items: Vec<Value> = st
        .store
        .list("nodes", None)
        .filter(|n| sel.matches_object(n))
        .map(|n| node_metrics(st, n))
        .collect();
    crate::api::list_value(
        "NodeMetricsList",
        "metrics.k8s.io/v1beta1",
        json!({}),
        items,
    )
}

/// `PodMetricsList` of running pods in `ns` (or all) matching `sel`.
pub fn pod_metrics_list(st: &State, ns: Option<&str>, sel: &LabelSelector) -> Value {
    let items: Vec<Value> = st
        .store
        .list("pods", ns)
        .filter(|p| sel.matches_object(p))
        .filter_map(|p| pod_metrics(st, p))
        .collect();
    crate::api::list_value("PodMetricsList", "metrics.k8s.io/v1beta1", json!({}), items)
}
