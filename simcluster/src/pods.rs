//! Pod arithmetic shared by the store, the scheduler and the printers:
//! effective resource requests, QoS class, phase and readiness helpers.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::quantity::Quantity;

/// Resource amounts in milli units by resource name (`cpu`, `memory`, `nvidia.com/gpu`).
pub type Resources = BTreeMap<String, i128>;

/// Adds `b` into `a`.
pub fn add_resources(a: &mut Resources, b: &Resources) {
    for (k, v) in b {
        *a.entry(k.clone()).or_insert(0) += v;
    }
}

/// Subtracts `b` from `a`.
pub fn sub_resources(a: &mut Resources, b: &Resources) {
    for (k, v) in b {
        *a.entry(k.clone()).or_insert(0) -= v;
    }
}

/// Parses a resource map (`{"cpu": "2", "memory": "4Gi"}`) into milli units; bad values count 0.
pub fn parse_resources(v: Option<&Value>) -> Resources {
    let mut out = Resources::new();
    if let Some(m) = v.and_then(Value::as_object) {
        for (k, q) in m {
            let s = match q {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => continue,
            };
            out.insert(
                k.clone(),
                Quantity::parse(&s).map(|q| q.milli_value()).unwrap_or(0),
            );
        }
    }
    out
}

fn containers<'a>(pod: &'a Value, field: &str) -> &'a [Value] {
    pod.get("spec")
        .and_then(|s| s.get(field))
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// A container's requests, defaulting each missing request to its limit.
pub fn container_requests(c: &Value) -> Resources {
    let mut req = parse_resources(c.pointer("/resources/requests"));
    for (k, v) in parse_resources(c.pointer("/resources/limits")) {
        req.entry(k).or_insert(v);
    }
    req
}

/// max(sum of the containers' amounts, largest init container's) per
/// resource, as kube's `PodRequests`/`PodLimits` total a pod (overhead aside).
pub fn containers_total(pod: &Value, of: impl Fn(&Value) -> Resources) -> Resources {
    let mut sum = Resources::new();
    for c in containers(pod, "containers") {
        add_resources(&mut sum, &of(c));
    }
    for c in containers(pod, "initContainers") {
        for (k, v) in of(c) {
            let e = sum.entry(k).or_insert(0);
            if v > *e {
                *e = v;
            }
        }
    }
    sum
}

/// A container's limits.
pub fn container_limits(c: &Value) -> Resources {
    parse_resources(c.pointer("/resources/limits"))
}

/// What the scheduler counts for a pod: max(sum of containers, largest init
/// container) per resource, plus `spec.overhead`.
pub fn effective_requests(pod: &Value) -> Resources {
    let mut sum = containers_total(pod, container_requests);
    add_resources(&mut sum, &parse_resources(pod.pointer("/spec/overhead")));
    sum
}

/// A pod's limits totalled the same way, plus `spec.overhead` when it has any.
pub fn effective_limits(pod: &Value) -> Resources {
    let mut sum = containers_total(pod, container_limits);
    if !sum.is_empty() {
        add_resources(&mut sum, &parse_resources(pod.pointer("/spec/overhead")));
    }
    sum
}

/// [`effective_requests`] plus one `pods` slot: what a pod takes from a node.
pub fn sched_requests(pod: &Value) -> Resources {
    let mut r = effective_requests(pod);
    r.insert("pods".into(), 1000);
    r
}

/// Fills missing container requests from limits, as API defaulting does.
pub fn default_requests_from_limits(pod: &mut Value) {
    for field in ["containers", "initContainers"] {
        let Some(list) = pod
            .pointer_mut(&format!("/spec/{field}"))
            .and_then(Value::as_array_mut)
        else {
            continue;
        };
        for c in list {
            let Some(limits) = c
                .pointer("/resources/limits")
                .and_then(Value::as_object)
                .cloned()
            else {
                continue;
            };
            let res = &mut c["resources"];
            if !res.get("requests").is_some_and(Value::is_object) {
                res["requests"] = json!({});
            }
            for (k, v) in limits {
                if res["requests"].get(&k).is_none() {
                    res["requests"][k] = v;
                }
            }
        }
    }
}

