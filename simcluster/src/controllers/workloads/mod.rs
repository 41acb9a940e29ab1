//! Workload controllers: Deployment -> ReplicaSet -> Pod, StatefulSet,
//! DaemonSet and Job. Every object they make carries a controller
//! `ownerReference`, so deleting the owner (Background/Foreground) removes it.
//!
//! Rollouts are instantaneous: a changed Deployment template gets a new
//! ReplicaSet (`<name>-<pod-template-hash>`) and the old ones scale to zero;
//! StatefulSet and DaemonSet pods of an old revision are replaced at once.

use serde_json::{json, Map, Value};

use super::events::{self, Kind};
use super::{condition, controller_ref, hash_value, put, put_status, quota, scheduler};
use crate::admission::{limitranger, pod_defaults};
use crate::pods;
use crate::resources;
use crate::state::State;
use crate::store::Obj;

mod daemonsets;
mod deployments;
mod jobs;
mod statefulsets;

use daemonsets::daemonsets;
use deployments::deployments;
use jobs::jobs;
use statefulsets::statefulsets;

/// Runs all workload controllers once; true when something changed.
///
/// Works like real controllers' queues: only objects whose uid is in the
/// store's dirty set (they, or something they own, changed) are looked at;
/// DaemonSets are all looked at again when nodes change.
pub fn reconcile(st: &mut State) -> bool {
    let mut dirty = std::mem::take(&mut st.store.dirty);
    // A pod refused for its PriorityClass is created once the class
    // changes (is created), as the controllers' requeue with backoff
    // would retry it.
    if st.inputs_changed(
        "workloads-priorityclasses",
        &[crate::admission::priority::KEY],
    ) {
        for key in [
            "replicasets.apps",
            "statefulsets.apps",
            "daemonsets.apps",
            "jobs.batch",
        ] {
            dirty.extend(st.store.list(key, None).map(|o| uid(o).to_string()));
        }
    }
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
        // Named after the mutating plugins, as the API server does (their
        // refusals show the prefix); a taken name is drawn again, as a
        // controller retries after the API server's AlreadyExists: with a
        // few thousand pods, five random characters collide now and then.
        meta["generateName"] = json!(pod_name);
        meta["name"] = json!("");
    }
    let mut pod = json!({"metadata": meta, "spec": template.get("spec").cloned().unwrap_or(json!({})), "status": {}});
    tweak(&mut pod);
    limitranger::default_pod(st, &mut pod);
    // The `Priority` plugin's answer comes before the defaults (which
    // would set a priority of 0 the pod's class may not give).
    let prioritized = crate::admission::priority::pod(st, &mut pod);
    crate::admission::generate_name(st, &resources::PODS, &mut pod);
    pod_defaults(&mut pod);
    let admitted = prioritized
        .and_then(|()| limitranger::check_pod(st, &pod))
        .and_then(|()| quota::check(st, &resources::PODS, &pod));
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

fn remove_pod(st: &mut State, p: &Value) {
    st.store.remove("pods", ns(p), name(p));
}

fn count_ready(ps: &[Obj]) -> i64 {
    ps.iter().filter(|p| pods::is_ready(p)).count() as i64
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

#[cfg(test)]
mod tests {
    use super::*;

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
