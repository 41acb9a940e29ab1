//! Defaulting, validation and allocation on writes, per kind, as the API
//! server's registry strategies and admission plugins do: names and labels are
//! validated, pods get defaults, container requests from limits and a QoS
//! class, services get a ClusterIP and NodePorts (30000-32767, unique per
//! cluster), workloads get default replicas/strategies and have their
//! selectors checked against their templates, Jobs get generated selectors.
//! Failures are `422 Invalid` with one cause per field.

use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::pods;
use crate::resources::ResourceDef;
use crate::selectors::LabelSelector;
use crate::spec::fill_node_status;
use crate::state::State;
use crate::store::{new_uid, now_rfc3339};

type Causes = Vec<(String, String)>;

const NODE_PORT_MIN: u16 = 30000;
const NODE_PORT_MAX: u16 = 32767;

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns_label)
}

fn is_label_value(s: &str) -> bool {
    s.is_empty()
        || (s.len() <= 63
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            && s.as_bytes()[0].is_ascii_alphanumeric()
            && s.as_bytes()[s.len() - 1].is_ascii_alphanumeric())
}

fn is_label_key(s: &str) -> bool {
    let (prefix, name) = match s.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, s),
    };
    prefix.is_none_or(is_dns_subdomain) && !name.is_empty() && is_label_value(name)
}

fn validate_meta(def: &ResourceDef, obj: &Value, causes: &mut Causes) {
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let label_names = matches!(def.plural, "namespaces" | "services");
    if name.is_empty() {
        causes.push((
            "metadata.name".into(),
            "Required value: name or generateName is required".into(),
        ));
    } else if (label_names && !is_dns_label(name)) || (!label_names && !is_dns_subdomain(name)) {
        causes.push((
            "metadata.name".into(),
            format!("Invalid value: \"{name}\": a lowercase RFC 1123 {} must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character", if label_names { "label" } else { "subdomain" }),
        ));
    }
    if let Some(labels) = obj.pointer("/metadata/labels").and_then(Value::as_object) {
        for (k, v) in labels {
            let v = v.as_str().unwrap_or("");
            if !is_label_key(k) {
                causes.push(("metadata.labels".into(), format!("Invalid value: \"{k}\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character")));
            }
            if !is_label_value(v) {
                causes.push(("metadata.labels".into(), format!("Invalid value: \"{v}\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")));
            }
        }
    }
}

fn validate_pod_spec(spec: &Value, prefix: &str, causes: &mut Causes) {
    let containers = spec.get("containers").and_then(Value::as_array);
    match containers {
        None => causes.push((format!("{prefix}.containers"), "Required value".into())),
        Some(cs) if cs.is_empty() => {
            causes.push((format!("{prefix}.containers"), "Required value".into()))
        }
        Some(cs) => {
            for (i, c) in cs.iter().enumerate() {
                if c.get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .is_empty()
                {
                    causes.push((
                        format!("{prefix}.containers[{i}].name"),
                        "Required value".into(),
                    ));
                }
                if c.get("image")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .is_empty()
                {
                    causes.push((
                        format!("{prefix}.containers[{i}].image"),
                        "Required value".into(),
                    ));
                }
                for (kind, res) in [
                    ("requests", c.pointer("/resources/requests")),
                    ("limits", c.pointer("/resources/limits")),
                ] {
                    for (k, q) in res.and_then(Value::as_object).into_iter().flatten() {
                        let s = q
                            .as_str()
                            .map(String::from)
                            .unwrap_or_else(|| q.to_string());
                        if crate::quantity::Quantity::parse(&s).is_err() {
                            causes.push((format!("{prefix}.containers[{i}].resources.{kind}[{k}]"), format!("Invalid value: \"{s}\": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")));
                        }
                    }
                }
            }
        }
    }
}

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

fn check_selector(obj: &Value, causes: &mut Causes) {
    let Some(sel) = obj.pointer("/spec/selector").filter(|s| !s.is_null()) else {
        causes.push(("spec.selector".into(), "Required value".into()));
        return;
    };
    let parsed = match LabelSelector::from_object(Some(sel)) {
        Ok(p) => p,
        Err(e) => {
            causes.push(("spec.selector".into(), format!("Invalid value: {e}")));
            return;
        }
    };
    if parsed.is_empty() {
        causes.push((
            "spec.selector".into(),
            "Invalid value: empty selector is invalid for deployment".into(),
        ));
    }
    let empty = serde_json::Map::new();
    let labels = obj
        .pointer("/spec/template/metadata/labels")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    if !parsed.matches(labels) {
        causes.push((
            "spec.template.metadata.labels".into(),
            format!(
                "Invalid value: {}: `selector` does not match template `labels`",
                Value::Object(labels.clone())
            ),
        ));
    }
}

