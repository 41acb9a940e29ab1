//! The EndpointSlice controller: each Service the endpoints controller
//! keeps an `Endpoints` for ([`super::endpoints`]) also gets
//! `discovery.k8s.io/v1` EndpointSlices, which is what kube-proxy and
//! `kubectl describe service` (1.31 and later) read.
//!
//! As kube-controller-manager's: a slice per set of resolved ports, at most
//! [`MAX_PER_SLICE`] endpoints each, named `<service>-<random>`, owned by the
//! Service, labelled `kubernetes.io/service-name` and
//! `endpointslice.kubernetes.io/managed-by` (and the Service's own labels);
//! each endpoint has its address, `ready`/`serving`/`terminating`
//! conditions, node and pod reference; a Service without endpoints has one
//! slice with none. Slices are read from the Service's `Endpoints`, so a
//! terminating pod is left out of both (the real controller lists it with
//! `terminating: true`). Slices are rewritten only when they change, keep
//! their names, and go with their Service.

use serde_json::{json, Value};

use super::{controller_ref, random_suffix};
use crate::resources;
use crate::state::State;
use crate::store::now_rfc3339;

/// The most endpoints one slice holds (`--max-endpoints-per-slice`).
pub const MAX_PER_SLICE: usize = 100;
const KEY: &str = "endpointslices.discovery.k8s.io";
const SERVICE_NAME: &str = "kubernetes.io/service-name";
const MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";
const CONTROLLER: &str = "endpointslice-controller.k8s.io";
const TRIGGER_TIME: &str = "endpoints.kubernetes.io/last-change-trigger-time";
/// The endpoints controller's own mark, not copied to slices.
const SKIP_MIRROR: &str = "endpointslice.kubernetes.io/skip-mirror";

/// Brings every Service's slices up to date; true when one was written.
pub fn sync(st: &mut State) -> bool {
    if !st.inputs_changed("endpointslices", &["services", "endpoints", KEY]) {
        return false;
    }
    let services: Vec<Value> = st
        .store
        .list("services", None)
        .map(|s| (**s).clone())
        .collect();
    let mut changed = false;
    let mut kept: Vec<(String, String)> = Vec::new();
    for svc in &services {
        let (ns, name) = ns_name(svc);
        let Some(ep) = st.store.get("endpoints", ns, name).cloned() else {
            continue;
        };
        if ep["metadata"]["labels"][SKIP_MIRROR] != "true" {
            continue;
        }
        kept.push((ns.to_string(), name.to_string()));
        changed |= write(st, svc, &ep);
    }
    // Slices whose Service is gone or no longer has controller endpoints.
    let orphans: Vec<(String, String)> = st
        .store
        .list(KEY, None)
        .filter(|s| s["metadata"]["labels"][MANAGED_BY] == CONTROLLER)
        .filter(|s| {
            let ns = s["metadata"]["namespace"].as_str().unwrap_or("");
            let svc = s["metadata"]["labels"][SERVICE_NAME].as_str().unwrap_or("");
            !kept.iter().any(|(n, m)| n == ns && m == svc)
        })
        .map(|s| {
            let (ns, name) = ns_name(s);
            (ns.to_string(), name.to_string())
        })
        .collect();
    for (ns, name) in &orphans {
        st.store.remove(KEY, ns, name);
    }
    changed || !orphans.is_empty()
}

fn ns_name(o: &Value) -> (&str, &str) {
    (
        o["metadata"]["namespace"].as_str().unwrap_or(""),
        o["metadata"]["name"].as_str().unwrap_or(""),
    )
}

/// An `EndpointAddress` as a slice's endpoint.
fn endpoint(address: &Value, ready: bool) -> Value {
    let mut e = json!({
        "addresses": [address["ip"]],
        "conditions": {"ready": ready, "serving": ready, "terminating": false},
    });
    for (from, to) in [
        ("nodeName", "nodeName"),
        ("targetRef", "targetRef"),
        ("hostname", "hostname"),
    ] {
        if let Some(v) = address.get(from) {
            e[to] = v.clone();
        }
    }
    e
}

