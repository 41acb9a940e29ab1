//! PriorityClasses (`scheduling.k8s.io/v1`) and kube-apiserver's `Priority`
//! admission plugin:
//!
//! - a cluster starts with the two system classes (`system-cluster-critical`,
//!   `system-node-critical`), which cannot be deleted;
//! - a class is validated as `ValidatePriorityClass` does (`system-` names
//!   are the system classes' alone, a user class's value is at most
//!   1,000,000,000, a preemption policy of the two), its value and policy
//!   never change, and one class at most is the global default;
//! - a pod's `priorityClassName` must name a class (a `403` otherwise, for a
//!   pod a controller creates as for one created directly); the class, or
//!   the global default, sets the pod's `priority` and `preemptionPolicy`,
//!   which the pod may not set otherwise.
//!
//! The scheduler does not preempt: priority orders nothing here.

use serde_json::{json, Value};

use super::field::{not_supported, quote};
use super::Causes;
use crate::error::{ApiError, ApiResult};
use crate::state::State;

/// The store's key of the kind.
pub(crate) const KEY: &str = "priorityclasses.scheduling.k8s.io";

/// The largest value a class that is not a system class may have
/// (`HighestUserDefinablePriority`).
const HIGHEST_USER: i64 = 1_000_000_000;

/// The classes every cluster has: name, value, description.
const SYSTEM: [(&str, i64, &str); 2] = [
    (
        "system-cluster-critical",
        2_000_000_000,
        "Used for system critical pods that must run in the cluster, but can be moved to another node if necessary.",
    ),
    (
        "system-node-critical",
        2_000_001_000,
        "Used for system critical pods that must not be moved from their current node.",
    ),
];

const POLICIES: [&str; 2] = ["PreemptLowerPriority", "Never"];
const DEFAULT_POLICY: &str = "PreemptLowerPriority";

/// The system classes, as a new cluster holds them.
pub(crate) fn system_classes() -> Vec<Value> {
    SYSTEM
        .iter()
        .map(|(name, value, description)| {
            json!({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
                "metadata": {"name": name}, "value": value, "description": description,
                "preemptionPolicy": DEFAULT_POLICY})
        })
        .collect()
}

/// Whether `name` is a system class (which is never deleted).
pub(crate) fn is_system(name: &str) -> bool {
    SYSTEM.iter().any(|(n, _, _)| *n == name)
}

fn value_of(pc: &Value) -> i64 {
    pc.get("value").and_then(Value::as_i64).unwrap_or(0)
}

