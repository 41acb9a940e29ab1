//! The scheduler: binds pending pods to nodes.
//!
//! Filters, in kube-scheduler's order, each failing node reporting the first
//! reason: `NodeUnschedulable` (cordoned, unless the pod tolerates
//! `node.kubernetes.io/unschedulable`), `TaintToleration` (`NoSchedule` and
//! `NoExecute` taints), `NodeAffinity` (`nodeSelector`, required node affinity
//! with `In`/`NotIn`/`Exists`/`DoesNotExist`/`Gt`/`Lt` and `matchFields` on
//! `metadata.name`), `NodeResourcesFit` (requests of the pod plus the
//! non-terminal pods already bound, against allocatable, for every requested
//! resource including `nvidia.com/gpu`, and the pod count). Among feasible
//! nodes the least allocated (CPU and memory) wins, ties by name. A pod that
//! fits nowhere stays `Pending` with `PodScheduled=False`, reason
//! `Unschedulable` and kube-scheduler's message
//! (`0/3 nodes are available: 1 Insufficient cpu, 2 node(s) were unschedulable.`).

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::events::{self, Kind};
use super::preemption;
use super::volumes::{self, Claims};
use super::{condition, put};
use crate::admission::storage;
use crate::pods::{self, add_resources, sub_resources, Resources};
use crate::selectors::Requirement;
use crate::state::State;

/// Taint key set on cordoned nodes.
pub const UNSCHEDULABLE_TAINT: &str = "node.kubernetes.io/unschedulable";

/// Whether one toleration tolerates a taint.
pub fn toleration_matches(t: &Value, taint: &Value) -> bool {
    let key = t["key"].as_str().unwrap_or("");
    let op = t["operator"].as_str().unwrap_or("Equal");
    let effect = t["effect"].as_str().unwrap_or("");
    if !effect.is_empty() && effect != taint["effect"].as_str().unwrap_or("") {
        return false;
    }
    if key.is_empty() {
        return op == "Exists";
    }
    if key != taint["key"].as_str().unwrap_or("") {
        return false;
    }
    op == "Exists" || t["value"].as_str().unwrap_or("") == taint["value"].as_str().unwrap_or("")
}

/// Whether a list of tolerations tolerates a taint.
pub fn tolerates(tolerations: &[Value], taint: &Value) -> bool {
    tolerations.iter().any(|t| toleration_matches(t, taint))
}