/// The (ports, endpoints) of each slice `ep` calls for.
fn wanted(ep: &Value) -> Vec<(Value, Vec<Value>)> {
    let mut out = Vec::new();
    for subset in ep["subsets"].as_array().into_iter().flatten() {
        let ports: Vec<Value> = subset["ports"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|p| {
                let mut q = json!({"name": p["name"].as_str().unwrap_or(""), "port": p["port"],
                    "protocol": p["protocol"].as_str().unwrap_or("TCP")});
                if let Some(a) = p.get("appProtocol") {
                    q["appProtocol"] = a.clone();
                }
                q
            })
            .collect();
        let ports = if ports.is_empty() {
            Value::Null
        } else {
            Value::Array(ports)
        };
        let list = |k: &str, ready: bool| {
            subset[k]
                .as_array()
                .into_iter()
                .flatten()
                .map(move |a| endpoint(a, ready))
        };
        let endpoints: Vec<Value> = list("addresses", true)
            .chain(list("notReadyAddresses", false))
            .collect();
        for chunk in endpoints.chunks(MAX_PER_SLICE) {
            out.push((ports.clone(), chunk.to_vec()));
        }
    }
    out
}

/// Writes `svc`'s slices from its `Endpoints`; true when one changed.
fn write(st: &mut State, svc: &Value, ep: &Value) -> bool {
    let (ns, name) = ns_name(svc);
    let mut labels = super::endpoints::service_labels(svc);
    labels.insert(SERVICE_NAME.into(), json!(name));
    labels.insert(MANAGED_BY.into(), json!(CONTROLLER));
    let mut slices = wanted(ep);
    if slices.is_empty() {
        // A Service without endpoints has one slice saying so.
        slices.push((Value::Null, Vec::new()));
    }
    let mut existing: Vec<Value> = st
        .store
        .list(KEY, Some(ns))
        .filter(|s| {
            s["metadata"]["labels"][SERVICE_NAME] == name
                && s["metadata"]["labels"][MANAGED_BY] == CONTROLLER
        })
        .map(|s| (**s).clone())
        .collect();
    existing.sort_by(|a, b| ns_name(a).1.cmp(ns_name(b).1));
    let Some(def) = resources::by_key(KEY) else {
        return false;
    };
    let same = |o: &Value, ports: &Value, endpoints: &Value| {
        o.get("endpoints").unwrap_or(&Value::Null) == endpoints
            && o.get("ports").unwrap_or(&Value::Null) == ports
            && o["metadata"]["labels"] == Value::Object(labels.clone())
    };
    // Slices already as wanted stay as they are; the others are rewritten
    // into the names left over, then new ones; what is left over goes.
    let mut unused = existing;
    let mut pending = Vec::new();
    for (ports, endpoints) in slices {
        let endpoints = if endpoints.is_empty() {
            Value::Null
        } else {
            Value::Array(endpoints)
        };
        match unused.iter().position(|o| same(o, &ports, &endpoints)) {
            Some(i) => {
                unused.remove(i);
            }
            None => pending.push((ports, endpoints)),
        }
    }
    let mut changed = false;
    for (ports, endpoints) in pending {
        let old = (!unused.is_empty()).then(|| unused.remove(0));
        let slice_name = match &old {
            Some(o) => ns_name(o).1.to_string(),
            None => format!("{name}-{}", random_suffix(5)),
        };
        let obj = json!({
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": slice_name,
                "generateName": format!("{name}-"),
                "namespace": ns,
                "labels": labels,
                "annotations": {TRIGGER_TIME: now_rfc3339()},
                "ownerReferences": [controller_ref(svc)],
            },
            "addressType": "IPv4",
            "endpoints": endpoints,
            "ports": ports,
        });
        match old {
            Some(_) => {
                st.store.replace(def, obj);
            }
            None => {
                st.store.insert(def, obj);
            }
        }
        changed = true;
    }
    for o in &unused {
        st.store.remove(KEY, ns, ns_name(o).1);
        changed = true;
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::ClusterSpec;

    fn address(i: usize) -> Value {
        json!({"ip": format!("10.0.{}.{}", i / 250, i % 250 + 1), "nodeName": "n1",
               "targetRef": {"kind": "Pod", "namespace": "default", "name": format!("p{i}")}})
    }

    fn state(ready: usize, not_ready: usize) -> State {
        let mut st = State::new(ClusterSpec::new("slices"));
        st.store.insert(
            &resources::SERVICES,
            json!({"metadata": {"name": "s", "namespace": "default", "labels": {"tier": "db"}},
                   "spec": {"selector": {"app": "a"}, "clusterIP": "10.96.0.9",
                            "ports": [{"name": "sql", "port": 5432, "protocol": "TCP"}]}}),
        );
        set_endpoints(&mut st, ready, not_ready);
        st
    }

    fn set_endpoints(st: &mut State, ready: usize, not_ready: usize) {
        let addresses: Vec<Value> = (0..ready).map(address).collect();
        let not: Vec<Value> = (ready..ready + not_ready).map(address).collect();
        let mut ep = json!({"metadata": {"name": "s", "namespace": "default",
                                         "labels": {SKIP_MIRROR: "true"}}});
        if ready + not_ready > 0 {
            ep["subsets"] = json!([{"addresses": addresses, "notReadyAddresses": not,
                "ports": [{"name": "sql", "port": 5432, "protocol": "TCP"}]}]);
        }
        if let Some(def) = resources::by_key("endpoints") {
            st.store.remove("endpoints", "default", "s");
            st.store.insert(def, ep);
        }
    }

    fn stored(st: &State) -> Vec<Value> {
        let mut v: Vec<Value> = st
            .store
            .list(KEY, Some("default"))
            .filter(|s| s["metadata"]["labels"][SERVICE_NAME] == "s")
            .map(|s| (**s).clone())
            .collect();
        v.sort_by(|a, b| ns_name(a).1.cmp(ns_name(b).1));
        v
    }

    fn count(slices: &[Value]) -> usize {
        slices
            .iter()
            .map(|s| s["endpoints"].as_array().map_or(0, Vec::len))
            .sum()
    }

    #[test]
    fn a_hundred_endpoints_a_slice_ready_first_names_kept() {
        let mut st = state(230, 20);
        assert!(sync(&mut st));
        let slices = stored(&st);
        assert_eq!(slices.len(), 3);
        assert_eq!(count(&slices), 250);
        assert!(slices.iter().all(|s| s["endpoints"]
            .as_array()
            .is_some_and(|e| e.len() <= MAX_PER_SLICE)));
        assert!(slices
            .iter()
            .all(|s| s["metadata"]["labels"]["tier"] == "db"
                && s["metadata"]["labels"][SERVICE_NAME] == "s"
                && s["ports"] == json!([{"name": "sql", "port": 5432, "protocol": "TCP"}])));
        let not_ready = slices
            .iter()
            .flat_map(|s| s["endpoints"].as_array().cloned().unwrap_or_default())
            .filter(|e| e["conditions"]["ready"] == false)
            .count();
        assert_eq!(not_ready, 20);
        // Nothing changed: nothing written.
        let rv = st.store.resource_version();
        st.store
            .insert(&resources::NAMESPACES, json!({"metadata": {"name": "x"}}));
        assert!(!sync(&mut st));
        assert_eq!(st.store.resource_version(), rv + 1);

        // Fewer endpoints: the first slice keeps its name, the rest go.
        let first = slices[0]["metadata"]["name"].clone();
        set_endpoints(&mut st, 5, 0);
        assert!(sync(&mut st));
        let slices = stored(&st);
        assert_eq!(slices.len(), 1);
        assert_eq!(slices[0]["metadata"]["name"], first);
        assert_eq!(count(&slices), 5);

        // None: one slice saying so; the Service gone: none.
        set_endpoints(&mut st, 0, 0);
        sync(&mut st);
        let slices = stored(&st);
        assert_eq!(slices.len(), 1);
        assert!(slices[0]["endpoints"].is_null() && slices[0]["ports"].is_null());
        st.store.remove("services", "default", "s");
        assert!(sync(&mut st));
        assert!(stored(&st).is_empty());
    }
}
