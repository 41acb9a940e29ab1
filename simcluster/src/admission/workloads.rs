//! Workload and budget fields as `ValidateDeploymentSpec`,
//! `ValidateDeploymentStrategy`, `ValidateRollingUpdateDeployment`,
//! `ValidatePodDisruptionBudgetSpec` and `ValidateSecret` check them:
//! non-negative replica counts and timings, a progress deadline beyond
//! `minReadySeconds`, a strategy type `Recreate` (without `rollingUpdate`) or
//! `RollingUpdate` whose `maxSurge` and `maxUnavailable` are non-negative
//! integers or percentages, not both 0, `maxUnavailable` at most 100%; a
//! budget's `minAvailable`/`maxUnavailable` likewise; Secret keys valid
//! config keys and its data at most 1 MiB.

use serde_json::Value;

use super::field::{self, int_or_string, text};
use super::{names, Causes};

const NEGATIVE: &str = "must be greater than or equal to 0";
const PERCENT: &str = "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')";
const STRATEGIES: &[&str] = &["Recreate", "RollingUpdate"];
const POLICIES: &[&str] = &["AlwaysAllow", "IfHealthyBudget"];
/// `core.MaxSecretSize`.
const SECRET_MAX: usize = 1024 * 1024;

fn non_negative(obj: &Value, key: &str, path: &str, causes: &mut Causes) {
    if let Some(v) = obj.get(key).filter(|v| v.as_i64().is_some_and(|n| n < 0)) {
        field::invalid(causes, format!("{path}.{key}"), v, NEGATIVE);
    }
}

/// The percentage of a `"NN%"` value.
fn percent(v: &Value) -> Option<i64> {
    v.as_str()?.strip_suffix('%')?.parse().ok()
}

/// `ValidatePositiveIntOrPercent` (absent: nothing to check).
fn int_or_percent(v: &Value, path: &str, causes: &mut Causes) {
    match v {
        Value::String(s) => {
            let digits = s.strip_suffix('%').unwrap_or("");
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                field::invalid_shown(causes, path, &int_or_string(v), PERCENT);
            }
        }
        Value::Number(n) => {
            if n.as_i64().is_none_or(|n| n < 0) {
                field::invalid(causes, path, v, NEGATIVE);
            }
        }
        _ => field::invalid_shown(
            causes,
            path,
            &int_or_string(v),
            "must be an integer or percentage (e.g '5%')",
        ),
    }
}

/// `IsNotMoreThan100Percent`.
fn at_most_100(v: &Value, path: &str, causes: &mut Causes) {
    if percent(v).is_some_and(|p| p > 100) {
        field::invalid_shown(
            causes,
            path,
            &int_or_string(v),
            "must not be greater than 100%",
        );
    }
}

/// `SetDefaults_Deployment`'s strategy: type `RollingUpdate`, and then
/// `maxUnavailable` and `maxSurge` of 25% each where unset.
pub(crate) fn deployment_defaults(obj: &mut Value) {
    let strategy = &mut obj["spec"]["strategy"];
    if !strategy.is_object() {
        *strategy = serde_json::json!({});
    }
    if text(strategy, "type").is_empty() {
        strategy["type"] = serde_json::json!("RollingUpdate");
    }
    if strategy["type"] == "RollingUpdate" {
        if !strategy["rollingUpdate"].is_object() {
            strategy["rollingUpdate"] = serde_json::json!({});
        }
        for k in ["maxUnavailable", "maxSurge"] {
            if strategy["rollingUpdate"].get(k).is_none_or(Value::is_null) {
                strategy["rollingUpdate"][k] = serde_json::json!("25%");
            }
        }
    }
}

/// A Deployment's `spec` fields other than the selector and the template
/// (checked before this, as the API server does).
pub(crate) fn deployment(obj: &Value, causes: &mut Causes) {
    let spec = &obj["spec"];
    let strategy = &spec["strategy"];
    match text(strategy, "type") {
        "Recreate" => {
            if strategy.get("rollingUpdate").is_some_and(|r| !r.is_null()) {
                field::forbidden(
                    causes,
                    "spec.strategy.rollingUpdate",
                    "may not be specified when strategy `type` is 'Recreate'",
                );
            }
        }
        "RollingUpdate" => {
            let ru = &strategy["rollingUpdate"];
            let path = "spec.strategy.rollingUpdate";
            let zero = serde_json::json!(0);
            let unavailable = ru.get("maxUnavailable").unwrap_or(&zero);
            let surge = ru.get("maxSurge").unwrap_or(&zero);
            int_or_percent(unavailable, &format!("{path}.maxUnavailable"), causes);
            int_or_percent(surge, &format!("{path}.maxSurge"), causes);
            let is_zero = |v: &Value| v.as_i64() == Some(0) || percent(v) == Some(0);
            if is_zero(unavailable) && is_zero(surge) {
                field::invalid_shown(
                    causes,
                    format!("{path}.maxUnavailable"),
                    &int_or_string(unavailable),
                    "may not be 0 when `maxSurge` is 0",
                );
            }
            at_most_100(unavailable, &format!("{path}.maxUnavailable"), causes);
        }
        _ => {
            let ty = strategy.get("type").cloned().unwrap_or_default();
            field::not_supported(causes, "spec.strategy", &ty, STRATEGIES);
        }
    }
    non_negative(spec, "minReadySeconds", "spec", causes);
    non_negative(spec, "revisionHistoryLimit", "spec", causes);
    if let Some(pd) = spec.get("progressDeadlineSeconds").and_then(Value::as_i64) {
        non_negative(spec, "progressDeadlineSeconds", "spec", causes);
        let min_ready = spec
            .get("minReadySeconds")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if pd <= min_ready {
            field::invalid(
                causes,
                "spec.progressDeadlineSeconds",
                &spec["progressDeadlineSeconds"],
                "must be greater than minReadySeconds",
            );
        }
    }
}

