//! Defaulting, validation and allocation on writes, per kind, as the API
//! server's registry strategies and admission plugins do: names and labels are
//! validated, pods get defaults, container requests from limits and a QoS
//! class, services get a ClusterIP and NodePorts (30000-32767, unique per
//! cluster), workloads get default replicas/strategies and have their
//! selectors checked against their templates, Jobs get generated selectors;
//! probes and Deployment strategies are defaulted, and workload, budget and
//! Secret fields validated (`workloads`).
//! Pods and pod templates are validated as kube-apiserver validates them
//! (`validate`: names, labels and annotations; `volumes`, `containers`,
//! `hostports`, `resources`: one module per part of `ValidatePodSpec`), on
//! create and on update. Failures are `422 Invalid` with one cause per
//! field, worded as the API server words them (`field`). Before any of it,
//! a field of the wrong JSON type is a `400 BadRequest` as the API server's
//! decoder answers it (`decode`).

use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::pods;
use crate::resources::ResourceDef;
use crate::spec::fill_node_status;
use crate::state::State;
use crate::store::{new_uid, now_rfc3339};

pub(crate) type Causes = Vec<(String, String)>;

mod containers;
pub(crate) mod decode;
mod env;
pub(crate) mod field;
mod hostports;
pub mod limitranger;
mod names;
pub(crate) mod priority;
mod probes;
mod quota;
mod rbac;
mod resources;
mod security;
mod service;
pub(crate) mod storage;
mod validate;
mod volumes;
mod workloads;

use service::service_admit;
use validate::{check_selector, validate_meta, validate_pod_spec, validate_template};

/// Pod defaults applied on create (also to controller-made pods).
pub fn pod_defaults(pod: &mut Value) {
    let spec = &mut pod["spec"];
    for (k, v) in [
        ("restartPolicy", json!("Always")),
        ("dnsPolicy", json!("ClusterFirst")),
        ("schedulerName", json!("default-scheduler")),
        ("terminationGracePeriodSeconds", json!(30)),
        ("serviceAccountName", json!("default")),
        ("enableServiceLinks", json!(true)),
        ("priority", json!(0)),
        ("securityContext", json!({})),
    ] {
        if spec.get(k).is_none() {
            spec[k] = v;
        }
    }
    if spec.get("serviceAccount").is_none() {
        spec["serviceAccount"] = spec["serviceAccountName"].clone();
    }
    let tolerations = spec
        .get("tolerations")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut tol = tolerations.clone();
    for key in [
        "node.kubernetes.io/not-ready",
        "node.kubernetes.io/unreachable",
    ] {
        if !tolerations.iter().any(|t| t["key"] == key) {
            tol.push(json!({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}));
        }
    }
    spec["tolerations"] = json!(tol);
    for field in ["containers", "initContainers"] {
        if let Some(cs) = spec.get_mut(field).and_then(Value::as_array_mut) {
            for c in cs {
                let image = c["image"].as_str().unwrap_or("").to_string();
                if c.get("imagePullPolicy").is_none() {
                    let latest = !image.contains(':') || image.ends_with(":latest");
                    c["imagePullPolicy"] = json!(if latest { "Always" } else { "IfNotPresent" });
                }
                if c.get("terminationMessagePath").is_none() {
                    c["terminationMessagePath"] = json!("/dev/termination-log");
                    c["terminationMessagePolicy"] = json!("File");
                }
                if c.get("resources").is_none() {
                    c["resources"] = json!({});
                }
            }
        }
    }
    hostports::default_host_network_ports(pod);
    pods::default_requests_from_limits(pod);
    let qos = pods::qos_class(pod);
    if !pod["status"].is_object() {
        pod["status"] = json!({});
    }
    pod["status"]["qosClass"] = json!(qos);
    if pod["status"].get("phase").is_none() {
        pod["status"]["phase"] = json!("Pending");
    }
}

/// Namespace defaults: phase Active, the `kubernetes` finalizer, the name label.
pub fn namespace_defaults(mut ns: Value) -> Value {
    let name = ns
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if !ns["metadata"]["labels"].is_object() {
        ns["metadata"]["labels"] = json!({});
    }
    ns["metadata"]["labels"]["kubernetes.io/metadata.name"] = json!(name);
    ns["spec"] = json!({"finalizers": ["kubernetes"]});
    ns["status"] = json!({"phase": "Active"});
    ns
}

pub(crate) fn default_fields(target: &mut Value, defaults: &[(&str, Value)]) {
    for (k, v) in defaults {
        if target.get(*k).is_none() {
            target[*k] = v.clone();
        }
    }
}

fn invalid(def: &ResourceDef, obj: &Value, causes: Causes) -> ApiResult<()> {
    if causes.is_empty() {
        return Ok(());
    }
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    Err(ApiError::invalid(def.kind, def.group, name, &causes))
}

