//! Workload controllers: Deployment -> ReplicaSet -> Pod, StatefulSet,
//! DaemonSet and Job. Every object they make carries a controller
//! `ownerReference`, so deleting the owner (Background/Foreground) removes it.
//!
//! Rollouts are instantaneous: a changed Deployment template gets a new
//! ReplicaSet (`<name>-<pod-template-hash>`) and the old ones scale to zero;
//! StatefulSet and DaemonSet pods of an old revision are replaced at once.

use serde_json::{json, Map, Value};

use super::events::{self, Kind};
use super::{
    condition, controller_ref, hash_value, put, put_status, quota, random_suffix, scheduler,
};
use crate::admission::{limitranger, pod_defaults};
use crate::pods;
use crate::resources;
use crate::state::State;
use crate::store::Obj;

mod daemonsets;
mod jobs;
mod statefulsets;

use daemonsets::daemonsets;
use jobs::jobs;
use statefulsets::statefulsets;

/// Runs all workload controllers once; true when something changed.
///
/// Works like real controllers' queues: only objects whose uid is in the
/// store's dirty set (they, or something they own, changed) are looked at;
/// DaemonSets are all looked at again when nodes change.
pub fn reconcile(st: &mut State) -> bool {
    let dirty = std::mem::take(&mut st.store.dirty);
    let nodes_changed = st.inputs_changed("daemonsets-nodes", &["nodes"]);
    let mut changed = false;
    changed |= deployments(st, &dirty);
    changed |= replicasets(st, &dirty);
    changed |= statefulsets(st, &dirty);
    changed |= daemonsets(st, &dirty, nodes_changed);
    changed |= jobs(st, &dirty);
    changed
}

type Dirty = std::collections::HashSet<String>;

/// The pods the controllers create in one reconcile (a request's or a
/// tick's), as kube-controller-manager's `burstReplicas`: a workload of two
/// billion replicas grows in steps, with the state lock let go between them
/// (its creations mark it dirty, so the next tick goes on), instead of all
/// at once under it.
pub const BURST: usize = 500;

/// The most pods the simulated cluster holds: beyond it controllers create
/// none (a real cluster's etcd quota ends the growth the same way), so no
/// replica count makes the server's memory grow without bound.
pub const MAX_PODS: usize = 200_000;

/// How many of `missing` pods `owner` may create now, taken from this
/// reconcile's budget. When the budget is what stops it, the owner stays
/// queued, so the next reconcile (at the latest the next tick) goes on; at
/// [`MAX_PODS`] it waits for a pod to go.
fn pods_to_create(st: &mut State, owner: &Value, missing: usize) -> usize {
    let room = MAX_PODS.saturating_sub(st.store.count("pods"));
    let n = missing.min(st.pods_to_create).min(room);
    st.pods_to_create -= n;
    if n < missing && n < room {
        st.store.dirty.insert(uid(owner).to_string());
    }
    n
}

/// Live (not deleting) objects of `key` whose uid is dirty (or all with `every`).
fn queued(st: &State, key: &str, dirty: &Dirty, every: bool) -> Vec<Value> {
    st.store
        .list(key, None)
        .filter(|o| o.pointer("/metadata/deletionTimestamp").is_none())
        .filter(|o| every || dirty.contains(o["metadata"]["uid"].as_str().unwrap_or("")))
        .map(|o| (**o).clone())
        .collect()
}

fn uid(o: &Value) -> &str {
    o["metadata"]["uid"].as_str().unwrap_or("")
}

fn name(o: &Value) -> &str {
    o["metadata"]["name"].as_str().unwrap_or("")
}

fn ns(o: &Value) -> &str {
    o["metadata"]["namespace"].as_str().unwrap_or("")
}