fn default_fields(target: &mut Value, defaults: &[(&str, Value)]) {
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

fn used_node_ports(st: &State, except: Option<(&str, &str)>) -> Vec<u16> {
    let mut used = Vec::new();
    for svc in st.store.list("services", None) {
        let key = (
            svc["metadata"]["namespace"].as_str().unwrap_or(""),
            svc["metadata"]["name"].as_str().unwrap_or(""),
        );
        if Some(key) == except {
            continue;
        }
        for p in svc
            .pointer("/spec/ports")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(np) = p.get("nodePort").and_then(Value::as_u64) {
                used.push(np as u16);
            }
        }
    }
    used
}

/// Defaults a service and allocates its ClusterIP and NodePorts.
fn service_admit(st: &mut State, svc: &mut Value, old: Option<&Value>, causes: &mut Causes) {
    let spec = &mut svc["spec"];
    default_fields(
        spec,
        &[
            ("type", json!("ClusterIP")),
            ("sessionAffinity", json!("None")),
        ],
    );
    let ty = spec["type"].as_str().unwrap_or("ClusterIP").to_string();
    if !matches!(
        ty.as_str(),
        "ClusterIP" | "NodePort" | "LoadBalancer" | "ExternalName"
    ) {
        causes.push(("spec.type".into(), format!("Unsupported value: \"{ty}\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"")));
        return;
    }
    if ty == "ExternalName" {
        return;
    }
    let old_ip = old
        .and_then(|o| o.pointer("/spec/clusterIP"))
        .and_then(Value::as_str)
        .map(String::from);
    match (
        spec.get("clusterIP")
            .and_then(Value::as_str)
            .map(String::from),
        old_ip,
    ) {
        (Some(new), Some(old)) if !new.is_empty() && new != old => {
            causes.push((
                "spec.clusterIP".into(),
                format!("Invalid value: \"{new}\": field is immutable"),
            ));
        }
        (None, Some(old)) | (Some(_), Some(old)) => spec["clusterIP"] = json!(old),
        (Some(ip), None) if !ip.is_empty() => {}
        _ => {
            let n = st.cluster_ip_next;
            st.cluster_ip_next += 1;
            spec["clusterIP"] = json!(format!("10.96.{}.{}", n / 250, n % 250 + 2));
        }
    }
    if spec["clusterIP"] != "None" {
        spec["clusterIPs"] = json!([spec["clusterIP"].clone()]);
    }
    default_fields(
        spec,
        &[
            ("ipFamilies", json!(["IPv4"])),
            ("ipFamilyPolicy", json!("SingleStack")),
            ("internalTrafficPolicy", json!("Cluster")),
        ],
    );
    let wants_node_ports = ty == "NodePort" || ty == "LoadBalancer";
    if wants_node_ports {
        default_fields(spec, &[("externalTrafficPolicy", json!("Cluster"))]);
    }
    if ty == "LoadBalancer" {
        default_fields(spec, &[("allocateLoadBalancerNodePorts", json!(true))]);
        if svc.pointer("/status/loadBalancer").is_none() {
            svc["status"] = json!({"loadBalancer": {}});
        }
    }
    let spec = &mut svc["spec"];
    let ports = spec.get_mut("ports").and_then(Value::as_array_mut);
    let Some(ports) = ports.filter(|p| !p.is_empty()) else {
        if spec["clusterIP"] != "None" {
            causes.push(("spec.ports".into(), "Required value".into()));
        }
        return;
    };
    let ns = svc_key(old);
    let mut used = used_node_ports(st, ns.as_ref().map(|(a, b)| (a.as_str(), b.as_str())));
    let old_ports: Vec<Value> = old
        .and_then(|o| o.pointer("/spec/ports"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for (i, p) in ports.iter_mut().enumerate() {
        let port = p.get("port").and_then(Value::as_i64).unwrap_or(0);
        if !(1..=65535).contains(&port) {
            causes.push((
                format!("spec.ports[{i}].port"),
                format!("Invalid value: {port}: must be between 1 and 65535, inclusive"),
            ));
        }
        default_fields(
            p,
            &[("protocol", json!("TCP")), ("targetPort", json!(port))],
        );
        if !wants_node_ports {
            if let Some(m) = p.as_object_mut() {
                m.remove("nodePort");
            }
            continue;
        }
        let requested = p
            .get("nodePort")
            .and_then(Value::as_u64)
            .filter(|n| *n != 0);
        let previous = old_ports
            .iter()
            .find(|o| o["port"] == port)
            .and_then(|o| o.get("nodePort"))
            .and_then(Value::as_u64);
        let np = match requested.or(previous) {
            Some(n) if !(NODE_PORT_MIN as u64..=NODE_PORT_MAX as u64).contains(&n) => {
                causes.push((format!("spec.ports[{i}].nodePort"), format!("Invalid value: {n}: provided port is not in the valid range. The range of valid ports is {NODE_PORT_MIN}-{NODE_PORT_MAX}")));
                continue;
            }
            Some(n) if used.contains(&(n as u16)) => {
                causes.push((
                    format!("spec.ports[{i}].nodePort"),
                    format!("Invalid value: {n}: provided port is already allocated"),
                ));
                continue;
            }
            Some(n) => n as u16,
            None => {
                let free: Vec<u16> = (NODE_PORT_MIN..=NODE_PORT_MAX)
                    .filter(|n| !used.contains(n))
                    .collect();
                if free.is_empty() {
                    causes.push((
                        format!("spec.ports[{i}].nodePort"),
                        "Internal error: range is full".into(),
                    ));
                    continue;
                }
                free[rand::random::<usize>() % free.len()]
            }
        };
        used.push(np);
        p["nodePort"] = json!(np);
    }
}

fn svc_key(old: Option<&Value>) -> Option<(String, String)> {
    let o = old?;
    Some((
        o["metadata"]["namespace"].as_str()?.to_string(),
        o["metadata"]["name"].as_str()?.to_string(),
    ))
}

/// Defaults and validates an object about to be created; may allocate.
pub fn admit_create(st: &mut State, def: &ResourceDef, mut obj: Value) -> ApiResult<Value> {
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
            validate_pod_spec(&obj["spec"], "spec", &mut causes);
            invalid(def, &obj, std::mem::take(&mut causes))?;
            obj["status"] = json!({});
            pod_defaults(&mut obj);
        }
        "services" => {
            service_admit(st, &mut obj, None, &mut causes);
        }
        "deployments" | "replicasets" | "statefulsets" | "daemonsets" => {
            check_selector(&obj, &mut causes);
            validate_pod_spec(
                &obj["spec"]["template"]["spec"],
                "spec.template.spec",
                &mut causes,
            );
            let spec = &mut obj["spec"];
            match def.plural {
                "deployments" => default_fields(
                    spec,
                    &[
                        ("replicas", json!(1)),
                        (
                            "strategy",
                            json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}),
                        ),
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
            obj["status"] = json!({"disruptionsAllowed": 0, "currentHealthy": 0, "desiredHealthy": 0, "expectedPods": 0});
        }
        "persistentvolumeclaims" => {
            obj["status"] = json!({"phase": "Pending"});
        }
        "secrets" => secret_defaults(&mut obj),
        _ => {}
    }
    invalid(def, &obj, causes)?;
    Ok(obj)
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
    validate_pod_spec(
        &obj["spec"]["template"]["spec"],
        "spec.template.spec",
        causes,
    );
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
        obj.as_object_mut().expect("object").remove("stringData");
    }
}

/// Standard base64 with padding.
pub fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = ((b[0] as u32) << 16) | ((b[1] as u32) << 8) | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Validates an update of `old` to `new` (main resource); may allocate.
pub fn admit_update(
    st: &mut State,
    def: &ResourceDef,
    old: &Value,
    mut new: Value,
) -> ApiResult<Value> {
    let mut causes = Causes::new();
    validate_meta(def, &new, &mut causes);
    match def.plural {
        "pods" => {
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
            if def.plural != "jobs" {
                check_selector(&new, &mut causes);
            }
        }
        "namespaces" => {
            new["spec"] = old["spec"].clone();
            let name = new["metadata"]["name"].clone();
            if !new["metadata"]["labels"].is_object() {
                new["metadata"]["labels"] = json!({});
            }
            new["metadata"]["labels"]["kubernetes.io/metadata.name"] = name;
        }
        "secrets" => secret_defaults(&mut new),
        _ => {}
    }
    invalid(def, &new, causes)?;
    Ok(new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_labels() {
        assert!(is_dns_subdomain("a.b-c"));
        assert!(!is_dns_subdomain("A"));
        assert!(!is_dns_label("a.b"));
        assert!(is_label_key("node-role.kubernetes.io/control-plane"));
        assert!(is_label_key("app"));
        assert!(!is_label_key("bad key"));
        assert!(is_label_value(""));
        assert!(!is_label_value("-x"));
        assert_eq!(base64(b"hello"), "aGVsbG8=");
        assert_eq!(base64(b"hi!"), "aGkh");
    }
}
