//! Claims and the pods that use them: the persistent-volume controller's
//! binding ([`bind_claims`]) and kube-scheduler's `VolumeBinding` plugin
//! ([`pod_claims`], [`provision`]).
//!
//! - A claim is bound once its class exists (a provisioner serves it); one
//!   of a missing class, or of none, stays `Pending`. A claim whose class
//!   binds `WaitForFirstConsumer` stays `Pending` (event
//!   `WaitForFirstConsumer`) until a pod that uses it is scheduled: the
//!   scheduler then marks it with the node it chose
//!   (`volume.kubernetes.io/selected-node`) and it is provisioned there.
//! - A pod is scheduled only when each of its claims exists, is not being
//!   deleted and is bound, or waits for its first consumer (kube-scheduler's
//!   `pod has unbound immediate PersistentVolumeClaims`,
//!   `persistentvolumeclaim "x" not found`). A claim provisioned on a node
//!   (its selected node) keeps every later pod that uses it on that node, as
//!   a local volume's node affinity does (`node(s) had volume node affinity
//!   conflict`).

use serde_json::{json, Value};

use super::events::{self, Kind};
use super::put;
use crate::admission::storage;
use crate::state::State;

/// The annotation the scheduler sets on a delayed claim: the node chosen.
pub(crate) const SELECTED_NODE: &str = "volume.kubernetes.io/selected-node";
/// The persistent-volume controller's name as events show it.
const CONTROLLER: &str = "persistentvolume-controller";
const KEY: &str = "persistentvolumeclaims";

fn is_bound(pvc: &Value) -> bool {
    pvc.pointer("/status/phase").and_then(Value::as_str) == Some("Bound")
}

/// The node a claim was provisioned on, if it was made for a consumer.
fn selected_node(pvc: &Value) -> Option<&str> {
    pvc["metadata"]["annotations"][SELECTED_NODE].as_str()
}

/// Binds every claim that can be: its class exists and binds at once, or
/// the scheduler chose a node for it. True when something was written.
pub(super) fn bind_claims(st: &mut State) -> bool {
    if !st.inputs_changed("claims", &[KEY, storage::KEY]) {
        return false;
    }
    let unbound: Vec<Value> = st
        .store
        .list(KEY, None)
        .filter(|p| !is_bound(p))
        .map(|o| (**o).clone())
        .collect();
    let mut changed = false;
    for mut pvc in unbound {
        // A claim made while there was no default class gets the one there
        // is now (the volume controller's retroactive default).
        storage::default_claim(st, &mut pvc);
        let Some(class) = storage::claim_class_object(st, &pvc) else {
            changed |= put(st, KEY, pvc);
            continue;
        };
        if storage::waits_for_consumer(&class) && selected_node(&pvc).is_none() {
            changed |= put(st, KEY, pvc.clone());
            events::record(
                st,
                &pvc,
                Kind::Normal,
                "WaitForFirstConsumer",
                "waiting for first consumer to be created before binding",
                CONTROLLER,
            );
            continue;
        }
        changed |= bind(st, pvc, &class);
    }
    changed
}

/// Binds `pvc` to a volume its class's provisioner made for it.
fn bind(st: &mut State, mut pvc: Value, class: &Value) -> bool {
    let uid = pvc["metadata"]["uid"].as_str().unwrap_or("").to_string();
    let volume = format!("pvc-{uid}");
    if pvc.pointer("/spec/volumeName").is_none() {
        pvc["spec"]["volumeName"] = json!(volume);
    }
    if !pvc["metadata"]["annotations"].is_object() {
        pvc["metadata"]["annotations"] = json!({});
    }
    let provisioner = class["provisioner"].as_str().unwrap_or("");
    let annotations = &mut pvc["metadata"]["annotations"];
    annotations["pv.kubernetes.io/bind-completed"] = json!("yes");
    annotations["pv.kubernetes.io/bound-by-controller"] = json!("yes");
    annotations["volume.beta.kubernetes.io/storage-provisioner"] = json!(provisioner);
    annotations["volume.kubernetes.io/storage-provisioner"] = json!(provisioner);
    let storage = pvc
        .pointer("/spec/resources/requests/storage")
        .cloned()
        .unwrap_or(json!("1Gi"));
    let modes = pvc
        .pointer("/spec/accessModes")
        .cloned()
        .unwrap_or(json!(["ReadWriteOnce"]));
    pvc["status"] =
        json!({"phase": "Bound", "accessModes": modes, "capacity": {"storage": storage}});
    let changed = put(st, KEY, pvc.clone());
    if changed {
        let message = format!("Successfully provisioned volume {volume}");
        events::record(
            st,
            &pvc,
            Kind::Normal,
            "ProvisioningSucceeded",
            &message,
            provisioner,
        );
    }
    changed
}

/// What a pending pod's claims allow.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Claims {
    /// Schedulable: the node its bound claims pin it to, if any (empty
    /// when they were made on two nodes: then none), and the claims to
    /// provision on the node chosen.
    Ready {
        pinned: Option<String>,
        delayed: Vec<String>,
    },
    /// Not schedulable anywhere, with kube-scheduler's reason.
    Refused(String),
}

/// `VolumeBinding`'s pre-filter: the pod's claims, in its volumes' order.
pub(super) fn pod_claims(st: &State, pod: &Value) -> Claims {
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or("");
    let volumes = pod
        .pointer("/spec/volumes")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let (mut pinned, mut delayed, mut immediate) = (None, Vec::new(), false);
    for v in volumes {
        let Some(name) = v
            .pointer("/persistentVolumeClaim/claimName")
            .and_then(Value::as_str)
        else {
            continue;
        };
        let Some(pvc) = st.store.get(KEY, ns, name) else {
            return Claims::Refused(format!("persistentvolumeclaim \"{name}\" not found"));
        };
        if pvc.pointer("/metadata/deletionTimestamp").is_some() {
            return Claims::Refused(format!("persistentvolumeclaim \"{name}\" is being deleted"));
        }
        if is_bound(pvc) {
            if let Some(node) = selected_node(pvc) {
                // Claims made on two nodes: no node has both (an empty
                // name matches none).
                pinned = match pinned {
                    Some(p) if p != node => Some(String::new()),
                    _ => Some(node.to_string()),
                };
            }
            continue;
        }
        // A missing class binds at once as far as the scheduler knows
        // (`IsDelayBindingMode`): the pod waits for the claim.
        match storage::claim_class_object(st, pvc) {
            Some(class) if storage::waits_for_consumer(&class) => delayed.push(name.to_string()),
            _ => immediate = true,
        }
    }
    if immediate {
        return Claims::Refused("pod has unbound immediate PersistentVolumeClaims".into());
    }
    Claims::Ready { pinned, delayed }
}

/// Marks each delayed claim of a pod with the node chosen for it, and binds
/// it there (its provisioner makes the volume at once). True when written.
pub(super) fn provision(st: &mut State, ns: &str, claims: &[String], node: &str) -> bool {
    let mut changed = false;
    for name in claims {
        let Some(mut pvc) = st.store.get(KEY, ns, name).map(|p| (**p).clone()) else {
            continue;
        };
        if is_bound(&pvc) {
            continue;
        }
        if !pvc["metadata"]["annotations"].is_object() {
            pvc["metadata"]["annotations"] = json!({});
        }
        pvc["metadata"]["annotations"][SELECTED_NODE] = json!(node);
        match storage::claim_class_object(st, &pvc) {
            Some(class) => changed |= bind(st, pvc, &class),
            None => changed |= put(st, KEY, pvc),
        }
    }
    changed
}