fn expr_matches(e: &Value, get: &dyn Fn(&str) -> Option<String>) -> bool {
    let key = e["key"].as_str().unwrap_or("").to_string();
    let values: Vec<String> = e["values"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    let num = || {
        values
            .first()
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(0)
    };
    let req = match e["operator"].as_str().unwrap_or("") {
        "In" => Requirement::In(key.clone(), values),
        "NotIn" => Requirement::NotIn(key.clone(), values),
        "Exists" => Requirement::Exists(key.clone()),
        "DoesNotExist" => Requirement::DoesNotExist(key.clone()),
        "Gt" => Requirement::Gt(key.clone(), num()),
        "Lt" => Requirement::Lt(key.clone(), num()),
        _ => return false,
    };
    let mut m = serde_json::Map::new();
    if let Some(v) = get(&key) {
        m.insert(key, json!(v));
    }
    req.matches(&m)
}

/// Whether a node satisfies a pod's `nodeSelector` and required node affinity.
pub fn matches_affinity(pod_spec: &Value, node: &Value) -> bool {
    let empty = serde_json::Map::new();
    let labels = node
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    if let Some(sel) = pod_spec.get("nodeSelector").and_then(Value::as_object) {
        if !sel.iter().all(|(k, v)| labels.get(k) == Some(v)) {
            return false;
        }
    }
    let Some(terms) = pod_spec
        .pointer("/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms")
        .and_then(Value::as_array)
    else {
        return true;
    };
    let by_label = |k: &str| labels.get(k).and_then(Value::as_str).map(String::from);
    let name = node["metadata"]["name"].as_str().unwrap_or("").to_string();
    let by_field = |k: &str| (k == "metadata.name").then(|| name.clone());
    terms.iter().any(|term| {
        let exprs = term["matchExpressions"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let fields = term["matchFields"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        (!exprs.is_empty() || !fields.is_empty())
            && exprs.iter().all(|e| expr_matches(e, &by_label))
            && fields.iter().all(|e| expr_matches(e, &by_field))
    })
}

fn taints(node: &Value) -> &[Value] {
    node.pointer("/spec/taints")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// The first reason a node is not eligible for a pod, ignoring resources.
pub fn constraint_failure(pod_spec: &Value, node: &Value) -> Option<String> {
    let tolerations = pod_spec["tolerations"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    if node.pointer("/spec/unschedulable") == Some(&json!(true))
        && !tolerates(
            tolerations,
            &json!({"key": UNSCHEDULABLE_TAINT, "effect": "NoSchedule"}),
        )
    {
        return Some("node(s) were unschedulable".into());
    }
    for t in taints(node) {
        let effect = t["effect"].as_str().unwrap_or("");
        if (effect == "NoSchedule" || effect == "NoExecute") && !tolerates(tolerations, t) {
            return Some(format!(
                "node(s) had untolerated taint {{{}: {}}}",
                t["key"].as_str().unwrap_or(""),
                t["value"].as_str().unwrap_or("")
            ));
        }
    }
    if !matches_affinity(pod_spec, node) {
        return Some("node(s) didn't match Pod's node affinity/selector".into());
    }
    None
}

/// Resource-fit failures of `req` on a node with `allocatable` and `used`.
pub fn fit_failures(req: &Resources, allocatable: &Resources, used: &Resources) -> Vec<String> {
    let mut out = Vec::new();
    for (name, amount) in req {
        if *amount <= 0 {
            continue;
        }
        let alloc = allocatable.get(name).copied().unwrap_or(0);
        let in_use = used.get(name).copied().unwrap_or(0);
        if in_use + amount > alloc {
            out.push(if name == "pods" {
                "Too many pods".to_string()
            } else {
                format!("Insufficient {name}")
            });
        }
    }
    out
}

fn free_score(alloc: &Resources, used: &Resources, req: &Resources) -> i128 {
    let mut score = 0;
    for r in ["cpu", "memory"] {
        let a = alloc.get(r).copied().unwrap_or(0);
        if a > 0 {
            let u = used
                .get(r)
                .copied()
                .unwrap_or(0)
                .saturating_add(req.get(r).copied().unwrap_or(0));
            score += a.saturating_sub(u).saturating_mul(1_000_000) / a;
        }
    }
    score
}

/// Picks a node for a pod (on `pinned` alone when its volumes are there):
/// `Ok(node)` or `Err(message)`.
pub fn pick_node(
    pod: &Value,
    nodes: &[(Value, Resources)],
    used: &BTreeMap<String, Resources>,
    pinned: Option<&str>,
) -> Result<String, String> {
    let req = pods::sched_requests(pod);
    let spec = &pod["spec"];
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    let mut best: Option<(i128, String)> = None;
    let empty = Resources::new();
    for (node, alloc) in nodes {
        let name = node["metadata"]["name"].as_str().unwrap_or("").to_string();
        if let Some(r) = constraint_failure(spec, node) {
            *reasons.entry(r).or_default() += 1;
            continue;
        }
        let u = used.get(&name).unwrap_or(&empty);
        let fails = fit_failures(&req, alloc, u);
        if !fails.is_empty() {
            for f in fails {
                *reasons.entry(f).or_default() += 1;
            }
            continue;
        }
        if pinned.is_some_and(|p| p != name) {
            let r = "node(s) had volume node affinity conflict".to_string();
            *reasons.entry(r).or_default() += 1;
            continue;
        }
        let score = free_score(alloc, u, &req);
        if best
            .as_ref()
            .is_none_or(|(s, n)| score > *s || (score == *s && name < *n))
        {
            best = Some((score, name));
        }
    }
    match best {
        Some((_, n)) => Ok(n),
        None => {
            let mut parts: Vec<String> = reasons.iter().map(|(r, c)| format!("{c} {r}")).collect();
            parts.sort();
            let mut msg = format!("0/{} nodes are available", nodes.len());
            if !parts.is_empty() {
                msg.push_str(&format!(": {}", parts.join(", ")));
            }
            msg.push('.');
            Err(msg)
        }
    }
}

/// The scheduler's name: pods that name another are left alone.
pub(super) const SCHEDULER: &str = "default-scheduler";

/// Schedules every pending pod; true when something was written.
pub fn schedule(st: &mut State) -> bool {
    let mut pending = st.store.pending_pods();
    if pending.is_empty() {
        return false;
    }
    // The queue's order (`PrioritySort`): higher priority first, so a pod
    // that preempted is placed before the pods it made room against.
    pending.sort_by_cached_key(|(ns, name)| {
        std::cmp::Reverse(
            st.store
                .get("pods", ns, name)
                .map(|p| preemption::priority(p))
                .unwrap_or(0),
        )
    });
    let nodes: Vec<(Value, Resources)> = st
        .store
        .list("nodes", None)
        .map(|n| {
            (
                (**n).clone(),
                pods::parse_resources(n.pointer("/status/allocatable")),
            )
        })
        .collect();
    let mut used: BTreeMap<String, Resources> = nodes
        .iter()
        .map(|(n, _)| n["metadata"]["name"].as_str().unwrap_or("").to_string())
        .map(|n| (n.clone(), st.store.node_requests(&n)))
        .collect();
    // Pods that failed are retried only when capacity may have appeared
    // (nodes changed, a pod released its node) or the pod itself changed.
    // (or claims changed: a pod may have been waiting for one).
    let retry_all = st.inputs_changed(
        "scheduler",
        &[
            "nodes",
            "pods-freed",
            "persistentvolumeclaims",
            storage::KEY,
        ],
    );
    if retry_all {
        let keep: std::collections::HashSet<&(String, String)> = pending.iter().collect();
        st.sched_tried.retain(|k, _| keep.contains(k));
    }
    let mut nominated = preemption::Nominated::of(st, &pending);
    let mut running = None;
    let mut changed = false;
    for (ns, name) in pending {
        let rv_of = |p: &Value| {
            p["metadata"]["resourceVersion"]
                .as_str()
                .and_then(|r| r.parse::<u64>().ok())
                .unwrap_or(0)
        };
        let key = (ns.clone(), name.clone());
        // A pod tried at this version is skipped before it is copied: with
        // thousands pending, each pass would otherwise copy every one.
        let Some(stored) = st.store.get("pods", &ns, &name) else {
            continue;
        };
        if !retry_all && st.sched_tried.get(&key) == Some(&rv_of(stored)) {
            continue;
        }
        let pod = (**stored).clone();
        if pod["spec"]["schedulerName"]
            .as_str()
            .is_some_and(|s| s != SCHEDULER)
        {
            continue;
        }
        let conds = pod.pointer("/status/conditions").cloned();
        let mut new = pod.clone();
        let claims = volumes::pod_claims(st, &pod);
        // Room made for a pod of at least this one's priority is its.
        let mine = preemption::priority(&pod);
        let seen = nominated.used_for(&used, &key, mine);
        // The node it was nominated to is tried first (kube's
        // `evaluateNominatedNode`): the room made there is its own.
        let nominee = pod["status"]["nominatedNodeName"].as_str().and_then(|n| {
            nodes
                .iter()
                .position(|(node, _)| node["metadata"]["name"] == n)
        });
        let placed = match &claims {
            Claims::Refused(why) => Err(format!("0/{} nodes are available: {why}.", nodes.len())),
            Claims::Ready { pinned, .. } => nominee
                .and_then(|i| pick_node(&pod, &nodes[i..=i], &seen, pinned.as_deref()).ok())
                .map(Ok)
                .unwrap_or_else(|| pick_node(&pod, &nodes, &seen, pinned.as_deref())),
        };
        let (kind, reason, message) = match placed {
            Ok(node) => {
                if let Claims::Ready { delayed, .. } = &claims {
                    changed |= volumes::provision(st, &ns, delayed, &node);
                }
                add_resources(
                    used.entry(node.clone()).or_default(),
                    &pods::sched_requests(&pod),
                );
                let message = format!("Successfully assigned {ns}/{name} to {node}");
                new["spec"]["nodeName"] = json!(node);
                if let Some(status) = new["status"].as_object_mut() {
                    status.remove("nominatedNodeName");
                }
                nominated.remove(&key);
                let c = condition(conds.as_ref(), "PodScheduled", "True", "", "");
                set_condition(&mut new, c);
                st.counters.scheduled += 1;
                (Kind::Normal, "Scheduled", message)
            }
            Err(msg) => {
                let pinned = match &claims {
                    Claims::Ready { pinned, .. } => Some(pinned.as_deref()),
                    Claims::Refused(_) => None,
                };
                // A pod its claims refuse is not helped by room on a node.
                let done = match pinned.filter(|_| preemption::may_preempt(&pod)) {
                    Some(pinned) => {
                        preemption::preempt(st, &pod, &nodes, &seen, pinned, &mut running)
                    }
                    None => None,
                };
                match done {
                    Some(p) => {
                        if let Some(u) = used.get_mut(&p.node) {
                            sub_resources(u, &p.freed);
                        }
                        new["status"]["nominatedNodeName"] = json!(p.node);
                        nominated.add(key.clone(), &p.node, &pod);
                        // Pods of lower priority nominated there lose it.
                        for (lns, lname) in nominated.take_lower(&p.node, mine) {
                            clear_nomination(st, &lns, &lname);
                        }
                        changed = true;
                    }
                    // No candidate: a nomination it had is given up.
                    None => {
                        if let Some(status) = new["status"].as_object_mut() {
                            status.remove("nominatedNodeName");
                        }
                        nominated.remove(&key);
                    }
                }
                let c = condition(
                    conds.as_ref(),
                    "PodScheduled",
                    "False",
                    "Unschedulable",
                    &msg,
                );
                set_condition(&mut new, c);
                (Kind::Warning, "FailedScheduling", msg)
            }
        };
        let bound = new["spec"]["nodeName"].is_string();
        changed |= put(st, "pods", new);
        if let Some(stored) = st.store.get("pods", &ns, &name).cloned() {
            events::record(st, &stored, kind, reason, &message, SCHEDULER);
        }
        if bound {
            st.sched_tried.remove(&key);
        } else if let Some(p) = st.store.get("pods", &ns, &name) {
            let rv = rv_of(p);
            st.sched_tried.insert(key, rv);
        }
    }
    changed
}

/// Drops a pending pod's nomination (its room went to a pod of higher
/// priority); true when written.
fn clear_nomination(st: &mut State, ns: &str, name: &str) -> bool {
    let Some(mut p) = st.store.get("pods", ns, name).map(|p| (**p).clone()) else {
        return false;
    };
    let removed = p["status"]
        .as_object_mut()
        .and_then(|status| status.remove("nominatedNodeName"));
    removed.is_some() && put(st, "pods", p)
}

/// Replaces (by type) or adds a condition in `status.conditions`.
pub fn set_condition(obj: &mut Value, c: Value) {
    if !obj["status"].is_object() {
        obj["status"] = json!({});
    }
    if !obj["status"]["conditions"].is_array() {
        obj["status"]["conditions"] = json!([]);
    }
    let Some(list) = obj["status"]["conditions"].as_array_mut() else {
        return;
    };
    match list.iter_mut().find(|x| x["type"] == c["type"]) {
        Some(x) => *x = c,
        None => list.push(c),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str, cpu: &str, mem: &str, gpus: u32, extra: Value) -> (Value, Resources) {
        let mut n = json!({"metadata": {"name": name, "labels": {"zone": "a"}}, "spec": {},
                           "status": {"allocatable": {"cpu": cpu, "memory": mem, "pods": "110", "nvidia.com/gpu": gpus.to_string()}}});
        crate::patch::merge_patch(&mut n, &extra);
        let alloc = pods::parse_resources(n.pointer("/status/allocatable"));
        (n, alloc)
    }

    fn pod(spec: Value) -> Value {
        let mut p = json!({"spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": "1", "memory": "1Gi"}}}]}});
        crate::patch::merge_patch(&mut p, &json!({"spec": spec}));
        p
    }

    #[test]
    fn picks_least_allocated_and_respects_requests() {
        let nodes = vec![
            node("a", "2", "4Gi", 0, json!({})),
            node("b", "8", "16Gi", 0, json!({})),
        ];
        assert_eq!(
            pick_node(&pod(json!({})), &nodes, &BTreeMap::new(), None).unwrap(),
            "b"
        );
        let mut used = BTreeMap::new();
        used.insert(
            "b".to_string(),
            pods::parse_resources(Some(&json!({"cpu": "8"}))),
        );
        assert_eq!(
            pick_node(&pod(json!({})), &nodes, &used, None).unwrap(),
            "a"
        );
        used.insert(
            "a".to_string(),
            pods::parse_resources(Some(&json!({"cpu": "1500m"}))),
        );
        let err = pick_node(&pod(json!({})), &nodes, &used, None).unwrap_err();
        assert_eq!(err, "0/2 nodes are available: 2 Insufficient cpu.");
    }

    #[test]
    fn gpus_and_selectors() {
        let nodes = vec![
            node("cpu", "8", "16Gi", 0, json!({})),
            node(
                "gpu",
                "8",
                "16Gi",
                4,
                json!({"metadata": {"labels": {"nvidia.com/gpu.product": "A100"}}}),
            ),
        ];
        let gpu_pod = json!({"spec": {"containers": [{"name": "c", "resources": {"limits": {"nvidia.com/gpu": "2"}}}]}});
        assert_eq!(
            pick_node(&gpu_pod, &nodes, &BTreeMap::new(), None).unwrap(),
            "gpu"
        );
        let too_many = json!({"spec": {"containers": [{"name": "c", "resources": {"limits": {"nvidia.com/gpu": "5"}}}]}});
        assert_eq!(
            pick_node(&too_many, &nodes, &BTreeMap::new(), None).unwrap_err(),
            "0/2 nodes are available: 2 Insufficient nvidia.com/gpu."
        );
        let sel = pod(json!({"nodeSelector": {"nvidia.com/gpu.product": "A100"}}));
        assert_eq!(
            pick_node(&sel, &nodes, &BTreeMap::new(), None).unwrap(),
            "gpu"
        );
        let aff = |op: &str, vals: Value| {
            pod(
                json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": [{"key": "nvidia.com/gpu.product", "operator": op, "values": vals}]}]}}}}),
            )
        };
        assert_eq!(
            pick_node(
                &aff("In", json!(["A100", "H100"])),
                &nodes,
                &BTreeMap::new(),
                None
            )
            .unwrap(),
            "gpu"
        );
        assert_eq!(
            pick_node(
                &aff("NotIn", json!(["A100"])),
                &nodes,
                &BTreeMap::new(),
                None
            )
            .unwrap(),
            "cpu"
        );
        assert_eq!(
            pick_node(&aff("Exists", Value::Null), &nodes, &BTreeMap::new(), None).unwrap(),
            "gpu"
        );
        assert_eq!(
            pick_node(
                &aff("DoesNotExist", Value::Null),
                &nodes,
                &BTreeMap::new(),
                None
            )
            .unwrap(),
            "cpu"
        );
        let err =
            pick_node(&aff("In", json!(["H100"])), &nodes, &BTreeMap::new(), None).unwrap_err();
        assert_eq!(
            err,
            "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector."
        );
    }

    #[test]
    fn cordon_and_taints() {
        let nodes = vec![
            node(
                "cordoned",
                "8",
                "16Gi",
                0,
                json!({"spec": {"unschedulable": true}}),
            ),
            node(
                "master",
                "8",
                "16Gi",
                0,
                json!({"spec": {"taints": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}]}}),
            ),
            node(
                "pref",
                "8",
                "16Gi",
                0,
                json!({"spec": {"taints": [{"key": "x", "effect": "PreferNoSchedule"}]}}),
            ),
        ];
        assert_eq!(
            pick_node(&pod(json!({})), &nodes, &BTreeMap::new(), None).unwrap(),
            "pref"
        );
        let only_two = &nodes[..2];
        assert_eq!(
            pick_node(&pod(json!({})), only_two, &BTreeMap::new(), None).unwrap_err(),
            "0/2 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, 1 node(s) were unschedulable."
        );
        let tolerant = pod(
            json!({"tolerations": [{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}]}),
        );
        assert_eq!(
            pick_node(&tolerant, only_two, &BTreeMap::new(), None).unwrap(),
            "master"
        );
        let everything = pod(json!({"tolerations": [{"operator": "Exists"}]}));
        assert!(pick_node(&everything, &nodes[..1], &BTreeMap::new(), None).is_ok());
        assert!(toleration_matches(
            &json!({"key": "k", "value": "v", "effect": "NoSchedule"}),
            &json!({"key": "k", "value": "v", "effect": "NoSchedule"})
        ));
        assert!(!toleration_matches(
            &json!({"key": "k", "value": "w"}),
            &json!({"key": "k", "value": "v", "effect": "NoSchedule"})
        ));
    }

    #[test]
    fn pod_count_limit() {
        let nodes = vec![node(
            "a",
            "8",
            "16Gi",
            0,
            json!({"status": {"allocatable": {"pods": "1"}}}),
        )];
        let mut used = BTreeMap::new();
        used.insert(
            "a".to_string(),
            pods::parse_resources(Some(&json!({"pods": "1"}))),
        );
        assert_eq!(
            pick_node(&pod(json!({})), &nodes, &used, None).unwrap_err(),
            "0/1 nodes are available: 1 Too many pods."
        );
        let by_name = pod(
            json!({"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["a"]}]}]}}}}),
        );
        assert!(pick_node(&by_name, &nodes, &BTreeMap::new(), None).is_ok());
    }
}