/// Objects of `key` controlled by `owner`.
fn controlled(st: &State, owner: &Value, key: &str) -> Vec<Obj> {
    let u = uid(owner);
    st.store
        .dependents(u)
        .into_iter()
        .filter(|(k, _, _)| k == key)
        .filter_map(|(k, n, m)| st.store.get(&k, &n, &m).cloned())
        .filter(|o| {
            o.pointer("/metadata/ownerReferences")
                .and_then(Value::as_array)
                .is_some_and(|rs| rs.iter().any(|r| r["uid"] == u && r["controller"] == true))
        })
        .collect()
}

fn live_pods(st: &State, owner: &Value) -> Vec<Obj> {
    controlled(st, owner, "pods")
        .into_iter()
        .filter(|p| !pods::is_terminal(p) && p.pointer("/metadata/deletionTimestamp").is_none())
        .collect()
}

fn replicas(o: &Value) -> i64 {
    o.pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1)
}

fn labels_with(template: &Value, extra: &[(&str, String)]) -> Map<String, Value> {
    let mut labels = template
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for (k, v) in extra {
        labels.insert(k.to_string(), json!(v));
    }
    labels
}

/// Creates a pod from a template, owned by `owner`; the API server's
/// refusal (the namespace's quota or LimitRange) as its message otherwise,
/// with a `FailedCreate` warning on the owner saying why, as
/// kube-controller-manager records it.
fn create_pod(
    st: &mut State,
    owner: &Value,
    template: &Value,
    pod_name: &str,
    labels: Map<String, Value>,
    tweak: impl FnOnce(&mut Value),
) -> Result<(), String> {
    let mut meta = json!({"name": pod_name, "namespace": ns(owner), "labels": labels, "ownerReferences": [controller_ref(owner)]});
    if let Some(a) = template.pointer("/metadata/annotations") {
        meta["annotations"] = a.clone();
    }
    if pod_name.ends_with('-') {
        meta["generateName"] = json!(pod_name);
        // A generated name that is taken is drawn again, as a controller
        // retries after the API server's AlreadyExists: with a few thousand
        // pods, five random characters collide now and then, and the new pod
        // replaced the old one.
        let namespace = ns(owner);
        let mut name = format!("{pod_name}{}", random_suffix(5));
        while st.store.get("pods", namespace, &name).is_some() {
            name = format!("{pod_name}{}", random_suffix(5));
        }
        meta["name"] = json!(name);
    }
    let mut pod = json!({"metadata": meta, "spec": template.get("spec").cloned().unwrap_or(json!({})), "status": {}});
    tweak(&mut pod);
    limitranger::default_pod(st, &mut pod);
    pod_defaults(&mut pod);
    let admitted =
        limitranger::check_pod(st, &pod).and_then(|()| quota::check(st, &resources::PODS, &pod));
    let stateful = owner["kind"] == "StatefulSet";
    let component = match owner["kind"].as_str() {
        Some("StatefulSet") => "statefulset-controller",
        Some("DaemonSet") => "daemonset-controller",
        Some("Job") => "job-controller",
        _ => "replicaset-controller",
    };
    let charges = match admitted {
        Ok(charges) => charges,
        Err(e) => {
            let message = if stateful {
                format!(
                    "create Pod {} in StatefulSet {} failed error: {}",
                    name(&pod),
                    name(owner),
                    e.message
                )
            } else {
                format!("Error creating: {}", e.message)
            };
            events::record(
                st,
                owner,
                Kind::Warning,
                "FailedCreate",
                &message,
                component,
            );
            return Err(e.message);
        }
    };
    let created = st.store.insert(&resources::PODS, pod);
    quota::charge(st, charges);
    let pod_name = name(&created);
    let message = if stateful {
        format!(
            "create Pod {pod_name} in StatefulSet {} successful",
            name(owner)
        )
    } else {
        format!("Created pod: {pod_name}")
    };
    events::record(
        st,
        owner,
        Kind::Normal,
        "SuccessfulCreate",
        &message,
        component,
    );
    Ok(())
}