/// The pod's QoS class by Kubernetes' rules (only `cpu` and `memory` count):
/// `BestEffort` when no container requests or limits either, `Guaranteed` when
/// every container limits both and requests equal limits, else `Burstable`.
pub fn qos_class(pod: &Value) -> &'static str {
    let mut requests = Resources::new();
    let mut limits = Resources::new();
    let mut guaranteed = true;
    let all = containers(pod, "initContainers")
        .iter()
        .chain(containers(pod, "containers"));
    for c in all {
        for (k, v) in container_requests(c) {
            if (k == "cpu" || k == "memory") && v != 0 {
                *requests.entry(k).or_insert(0) += v;
            }
        }
        let lim = parse_resources(c.pointer("/resources/limits"));
        let mut found = 0;
        for (k, v) in lim {
            if (k == "cpu" || k == "memory") && v != 0 {
                found += 1;
                *limits.entry(k).or_insert(0) += v;
            }
        }
        if found < 2 {
            guaranteed = false;
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return "BestEffort";
    }
    if guaranteed && requests == limits {
        return "Guaranteed";
    }
    "Burstable"
}

/// `spec.nodeName`, when set and non-empty.
pub fn bound_node(pod: &Value) -> Option<&str> {
    pod.pointer("/spec/nodeName")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// `status.phase` (`Pending` when absent).
pub fn phase(pod: &Value) -> &str {
    pod.pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("Pending")
}

/// Succeeded or Failed.
pub fn is_terminal(pod: &Value) -> bool {
    matches!(phase(pod), "Succeeded" | "Failed")
}

/// The `Ready` condition is `True`.
pub fn is_ready(pod: &Value) -> bool {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

/// Number of containers in `spec.containers`.
pub fn container_count(pod: &Value) -> usize {
    containers(pod, "containers").len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(containers: Value) -> Value {
        json!({"spec": {"containers": containers}})
    }

    #[test]
    fn qos_best_effort() {
        assert_eq!(qos_class(&pod(json!([{"name": "a"}]))), "BestEffort");
        // extended resources do not count
        assert_eq!(
            qos_class(&pod(
                json!([{"name": "a", "resources": {"limits": {"nvidia.com/gpu": "1"}}}])
            )),
            "BestEffort"
        );
    }

    #[test]
    fn qos_guaranteed() {
        let p = pod(
            json!([{"name": "a", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}},
                           {"name": "b", "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "0.5", "memory": "1024Mi"}}}]),
        );
        assert_eq!(qos_class(&p), "Guaranteed");
    }

    #[test]
    fn qos_burstable() {
        let only_cpu_limit = pod(json!([{"name": "a", "resources": {"limits": {"cpu": "1"}}}]));
        assert_eq!(qos_class(&only_cpu_limit), "Burstable");
        let lower_request = pod(
            json!([{"name": "a", "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"cpu": "1", "memory": "1Gi"}}}]),
        );
        assert_eq!(qos_class(&lower_request), "Burstable");
        let one_without = pod(
            json!([{"name": "a", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}, {"name": "b"}]),
        );
        assert_eq!(qos_class(&one_without), "Burstable");
        let request_only =
            pod(json!([{"name": "a", "resources": {"requests": {"memory": "10Mi"}}}]));
        assert_eq!(qos_class(&request_only), "Burstable");
    }

    #[test]
    fn requests_sum_and_init_max() {
        let p = json!({"spec": {
            "initContainers": [{"name": "i", "resources": {"requests": {"cpu": "2"}}}],
            "containers": [{"name": "a", "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}},
                           {"name": "b", "resources": {"limits": {"cpu": "1", "nvidia.com/gpu": "2"}}}],
            "overhead": {"cpu": "100m"}}});
        let r = effective_requests(&p);
        assert_eq!(r["cpu"], 2100);
        assert_eq!(r["memory"], (1i128 << 30) * 1000);
        assert_eq!(r["nvidia.com/gpu"], 2000);
    }

    #[test]
    fn defaulting_requests() {
        let mut p = pod(
            json!([{"name": "a", "resources": {"limits": {"cpu": "1"}, "requests": {"memory": "1Gi"}}}]),
        );
        default_requests_from_limits(&mut p);
        assert_eq!(
            p["spec"]["containers"][0]["resources"]["requests"],
            json!({"cpu": "1", "memory": "1Gi"})
        );
    }
}
