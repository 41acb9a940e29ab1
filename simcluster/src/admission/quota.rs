//! A ResourceQuota's spec as `ValidateResourceQuotaSpec` checks it: each
//! `hard` name a standard quota resource (`pods`, `requests.cpu`, ...) or a
//! qualified one (`count/deployments.apps`, `requests.nvidia.com/gpu`), each
//! amount a quantity not below zero and whole where the resource counts
//! things; `scopes` known, not conflicting, and only on resources they
//! apply to.

use serde_json::{json, Value};

use super::{field, names, Causes};
use crate::controllers::quota::{OBJECT_COUNTS, VALIDATED};
use crate::quantity::Quantity;

const SCOPES: &[&str] = &[
    "Terminating",
    "NotTerminating",
    "BestEffort",
    "NotBestEffort",
    "PriorityClass",
    "CrossNamespacePodAffinity",
];

const STORAGE: &[&str] = &[
    "ephemeral-storage",
    "requests.ephemeral-storage",
    "limits.ephemeral-storage",
];

fn standard(name: &str) -> bool {
    VALIDATED.contains(&name)
        || STORAGE.contains(&name)
        || OBJECT_COUNTS.contains(&name)
        || name == "requests.storage"
        || name.starts_with("hugepages-")
        || name.starts_with("requests.hugepages-")
}

/// Counted in whole units: objects and extended resources.
fn integer(name: &str) -> bool {
    OBJECT_COUNTS.contains(&name)
        || name.starts_with("count/")
        || (name.contains('/') && !name.contains("kubernetes.io/"))
}

/// What the pod scopes apply to (`BestEffort` only to the pod counts).
fn pod_resource(name: &str) -> bool {
    VALIDATED.contains(&name) || STORAGE.contains(&name) || matches!(name, "pods" | "count/pods")
}

/// Validates a ResourceQuota's `spec`.
pub(crate) fn validate(obj: &Value, causes: &mut Causes) {
    let hard = obj.pointer("/spec/hard").and_then(Value::as_object);
    for (name, q) in hard.into_iter().flatten() {
        let path = format!("spec.hard[{name}]");
        if !name.contains('/') && !standard(name) {
            field::invalid(
                causes,
                &path,
                &json!(name),
                "must be a standard resource for quota",
            );
            continue;
        }
        for why in names::qualified_name(name) {
            field::invalid(causes, &path, &json!(name), &why);
        }
        let text = q.as_str().map_or_else(|| q.to_string(), str::to_string);
        let Ok(parsed) = Quantity::parse(&text) else {
            field::invalid(causes, &path, &json!(text), super::resources::QUANTITY_RE);
            continue;
        };
        let shown = json!(super::resources::canonical(&text, parsed));
        if parsed.milli_value() < 0 {
            field::invalid(causes, &path, &shown, "must be greater than or equal to 0");
        } else if integer(name) && parsed.milli_value() % 1000 != 0 {
            field::invalid(causes, &path, &shown, "must be an integer");
        }
    }
    let scopes: Vec<&str> = obj
        .pointer("/spec/scopes")
        .and_then(Value::as_array)
        .map(|s| s.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if scopes.is_empty() {
        return;
    }
    let shown = format!(
        "[]core.ResourceQuotaScope{{{}}}",
        scopes
            .iter()
            .map(|s| field::quote(s))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let invalid = |causes: &mut Causes, why: &str| {
        causes.push((
            "spec.scopes".into(),
            format!("Invalid value: {shown}: {why}"),
        ));
    };
    if scopes.iter().any(|s| !SCOPES.contains(s)) {
        invalid(causes, "unsupported scope");
        return;
    }
    for name in hard.into_iter().flatten().map(|(k, _)| k.as_str()) {
        let applies = |scope: &&str| match *scope {
            "BestEffort" => matches!(name, "pods" | "count/pods"),
            _ => pod_resource(name),
        };
        if !scopes.iter().all(applies) {
            invalid(causes, "unsupported scope applied to resource");
            return;
        }
    }
    let both = |a: &str, b: &str| scopes.contains(&a) && scopes.contains(&b);
    if both("Terminating", "NotTerminating") || both("BestEffort", "NotBestEffort") {
        invalid(causes, "conflicting scopes");
    }
}