/// A Deployment scaled one of its ReplicaSets.
fn scaled(st: &mut State, d: &Value, rs: &str, from: i64, to: i64) {
    let way = if to > from { "up" } else { "down" };
    let message = format!("Scaled {way} replica set {rs} from {from} to {to}");
    events::record(
        st,
        d,
        Kind::Normal,
        "ScalingReplicaSet",
        &message,
        "deployment-controller",
    );
}

/// The deployment controller's answer to a new ReplicaSet the API server
/// refused (`getNewReplicaSet`): a `ReplicaSetCreateError` event and a
/// `Progressing` condition of `False` saying why. True when it wrote.
fn replica_set_refused(st: &mut State, d: &Value, rs_name: &str, why: &str) -> bool {
    const REASON: &str = "ReplicaSetCreateError";
    let message = format!("Failed to create new replica set \"{rs_name}\": {why}");
    events::record(
        st,
        d,
        Kind::Warning,
        REASON,
        &message,
        "deployment-controller",
    );
    let existing = d.pointer("/status/conditions");
    let progressing = deployment_condition(existing, "Progressing", "False", REASON, &message);
    let mut conditions: Vec<Value> = existing
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|c| c["type"] != "Progressing")
        .cloned()
        .collect();
    conditions.push(progressing);
    let mut status = d.get("status").cloned().unwrap_or(json!({}));
    // Only the condition: the spec is not observed until its ReplicaSet
    // exists (so `kubectl rollout status` keeps waiting).
    status["conditions"] = json!(conditions);
    put_status(st, "deployments.apps", d, status)
}

fn remove_pod(st: &mut State, p: &Value) {
    st.store.remove("pods", ns(p), name(p));
}

fn count_ready(ps: &[Obj]) -> i64 {
    ps.iter().filter(|p| pods::is_ready(p)).count() as i64
}

