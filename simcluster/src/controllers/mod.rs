//! Simulated controllers, run to a fixed point after every write
//! ([`reconcile`]) and on a timer ([`tick`]) for time-based behaviour.
//!
//! * [`workloads`]: Deployments -> ReplicaSets -> Pods, StatefulSets (ordinal
//!   pods and claims), DaemonSets (one pod per eligible node), Jobs; all pods
//!   carry controller ownerReferences.
//! * [`scheduler`]: binds pending pods to nodes; [`preemption`]: a pod that
//!   fits nowhere takes the place of pods of lower priority.
//! * [`kubelet`]: starts bound pods (Running, IPs, Ready), completes Job pods,
//!   removes pods of deleted nodes.
//! * [`disruption`]: PodDisruptionBudget status and the Eviction API.
//! * [`endpoints`]: a selector Service's Endpoints (its pods' addresses and ports).
//! * [`quota`]: ResourceQuota status and the quota admission check.
//! * [`events`]: what they did, recorded as Events.
//! * [`volumes`]: claims bound by their class's provisioner, at once or for
//!   their first pod, and the scheduler's checks of a pod's claims.
//! * here: namespace lifecycle (default ServiceAccount, Terminating ->
//!   content removed -> gone).

pub mod disruption;
pub mod endpoints;
pub mod endpointslices;
pub mod events;
pub mod kubelet;
pub mod preemption;
pub mod quota;
pub mod scheduler;
pub mod volumes;
pub mod workloads;

use std::time::Instant;

use serde_json::{json, Value};

use crate::resources::{self, RESOURCES};
use crate::state::State;

const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// A random name suffix from Kubernetes' alphabet (no vowels, no ambiguous digits).
pub fn random_suffix(n: usize) -> String {
    (0..n)
        .map(|_| ALPHABET[rand::random::<usize>() % ALPHABET.len()] as char)
        .collect()
}

/// Kubernetes' `SafeEncodeString` of a number: each decimal digit mapped into the alphabet.
pub fn safe_encode(n: u32) -> String {
    n.to_string()
        .bytes()
        .map(|b| ALPHABET[b as usize % ALPHABET.len()] as char)
        .collect()
}

/// FNV-1a (32 bit) of a JSON value's text: template hashes.
pub fn hash_value(v: &Value) -> String {
    let mut h: u32 = 0x811c9dc5;
    for b in v.to_string().bytes() {
        h ^= b as u32;
        h = h.wrapping_mul(0x01000193);
    }
    safe_encode(h)
}

/// Replaces an object of the stored resource `key` if it changed; true when
/// a write happened (never for a key that names no stored resource).
pub(crate) fn put(st: &mut State, key: &str, obj: Value) -> bool {
    let Some(def) = resources::by_key(key) else {
        return false;
    };
    let ns = obj["metadata"]["namespace"].as_str().unwrap_or("");
    let name = obj["metadata"]["name"].as_str().unwrap_or("");
    let changed = st.store.get(key, ns, name).is_none_or(|old| **old != obj);
    if changed {
        st.store.replace(def, obj);
    }
    changed
}

/// Sets `status` of an object if it differs; true when written.
pub(crate) fn put_status(st: &mut State, key: &str, obj: &Value, status: Value) -> bool {
    if obj.get("status") == Some(&status) {
        return false;
    }
    let mut n = obj.clone();
    n["status"] = status;
    put(st, key, n)
}

/// A condition, keeping the transition time of an equal existing one.
pub(crate) fn condition(
    existing: Option<&Value>,
    ty: &str,
    status: &str,
    reason: &str,
    message: &str,
) -> Value {
    let now = crate::store::now_rfc3339();
    let old = existing.and_then(|c| c.as_array()).and_then(|cs| {
        cs.iter()
            .find(|c| c["type"] == ty && c["status"] == status && c["reason"] == reason)
    });
    let since = old
        .and_then(|c| c.get("lastTransitionTime"))
        .cloned()
        .unwrap_or(json!(now));
    let mut c = json!({"type": ty, "status": status, "lastTransitionTime": since});
    if !reason.is_empty() {
        c["reason"] = json!(reason);
    }
    if !message.is_empty() {
        c["message"] = json!(message);
    }
    c
}

/// An ownerReference making `owner` the controller.
pub(crate) fn controller_ref(owner: &Value) -> Value {
    json!({
        "apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"], "controller": true, "blockOwnerDeletion": true
    })
}

/// Runs every controller until nothing changes (bounded).
pub fn reconcile(st: &mut State) {
    st.pods_to_create = workloads::BURST;
    st.events_to_record = events::BURST;
    for _ in 0..25 {
        let mut changed = false;
        changed |= namespaces(st);
        changed |= volumes::bind_claims(st);
        changed |= workloads::reconcile(st);
        changed |= scheduler::schedule(st);
        changed |= kubelet::run(st);
        changed |= disruption::update_status(st);
        changed |= endpoints::sync(st);
        changed |= endpointslices::sync(st);
        changed |= quota::sync(st);
        changed |= crate::auth::bootstrap::aggregate(st);
        changed |= crate::auth::secrets::sync(st);
        if !changed {
            break;
        }
    }
}

/// Time-based work (namespace finalization, Job pods finishing), then [`reconcile`].
pub fn tick(st: &mut State) {
    kubelet::finish_job_pods(st);
    reconcile(st);
}

fn namespaces(st: &mut State) -> bool {
    if !st.inputs_changed("namespaces", &["namespaces", "serviceaccounts"])
        && st.ns_deleting.is_empty()
    {
        return false;
    }
    let mut changed = false;
    let list: Vec<Value> = st
        .store
        .list("namespaces", None)
        .map(|o| (**o).clone())
        .collect();
    for ns in list {
        let name = ns["metadata"]["name"].as_str().unwrap_or("").to_string();
        if ns.pointer("/metadata/deletionTimestamp").is_none() {
            st.ns_deleting.remove(&name);
            if st.store.get("serviceaccounts", &name, "default").is_none() {
                let sa = json!({"metadata": {"name": "default", "namespace": name}});
                st.store.insert(&resources::SERVICE_ACCOUNTS, sa);
                changed = true;
            }
            continue;
        }
        let since = *st
            .ns_deleting
            .entry(name.clone())
            .or_insert_with(Instant::now);
        if since.elapsed() < st.spec.namespace_finalize_delay {
            continue;
        }
        for r in RESOURCES.iter().filter(|r| r.stored && r.namespaced) {
            let names: Vec<String> = st
                .store
                .list(&r.key(), Some(&name))
                .map(|o| o["metadata"]["name"].as_str().unwrap_or("").to_string())
                .collect();
            for n in names {
                st.store.remove(&r.key(), &name, &n);
            }
        }
        st.store.remove("namespaces", "", &name);
        st.ns_deleting.remove(&name);
        changed = true;
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(random_suffix(5).len(), 5);
        assert_eq!(safe_encode(1234), "5678");
        assert_eq!(safe_encode(7890), "cdf4");
        let a = hash_value(&json!({"a": 1}));
        assert_eq!(a, hash_value(&json!({"a": 1})));
        assert_ne!(a, hash_value(&json!({"a": 2})));
    }
}
