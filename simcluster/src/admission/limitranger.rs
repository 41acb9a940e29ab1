//! LimitRanges: the object's defaulting and validation, and kube-apiserver's
//! `LimitRanger` admission plugin for pods.
//!
//! A `Container` item's `default` limits and `defaultRequest` requests fill
//! what a container leaves out (its limit defaults to `max`, its request to
//! the default limit, then to `min`, as `SetDefaults_LimitRangeItem` stores
//! them); then each container (`Container` items) and the pod's totals
//! (`Pod` items: containers summed, at least the largest init container)
//! must stay within `min`, `max` and `maxLimitRequestRatio`, or the pod is
//! refused `403` in the plugin's words (`maximum cpu usage per
//! Container is 2, but limit is 4`). It runs before the quota check, which
//! so counts the defaulted amounts.

use serde_json::{json, Map, Value};

use super::{field, Causes};
use crate::error::{ApiError, ApiResult};
use crate::pods;
use crate::quantity::Quantity;
use crate::state::State;

const TYPES: &[&str] = &["Pod", "Container", "PersistentVolumeClaim"];
const BOUNDS: &[&str] = &[
    "max",
    "min",
    "default",
    "defaultRequest",
    "maxLimitRequestRatio",
];

fn item_map<'a>(item: &'a Value, name: &str) -> Option<&'a Map<String, Value>> {
    item.get(name).and_then(Value::as_object)
}

/// `SetDefaults_LimitRangeItem`: a `Container` item's `default` from `max`,
/// its `defaultRequest` from `default`, then from `min`.
pub(crate) fn defaults(obj: &mut Value) {
    let Some(items) = obj
        .pointer_mut("/spec/limits")
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for item in items {
        if item["type"] != "Container" {
            continue;
        }
        for (to, from) in [
            ("default", "max"),
            ("defaultRequest", "default"),
            ("defaultRequest", "min"),
        ] {
            let source = item_map(item, from).cloned().unwrap_or_default();
            if !item[to].is_object() {
                item[to] = json!({});
            }
            for (k, v) in source {
                if item[to].get(&k).is_none() {
                    item[to][k.as_str()] = v;
                }
            }
        }
    }
}

fn milli(v: &Value) -> Option<i128> {
    let text = v.as_str().map_or_else(|| v.to_string(), str::to_string);
    Quantity::parse(&text).ok().map(|q| q.milli_value())
}

fn shown(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_string)
}

/// `ValidateLimitRange`: known types, quantities that parse, and for each
/// resource min <= default request <= default <= max.
pub(crate) fn validate(obj: &Value, causes: &mut Causes) {
    let items = obj
        .pointer("/spec/limits")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for (i, item) in items.iter().enumerate() {
        let path = format!("spec.limits[{i}]");
        let ty = item["type"].as_str().unwrap_or("");
        if !TYPES.contains(&ty) {
            causes.push((
                format!("{path}.type"),
                format!(
                    "Unsupported value: {}: supported values: \"Container\", \"PersistentVolumeClaim\", \"Pod\"",
                    field::quote(ty)
                ),
            ));
            continue;
        }
        if ty == "Pod" {
            for f in ["default", "defaultRequest"] {
                if item_map(item, f).is_some_and(|m| !m.is_empty()) {
                    causes.push((
                        format!("{path}.{f}"),
                        "Forbidden: may not be specified when `type` is 'Pod'".into(),
                    ));
                }
            }
        }
        for bound in BOUNDS {
            for (k, v) in item_map(item, bound).into_iter().flatten() {
                let at = format!("{path}.{bound}[{k}]");
                match milli(v) {
                    None => {
                        field::invalid(causes, at, &json!(shown(v)), super::resources::QUANTITY_RE)
                    }
                    Some(m) if m < 0 => field::invalid(
                        causes,
                        at,
                        &json!(canonical(v)),
                        "must be greater than or equal to 0",
                    ),
                    Some(_) => {}
                }
            }
        }
        let get = |bound: &str, k: &str| item_map(item, bound).and_then(|m| m.get(k)).cloned();
        let names: std::collections::BTreeSet<String> = BOUNDS
            .iter()
            .flat_map(|b| {
                item_map(item, b)
                    .into_iter()
                    .flatten()
                    .map(|(k, _)| k.clone())
            })
            .collect();
        for k in &names {
            let q = |bound: &str| get(bound, k).and_then(|v| Some((milli(&v)?, canonical(&v))));
            let (min, max) = (q("min"), q("max"));
            let (def, req) = (q("default"), q("defaultRequest"));
            // (lower, higher, the field and value reported, message)
            let checks = [
                (&min, &max, "min", &min, "min", "max"),
                (&min, &req, "defaultRequest", &req, "min", "default request"),
                (&req, &max, "defaultRequest", &req, "default request", "max"),
                (
                    &req,
                    &def,
                    "defaultRequest",
                    &req,
                    "default request",
                    "default limit",
                ),
                (&min, &def, "default", &min, "min", "default"),
                (&def, &max, "default", &max, "default", "max"),
            ];
            for (low, high, at, value, low_name, high_name) in checks {
                if let (Some((l, lt)), Some((h, ht)), Some((_, vt))) = (low, high, value) {
                    if l > h {
                        field::invalid(
                            causes,
                            format!("{path}.{at}[{k}]"),
                            &json!(vt),
                            &format!(
                                "{low_name} value {lt} is greater than {high_name} value {ht}"
                            ),
                        );
                    }
                }
            }
        }
    }
}