fn deployments(st: &mut State, dirty: &Dirty) -> bool {
    let mut changed = false;
    for d in queued(st, "deployments.apps", dirty, false) {
        let template = d["spec"]["template"].clone();
        let hash = hash_value(&template);
        let rs_name = format!("{}-{hash}", name(&d));
        let owned = controlled(st, &d, "replicasets.apps");
        let want = replicas(&d);
        let revision = |o: &Value| {
            o.pointer("/metadata/annotations/deployment.kubernetes.io~1revision")
                .and_then(Value::as_str)
                .and_then(|s| s.parse::<i64>().ok())
                .unwrap_or(0)
        };
        let max_rev = owned.iter().map(|r| revision(r)).max().unwrap_or(0);
        let next_rev = max_rev.saturating_add(1);
        let current_rev = match owned.iter().find(|r| name(r) == rs_name) {
            Some(r) => revision(r),
            None => {
                let labels = labels_with(&template, &[("pod-template-hash", hash.clone())]);
                let mut sel = d["spec"]["selector"].clone();
                if !sel["matchLabels"].is_object() {
                    sel["matchLabels"] = json!({});
                }
                sel["matchLabels"]["pod-template-hash"] = json!(hash);
                let mut t = template.clone();
                t["metadata"]["labels"] = Value::Object(labels.clone());
                let rs = json!({
                    "metadata": {"name": rs_name, "namespace": ns(&d), "labels": labels,
                        "annotations": {"deployment.kubernetes.io/revision": next_rev.to_string(),
                                        "deployment.kubernetes.io/desired-replicas": want.to_string(),
                                        "deployment.kubernetes.io/max-replicas": want.saturating_add(1).to_string()},
                        "ownerReferences": [controller_ref(&d)]},
                    "spec": {"replicas": want, "minReadySeconds": d["spec"].get("minReadySeconds").cloned().unwrap_or(json!(0)), "selector": sel, "template": t},
                    "status": {"replicas": 0}
                });
                // The ReplicaSet is created through the API server: a quota
                // of `count/replicasets.apps` refuses it as any create.
                match quota::check(st, &resources::REPLICA_SETS, &rs) {
                    Ok(charges) => {
                        st.store.insert(&resources::REPLICA_SETS, rs);
                        quota::charge(st, charges);
                    }
                    Err(e) => {
                        changed |= replica_set_refused(st, &d, &rs_name, &e.message);
                        continue;
                    }
                }
                if want > 0 {
                    scaled(st, &d, &rs_name, 0, want);
                }
                changed = true;
                next_rev
            }
        };
        let mut total: i64 = 0;
        let mut ready: i64 = 0;
        let mut updated = 0;
        let rss = controlled(st, &d, "replicasets.apps");
        let failure = deployment_failure(&rss, &rs_name);
        for rs in rss {
            let target = if name(&rs) == rs_name { want } else { 0 };
            if replicas(&rs) != target {
                scaled(st, &d, name(&rs), replicas(&rs), target);
                let mut r = (*rs).clone();
                r["spec"]["replicas"] = json!(target);
                r["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] =
                    json!(want.to_string());
                changed |= put(st, "replicasets.apps", r);
            }
            let rs_count = rs
                .pointer("/status/replicas")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            // Status counts are whatever a client wrote through the status
            // subresource: added and subtracted without overflow.
            total = total.saturating_add(rs_count);
            ready = ready.saturating_add(
                rs.pointer("/status/readyReplicas")
                    .and_then(Value::as_i64)
                    .unwrap_or(0),
            );
            if name(&rs) == rs_name {
                updated = rs_count;
            }
        }
        let mut dd = d.clone();
        if revision(&d) != current_rev {
            if !dd["metadata"]["annotations"].is_object() {
                dd["metadata"]["annotations"] = json!({});
            }
            dd["metadata"]["annotations"]["deployment.kubernetes.io/revision"] =
                json!(current_rev.to_string());
            changed |= put(st, "deployments.apps", dd.clone());
            dd = st
                .store
                .get("deployments.apps", ns(&d), name(&d))
                .map(|o| (**o).clone())
                .unwrap_or(dd);
        }
        let conds = d.pointer("/status/conditions");
        let available = ready >= want;
        let complete = available && updated == want && total == want;
        let mut status = json!({
            "observedGeneration": d["metadata"]["generation"], "replicas": total, "updatedReplicas": updated,
            "readyReplicas": ready, "availableReplicas": ready,
            "conditions": [
                if available { deployment_condition(conds, "Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.") }
                else { deployment_condition(conds, "Available", "False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability.") },
                if complete { deployment_condition(conds, "Progressing", "True", "NewReplicaSetAvailable", &format!("ReplicaSet \"{rs_name}\" has successfully progressed.")) }
                else { deployment_condition(conds, "Progressing", "True", "ReplicaSetUpdated", &format!("ReplicaSet \"{rs_name}\" is progressing.")) },
            ]
        });
        if let (Some(c), Some(list)) = (failure, status["conditions"].as_array_mut()) {
            list.push(c);
        }
        let unavailable = total.saturating_sub(ready);
        if unavailable > 0 {
            status["unavailableReplicas"] = json!(unavailable);
        }
        clean_zero(
            &mut status,
            &["readyReplicas", "availableReplicas", "updatedReplicas"],
        );
        changed |= put_status(st, "deployments.apps", &dd, status);
    }
    changed
}

/// Kubernetes omits zero counters from workload status.
fn clean_zero(status: &mut Value, fields: &[&str]) {
    if let Some(m) = status.as_object_mut() {
        for f in fields {
            if m.get(*f) == Some(&json!(0)) {
                m.remove(*f);
            }
        }
    }
}

fn replicasets(st: &mut State, dirty: &Dirty) -> bool {
    let mut changed = false;
    for rs in queued(st, "replicasets.apps", dirty, false) {
        let mut ps = live_pods(st, &rs);
        let want = replicas(&rs) as usize;
        let template = rs["spec"]["template"].clone();
        // The pods counted in the status: those found, plus the ones created
        // now (none of them ready yet), so that a growing ReplicaSet of
        // thousands is not walked a second time; after removals, again.
        let mut created = 0;
        let mut failure = None;
        if ps.len() < want {
            let n = pods_to_create(st, &rs, want - ps.len());
            for _ in 0..n {
                let labels = labels_with(&template, &[]);
                let made = create_pod(
                    st,
                    &rs,
                    &template,
                    &format!("{}-", name(&rs)),
                    labels,
                    |_| {},
                );
                if let Err(why) = made {
                    failure = Some(why);
                    break;
                }
                created += 1;
            }
            changed |= created > 0;
        } else if ps.len() > want {
            // unscheduled first, then not ready, then newest
            ps.sort_by_key(|p| {
                (
                    pods::bound_node(p).is_some(),
                    pods::is_ready(p),
                    std::cmp::Reverse(
                        p["metadata"]["creationTimestamp"]
                            .as_str()
                            .unwrap_or("")
                            .to_string(),
                    ),
                )
            });
            for p in &ps[..ps.len() - want] {
                remove_pod(st, p);
            }
            changed = true;
            ps = live_pods(st, &rs);
        }
        let ready = count_ready(&ps);
        let replicas = ps.len() + created;
        let mut status = json!({"replicas": replicas, "fullyLabeledReplicas": replicas, "readyReplicas": ready,
                                "availableReplicas": ready, "observedGeneration": rs["metadata"]["generation"]});
        clean_zero(
            &mut status,
            &["readyReplicas", "availableReplicas", "fullyLabeledReplicas"],
        );
        if let Some(conditions) = replica_failure(&rs, failure.as_deref()) {
            status["conditions"] = conditions;
        }
        changed |= put_status(st, "replicasets.apps", &rs, status);
    }
    changed
}

/// A ReplicaSet's conditions after a pass that created pods (`failure`:
/// why the API server refused one, if it did), as `calculateStatus` in
/// kube's replica_set_utils keeps them: a `ReplicaFailure` (reason
/// `FailedCreate`, the refusal as its message) added when a creation
/// failed and none is there (one already there is kept as it is), removed
/// once a pass fails nothing. `None` for no conditions at all.
fn replica_failure(rs: &Value, failure: Option<&str>) -> Option<Value> {
    let mut conditions: Vec<Value> = rs
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let at = conditions
        .iter()
        .position(|c| c["type"] == "ReplicaFailure");
    match (failure, at) {
        (Some(why), None) => conditions.push(
            json!({"type": "ReplicaFailure", "status": "True", "lastTransitionTime": crate::store::now_rfc3339(),
                   "reason": "FailedCreate", "message": why}),
        ),
        (None, Some(i)) => {
            conditions.remove(i);
        }
        _ => {}
    }
    (!conditions.is_empty()).then_some(Value::Array(conditions))
}

/// A Deployment condition as `SetDeploymentCondition` keeps it: one of the
/// same status and reason stays as it is (both its times); otherwise it is
/// updated now, keeping its `lastTransitionTime` when the status is the same.
fn deployment_condition(
    existing: Option<&Value>,
    ty: &str,
    status: &str,
    reason: &str,
    message: &str,
) -> Value {
    let old = existing
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c["type"] == ty));
    if let Some(o) = old.filter(|o| o["status"] == status && o["reason"] == reason) {
        if o.get("lastUpdateTime").is_some() && o["message"] == message {
            return o.clone();
        }
    }
    let mut c = condition(existing, ty, status, reason, message);
    let now = crate::store::now_rfc3339();
    if old.is_none_or(|o| o["status"] != status) {
        c["lastTransitionTime"] = json!(now);
    } else if let Some(t) = old.and_then(|o| o.get("lastTransitionTime")) {
        c["lastTransitionTime"] = t.clone();
    }
    c["lastUpdateTime"] = json!(now);
    c
}