/// A name drawn for an object that asks for one (`generateName` and no
/// name): the prefix and five random characters, drawn again while taken
/// (a client retries after the AlreadyExists a taken one gets).
pub(crate) fn generate_name(st: &State, def: &ResourceDef, obj: &mut Value) {
    let meta = &obj["metadata"];
    if !meta["name"].as_str().unwrap_or("").is_empty() {
        return;
    }
    let Some(prefix) = meta["generateName"].as_str().filter(|g| !g.is_empty()) else {
        return;
    };
    let ns = meta["namespace"].as_str().unwrap_or("").to_string();
    let prefix = prefix.to_string();
    let mut name = format!("{prefix}{}", crate::controllers::random_suffix(5));
    while st.store.get(&def.key(), &ns, &name).is_some() {
        name = format!("{prefix}{}", crate::controllers::random_suffix(5));
    }
    obj["metadata"]["name"] = json!(name);
}

/// The name a refusal of the mutating admission plugins shows: the name is
/// not generated yet then, so a `generateName` stands for it (kube's
/// `extractResourceName`, which says `Unknown` when there is neither).
pub(crate) fn shown_name(obj: &Value) -> &str {
    let meta = &obj["metadata"];
    meta["name"]
        .as_str()
        .filter(|n| !n.is_empty())
        .or_else(|| meta["generateName"].as_str().filter(|g| !g.is_empty()))
        .unwrap_or("Unknown")
}

/// Defaults and validates an object about to be created; may allocate.
/// In kube-apiserver's order: defaults, the mutating admission plugins,
/// then (`BeforeCreate`) the generated name and validation, then the
/// validating plugins.
pub fn admit_create(st: &mut State, def: &ResourceDef, mut obj: Value) -> ApiResult<Value> {
    decode::check(def, &obj)?;
    spec_defaults(def, &mut obj);
    if def.plural == "pods" {
        // Defaulting that validation sees (SetDefaults_Pod runs first,
        // then the LimitRanger plugin's defaults and the Priority plugin).
        hostports::default_host_network_ports(&mut obj);
        limitranger::default_pod(st, &mut obj);
        priority::pod(st, &mut obj)?;
    }
    generate_name(st, def, &mut obj);
    let mut causes = Causes::new();
    validate_meta(def, &obj, &mut causes);
    invalid(def, &obj, std::mem::take(&mut causes))?;
    match def.plural {
        "namespaces" => obj = namespace_defaults(obj),
        "nodes" => {
            let idx = st.alloc_node_index(obj["metadata"]["name"].as_str().unwrap_or(""));
            if obj.pointer("/spec/podCIDR").is_none() {
                obj["spec"]["podCIDR"] = json!(format!("10.244.{idx}.0/24"));
                obj["spec"]["podCIDRs"] = json!([format!("10.244.{idx}.0/24")]);
            }
            let gv = st.spec.git_version.clone();
            fill_node_status(&mut obj, &gv, &now_rfc3339(), true);
            if obj.pointer("/status/addresses").is_none() {
                obj["status"]["addresses"] =
                    json!([{"type": "InternalIP", "address": format!("172.18.0.{}", idx + 2)}]);
            }
        }
        "pods" => {
            validate_pod_spec(&obj["spec"], "spec", true, &mut causes);
            invalid(def, &obj, std::mem::take(&mut causes))?;
            obj["status"] = json!({});
            pod_defaults(&mut obj);
            limitranger::check_pod(st, &obj)?;
        }
        "services" => {
            service_admit(st, &mut obj, None, &mut causes);
        }
        "deployments" | "replicasets" | "statefulsets" | "daemonsets" => {
            workload_checks(def, &obj, &mut causes);
            let spec = &mut obj["spec"];
            match def.plural {
                "deployments" => default_fields(
                    spec,
                    &[
                        ("replicas", json!(1)),
                        ("revisionHistoryLimit", json!(10)),
                        ("progressDeadlineSeconds", json!(600)),
                    ],
                ),
                "replicasets" => default_fields(spec, &[("replicas", json!(1))]),
                "statefulsets" => default_fields(
                    spec,
                    &[
                        ("replicas", json!(1)),
                        ("podManagementPolicy", json!("OrderedReady")),
                        (
                            "updateStrategy",
                            json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}),
                        ),
                        ("revisionHistoryLimit", json!(10)),
                    ],
                ),
                _ => default_fields(
                    spec,
                    &[
                        (
                            "updateStrategy",
                            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}),
                        ),
                        ("revisionHistoryLimit", json!(10)),
                    ],
                ),
            }
            obj["status"] = json!({});
        }
        "jobs" => {
            job_admit(&mut obj, &mut causes);
            obj["status"] = json!({});
        }
        "cronjobs" => {
            if obj
                .pointer("/spec/schedule")
                .and_then(Value::as_str)
                .unwrap_or("")
                .is_empty()
            {
                causes.push(("spec.schedule".into(), "Required value".into()));
            }
            default_fields(
                &mut obj["spec"],
                &[
                    ("concurrencyPolicy", json!("Allow")),
                    ("suspend", json!(false)),
                    ("successfulJobsHistoryLimit", json!(3)),
                    ("failedJobsHistoryLimit", json!(1)),
                ],
            );
            obj["status"] = json!({});
        }
        "poddisruptionbudgets" => {
            let s = &obj["spec"];
            if s.get("minAvailable").is_some() && s.get("maxUnavailable").is_some() {
                causes.push((
                    "spec".into(),
                    "Invalid value: minAvailable and maxUnavailable cannot be both set".into(),
                ));
            }
            workloads::budget(&obj, &mut causes);
            obj["status"] = json!({"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0});
        }
        "persistentvolumeclaims" => {
            storage::default_claim(st, &mut obj);
            obj["status"] = json!({"phase": "Pending"});
        }
        "storageclasses" => storage::create(&mut obj, &mut causes),
        "resourcequotas" => {
            quota::validate(&obj, &mut causes);
            obj["status"] = json!({});
        }
        "limitranges" => {
            limitranger::defaults(&mut obj);
            limitranger::validate(&obj, &mut causes);
        }
        "roles" | "clusterroles" => rbac::role(&obj, def.namespaced, &mut causes),
        "rolebindings" | "clusterrolebindings" => rbac::binding(&obj, def.namespaced, &mut causes),
        "secrets" => {
            secret_defaults(&mut obj);
            workloads::secret(&obj, &mut causes);
        }
        "priorityclasses" => priority::create(&mut obj, &mut causes),
        _ => {}
    }
    invalid(def, &obj, causes)?;
    if def.plural == "priorityclasses" {
        priority::one_default(st, &obj)?;
    }
    Ok(obj)
}

