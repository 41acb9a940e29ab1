//! ResourceQuotas: the quota controller's `status` (`hard` and what the
//! namespace `used` of each) and the `ResourceQuota` admission check.
//!
//! What an object uses follows kube-apiserver's evaluators (v1.32): a pod
//! that is not done uses `pods`, `cpu`/`requests.cpu`, `memory`/
//! `requests.memory`, `limits.cpu`, `limits.memory` (and ephemeral storage)
//! from its effective requests and limits, and `requests.<name>` of an
//! extended resource (`requests.nvidia.com/gpu`); every object counts one of
//! `count/<resource>[.<group>]`, and services, claims, config maps, secrets
//! and quotas their legacy counts (`services.nodeports`,
//! `services.loadbalancers`, `requests.storage` too). Scopes (`Terminating`,
//! `NotTerminating`, `BestEffort`, `NotBestEffort`, `PriorityClass` and a
//! `scopeSelector` on it) narrow a quota to some pods.
//!
//! A create that would take a quota's `used` past its `hard` is refused with
//! kube-apiserver's `403` (`exceeded quota: q, requested: pods=1, used:
//! pods=3, limited: pods=3`), as is a pod that does not say a request or
//! limit a quota counts (`failed quota: q: must specify limits.cpu for: c`).
//! Controllers' creations are checked the same way, and each admitted one
//! is charged to the quotas at once, so a burst of pods cannot overshoot;
//! the controller then recounts from the store.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

use super::put_status;
use crate::error::{ApiError, ApiResult};
use crate::pods::{self, Resources};
use crate::quantity::{self, Quantity};
use crate::resources::ResourceDef;
use crate::state::State;

/// The kinds whose objects count under their own name as well (`secrets`),
/// beside `count/<key>`; store keys.
const LEGACY_COUNTS: &[&str] = &[
    "services",
    "persistentvolumeclaims",
    "configmaps",
    "secrets",
    "resourcequotas",
];

/// `count/pods`, `count/deployments.apps`.
fn count_name(key: &str) -> String {
    format!("count/{key}")
}

/// What `obj` (of store key `key`) uses, in milli units by quota resource name.
pub fn usage(key: &str, obj: &Value) -> Resources {
    let mut u = Resources::new();
    u.insert(count_name(key), 1000);
    if LEGACY_COUNTS.contains(&key) {
        u.insert(key.into(), 1000);
    }
    match key {
        "pods" if !pods::is_terminal(obj) => {
            u.insert("pods".into(), 1000);
            let requests = pods::effective_requests(obj);
            let limits = pods::effective_limits(obj);
            for (name, v) in &requests {
                match name.as_str() {
                    "cpu" | "memory" | "ephemeral-storage" => {
                        u.insert(name.clone(), *v);
                        u.insert(format!("requests.{name}"), *v);
                    }
                    n if n.starts_with("hugepages-") => {
                        u.insert(name.clone(), *v);
                        u.insert(format!("requests.{name}"), *v);
                    }
                    n if n.contains('/') && !n.contains("kubernetes.io/") => {
                        u.insert(format!("requests.{name}"), *v);
                    }
                    _ => {}
                }
            }
            for (name, v) in &limits {
                if matches!(name.as_str(), "cpu" | "memory" | "ephemeral-storage") {
                    u.insert(format!("limits.{name}"), *v);
                }
            }
        }
        "services" => {
            let ty = obj.pointer("/spec/type").and_then(Value::as_str);
            if ty == Some("LoadBalancer") {
                u.insert("services.loadbalancers".into(), 1000);
            }
            if matches!(ty, Some("NodePort" | "LoadBalancer")) {
                let ports = obj
                    .pointer("/spec/ports")
                    .and_then(Value::as_array)
                    .map_or(0, Vec::len);
                u.insert("services.nodeports".into(), ports as i128 * 1000);
            }
        }
        "persistentvolumeclaims" => {
            let storage = pods::parse_resources(obj.pointer("/spec/resources/requests"));
            if let Some(v) = storage.get("storage") {
                u.insert("requests.storage".into(), *v);
            }
        }
        _ => {}
    }
    u
}