fn global_default(pc: &Value) -> bool {
    pc.get("globalDefault")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

fn name_of(o: &Value) -> &str {
    o["metadata"]["name"].as_str().unwrap_or("")
}

/// A new class: its default policy, then `ValidatePriorityClass`.
pub(crate) fn create(pc: &mut Value, causes: &mut Causes) {
    if pc.get("preemptionPolicy").is_none_or(Value::is_null) {
        pc["preemptionPolicy"] = json!(DEFAULT_POLICY);
    }
    let name = name_of(pc).to_string();
    let value = value_of(pc);
    // `value` is always there (no `omitempty`), 0 when not sent.
    pc["value"] = json!(value);
    if name.starts_with("system-") {
        let why = match SYSTEM.iter().find(|(n, _, _)| *n == name) {
            None => Some(format!("{name} is not a known system priority class")),
            Some((_, v, _)) if *v != value => {
                Some(format!("value of {name} PriorityClass must be {v}"))
            }
            Some(_) if global_default(pc) => Some(format!(
                "globalDefault of {name} PriorityClass must be false"
            )),
            Some(_) => None,
        };
        if let Some(why) = why {
            causes.push((
                "metadata.name".into(),
                format!("Forbidden: priority class names with 'system-' prefix are reserved for system use only. error: {why}"),
            ));
        }
    } else if value > HIGHEST_USER {
        causes.push((
            "value".into(),
            format!(
                "Forbidden: maximum allowed value of a user defined priority is {HIGHEST_USER}"
            ),
        ));
    }
    let policy = pc["preemptionPolicy"].as_str().unwrap_or("");
    if policy.is_empty() {
        causes.push(("preemptionPolicy".into(), "Required value".into()));
    } else if !POLICIES.contains(&policy) {
        not_supported(causes, "preemptionPolicy", &json!(policy), &POLICIES);
    }
}

/// An update: `ValidatePriorityClassUpdate` (value and policy immutable).
pub(crate) fn update(old: &Value, new: &mut Value, causes: &mut Causes) {
    if new.get("preemptionPolicy").is_none_or(Value::is_null) {
        new["preemptionPolicy"] = json!(DEFAULT_POLICY);
    }
    new["value"] = json!(value_of(new));
    if value_of(new) != value_of(old) {
        causes.push((
            "value".into(),
            "Forbidden: may not be changed in an update.".into(),
        ));
    }
    if new["preemptionPolicy"] != old["preemptionPolicy"] {
        let shown = new["preemptionPolicy"].as_str().unwrap_or("");
        causes.push((
            "preemptionPolicy".into(),
            format!("Invalid value: {}: field is immutable", quote(shown)),
        ));
    }
}

/// The `Priority` plugin's rule for classes: one global default at most
/// (a `403` naming the one there is).
pub(crate) fn one_default(st: &State, pc: &Value) -> ApiResult<()> {
    if !global_default(pc) {
        return Ok(());
    }
    let name = name_of(pc);
    let other = st
        .store
        .list(KEY, None)
        .find(|c| global_default(c) && name_of(c) != name);
    match other {
        Some(d) => Err(ApiError::forbidden_object(
            "scheduling.k8s.io",
            "priorityclasses",
            name,
            &format!(
                "PriorityClass {} is marked as default. Only one default can exist",
                name_of(d)
            ),
        )),
        None => Ok(()),
    }
}

/// A delete: the system classes stay.
pub(crate) fn deletable(name: &str) -> ApiResult<()> {
    if is_system(name) {
        return Err(ApiError::forbidden_object(
            "scheduling.k8s.io",
            "priorityclasses",
            name,
            "this is a system priority class and cannot be deleted",
        ));
    }
    Ok(())
}

/// The `Priority` plugin on a pod's update: the priority and policy it set
/// at creation are kept when the update leaves them out (any other change
/// of them is then refused by the pod's update validation).
pub(crate) fn pod_update(old: &Value, new: &mut Value) {
    for field in ["priority", "preemptionPolicy"] {
        if new["spec"].get(field).is_none_or(Value::is_null) {
            if let Some(v) = old["spec"].get(field).filter(|v| !v.is_null()) {
                new["spec"][field] = v.clone();
            }
        }
    }
}

/// The `Priority` plugin on a new pod: its class (or the global default)
/// sets `priority` and `preemptionPolicy`; a class that does not exist, or
/// a priority or policy the pod set that the class does not give, is a
/// `403` and nothing is created.
pub(crate) fn pod(st: &State, pod: &mut Value) -> ApiResult<()> {
    let asked = pod["spec"]["priorityClassName"]
        .as_str()
        .unwrap_or("")
        .to_string();
    // Before the name is generated: a `generateName` stands for it.
    let shown = super::shown_name(pod).to_string();
    let forbidden = |why: String| ApiError::forbidden_object("", "pods", &shown, &why);
    let class = if asked.is_empty() {
        st.store
            .list(KEY, None)
            .find(|c| global_default(c))
            .cloned()
    } else {
        match st.store.get(KEY, "", &asked) {
            Some(c) => Some(c.clone()),
            None => {
                return Err(forbidden(format!(
                    "no PriorityClass with name {asked} was found"
                )))
            }
        }
    };
    let (name, priority, policy) = match &class {
        Some(c) => (
            name_of(c).to_string(),
            value_of(c),
            c["preemptionPolicy"]
                .as_str()
                .unwrap_or(DEFAULT_POLICY)
                .to_string(),
        ),
        None => (String::new(), 0, DEFAULT_POLICY.to_string()),
    };
    if let Some(p) = pod["spec"].get("priority").and_then(Value::as_i64) {
        if p != priority {
            return Err(forbidden(format!(
                "the integer value of priority ({p}) must not be provided in pod spec; priority admission controller computed {priority} from the given PriorityClass name"
            )));
        }
    }
    if let Some(p) = pod["spec"].get("preemptionPolicy").and_then(Value::as_str) {
        if p != policy {
            return Err(forbidden(format!(
                "the string value of PreemptionPolicy ({p}) must not be provided in pod spec; priority admission controller computed {policy} from the given PriorityClass name"
            )));
        }
    }
    if !name.is_empty() {
        pod["spec"]["priorityClassName"] = json!(name);
    }
    pod["spec"]["priority"] = json!(priority);
    pod["spec"]["preemptionPolicy"] = json!(policy);
    Ok(())
}