/// Defaulting the API server does before validating: probes of a pod or a
/// pod template, a Deployment's strategy.
fn spec_defaults(def: &ResourceDef, obj: &mut Value) {
    if def.plural == "pods" {
        probes::defaults(&mut obj["spec"]);
    } else if obj
        .pointer("/spec/template/spec")
        .is_some_and(Value::is_object)
    {
        probes::defaults(&mut obj["spec"]["template"]["spec"]);
    }
    if def.plural == "deployments" {
        workloads::deployment_defaults(obj);
    }
}

/// A controller's selector, replicas, template and (Deployments) strategy
/// and timings, in `ValidateDeploymentSpec`'s order.
fn workload_checks(def: &ResourceDef, obj: &Value, causes: &mut Causes) {
    if def.plural != "daemonsets" {
        workloads::replicas(obj, causes);
    }
    check_selector(obj, causes);
    validate_template(obj, true, causes);
    if def.plural == "deployments" {
        workloads::deployment(obj, causes);
    }
}

fn job_admit(obj: &mut Value, causes: &mut Causes) {
    let rp = obj
        .pointer("/spec/template/spec/restartPolicy")
        .and_then(Value::as_str)
        .unwrap_or("Always")
        .to_string();
    if rp != "Never" && rp != "OnFailure" {
        causes.push((
            "spec.template.spec.restartPolicy".into(),
            format!("Unsupported value: \"{rp}\": supported values: \"OnFailure\", \"Never\""),
        ));
    }
    validate_template(obj, false, causes);
    let spec = &mut obj["spec"];
    let completions_default = if spec.get("parallelism").is_none() {
        json!(1)
    } else {
        Value::Null
    };
    default_fields(
        spec,
        &[
            ("parallelism", json!(1)),
            ("backoffLimit", json!(6)),
            ("completionMode", json!("NonIndexed")),
            ("suspend", json!(false)),
        ],
    );
    if spec.get("completions").is_none() && !completions_default.is_null() {
        spec["completions"] = completions_default;
    }
    if obj.pointer("/spec/manualSelector") != Some(&json!(true)) {
        let uid = match obj.pointer("/metadata/uid").and_then(Value::as_str) {
            Some(u) if !u.is_empty() => u.to_string(),
            _ => new_uid(),
        };
        obj["metadata"]["uid"] = json!(uid);
        let name = obj["metadata"]["name"].clone();
        if !obj["spec"]["template"]["metadata"].is_object() {
            obj["spec"]["template"]["metadata"] = json!({});
        }
        let tm = &mut obj["spec"]["template"]["metadata"];
        if !tm["labels"].is_object() {
            tm["labels"] = json!({});
        }
        for (k, v) in [
            ("batch.kubernetes.io/controller-uid", json!(uid)),
            ("batch.kubernetes.io/job-name", name.clone()),
            ("controller-uid", json!(uid)),
            ("job-name", name),
        ] {
            tm["labels"][k] = v;
        }
        obj["spec"]["selector"] =
            json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}});
    }
}

