//! Deployments: a ReplicaSet per pod template (named by its hash), the
//! newest scaled to the replicas wanted and the others to none, the
//! revision annotations, and the status with `Available` and `Progressing`
//! conditions kept as the deployment controller keeps them (a new
//! ReplicaSet the quota refuses is `ReplicaSetCreateError`).

use super::*;

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

pub(super) fn deployments(st: &mut State, dirty: &Dirty) -> bool {
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
    // Both times now; the transition's kept while the status is the same.
    let mut c = condition(None, ty, status, reason, message);
    c["lastUpdateTime"] = c["lastTransitionTime"].clone();
    let since = old.filter(|o| o["status"] == status);
    if let Some(t) = since.and_then(|o| o.get("lastTransitionTime")) {
        c["lastTransitionTime"] = t.clone();
    }
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
}