fn canonical(v: &Value) -> String {
    let text = shown(v);
    match Quantity::parse(&text) {
        Ok(q) => super::resources::canonical(&text, q),
        Err(_) => text,
    }
}

/// The Container and Pod items of the namespace's LimitRanges.
fn items(st: &State, ns: &str) -> Vec<Value> {
    st.store
        .list("limitranges", Some(ns))
        .flat_map(|lr| {
            lr.pointer("/spec/limits")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        })
        .collect()
}

/// Fills a container's missing requests and limits from the items' defaults.
fn default_container(c: &mut Value, items: &[Value]) {
    for item in items.iter().filter(|i| i["type"] == "Container") {
        for (bound, to) in [("defaultRequest", "requests"), ("default", "limits")] {
            for (k, v) in item_map(item, bound).into_iter().flatten() {
                if !c["resources"].is_object() {
                    c["resources"] = json!({});
                }
                if !c["resources"][to].is_object() {
                    c["resources"][to] = json!({});
                }
                if c["resources"][to].get(k).is_none() {
                    c["resources"][to][k.as_str()] = v.clone();
                }
            }
        }
    }
}

/// Amounts by resource name: milli units and the quantity as the API shows it.
type Amounts = std::collections::BTreeMap<String, (i128, String)>;

fn amounts(m: Option<&Value>) -> Amounts {
    m.and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.clone(), (milli(v)?, canonical(v)))))
        .collect()
}

/// Checks `requests`/`limits` (one container's, or a pod's sums) against
/// an item, in the words of the plugin's `minConstraint`, `maxConstraint`
/// and `limitRequestRatioConstraint`.
fn within(item: &Value, requests: &Amounts, limits: &Amounts, per: &str, errs: &mut Vec<String>) {
    for (k, v) in item_map(item, "min").into_iter().flatten() {
        let Some(min) = milli(v) else { continue };
        let enforced = canonical(v);
        match (requests.get(k), limits.get(k)) {
            (None, _) => errs.push(format!(
                "minimum {k} usage per {per} is {enforced}.  No request is specified"
            )),
            (Some((r, rt)), _) if *r < min => errs.push(format!(
                "minimum {k} usage per {per} is {enforced}, but request is {rt}"
            )),
            (_, Some((l, lt))) if *l < min => errs.push(format!(
                "minimum {k} usage per {per} is {enforced}, but limit is {lt}"
            )),
            _ => {}
        }
    }
    for (k, v) in item_map(item, "max").into_iter().flatten() {
        let Some(max) = milli(v) else { continue };
        let enforced = canonical(v);
        match (limits.get(k), requests.get(k)) {
            (None, _) => errs.push(format!(
                "maximum {k} usage per {per} is {enforced}.  No limit is specified"
            )),
            (Some((l, lt)), _) if *l > max => errs.push(format!(
                "maximum {k} usage per {per} is {enforced}, but limit is {lt}"
            )),
            (_, Some((r, rt))) if *r > max => errs.push(format!(
                "maximum {k} usage per {per} is {enforced}, but request is {rt}"
            )),
            _ => {}
        }
    }
    for (k, v) in item_map(item, "maxLimitRequestRatio").into_iter().flatten() {
        let Some(ratio) = milli(v) else { continue };
        let enforced = canonical(v);
        let r = requests.get(k).map_or(0, |r| r.0);
        let l = limits.get(k).map_or(0, |l| l.0);
        if r == 0 {
            errs.push(format!("{k} max limit to request ratio per {per} is {enforced}, but no request is specified or request is 0"));
        } else if l == 0 {
            errs.push(format!("{k} max limit to request ratio per {per} is {enforced}, but no limit is specified or limit is 0"));
        } else if l.saturating_mul(1000) > ratio.saturating_mul(r) {
            let observed = l as f64 / r as f64;
            errs.push(format!(
                "{k} max limit to request ratio per {per} is {enforced}, but provided ratio is {observed:.6}"
            ));
        }
    }
}