fn secret_defaults(obj: &mut Value) {
    if obj.get("type").is_none() {
        obj["type"] = json!("Opaque");
    }
    if let Some(sd) = obj.get("stringData").and_then(Value::as_object).cloned() {
        if !obj["data"].is_object() {
            obj["data"] = json!({});
        }
        for (k, v) in sd {
            obj["data"][k] = json!(base64(v.as_str().unwrap_or("").as_bytes()));
        }
        if let Some(o) = obj.as_object_mut() {
            o.remove("stringData");
        }
    }
}

/// Standard base64 with padding (a Secret's `data`, a kubeconfig's CA).
pub fn base64(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(data)
}

/// Validates an update of `old` to `new` (main resource); may allocate.
pub fn admit_update(
    st: &mut State,
    def: &ResourceDef,
    old: &Value,
    mut new: Value,
) -> ApiResult<Value> {
    decode::check(def, &new)?;
    let mut causes = Causes::new();
    validate_meta(def, &new, &mut causes);
    spec_defaults(def, &mut new);
    match def.plural {
        "pods" => {
            priority::pod_update(old, &mut new);
            let strip = |v: &Value| {
                let mut s = v["spec"].clone();
                for f in ["containers", "initContainers"] {
                    if let Some(cs) = s.get_mut(f).and_then(Value::as_array_mut) {
                        for c in cs {
                            c.as_object_mut().map(|m| m.remove("image"));
                        }
                    }
                }
                if let Some(m) = s.as_object_mut() {
                    for f in [
                        "activeDeadlineSeconds",
                        "tolerations",
                        "terminationGracePeriodSeconds",
                    ] {
                        m.remove(f);
                    }
                }
                s
            };
            if strip(old) != strip(&new) {
                causes.push(("spec".into(), "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)".into()));
            } else {
                validate_pod_spec(&new["spec"], "spec", true, &mut causes);
            }
        }
        "services" => service_admit(st, &mut new, Some(old), &mut causes),
        "deployments" | "replicasets" | "statefulsets" | "daemonsets" | "jobs" => {
            if old.pointer("/spec/selector") != new.pointer("/spec/selector")
                && new.pointer("/spec/selector").is_some()
            {
                causes.push((
                    "spec.selector".into(),
                    format!(
                        "Invalid value: {}: field is immutable",
                        new["spec"]["selector"]
                    ),
                ));
            }
            if new.pointer("/spec/selector").is_none() {
                new["spec"]["selector"] = old["spec"]["selector"].clone();
            }
            if def.plural == "jobs" {
                validate_template(&new, false, &mut causes);
            } else {
                workload_checks(def, &new, &mut causes);
            }
        }
        "poddisruptionbudgets" => workloads::budget(&new, &mut causes),
        "resourcequotas" => quota::validate(&new, &mut causes),
        "limitranges" => {
            limitranger::defaults(&mut new);
            limitranger::validate(&new, &mut causes);
        }
        "roles" | "clusterroles" => rbac::role(&new, def.namespaced, &mut causes),
        "rolebindings" | "clusterrolebindings" => {
            rbac::binding(&new, def.namespaced, &mut causes);
            rbac::same_role_ref(old, &new, &mut causes);
        }
        "namespaces" => {
            new["spec"] = old["spec"].clone();
            let name = new["metadata"]["name"].clone();
            if !new["metadata"]["labels"].is_object() {
                new["metadata"]["labels"] = json!({});
            }
            new["metadata"]["labels"]["kubernetes.io/metadata.name"] = name;
        }
        "secrets" => {
            secret_defaults(&mut new);
            workloads::secret(&new, &mut causes);
        }
        "priorityclasses" => priority::update(old, &mut new, &mut causes),
        "storageclasses" => storage::update(old, &mut new, &mut causes),
        _ => {}
    }
    invalid(def, &new, causes)?;
    if def.plural == "priorityclasses" {
        priority::one_default(st, &new)?;
    }
    Ok(new)
}

#[cfg(test)]
mod tests {
    use super::names::{dns_label, dns_subdomain, label_value, qualified_name};
    use super::*;

    #[test]
    fn names_and_labels() {
        assert!(dns_subdomain("a.b-c").is_empty());
        assert!(!dns_subdomain("A").is_empty());
        assert!(!dns_label("a.b").is_empty());
        assert!(qualified_name("node-role.kubernetes.io/control-plane").is_empty());
        assert!(qualified_name("app").is_empty());
        assert!(!qualified_name("bad key").is_empty());
        assert!(label_value("").is_empty());
        assert!(!label_value("-x").is_empty());
        assert_eq!(base64(b"hello"), "aGVsbG8=");
        assert_eq!(base64(b"hi!"), "aGkh");
    }
}
