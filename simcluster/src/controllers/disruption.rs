//! PodDisruptionBudgets: the disruption controller's status and the
//! `pods/eviction` subresource.
//!
//! `expectedPods` counts the desired replicas of the controllers owning the
//! selected pods (plus uncontrolled pods), `currentHealthy` the selected pods
//! that are Ready, `desiredHealthy` follows `minAvailable` or
//! `maxUnavailable` (integers or percentages, rounded up), and
//! `disruptionsAllowed = currentHealthy - desiredHealthy`. An eviction that
//! would take a healthy pod below that answers `429 TooManyRequests`, as a
//! real API server does, and kubectl drain retries.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::{condition, put_status};
use crate::api;
use crate::error::{ApiError, ApiResult};
use crate::pods;
use crate::selectors::LabelSelector;
use crate::state::State;

/// Computed budget numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Pods the controllers want.
    pub expected: i64,
    /// Ready selected pods.
    pub current_healthy: i64,
    /// Ready pods the budget requires.
    pub desired_healthy: i64,
    /// How many may be disrupted now.
    pub allowed: i64,
}

fn int_or_percent(v: &Value, total: i64) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => match s.strip_suffix('%') {
            Some(p) => p
                .trim()
                .parse::<i64>()
                .ok()
                .map(|p| p.saturating_mul(total).saturating_add(99) / 100),
            None => s.parse().ok(),
        },
        _ => None,
    }
}

/// Desired healthy count from a PDB spec.
pub fn desired_healthy(spec: &Value, expected: i64) -> i64 {
    if let Some(min) = spec
        .get("minAvailable")
        .and_then(|v| int_or_percent(v, expected))
    {
        return min;
    }
    if let Some(max) = spec
        .get("maxUnavailable")
        .and_then(|v| int_or_percent(v, expected))
    {
        return expected.saturating_sub(max).max(0);
    }
    expected
}

fn selected_pods(st: &State, pdb: &Value) -> Vec<Value> {
    let ns = pdb["metadata"]["namespace"].as_str().unwrap_or("");
    let Ok(sel) = LabelSelector::from_object(pdb.pointer("/spec/selector")) else {
        return vec![];
    };
    st.store
        .list("pods", Some(ns))
        .filter(|p| {
            sel.matches_object(p)
                && !pods::is_terminal(p)
                && p.pointer("/metadata/deletionTimestamp").is_none()
        })
        .map(|p| (**p).clone())
        .collect()
}

/// Computes a PDB's budget from the current pods.
pub fn budget(st: &State, pdb: &Value) -> Budget {
    let selected = selected_pods(st, pdb);
    let mut controllers: BTreeMap<String, i64> = BTreeMap::new();
    let mut uncontrolled: i64 = 0;
    for p in &selected {
        let ctrl = p
            .pointer("/metadata/ownerReferences")
            .and_then(Value::as_array)
            .and_then(|rs| rs.iter().find(|r| r["controller"] == true).cloned());
        let Some(r) = ctrl else {
            uncontrolled += 1;
            continue;
        };
        let uid = r["uid"].as_str().unwrap_or("").to_string();
        if controllers.contains_key(&uid) {
            continue;
        }
        let desired = st
            .store
            .by_uid(&uid)
            .and_then(|(k, n, m)| st.store.get(k, n, m))
            .map(|o| match o["kind"].as_str() {
                Some("DaemonSet") => o
                    .pointer("/status/desiredNumberScheduled")
                    .and_then(Value::as_i64)
                    .unwrap_or(0),
                Some("Job") => o
                    .pointer("/spec/parallelism")
                    .and_then(Value::as_i64)
                    .unwrap_or(1),
                _ => o
                    .pointer("/spec/replicas")
                    .and_then(Value::as_i64)
                    .unwrap_or(1),
            })
            .unwrap_or(1);
        controllers.insert(uid, desired);
    }
    // Replica counts are what clients wrote: summed without overflow.
    let expected = controllers
        .values()
        .fold(uncontrolled, |sum, n| sum.saturating_add(*n));
    let current_healthy = selected.iter().filter(|p| pods::is_ready(p)).count() as i64;
    let desired = desired_healthy(&pdb["spec"], expected);
    Budget {
        expected,
        current_healthy,
        desired_healthy: desired,
        allowed: current_healthy.saturating_sub(desired).max(0),
    }
}