/// Whether `quota`'s scopes take in `obj` (only pods are scoped).
fn in_scope(quota: &Value, key: &str, obj: &Value) -> bool {
    let scopes: Vec<&str> = quota
        .pointer("/spec/scopes")
        .and_then(Value::as_array)
        .map(|s| s.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let exprs: Vec<&Value> = quota
        .pointer("/spec/scopeSelector/matchExpressions")
        .and_then(Value::as_array)
        .map(|e| e.iter().collect())
        .unwrap_or_default();
    if scopes.is_empty() && exprs.is_empty() {
        return true;
    }
    if key != "pods" {
        return false;
    }
    let terminating = obj
        .pointer("/spec/activeDeadlineSeconds")
        .and_then(Value::as_i64)
        .is_some_and(|s| s >= 0);
    let best_effort = pods::qos_class(obj) == "BestEffort";
    let priority = obj
        .pointer("/spec/priorityClassName")
        .and_then(Value::as_str);
    let scope_ok = |scope: &str| match scope {
        "Terminating" => terminating,
        "NotTerminating" => !terminating,
        "BestEffort" => best_effort,
        "NotBestEffort" => !best_effort,
        "PriorityClass" => priority.is_some_and(|p| !p.is_empty()),
        _ => false,
    };
    let expr_ok = |e: &&Value| {
        let values: Vec<&str> = e["values"]
            .as_array()
            .map(|v| v.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let scope = e["scopeName"].as_str().unwrap_or("");
        if scope != "PriorityClass" {
            return match e["operator"].as_str() {
                Some("Exists") => scope_ok(scope),
                Some("DoesNotExist") => !scope_ok(scope),
                _ => false,
            };
        }
        let p = priority.filter(|p| !p.is_empty());
        match e["operator"].as_str() {
            Some("In") => p.is_some_and(|p| values.contains(&p)),
            Some("NotIn") => p.is_none_or(|p| !values.contains(&p)),
            Some("Exists") => p.is_some(),
            Some("DoesNotExist") => p.is_none(),
            _ => false,
        }
    };
    scopes.iter().all(|s| scope_ok(s)) && exprs.iter().all(expr_ok)
}

/// The hard limits of `quota`, in milli units.
fn hard(quota: &Value) -> Resources {
    pods::parse_resources(quota.pointer("/spec/hard"))
}

/// The store keys a quota's resource names count.
fn keys_counted(hard: &Resources) -> BTreeSet<String> {
    let mut keys: BTreeSet<String> = std::iter::once("pods")
        .chain(LEGACY_COUNTS.iter().copied())
        .map(String::from)
        .collect();
    for name in hard.keys() {
        if let Some(k) = name.strip_prefix("count/") {
            keys.insert(k.to_string());
        }
    }
    keys
}

/// What the namespace of `quota` uses of each of its resources now.
fn used(st: &State, quota: &Value) -> Resources {
    let ns = quota["metadata"]["namespace"].as_str().unwrap_or("");
    let hard = hard(quota);
    let mut used: Resources = hard.keys().map(|k| (k.clone(), 0)).collect();
    for key in keys_counted(&hard) {
        for obj in st.store.list(&key, Some(ns)) {
            if !in_scope(quota, &key, obj) {
                continue;
            }
            for (name, v) in usage(&key, obj) {
                if let Some(u) = used.get_mut(&name) {
                    *u = u.saturating_add(v);
                }
            }
        }
    }
    used
}

/// A quantity as the quota's status and messages print it: memory and
/// storage in binary units where they divide, the rest in decimal.
pub fn format(name: &str, milli: i128) -> String {
    let bytes = ["memory", "storage", "ephemeral-storage"]
        .iter()
        .any(|b| name == *b || name.ends_with(&format!(".{b}")))
        || name.contains("hugepages-");
    if bytes && milli % 1000 == 0 {
        quantity::format_binary(milli / 1000)
    } else {
        Quantity::from_milli(milli).to_string()
    }
}

/// `hard` as written (its strings kept) and `used` for each of its names.
fn status(quota: &Value, used: &Resources) -> Value {
    let hard = quota
        .pointer("/spec/hard")
        .cloned()
        .unwrap_or_else(|| json!({}));
    let used: Map<String, Value> = used
        .iter()
        .map(|(k, v)| (k.clone(), json!(format(k, *v))))
        .collect();
    json!({"hard": hard, "used": used})
}

/// Recounts every quota's `used`; true when a status was written. A quota
/// whose status changed (something was freed, or `hard` raised) puts the
/// namespace's workloads back in the controllers' queue, as the quota's
/// informer does for a controller that failed to create.
pub fn sync(st: &mut State) -> bool {
    // Every reconcile pass comes here: without quotas, nothing to gather.
    if st.store.count("resourcequotas") == 0 {
        return false;
    }
    let inputs: BTreeSet<String> = st
        .store
        .list("resourcequotas", None)
        .flat_map(|q| keys_counted(&hard(q)))
        .collect();
    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    if !st.inputs_changed("quota", &inputs) {
        return false;
    }
    let quotas: Vec<Value> = st
        .store
        .list("resourcequotas", None)
        .map(|q| (**q).clone())
        .collect();
    let mut changed = false;
    for q in quotas {
        let status = status(&q, &used(st, &q));
        if put_status(st, "resourcequotas", &q, status) {
            changed = true;
            let ns = q["metadata"]["namespace"]
                .as_str()
                .unwrap_or("")
                .to_string();
            requeue_workloads(st, &ns);
        }
    }
    changed
}

fn requeue_workloads(st: &mut State, ns: &str) {
    let uids: Vec<String> = [
        "deployments.apps",
        "replicasets.apps",
        "statefulsets.apps",
        "daemonsets.apps",
        "jobs.batch",
    ]
    .iter()
    .flat_map(|k| st.store.list(k, Some(ns)))
    .filter_map(|o| o["metadata"]["uid"].as_str().map(String::from))
    .collect();
    st.store.dirty.extend(uids);
}

/// The namespace's quotas that count something `obj` uses, by name, with
/// `obj`'s usage masked to what each counts.
fn matching(
    st: &State,
    def: &ResourceDef,
    obj: &Value,
    old: Option<&Value>,
) -> Vec<(Value, Resources)> {
    let ns = obj["metadata"]["namespace"].as_str().unwrap_or("");
    if st.store.list("resourcequotas", Some(ns)).next().is_none() {
        return Vec::new();
    }
    let key = def.key();
    let mut usage = usage(&key, obj);
    // An update is charged what grows (kube's `SubtractWithNonNegativeResult`).
    if let Some(old) = old {
        let before = self::usage(&key, old);
        usage = usage
            .into_iter()
            .map(|(k, v)| {
                let grown = v.saturating_sub(before.get(&k).copied().unwrap_or(0));
                (k, grown)
            })
            .filter(|(_, v)| *v > 0)
            .collect();
        if usage.is_empty() {
            return Vec::new();
        }
    }
    st.store
        .list("resourcequotas", Some(ns))
        .filter(|q| in_scope(q, &key, obj))
        .map(|q| {
            let hard = hard(q);
            let counted: Resources = usage
                .iter()
                .filter(|(k, _)| hard.contains_key(*k))
                .map(|(k, v)| (k.clone(), *v))
                .collect();
            ((**q).clone(), counted)
        })
        .filter(|(q, counted)| !counted.is_empty() || (key == "pods" && !constrained(q).is_empty()))
        .collect()
}

/// The compute resources a quota makes every container of a pod say.
pub(crate) const VALIDATED: &[&str] = &[
    "cpu",
    "memory",
    "requests.cpu",
    "requests.memory",
    "limits.cpu",
    "limits.memory",
];

/// The legacy object counts (`pods` counts only pods that are not done).
pub(crate) const OBJECT_COUNTS: &[&str] = &[
    "pods",
    "services",
    "replicationcontrollers",
    "resourcequotas",
    "secrets",
    "persistentvolumeclaims",
    "configmaps",
    "services.nodeports",
    "services.loadbalancers",
];

/// The resources of [`VALIDATED`] that `quota` counts.
fn constrained(quota: &Value) -> Vec<String> {
    let hard = hard(quota);
    VALIDATED
        .iter()
        .filter(|r| hard.contains_key(**r))
        .map(|r| r.to_string())
        .collect()
}

/// `must specify limits.cpu for: a,b; requests.memory for: a`, or nothing.
fn missing(pod: &Value, required: &[String]) -> Option<String> {
    let mut missing: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let all = ["initContainers", "containers"]
        .iter()
        .filter_map(|f| pod.pointer(&format!("/spec/{f}")).and_then(Value::as_array))
        .flatten();
    for c in all {
        let requests = pods::container_requests(c);
        let limits = pods::parse_resources(c.pointer("/resources/limits"));
        for r in required {
            let has = match r.as_str() {
                "cpu" | "requests.cpu" => requests.contains_key("cpu"),
                "memory" | "requests.memory" => requests.contains_key("memory"),
                "limits.cpu" => limits.contains_key("cpu"),
                _ => limits.contains_key("memory"),
            };
            if !has {
                missing
                    .entry(r.as_str())
                    .or_default()
                    .insert(c["name"].as_str().unwrap_or(""));
            }
        }
    }
    if missing.is_empty() {
        return None;
    }
    let parts: Vec<String> = missing
        .iter()
        .map(|(r, cs)| {
            format!(
                "{r} for: {}",
                cs.iter().copied().collect::<Vec<_>>().join(",")
            )
        })
        .collect();
    Some(format!("must specify {}", parts.join("; ")))
}

fn pretty(r: &Resources) -> String {
    r.iter()
        .map(|(k, v)| format!("{k}={}", format(k, *v)))
        .collect::<Vec<_>>()
        .join(",")
}

/// The `ResourceQuota` admission check of creating `obj`; `Ok` answers the
/// usage to charge to each quota once it is stored.
pub fn check(st: &State, def: &ResourceDef, obj: &Value) -> ApiResult<Vec<(Value, Resources)>> {
    check_change(st, def, obj, None)
}

/// The check of updating `old` to `new`: kube's evaluators look at updates
/// of Services (a type that takes node ports or a load balancer) and claims
/// (a larger request); what grows is checked and charged.
pub fn check_update(
    st: &State,
    def: &ResourceDef,
    old: &Value,
    new: &Value,
) -> ApiResult<Vec<(Value, Resources)>> {
    if !matches!(def.key().as_str(), "services" | "persistentvolumeclaims") {
        return Ok(Vec::new());
    }
    check_change(st, def, new, Some(old))
}

fn check_change(
    st: &State,
    def: &ResourceDef,
    obj: &Value,
    old: Option<&Value>,
) -> ApiResult<Vec<(Value, Resources)>> {
    let matching = matching(st, def, obj, old);
    let name = obj["metadata"]["name"].as_str().unwrap_or("");
    let forbidden = |why: String| ApiError::forbidden_object(def.group, def.plural, name, &why);
    for (q, requested) in &matching {
        let qname = q["metadata"]["name"].as_str().unwrap_or("");
        if def.key() == "pods" {
            if let Some(why) = missing(obj, &constrained(q)) {
                return Err(forbidden(format!("failed quota: {qname}: {why}")));
            }
        }
        let hard = hard(q);
        let used = if q.pointer("/status/used").is_some_and(Value::is_object) {
            pods::parse_resources(q.pointer("/status/used"))
        } else {
            used(st, q)
        };
        let exceeded: Vec<&String> = requested
            .iter()
            .filter(|(k, v)| {
                used.get(*k).copied().unwrap_or(0).saturating_add(**v)
                    > hard.get(*k).copied().unwrap_or(0)
            })
            .map(|(k, _)| k)
            .collect();
        if !exceeded.is_empty() {
            let mask = |r: &Resources| -> Resources {
                exceeded
                    .iter()
                    .map(|k| ((*k).clone(), r.get(*k).copied().unwrap_or(0)))
                    .collect()
            };
            return Err(forbidden(format!(
                "exceeded quota: {qname}, requested: {}, used: {}, limited: {}",
                pretty(&mask(requested)),
                pretty(&mask(&used)),
                pretty(&mask(&hard))
            )));
        }
    }
    Ok(matching)
}

/// Adds what an admitted object uses to its quotas' `used`.
pub fn charge(st: &mut State, charges: Vec<(Value, Resources)>) {
    for (q, requested) in charges {
        if requested.is_empty() {
            continue;
        }
        let (ns, name) = (
            q["metadata"]["namespace"].as_str().unwrap_or(""),
            q["metadata"]["name"].as_str().unwrap_or(""),
        );
        let Some(current) = st
            .store
            .get("resourcequotas", ns, name)
            .map(|q| (**q).clone())
        else {
            continue;
        };
        let mut used = pods::parse_resources(current.pointer("/status/used"));
        for (k, v) in requested {
            let u = used.entry(k).or_insert(0);
            *u = u.saturating_add(v);
        }
        let status = status(&current, &used);
        put_status(st, "resourcequotas", &current, status);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources;
    use crate::spec::ClusterSpec;

    fn gpu_pod(name: &str, gpus: u32) -> Value {
        json!({"metadata": {"name": name, "namespace": "default"},
               "spec": {"containers": [{"name": "c", "image": "x", "resources": {
                   "requests": {"cpu": "2", "memory": "4Gi", "nvidia.com/gpu": gpus.to_string()},
                   "limits": {"memory": "8Gi", "nvidia.com/gpu": gpus.to_string()}}}]},
               "status": {"phase": "Pending"}})
    }

    #[test]
    fn what_a_pod_uses() {
        let u = usage("pods", &gpu_pod("p", 2));
        let shown: BTreeMap<&str, String> =
            u.iter().map(|(k, v)| (k.as_str(), format(k, *v))).collect();
        assert_eq!(
            shown,
            BTreeMap::from([
                ("count/pods", "1".to_string()),
                ("cpu", "2".into()),
                ("limits.memory", "8Gi".into()),
                ("memory", "4Gi".into()),
                ("pods", "1".into()),
                ("requests.cpu", "2".into()),
                ("requests.memory", "4Gi".into()),
                ("requests.nvidia.com/gpu", "2".into()),
            ])
        );
        // A pod that is done counts as an object only.
        let mut done = gpu_pod("d", 1);
        done["status"]["phase"] = json!("Succeeded");
        assert_eq!(
            usage("pods", &done),
            Resources::from([("count/pods".to_string(), 1000)])
        );
        let svc = json!({"spec": {"type": "NodePort", "ports": [{"port": 80}, {"port": 443}]}});
        assert_eq!(usage("services", &svc)["services.nodeports"], 2000);
    }

    #[test]
    fn a_gpu_quota_refuses_the_pod_past_it_and_charges_the_others() {
        let mut st = State::new(ClusterSpec::new("quota"));
        st.store.insert(
            &resources::RESOURCE_QUOTAS,
            json!({"metadata": {"name": "gpus", "namespace": "default"},
                   "spec": {"hard": {"requests.nvidia.com/gpu": "4"}}}),
        );
        assert!(sync(&mut st));
        for name in ["a", "b"] {
            let pod = gpu_pod(name, 2);
            let charges = check(&st, &resources::PODS, &pod).unwrap();
            st.store.insert(&resources::PODS, pod);
            charge(&mut st, charges);
        }
        let e = check(&st, &resources::PODS, &gpu_pod("c", 1)).unwrap_err();
        assert_eq!(e.code, 403);
        assert_eq!(
            e.message,
            "pods \"c\" is forbidden: exceeded quota: gpus, requested: requests.nvidia.com/gpu=1, used: requests.nvidia.com/gpu=4, limited: requests.nvidia.com/gpu=4"
        );
        // The recount agrees with what was charged: nothing to write.
        assert!(!sync(&mut st));
    }
}