/// A pod's totals (`pods::containers_total`) as amounts, printed as quotas print them.
fn pod_amounts(pod: &Value, of: impl Fn(&Value) -> pods::Resources) -> Amounts {
    pods::containers_total(pod, of)
        .into_iter()
        .map(|(k, v)| {
            let shown = crate::controllers::quota::format(&k, v);
            (k, (v, shown))
        })
        .collect()
}

/// The `LimitRanger` plugin's mutation of a pod being created: the
/// namespace's `Container` defaults fill what its containers leave out
/// (after requests default to limits, as the API's defaulting does first).
pub fn default_pod(st: &State, pod: &mut Value) {
    let ns = pod["metadata"]["namespace"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let items = items(st, &ns);
    if items.is_empty() {
        return;
    }
    pods::default_requests_from_limits(pod);
    for field in ["initContainers", "containers"] {
        if let Some(cs) = pod
            .pointer_mut(&format!("/spec/{field}"))
            .and_then(Value::as_array_mut)
        {
            for c in cs {
                default_container(c, &items);
            }
        }
    }
}

/// The `LimitRanger` plugin's validation of a pod being created: each
/// container and the pod's sums within the namespace's bounds.
pub fn check_pod(st: &State, pod: &Value) -> ApiResult<()> {
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or("");
    let items = items(st, ns);
    let mut errs = Vec::new();
    let containers: Vec<&Value> = ["initContainers", "containers"]
        .iter()
        .filter_map(|f| pod.pointer(&format!("/spec/{f}")).and_then(Value::as_array))
        .flatten()
        .collect();
    for item in &items {
        match item["type"].as_str() {
            Some("Container") => {
                for c in &containers {
                    let requests = amounts(c.pointer("/resources/requests"));
                    let limits = amounts(c.pointer("/resources/limits"));
                    within(item, &requests, &limits, "Container", &mut errs);
                }
            }
            Some("Pod") => {
                let requests = pod_amounts(pod, pods::container_requests);
                let limits = pod_amounts(pod, pods::container_limits);
                within(item, &requests, &limits, "Pod", &mut errs);
            }
            _ => {}
        }
    }
    if errs.is_empty() {
        return Ok(());
    }
    let name = pod["metadata"]["name"].as_str().unwrap_or("");
    let why = if errs.len() == 1 {
        errs.remove(0)
    } else {
        format!("[{}]", errs.join(", "))
    };
    Err(ApiError::forbidden_object("", "pods", name, &why))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources;
    use crate::spec::ClusterSpec;

    /// A `Pod` item bounds the pod's totals: two containers of 600m are a
    /// pod of 1200m; an init container larger than the sum sets it.
    #[test]
    fn a_pod_item_bounds_the_totals() {
        let mut st = State::new(ClusterSpec::new("limits"));
        st.store.insert(
            &resources::LIMIT_RANGES,
            json!({"metadata": {"name": "l", "namespace": "default"},
                   "spec": {"limits": [{"type": "Pod", "max": {"cpu": "1"}}]}}),
        );
        let c =
            |name: &str, cpu: &str| json!({"name": name, "resources": {"limits": {"cpu": cpu}}});
        let pod = |containers: Value, init: Value| {
            json!({"metadata": {"name": "p", "namespace": "default"},
                   "spec": {"containers": containers, "initContainers": init}})
        };
        let e = check_pod(
            &st,
            &pod(json!([c("a", "600m"), c("b", "600m")]), json!([])),
        )
        .unwrap_err();
        assert_eq!(e.code, 403);
        assert_eq!(
            e.message,
            "pods \"p\" is forbidden: maximum cpu usage per Pod is 1, but limit is 1200m"
        );
        assert!(check_pod(&st, &pod(json!([c("a", "500m")]), json!([c("i", "800m")]))).is_ok());
        let e = check_pod(&st, &pod(json!([c("a", "500m")]), json!([c("i", "2")]))).unwrap_err();
        assert!(e.message.ends_with("but limit is 2"), "{}", e.message);
    }
}