/// The Deployment's `ReplicaFailure` condition: its ReplicaSets' (the new
/// one's first), as the deployment controller's `getReplicaFailures`
/// copies it, with `lastUpdateTime` from its transition.
fn deployment_failure(rss: &[Obj], newest: &str) -> Option<Value> {
    let of = |rs: &Obj| {
        rs.pointer("/status/conditions")
            .and_then(Value::as_array)
            .and_then(|cs| cs.iter().find(|c| c["type"] == "ReplicaFailure"))
            .cloned()
    };
    let found = rss
        .iter()
        .filter(|rs| name(rs) == newest)
        .chain(rss.iter().filter(|rs| name(rs) != newest))
        .find_map(of)?;
    let mut c = found;
    c["lastUpdateTime"] = c["lastTransitionTime"].clone();
    Some(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_conditions_keep_their_times_until_they_change() {
        let old = json!([{"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated",
            "message": "ReplicaSet \"a\" is progressing.",
            "lastTransitionTime": "2026-01-01T00:00:00Z", "lastUpdateTime": "2026-01-01T00:00:00Z"}]);
        // The same: kept whole.
        let same = deployment_condition(
            Some(&old),
            "Progressing",
            "True",
            "ReplicaSetUpdated",
            "ReplicaSet \"a\" is progressing.",
        );
        assert_eq!(same, old[0]);
        // The same status, another reason: updated now, transition kept.
        let done = deployment_condition(
            Some(&old),
            "Progressing",
            "True",
            "NewReplicaSetAvailable",
            "ReplicaSet \"a\" has successfully progressed.",
        );
        assert_eq!(done["lastTransitionTime"], "2026-01-01T00:00:00Z");
        assert_ne!(done["lastUpdateTime"], "2026-01-01T00:00:00Z");
        assert_eq!(done["reason"], "NewReplicaSetAvailable");
        // Another status: both times now.
        let failed = deployment_condition(
            Some(&old),
            "Progressing",
            "False",
            "ProgressDeadlineExceeded",
            "x",
        );
        assert_ne!(failed["lastTransitionTime"], "2026-01-01T00:00:00Z");
        assert_eq!(failed["lastTransitionTime"], failed["lastUpdateTime"]);
        // None before: both times, equal.
        let new = deployment_condition(None, "Available", "True", "MinimumReplicasAvailable", "m");
        assert_eq!(new["lastTransitionTime"], new["lastUpdateTime"]);
    }

    #[test]
    fn a_replica_failure_is_added_kept_and_removed_as_kube_keeps_it() {
        let rs = json!({"status": {"conditions": [{"type": "Other", "status": "True"}]}});
        let added = replica_failure(&rs, Some("pods \"a\" is forbidden: q")).unwrap_or_default();
        assert_eq!(added[1]["type"], "ReplicaFailure");
        assert_eq!(added[1]["reason"], "FailedCreate");
        assert_eq!(added[1]["message"], "pods \"a\" is forbidden: q");
        let failing = json!({"status": {"conditions": added}});
        // A later refusal keeps the condition as it was (its time, its message).
        let kept = replica_failure(&failing, Some("another")).unwrap_or_default();
        assert_eq!(kept, failing["status"]["conditions"]);
        // A pass that refuses nothing removes it, and only it.
        let cleared = replica_failure(&failing, None).unwrap_or_default();
        assert_eq!(cleared, json!([{"type": "Other", "status": "True"}]));
        assert_eq!(replica_failure(&json!({}), None), None);
    }

    #[test]
    fn a_job_starts_its_parallelism_at_once() {
        let mut st = State::new(crate::spec::ClusterSpec::new("jobs"));
        st.pods_to_create = BURST;
        let jobs = resources::by_key("jobs.batch").expect("jobs are served");
        st.store.insert(
            jobs,
            json!({"metadata": {"name": "batch", "namespace": "default", "uid": "job-1"},
                   "spec": {"parallelism": 3, "completions": 5,
                            "template": {"spec": {"restartPolicy": "Never",
                                                  "containers": [{"name": "c", "image": "busybox"}]}}}}),
        );
        st.store.dirty.insert("job-1".to_string());
        reconcile(&mut st);
        assert_eq!(st.store.count("pods"), 3);
    }
}
