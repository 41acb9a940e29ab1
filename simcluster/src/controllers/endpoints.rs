//! The endpoints controller: an `Endpoints` object per Service with a
//! selector, named as the Service, listing the selected pods' addresses
//! (Ready ones in `addresses`, the others in `notReadyAddresses`) with each
//! service port resolved against the pod (a named `targetPort` is looked up
//! in its containers' ports; a pod without it is left out of that port).
//!
//! As kube-controller-manager's (v1.32): addresses with the same ports are
//! packed into one subset, sorted by IP; the Service's labels are copied and
//! `endpointslice.kubernetes.io/skip-mirror: "true"` marks the object as the
//! controller's; at most [`MAX_ADDRESSES`] addresses are kept, beyond which
//! `endpoints.kubernetes.io/over-capacity: truncated` says some were cut.
//! Services without a selector keep the `Endpoints` their users write, and
//! the controller's object goes when its Service does.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

use crate::pods;
use crate::resources;
use crate::selectors::LabelSelector;
use crate::state::State;
use crate::store::now_rfc3339;

/// The most addresses one `Endpoints` object lists (the controller's `maxCapacity`).
pub const MAX_ADDRESSES: usize = 1000;

/// The label that marks an `Endpoints` as this controller's.
const MANAGED: &str = "endpointslice.kubernetes.io/skip-mirror";
const OVER_CAPACITY: &str = "endpoints.kubernetes.io/over-capacity";
const TRIGGER_TIME: &str = "endpoints.kubernetes.io/last-change-trigger-time";

/// Brings every selector Service's `Endpoints` up to date; true when one was written.
pub fn sync(st: &mut State) -> bool {
    if !st.inputs_changed("endpoints", &["services", "pods", "endpoints"]) {
        return false;
    }
    let services: Vec<Value> = st
        .store
        .list("services", None)
        .filter(|s| managed(s))
        .map(|s| (**s).clone())
        .collect();
    let mut changed = false;
    for svc in &services {
        changed |= write(st, svc);
    }
    changed | remove_orphans(st)
}

/// Deletes the controller's `Endpoints` whose Service is gone (or no longer [`managed`]).
fn remove_orphans(st: &mut State) -> bool {
    let orphans: Vec<(String, String)> = st
        .store
        .list("endpoints", None)
        .filter(|e| e["metadata"]["labels"][MANAGED] == "true")
        .filter(|e| {
            let (ns, name) = ns_name(e);
            // kube-apiserver keeps its own (`State::apiserver_endpoints`).
            if (ns, name) == ("default", "kubernetes") {
                return false;
            }
            st.store
                .get("services", ns, name)
                .is_none_or(|s| !managed(s))
        })
        .map(|e| {
            let (ns, name) = ns_name(e);
            (ns.to_string(), name.to_string())
        })
        .collect();
    for (ns, name) in &orphans {
        st.store.remove("endpoints", ns, name);
    }
    !orphans.is_empty()
}

/// A Service whose Endpoints the controller keeps: one with a selector,
/// not `ExternalName`.
fn managed(svc: &Value) -> bool {
    svc.pointer("/spec/selector").is_some_and(Value::is_object)
        && svc.pointer("/spec/type").and_then(Value::as_str) != Some("ExternalName")
}

fn ns_name(o: &Value) -> (&str, &str) {
    (
        o["metadata"]["namespace"].as_str().unwrap_or(""),
        o["metadata"]["name"].as_str().unwrap_or(""),
    )
}

/// The labels a Service's endpoints carry: its own, and
/// `service.kubernetes.io/headless` for a headless one.
pub(crate) fn service_labels(svc: &Value) -> Map<String, Value> {
    let mut labels = svc
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if svc.pointer("/spec/clusterIP").and_then(Value::as_str) == Some("None") {
        labels.insert("service.kubernetes.io/headless".into(), json!(""));
    }
    labels
}