/// Refreshes every PDB's status; true when something changed.
pub fn update_status(st: &mut State) -> bool {
    let inputs = [
        "pods",
        "poddisruptionbudgets.policy",
        "replicasets.apps",
        "statefulsets.apps",
        "daemonsets.apps",
        "jobs.batch",
    ];
    if !st.inputs_changed("disruption", &inputs)
        || st.store.count("poddisruptionbudgets.policy") == 0
    {
        return false;
    }
    let pdbs: Vec<Value> = st
        .store
        .list("poddisruptionbudgets.policy", None)
        .map(|o| (**o).clone())
        .collect();
    let mut changed = false;
    for pdb in pdbs {
        let b = budget(st, &pdb);
        let conds = pdb.pointer("/status/conditions");
        let cond = if b.allowed > 0 {
            condition(conds, "DisruptionAllowed", "True", "SufficientPods", "")
        } else {
            condition(conds, "DisruptionAllowed", "False", "InsufficientPods", "")
        };
        let status = json!({
            "observedGeneration": pdb["metadata"]["generation"], "disruptionsAllowed": b.allowed,
            "currentHealthy": b.current_healthy, "desiredHealthy": b.desired_healthy, "expectedPods": b.expected,
            "conditions": [cond]
        });
        changed |= put_status(st, "poddisruptionbudgets.policy", &pdb, status);
    }
    changed
}

/// `POST /api/v1/namespaces/{ns}/pods/{name}/eviction`.
pub fn evict(st: &mut State, ns: &str, name: &str, body: &Value) -> ApiResult<Value> {
    let pods_def = &crate::resources::PODS;
    let pod = api::get(st, pods_def, Some(ns), name)?;
    let dry_run = body
        .pointer("/deleteOptions/dryRun")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty());
    if !pods::is_terminal(&pod) {
        let pdbs: Vec<Value> = st
            .store
            .list("poddisruptionbudgets.policy", Some(ns))
            .filter(|p| {
                LabelSelector::from_object(p.pointer("/spec/selector"))
                    .is_ok_and(|s| s.matches_object(&pod))
            })
            .map(|o| (**o).clone())
            .collect();
        if pdbs.len() > 1 {
            return Err(ApiError::internal("This pod has more than one PodDisruptionBudget, which the eviction subresource does not support."));
        }
        if let Some(pdb) = pdbs.first() {
            let b = budget(st, pdb);
            let blocked = if pods::is_ready(&pod) {
                b.allowed <= 0
            } else {
                b.current_healthy < b.desired_healthy
            };
            if blocked {
                st.counters.evictions_refused += 1;
                let pdb_name = pdb["metadata"]["name"].as_str().unwrap_or("");
                let mut e = ApiError::new(
                    429,
                    "TooManyRequests",
                    "Cannot evict pod as it would violate the pod's disruption budget.",
                );
                e.details = Some(
                    json!({"causes": [{"reason": "DisruptionBudget", "message": format!(
                    "The disruption budget {pdb_name} needs {} healthy pods and has {} currently", b.desired_healthy, b.current_healthy)}]}),
                );
                return Err(e);
            }
        }
    }
    let opts = api::DeleteOptions {
        uid: body
            .pointer("/deleteOptions/preconditions/uid")
            .and_then(Value::as_str)
            .map(String::from),
        resource_version: body
            .pointer("/deleteOptions/preconditions/resourceVersion")
            .and_then(Value::as_str)
            .map(String::from),
        dry_run,
        ..Default::default()
    };
    api::delete(st, pods_def, Some(ns), name, &opts)?;
    if !dry_run {
        st.counters.evictions += 1;
    }
    Ok(
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn desired_counts() {
        assert_eq!(desired_healthy(&json!({"minAvailable": 2}), 3), 2);
        assert_eq!(desired_healthy(&json!({"minAvailable": "50%"}), 3), 2);
        assert_eq!(desired_healthy(&json!({"maxUnavailable": 1}), 3), 2);
        assert_eq!(desired_healthy(&json!({"maxUnavailable": "34%"}), 3), 1);
        assert_eq!(desired_healthy(&json!({"maxUnavailable": 5}), 3), 0);
        assert_eq!(desired_healthy(&json!({}), 3), 3);
    }

    /// Percentages of the largest counts (a StatefulSet or Job of 2^31-1)
    /// and budgets below zero do not overflow.
    #[test]
    fn the_largest_counts_do_not_overflow() {
        let huge = i64::MAX;
        assert!(desired_healthy(&json!({"minAvailable": "50%"}), huge) > 0);
        assert_eq!(
            desired_healthy(&json!({"maxUnavailable": i64::MIN}), huge),
            huge
        );
    }
}
