//! DaemonSets: a pod on every node the template tolerates and selects.

use super::*;

fn daemon_tolerations(spec: &Value) -> Vec<Value> {
    let mut tol: Vec<Value> = spec["tolerations"].as_array().cloned().unwrap_or_default();
    for (key, effect) in [
        ("node.kubernetes.io/not-ready", "NoExecute"),
        ("node.kubernetes.io/unreachable", "NoExecute"),
        ("node.kubernetes.io/disk-pressure", "NoSchedule"),
        ("node.kubernetes.io/memory-pressure", "NoSchedule"),
        ("node.kubernetes.io/pid-pressure", "NoSchedule"),
        ("node.kubernetes.io/unschedulable", "NoSchedule"),
    ] {
        if !tol.iter().any(|t| t["key"] == key && t["effect"] == effect) {
            tol.push(json!({"key": key, "operator": "Exists", "effect": effect}));
        }
    }
    tol
}

fn ds_target(p: &Value) -> Option<String> {
    if let Some(n) = pods::bound_node(p) {
        return Some(n.to_string());
    }
    p.pointer("/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms/0/matchFields/0/values/0")
        .and_then(Value::as_str)
        .map(String::from)
}

pub(super) fn daemonsets(st: &mut State, dirty: &Dirty, nodes_changed: bool) -> bool {
    let mut changed = false;
    let nodes: Vec<Value> = st
        .store
        .list("nodes", None)
        .map(|n| (**n).clone())
        .collect();
    for ds in queued(st, "daemonsets.apps", dirty, nodes_changed) {
        let template = ds["spec"]["template"].clone();
        let hash = hash_value(&template);
        let mut spec = template["spec"].clone();
        spec["tolerations"] = json!(daemon_tolerations(&spec));
        let eligible: Vec<String> = nodes
            .iter()
            .filter(|n| scheduler::constraint_failure(&spec, n).is_none())
            .map(|n| name(n).to_string())
            .collect();
        let mut covered = Vec::new();
        for p in live_pods(st, &ds) {
            let target = ds_target(&p);
            let stale = p
                .pointer("/metadata/labels/controller-revision-hash")
                .and_then(Value::as_str)
                != Some(hash.as_str());
            match target {
                Some(t) if eligible.contains(&t) && !covered.contains(&t) && !stale => {
                    covered.push(t)
                }
                _ => {
                    remove_pod(st, &p);
                    changed = true;
                }
            }
        }
        for node in eligible.iter().filter(|n| !covered.contains(n)) {
            let labels = labels_with(
                &template,
                &[
                    ("controller-revision-hash", hash.clone()),
                    ("pod-template-generation", "1".into()),
                ],
            );
            let tol = spec["tolerations"].clone();
            let node = node.clone();
            let created = create_pod(
                st,
                &ds,
                &template,
                &format!("{}-", name(&ds)),
                labels,
                move |pod| {
                    pod["spec"]["tolerations"] = tol;
                    pod["spec"]["affinity"] = json!({"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                    {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}]}}});
                },
            );
            if created.is_err() {
                break;
            }
            changed = true;
        }
        let ps = live_pods(st, &ds);
        let scheduled = ps.iter().filter(|p| pods::bound_node(p).is_some()).count();
        let ready = count_ready(&ps);
        let mut status = json!({
            "desiredNumberScheduled": eligible.len(), "currentNumberScheduled": scheduled, "numberMisscheduled": 0,
            "numberReady": ready, "numberAvailable": ready, "updatedNumberScheduled": scheduled,
            "observedGeneration": ds["metadata"]["generation"]
        });
        if (ps.len() as i64) > ready {
            status["numberUnavailable"] = json!(ps.len() as i64 - ready);
        }
        clean_zero(&mut status, &["numberAvailable"]);
        changed |= put_status(st, "daemonsets.apps", &ds, status);
    }
    changed
}