/// Writes `svc`'s `Endpoints` when its subsets or labels differ from the stored ones.
fn write(st: &mut State, svc: &Value) -> bool {
    let (ns, name) = ns_name(svc);
    let (subsets, truncated) = subsets(st, svc);
    let mut labels = service_labels(svc);
    labels.insert(MANAGED.into(), json!("true"));
    let existing = st.store.get("endpoints", ns, name).cloned();
    let over = |e: &Value| e["metadata"]["annotations"].get(OVER_CAPACITY).is_some();
    if let Some(e) = &existing {
        let same_subsets = e.get("subsets").unwrap_or(&json!([])) == &subsets;
        if same_subsets
            && e["metadata"]["labels"] == Value::Object(labels.clone())
            && over(e) == truncated
        {
            return false;
        }
    }
    let mut annotations = existing
        .as_ref()
        .and_then(|e| e.pointer("/metadata/annotations"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    annotations.insert(TRIGGER_TIME.into(), json!(now_rfc3339()));
    if truncated {
        annotations.insert(OVER_CAPACITY.into(), json!("truncated"));
    } else {
        annotations.remove(OVER_CAPACITY);
    }
    let mut obj = json!({
        "metadata": {"name": name, "namespace": ns, "labels": labels, "annotations": annotations},
    });
    if !subsets.as_array().is_some_and(Vec::is_empty) {
        obj["subsets"] = subsets;
    }
    let Some(def) = resources::by_key("endpoints") else {
        return false;
    };
    match existing {
        Some(_) => st.store.replace(def, obj).is_some(),
        None => {
            st.store.insert(def, obj);
            true
        }
    }
}

/// An address and whether it is ready.
type Address = (Value, bool);

/// The packed subsets of `svc`, and whether addresses were cut at [`MAX_ADDRESSES`].
fn subsets(st: &State, svc: &Value) -> (Value, bool) {
    let (ns, name) = ns_name(svc);
    let selector = svc.pointer("/spec/selector").cloned().unwrap_or(json!({}));
    let Ok(selector) = LabelSelector::from_object(Some(&json!({"matchLabels": selector}))) else {
        return (json!([]), false);
    };
    let publish_not_ready = svc
        .pointer("/spec/publishNotReadyAddresses")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let headless = svc.pointer("/spec/clusterIP").and_then(Value::as_str) == Some("None");
    let ports = svc
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    // Ports (as a sorted set of their JSON text) -> the addresses that have them.
    let mut groups: BTreeMap<BTreeSet<String>, Vec<Address>> = BTreeMap::new();
    for pod in st.store.list("pods", Some(ns)) {
        if !selector.matches_object(pod) || !in_endpoints(pod, publish_not_ready) {
            continue;
        }
        let resolved: BTreeSet<String> = ports
            .iter()
            .filter_map(|p| {
                let port = find_port(pod, p)?;
                let mut e =
                    json!({"port": port, "protocol": p["protocol"].as_str().unwrap_or("TCP")});
                if let Some(n) = p["name"].as_str().filter(|n| !n.is_empty()) {
                    e["name"] = json!(n);
                }
                if let Some(a) = p.get("appProtocol") {
                    e["appProtocol"] = a.clone();
                }
                Some(e.to_string())
            })
            .collect();
        // A pod that has none of the ports is listed only for a headless
        // Service without ports.
        if resolved.is_empty() && !(ports.is_empty() && headless) {
            continue;
        }
        let ready = publish_not_ready || pods::is_ready(pod);
        groups
            .entry(resolved)
            .or_default()
            .push((address(pod, svc, name, headless), ready));
    }
    let mut left = MAX_ADDRESSES;
    let mut truncated = false;
    let mut out = Vec::new();
    for (ports, mut addrs) in groups {
        addrs.sort_by(|a, b| a.0["ip"].as_str().cmp(&b.0["ip"].as_str()));
        // Ready addresses are kept first when some must be cut.
        addrs.sort_by_key(|a| !a.1);
        if addrs.len() > left {
            truncated = true;
            addrs.truncate(left);
        }
        left -= addrs.len();
        // Both keep the order by IP.
        let (ready, not_ready): (Vec<Address>, Vec<Address>) = addrs.into_iter().partition(|a| a.1);
        let values = |v: Vec<Address>| v.into_iter().map(|a| a.0).collect::<Vec<Value>>();
        let (ready, not_ready) = (values(ready), values(not_ready));
        let mut subset = Map::new();
        if !ready.is_empty() {
            subset.insert("addresses".into(), json!(ready));
        }
        if !not_ready.is_empty() {
            subset.insert("notReadyAddresses".into(), json!(not_ready));
        }
        if subset.is_empty() {
            continue;
        }
        let ports: Vec<Value> = ports
            .iter()
            .filter_map(|p| serde_json::from_str(p).ok())
            .collect();
        if !ports.is_empty() {
            subset.insert("ports".into(), json!(ports));
        }
        out.push(Value::Object(subset));
    }
    (json!(out), truncated)
}

/// `ShouldPodBeInEndpoints`: it has an IP, is not terminating (unless not
/// ready addresses are published) and is not done for good.
fn in_endpoints(pod: &Value, include_terminating: bool) -> bool {
    if !include_terminating && pod.pointer("/metadata/deletionTimestamp").is_some() {
        return false;
    }
    if pod
        .pointer("/status/podIP")
        .and_then(Value::as_str)
        .is_none_or(str::is_empty)
    {
        return false;
    }
    match pod.pointer("/spec/restartPolicy").and_then(Value::as_str) {
        Some("Never") => !pods::is_terminal(pod),
        Some("OnFailure") => pods::phase(pod) != "Succeeded",
        _ => true,
    }
}

/// `FindPort`: a numeric `targetPort` as it is, a named one from the pod's
/// containers' ports of the same protocol (defaulted to the service port).
fn find_port(pod: &Value, svc_port: &Value) -> Option<i64> {
    let protocol = svc_port["protocol"].as_str().unwrap_or("TCP");
    match svc_port.get("targetPort").unwrap_or(&svc_port["port"]) {
        Value::Number(n) => n.as_i64(),
        Value::String(name) => pod
            .pointer("/spec/containers")
            .and_then(Value::as_array)?
            .iter()
            .filter_map(|c| c["ports"].as_array())
            .flatten()
            .find(|p| {
                p["name"].as_str() == Some(name)
                    && p["protocol"].as_str().unwrap_or("TCP") == protocol
            })
            .and_then(|p| p["containerPort"].as_i64()),
        _ => None,
    }
}

/// A pod's `EndpointAddress`: its IP, node and a reference to it; its
/// hostname for a headless Service that is its subdomain.
fn address(pod: &Value, svc: &Value, svc_name: &str, headless: bool) -> Value {
    let mut a = json!({
        "ip": pod.pointer("/status/podIP"),
        "targetRef": {"kind": "Pod", "namespace": pod["metadata"]["namespace"], "name": pod["metadata"]["name"],
                      "uid": pod["metadata"]["uid"]},
    });
    if let Some(node) = pods::bound_node(pod) {
        a["nodeName"] = json!(node);
    }
    let hostname = pod
        .pointer("/spec/hostname")
        .and_then(Value::as_str)
        .filter(|h| !h.is_empty());
    let subdomain = pod.pointer("/spec/subdomain").and_then(Value::as_str);
    if let (Some(h), true, Some(sub)) = (hostname, headless, subdomain) {
        if sub == svc_name && svc["metadata"]["namespace"] == pod["metadata"]["namespace"] {
            a["hostname"] = json!(h);
        }
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::ClusterSpec;

    fn pod(i: usize, ready: bool, port_name: &str) -> Value {
        json!({"metadata": {"name": format!("p{i}"), "namespace": "default", "uid": format!("u{i}"),
                            "labels": {"app": "a"}},
               "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "x",
                   "ports": [{"name": port_name, "containerPort": 9000}]}]},
               "status": {"phase": "Running", "podIP": format!("10.0.{}.{}", i / 250, i % 250 + 1),
                          "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]}})
    }

    fn state(pods: impl IntoIterator<Item = Value>, target_port: Value) -> State {
        let mut st = State::new(ClusterSpec::new("endpoints"));
        for p in pods {
            st.store.insert(&resources::PODS, p);
        }
        st.store.insert(
            &resources::SERVICES,
            json!({"metadata": {"name": "s", "namespace": "default"},
                   "spec": {"selector": {"app": "a"}, "clusterIP": "10.96.0.9",
                            "ports": [{"name": "web", "port": 80, "protocol": "TCP", "targetPort": target_port}]}}),
        );
        st
    }

    fn stored(st: &State) -> Value {
        st.store
            .get("endpoints", "default", "s")
            .map(|e| (**e).clone())
            .unwrap_or(Value::Null)
    }

    #[test]
    fn ready_and_not_ready_pods_and_a_missing_named_port() {
        let mut st = state(
            [
                pod(0, true, "http"),
                pod(1, false, "http"),
                pod(2, true, "other"),
            ],
            json!("http"),
        );
        assert!(sync(&mut st));
        let ep = stored(&st);
        assert_eq!(ep["subsets"].as_array().map(Vec::len), Some(1), "{ep}");
        let subset = &ep["subsets"][0];
        assert_eq!(subset["addresses"][0]["ip"], "10.0.0.1");
        assert_eq!(subset["notReadyAddresses"][0]["ip"], "10.0.0.2");
        assert_eq!(
            subset["ports"],
            json!([{"name": "web", "port": 9000, "protocol": "TCP"}])
        );
        // p2 has no port named `http`: it is in no subset.
        assert!(!ep.to_string().contains("\"p2\""), "{ep}");
        // Nothing changed: nothing written.
        let rv = st.store.resource_version();
        st.store
            .insert(&resources::NAMESPACES, json!({"metadata": {"name": "x"}}));
        assert!(!sync(&mut st));
        assert_eq!(st.store.resource_version(), rv + 1);
    }

    #[test]
    fn at_most_a_thousand_addresses_ready_first() {
        let pods = (0..MAX_ADDRESSES + 5).map(|i| pod(i, i >= 10, "http"));
        let mut st = state(pods, json!(9000));
        sync(&mut st);
        let ep = stored(&st);
        let subset = &ep["subsets"][0];
        assert_eq!(
            subset["addresses"].as_array().map(Vec::len),
            Some(MAX_ADDRESSES - 5)
        );
        assert_eq!(
            subset["notReadyAddresses"].as_array().map(Vec::len),
            Some(5)
        );
        assert_eq!(ep["metadata"]["annotations"][OVER_CAPACITY], "truncated");
    }

    #[test]
    fn the_endpoints_cell_shows_three_then_how_many_more() {
        let ep = json!({"subsets": [{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}],
                                     "ports": [{"port": 80}, {"port": 443}]}]});
        assert_eq!(
            crate::table::endpoints_cell(&ep),
            "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more..."
        );
        assert_eq!(crate::table::endpoints_cell(&json!({})), "<none>");
        let headless = json!({"subsets": [{"addresses": [{"ip": "10.0.0.1"}]}]});
        assert_eq!(crate::table::endpoints_cell(&headless), "10.0.0.1");
    }
}
