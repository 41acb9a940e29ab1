//! The simulated kubelets and node lifecycle controller.
//!
//! * Bound `Pending` pods start at once: `Running`, a pod IP from the node's
//!   podCIDR, the node's InternalIP as hostIP, `startTime`, all conditions
//!   `True` and a running `containerStatuses` entry per container.
//! * Pods of a Job succeed after [`crate::ClusterSpec::job_pod_duration`].
//! * Pods bound to a node that no longer exists are removed (pod GC).
//! * Cordoned nodes carry the `node.kubernetes.io/unschedulable:NoSchedule`
//!   taint and NotReady nodes `node.kubernetes.io/not-ready:NoSchedule`, as the
//!   node lifecycle controller maintains them.

use std::time::Instant;

use serde_json::{json, Value};

use super::events;
use super::{put, scheduler::UNSCHEDULABLE_TAINT};
use crate::pods;
use crate::state::State;
use crate::store::now_rfc3339;

const NOT_READY_TAINT: &str = "node.kubernetes.io/not-ready";

fn node_ready(node: &Value) -> bool {
    node.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

fn lifecycle(st: &mut State) -> bool {
    let nodes: Vec<Value> = st
        .store
        .list("nodes", None)
        .map(|n| (**n).clone())
        .collect();
    let mut changed = false;
    for mut node in nodes {
        let want = [
            (
                UNSCHEDULABLE_TAINT,
                node.pointer("/spec/unschedulable") == Some(&json!(true)),
            ),
            (NOT_READY_TAINT, !node_ready(&node)),
        ];
        let mut taints: Vec<Value> = node
            .pointer("/spec/taints")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let before = taints.clone();
        for (key, present) in want {
            let has = taints
                .iter()
                .any(|t| t["key"] == key && t["effect"] == "NoSchedule");
            if present && !has {
                taints
                    .push(json!({"key": key, "effect": "NoSchedule", "timeAdded": now_rfc3339()}));
            } else if !present && has {
                taints.retain(|t| !(t["key"] == key && t["effect"] == "NoSchedule"));
            }
        }
        if taints != before {
            if taints.is_empty() {
                node["spec"].as_object_mut().map(|m| m.remove("taints"));
            } else {
                node["spec"]["taints"] = json!(taints);
            }
            changed |= put(st, "nodes", node);
        }
    }
    changed
}

fn random_hex(n: usize) -> String {
    (0..n)
        .map(|_| format!("{:x}", rand::random::<u8>() % 16))
        .collect()
}

fn start_pod(st: &mut State, mut pod: Value, node: &Value) -> Value {
    let node_name = node["metadata"]["name"].as_str().unwrap_or("").to_string();
    let idx = st.alloc_node_index(&node_name);
    let next = st.pod_ip_next.entry(node_name).or_insert(2);
    let host = *next;
    *next = if *next >= 254 { 2 } else { *next + 1 };
    let pod_ip = format!("10.244.{idx}.{host}");
    let host_ip = node
        .pointer("/status/addresses")
        .and_then(Value::as_array)
        .and_then(|a| a.iter().find(|x| x["type"] == "InternalIP"))
        .and_then(|x| x["address"].as_str())
        .unwrap_or("172.18.0.2")
        .to_string();
    let host_network = pod.pointer("/spec/hostNetwork") == Some(&json!(true));
    let ip = if host_network {
        host_ip.clone()
    } else {
        pod_ip
    };
    let now = now_rfc3339();
    let statuses: Vec<Value> = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .map(|c| {
                    let image = c["image"].as_str().unwrap_or("");
                    let full = if image.contains('/') { image.to_string() } else { format!("docker.io/library/{image}") };
                    json!({
                        "name": c["name"], "image": full, "imageID": format!("{full}@sha256:{}", random_hex(64)),
                        "containerID": format!("containerd://{}", random_hex(64)),
                        "ready": true, "started": true, "restartCount": 0,
                        "state": {"running": {"startedAt": now}}, "lastState": {}
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    let scheduled = pod
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c["type"] == "PodScheduled").cloned())
        .unwrap_or_else(
            || json!({"type": "PodScheduled", "status": "True", "lastTransitionTime": now}),
        );
    let cond = |t: &str| json!({"type": t, "status": "True", "lastTransitionTime": now});
    let qos = pods::qos_class(&pod);
    pod["status"] = json!({
        "phase": "Running",
        "conditions": [cond("PodReadyToStartContainers"), cond("Initialized"), cond("Ready"), cond("ContainersReady"), scheduled],
        "hostIP": host_ip, "hostIPs": [{"ip": host_ip}],
        "podIP": ip, "podIPs": [{"ip": ip}],
        "startTime": now,
        "containerStatuses": statuses,
        "qosClass": qos,
    });
    pod
}

/// What kubelet records as it starts each container of a pod.
fn started_events(st: &mut State, pod: &Value, node: &str) {
    let containers = pod["spec"]["containers"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    for c in containers {
        let (name, image) = (
            c["name"].as_str().unwrap_or(""),
            c["image"].as_str().unwrap_or(""),
        );
        let pulled = format!("Container image \"{image}\" already present on machine");
        events::record_by_kubelet(st, pod, node, "Pulled", &pulled);
        let created = format!("Created container: {name}");
        events::record_by_kubelet(st, pod, node, "Created", &created);
        let started = format!("Started container {name}");
        events::record_by_kubelet(st, pod, node, "Started", &started);
    }
}

/// Starts bound pods and collects pods of vanished nodes; true when something changed.
pub fn run(st: &mut State) -> bool {
    let nodes_changed = st.inputs_changed("kubelet-nodes", &["nodes"]);
    let mut changed = nodes_changed && lifecycle(st);
    let to_start: Vec<Value> = st
        .store
        .starting_pods()
        .iter()
        .filter_map(|(ns, n)| st.store.get("pods", ns, n))
        .map(|p| (**p).clone())
        .collect();
    for pod in to_start {
        let node_name = pods::bound_node(&pod).unwrap_or("").to_string();
        let Some(node) = st.store.get("nodes", "", &node_name).map(|n| (**n).clone()) else {
            continue;
        };
        let started = start_pod(st, pod, &node);
        started_events(st, &started, &node_name);
        if is_job_pod(&started) {
            let key = (
                started["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                started["metadata"]["name"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            );
            st.job_pod_started.insert(key, Instant::now());
        }
        changed |= put(st, "pods", started);
    }
    if !nodes_changed {
        return changed;
    }
    let orphans: Vec<(String, String)> = st
        .store
        .list("pods", None)
        .filter(|p| pods::bound_node(p).is_some_and(|n| st.store.get("nodes", "", n).is_none()))
        .map(|p| {
            (
                p["metadata"]["namespace"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
                p["metadata"]["name"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    for (ns, name) in orphans {
        st.store.remove("pods", &ns, &name);
        changed = true;
    }
    changed
}

fn is_job_pod(pod: &Value) -> bool {
    pod.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|rs| {
            rs.iter()
                .any(|r| r["kind"] == "Job" && r["controller"] == true)
        })
}

/// Marks Job pods that ran long enough as Succeeded.
pub fn finish_job_pods(st: &mut State) {
    let Some(dur) = st.spec.job_pod_duration else {
        return;
    };
    let done: Vec<(String, String)> = st
        .job_pod_started
        .iter()
        .filter(|(_, t)| t.elapsed() >= dur)
        .map(|(k, _)| k.clone())
        .collect();
    for (ns, name) in done {
        st.job_pod_started.remove(&(ns.clone(), name.clone()));
        let Some(pod) = st.store.get("pods", &ns, &name).map(|p| (**p).clone()) else {
            continue;
        };
        if pods::phase(&pod) != "Running" {
            continue;
        }
        let mut p = pod;
        let now = now_rfc3339();
        p["status"]["phase"] = json!("Succeeded");
        if let Some(cs) = p
            .pointer_mut("/status/conditions")
            .and_then(Value::as_array_mut)
        {
            for c in cs
                .iter_mut()
                .filter(|c| c["type"] == "Ready" || c["type"] == "ContainersReady")
            {
                c["status"] = json!("False");
                c["reason"] = json!("PodCompleted");
                c["lastTransitionTime"] = json!(now);
            }
        }
        if let Some(cs) = p
            .pointer_mut("/status/containerStatuses")
            .and_then(Value::as_array_mut)
        {
            for c in cs {
                let started = c
                    .pointer("/state/running/startedAt")
                    .cloned()
                    .unwrap_or(json!(now));
                c["ready"] = json!(false);
                c["started"] = json!(false);
                c["state"] = json!({"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": started, "finishedAt": now, "containerID": c["containerID"]}});
            }
        }
        put(st, "pods", p);
    }
}
