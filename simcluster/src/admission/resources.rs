//! A container's `resources` as `ValidateResourceRequirements` checks them:
//! quantities that parse and are not negative; resource names a container
//! may use (`cpu`, `memory`, `ephemeral-storage`, `hugepages-*`, or a
//! domain-qualified extended resource such as `nvidia.com/gpu` or
//! `huawei.com/ascend-310`); extended resources in whole units and never
//! overcommitted (a request needs a limit, and must equal it); other
//! requests not above their limits.

use serde_json::{json, Map, Value};

use super::{field, names, Causes};
use crate::quantity::Quantity;

pub(crate) const QUANTITY_RE: &str =
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

fn standard(name: &str) -> bool {
    matches!(name, "cpu" | "memory" | "ephemeral-storage") || name.starts_with("hugepages-")
}

/// A Kubernetes-owned name (`cpu`, `kubernetes.io/...`).
fn native(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

/// An extended resource: not native, and `requests.<name>` a qualified name.
pub(crate) fn extended(name: &str) -> bool {
    !native(name)
        && !name.starts_with("requests.")
        && names::qualified_name(&format!("requests.{name}")).is_empty()
}

/// Whether a request may be below its limit (native, not huge pages).
fn overcommit_allowed(name: &str) -> bool {
    native(name) && !name.starts_with("hugepages-")
}

fn text(q: &Value) -> String {
    q.as_str().map_or_else(|| q.to_string(), str::to_string)
}

/// The quantity as the API server prints it: the canonical decimal form
/// (`2`, `500m`), or as written when it has a binary suffix (`2Gi`).
pub(crate) fn canonical(s: &str, q: Quantity) -> String {
    if s.ends_with('i') {
        s.to_string()
    } else {
        q.to_string()
    }
}

/// Checks one resource list (`limits` or `requests`); answers the parsed
/// quantities of the valid entries.
fn list(
    m: Option<&Map<String, Value>>,
    path: &str,
    causes: &mut Causes,
) -> Vec<(String, String, Quantity)> {
    let mut out = Vec::new();
    for (name, q) in m.into_iter().flatten() {
        let qpath = format!("{path}[{name}]");
        let s = text(q);
        let Ok(parsed) = Quantity::parse(&s) else {
            field::invalid(causes, &qpath, &json!(s), QUANTITY_RE);
            continue;
        };
        if !name.contains('/') {
            if !standard(name) {
                field::invalid(
                    causes,
                    &qpath,
                    &json!(name),
                    "must be a standard resource for containers",
                );
                continue;
            }
        } else if !native(name) && !extended(name) {
            field::invalid(
                causes,
                &qpath,
                &json!(name),
                "doesn't follow extended resource name standard",
            );
            continue;
        }
        if parsed.milli_value() < 0 {
            field::invalid(
                causes,
                &qpath,
                &json!(canonical(&s, parsed)),
                "must be greater than or equal to 0",
            );
        }
        if extended(name) && parsed.milli_value() % 1000 != 0 {
            field::invalid(causes, &qpath, &json!(s), "must be an integer");
        }
        out.push((name.clone(), s, parsed));
    }
    out
}

/// Validates the `resources` of a container (at `path`).
pub(crate) fn validate(resources: &Value, path: &str, causes: &mut Causes) {
    let lpath = format!("{path}.limits");
    let rpath = format!("{path}.requests");
    let limits = list(
        resources.get("limits").and_then(Value::as_object),
        &lpath,
        causes,
    );
    let requests = list(
        resources.get("requests").and_then(Value::as_object),
        &rpath,
        causes,
    );
    for (name, s, q) in &requests {
        match limits.iter().find(|(l, _, _)| l == name) {
            Some((_, ls, lq)) if q != lq && !overcommit_allowed(name) => field::invalid(
                causes,
                &rpath,
                &json!(canonical(s, *q)),
                &format!("must be equal to {name} limit of {}", canonical(ls, *lq)),
            ),
            Some((_, ls, lq)) if q > lq => field::invalid(
                causes,
                &rpath,
                &json!(canonical(s, *q)),
                &format!(
                    "must be less than or equal to {name} limit of {}",
                    canonical(ls, *lq)
                ),
            ),
            None if !overcommit_allowed(name) => field::required(
                causes,
                &lpath,
                "Limit must be set for non overcommitable resources",
            ),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(v: Value) -> Causes {
        let mut c = Causes::new();
        validate(&v, "spec.containers[0].resources", &mut c);
        c
    }

    #[test]
    fn extended_resources_are_whole_and_never_overcommitted() {
        assert!(check(json!({"limits": {"nvidia.com/gpu": "2", "cpu": "2"}, "requests": {"nvidia.com/gpu": "2", "cpu": "500m"}})).is_empty());
        assert!(check(json!({"limits": {"huawei.com/ascend-310": "1"}})).is_empty());
        assert_eq!(
            check(
                json!({"limits": {"huawei.com/ascend-310": "2"}, "requests": {"huawei.com/ascend-310": "1"}})
            ),
            [(
                "spec.containers[0].resources.requests".to_string(),
                "Invalid value: \"1\": must be equal to huawei.com/ascend-310 limit of 2"
                    .to_string()
            )]
        );
        assert_eq!(
            check(json!({"requests": {"nvidia.com/gpu": "1"}})),
            [(
                "spec.containers[0].resources.limits".to_string(),
                "Required value: Limit must be set for non overcommitable resources".to_string()
            )]
        );
        assert_eq!(
            check(json!({"limits": {"nvidia.com/gpu": "500m"}})),
            [(
                "spec.containers[0].resources.limits[nvidia.com/gpu]".to_string(),
                "Invalid value: \"500m\": must be an integer".to_string()
            )]
        );
    }

    #[test]
    fn names_and_native_limits() {
        assert_eq!(
            check(json!({"limits": {"cpu": "1"}, "requests": {"cpu": "2"}})),
            [(
                "spec.containers[0].resources.requests".to_string(),
                "Invalid value: \"2\": must be less than or equal to cpu limit of 1".to_string()
            )]
        );
        assert_eq!(
            check(json!({"limits": {"gpu": "1"}}))[0].1,
            "Invalid value: \"gpu\": must be a standard resource for containers"
        );
        assert_eq!(
            check(json!({"requests": {"memory": "-1Gi"}}))[0].1,
            "Invalid value: \"-1Gi\": must be greater than or equal to 0"
        );
        assert_eq!(
            check(json!({"limits": {"cpu": "x"}}))[0].0,
            "spec.containers[0].resources.limits[x]".replace("[x]", "[cpu]")
        );
    }
}