/// `spec.replicas` of a Deployment, ReplicaSet or StatefulSet.
pub(crate) fn replicas(obj: &Value, causes: &mut Causes) {
    non_negative(&obj["spec"], "replicas", "spec", causes);
}

/// A PodDisruptionBudget's `minAvailable`, `maxUnavailable` and
/// `unhealthyPodEvictionPolicy` (both amounts set is checked by the caller).
pub(crate) fn budget(obj: &Value, causes: &mut Causes) {
    let spec = &obj["spec"];
    for key in ["minAvailable", "maxUnavailable"] {
        if let Some(v) = spec.get(key).filter(|v| !v.is_null()) {
            int_or_percent(v, &format!("spec.{key}"), causes);
            at_most_100(v, &format!("spec.{key}"), causes);
        }
    }
    if let Some(p) = spec
        .get("unhealthyPodEvictionPolicy")
        .filter(|v| !v.is_null())
    {
        if !p.as_str().is_some_and(|s| POLICIES.contains(&s)) {
            field::not_supported(causes, "spec.unhealthyPodEvictionPolicy", p, POLICIES);
        }
    }
}

/// A Secret's `data` (after `stringData` was merged in): valid keys, at most
/// 1 MiB of decoded values in all.
pub(crate) fn secret(obj: &Value, causes: &mut Causes) {
    let Some(data) = obj.get("data").and_then(Value::as_object) else {
        return;
    };
    let mut size = 0;
    for (k, v) in data {
        names::each(causes, &format!("data[{k}]"), k, names::config_key(k));
        // Base64: three bytes per four characters, less the padding.
        let enc = v.as_str().unwrap_or("");
        let pad = enc.bytes().rev().take_while(|b| *b == b'=').count();
        size += (enc.len() / 4 * 3).saturating_sub(pad);
    }
    if size > SECRET_MAX {
        field::too_long(causes, "data", SECRET_MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn causes(f: fn(&Value, &mut Causes), obj: Value) -> Vec<(String, String)> {
        let mut c = Causes::new();
        f(&obj, &mut c);
        c
    }

    #[test]
    fn deployment_strategies() {
        let ok = json!({"spec": {"strategy": {"type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}, "progressDeadlineSeconds": 600}});
        assert!(causes(deployment, ok).is_empty());
        let both_zero = json!({"spec": {"strategy": {"type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": "0%", "maxUnavailable": 0}}}});
        assert_eq!(
            causes(deployment, both_zero),
            [("spec.strategy.rollingUpdate.maxUnavailable".to_string(),
              "Invalid value: intstr.IntOrString{Type:0, IntVal:0, StrVal:\"\"}: may not be 0 when `maxSurge` is 0".to_string())]
        );
        let bad = json!({"spec": {"strategy": {"type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": "x", "maxUnavailable": "150%"}},
            "minReadySeconds": 10, "progressDeadlineSeconds": 10}});
        let got = causes(deployment, bad);
        assert_eq!(got[0].0, "spec.strategy.rollingUpdate.maxSurge");
        assert!(got[0].1.starts_with("Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"x\"}: a valid percent string"));
        assert_eq!(got[1].1, "Invalid value: intstr.IntOrString{Type:1, IntVal:0, StrVal:\"150%\"}: must not be greater than 100%");
        assert_eq!(
            got[2],
            (
                "spec.progressDeadlineSeconds".to_string(),
                "Invalid value: 10: must be greater than minReadySeconds".to_string()
            )
        );
        let recreate = json!({"spec": {"strategy": {"type": "Recreate", "rollingUpdate": {}}}});
        assert_eq!(
            causes(deployment, recreate)[0].1,
            "Forbidden: may not be specified when strategy `type` is 'Recreate'"
        );
        let other = json!({"spec": {"strategy": {"type": "BlueGreen"}}});
        assert_eq!(
            causes(deployment, other)[0].1,
            "Unsupported value: \"BlueGreen\": supported values: \"Recreate\", \"RollingUpdate\""
        );
        assert_eq!(
            causes(replicas, json!({"spec": {"replicas": -1}}))[0].1,
            "Invalid value: -1: must be greater than or equal to 0"
        );
    }

    #[test]
    fn budgets_and_secrets() {
        assert!(causes(budget, json!({"spec": {"minAvailable": 2}})).is_empty());
        assert!(causes(budget, json!({"spec": {"maxUnavailable": "25%"}})).is_empty());
        let got = causes(
            budget,
            json!({"spec": {"minAvailable": "abc", "unhealthyPodEvictionPolicy": "Never"}}),
        );
        assert_eq!(got[0].0, "spec.minAvailable");
        assert_eq!(got[1].0, "spec.unhealthyPodEvictionPolicy");
        assert!(causes(
            secret,
            json!({"data": {"seal.key": "YWJj", "database-url": "eA=="}})
        )
        .is_empty());
        let got = causes(secret, json!({"data": {"bad key": "YQ=="}}));
        assert_eq!(got[0].0, "data[bad key]");
        assert!(got[0]
            .1
            .starts_with("Invalid value: \"bad key\": a valid config key"));
        let big = "A".repeat(SECRET_MAX / 3 * 4 + 8);
        assert_eq!(
            causes(secret, json!({"data": {"k": big}}))[0].1,
            "Too long: must have at most 1048576 bytes"
        );
    }
}
