//! StorageClasses (`storage.k8s.io/v1`) and kube-apiserver's
//! `DefaultStorageClass` admission plugin:
//!
//! - a cluster starts with `standard`, the default class (as kind's, but
//!   binding at once; a class of its own may wait for a claim's first
//!   consumer, [`crate::controllers::volumes`]);
//! - a class is validated as `ValidateStorageClass` does (a provisioner,
//!   the reclaim policies `Delete`/`Retain`, the binding modes
//!   `Immediate`/`WaitForFirstConsumer`) and keeps its provisioner,
//!   parameters, reclaim policy and binding mode;
//! - a claim that names no class (the field absent, not empty) gets the
//!   default class, the newest when several are marked; the controllers bind
//!   a claim only when its class exists, so a claim of a missing class stays
//!   `Pending`, as no provisioner would serve it
//!   ([`crate::controllers::volumes`]).

use serde_json::{json, Value};

use super::field::not_supported;
use super::Causes;
use crate::state::State;

/// The store's key of the kind.
pub(crate) const KEY: &str = "storageclasses.storage.k8s.io";

/// The annotation that marks the default class (and its beta form).
const DEFAULT: [&str; 2] = [
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
];

const RECLAIM: [&str; 2] = ["Delete", "Retain"];
const BINDING: [&str; 2] = ["Immediate", "WaitForFirstConsumer"];

/// The class a new cluster holds.
pub(crate) fn standard() -> Value {
    json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": "standard", "annotations": {DEFAULT[0]: "true"}},
        "provisioner": "rancher.io/local-path", "reclaimPolicy": "Delete",
        "volumeBindingMode": "Immediate"})
}

/// Whether `sc` is marked as the default class.
pub(crate) fn is_default(sc: &Value) -> bool {
    DEFAULT
        .iter()
        .any(|a| sc["metadata"]["annotations"][*a].as_str() == Some("true"))
}

fn defaults(sc: &mut Value) {
    if sc.get("reclaimPolicy").is_none_or(Value::is_null) {
        sc["reclaimPolicy"] = json!("Delete");
    }
    if sc.get("volumeBindingMode").is_none_or(Value::is_null) {
        sc["volumeBindingMode"] = json!("Immediate");
    }
}

/// A new class: its defaults, then `ValidateStorageClass`.
pub(crate) fn create(sc: &mut Value, causes: &mut Causes) {
    defaults(sc);
    validate(sc, causes);
}

/// `ValidateStorageClass` (an empty reclaim policy passes, as there).
fn validate(sc: &Value, causes: &mut Causes) {
    if sc["provisioner"].as_str().unwrap_or("").is_empty() {
        causes.push(("provisioner".into(), "Required value".into()));
    }
    let reclaim = sc["reclaimPolicy"].as_str().unwrap_or("");
    if !reclaim.is_empty() && !RECLAIM.contains(&reclaim) {
        not_supported(causes, "reclaimPolicy", &json!(reclaim), &RECLAIM);
    }
    let mode = sc["volumeBindingMode"].as_str().unwrap_or("");
    if !BINDING.contains(&mode) {
        not_supported(causes, "volumeBindingMode", &json!(mode), &BINDING);
    }
}

/// An update: `ValidateStorageClass`, then `ValidateStorageClassUpdate`.
pub(crate) fn update(old: &Value, new: &mut Value, causes: &mut Causes) {
    defaults(new);
    validate(new, causes);
    let params = |v: &Value| v.get("parameters").filter(|p| !p.is_null()).cloned();
    if params(old) != params(new) {
        causes.push((
            "parameters".into(),
            "Forbidden: updates to parameters are forbidden.".into(),
        ));
    }
    for (field, what) in [
        ("provisioner", "provisioner"),
        ("reclaimPolicy", "reclaimPolicy"),
    ] {
        if old[field] != new[field] {
            causes.push((
                field.into(),
                format!("Forbidden: updates to {what} are forbidden."),
            ));
        }
    }
    if old["volumeBindingMode"] != new["volumeBindingMode"] {
        causes.push((
            "volumeBindingMode".into(),
            format!(
                "Invalid value: {}: field is immutable",
                super::field::show(&new["volumeBindingMode"])
            ),
        ));
    }
}

/// The beta annotation that names a claim's class (before the field).
const CLAIM_ANNOTATION: &str = "volume.beta.kubernetes.io/storage-class";

/// The class a claim names: the beta annotation, else the field; `None`
/// when it names none (`PersistentVolumeClaimHasClass`).
fn claim_class(pvc: &Value) -> Option<&str> {
    pvc["metadata"]["annotations"][CLAIM_ANNOTATION]
        .as_str()
        .or_else(|| pvc["spec"]["storageClassName"].as_str())
}

/// The `DefaultStorageClass` plugin on a new claim: one that names no
/// class gets the default (the newest marked one, then by name). The
/// volume controller does the same later for a claim created while there
/// was no default (`bind_claims`).
pub(crate) fn default_claim(st: &State, pvc: &mut Value) {
    if claim_class(pvc).is_some() {
        return;
    }
    let chosen = st
        .store
        .list(KEY, None)
        .filter(|c| is_default(c))
        // The newest, then the first by name (`GetDefaultClass`).
        .max_by(|a, b| {
            let stamp = |c: &Value| {
                c["metadata"]["creationTimestamp"]
                    .as_str()
                    .unwrap_or("")
                    .to_string()
            };
            let name = |c: &Value| c["metadata"]["name"].as_str().unwrap_or("").to_string();
            stamp(a).cmp(&stamp(b)).then_with(|| name(b).cmp(&name(a)))
        })
        .and_then(|c| c["metadata"]["name"].as_str().map(str::to_string));
    if let Some(name) = chosen {
        if !pvc["spec"].is_object() {
            pvc["spec"] = json!({});
        }
        pvc["spec"]["storageClassName"] = json!(name);
    }
}

/// The class a claim names, when it exists (what a provisioner needs to
/// bind it).
pub(crate) fn claim_class_object(st: &State, pvc: &Value) -> Option<Value> {
    claim_class(pvc)
        .filter(|n| !n.is_empty())
        .and_then(|n| st.store.get(KEY, "", n))
        .map(|c| (**c).clone())
}

/// Whether a class provisions for a claim only once a pod uses it.
pub(crate) fn waits_for_consumer(class: &Value) -> bool {
    class["volumeBindingMode"].as_str() == Some("WaitForFirstConsumer")
}
