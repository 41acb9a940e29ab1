//! Containers and init containers as `validateContainers` and
//! `validateInitContainers` check them: names (required, DNS-1123 labels,
//! unique across both lists), images (required; for pods also without
//! surrounding whitespace), ports (`containerPort` required and 1-65535,
//! `hostPort` 1-65535 when set, protocol TCP, UDP or SCTP, port names IANA
//! service names unique in the container), volume mounts (naming a valid
//! volume, a unique `mountPath`, a relative `subPath` without `..`),
//! environment ([`super::env`]), resources ([`super::resources`]), security
//! contexts ([`super::security`]), probes ([`super::probes`]); a container `restartPolicy` only on
//! init containers and only `Always` (a sidecar); and no `lifecycle`, no
//! liveness, readiness or startup probe on an init container that is not a
//! sidecar.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::field::{self, items, text};
use super::volumes::no_backsteps;
use super::{env, names, probes, resources, security, Causes};

const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];
const PORT_RANGE: &str = "must be between 1 and 65535, inclusive";
const INIT_ONLY: &str = "may not be set for init containers without restartPolicy=Always";

/// What the checks depend on besides the container.
pub(crate) struct Context<'a> {
    /// Names of the pod's valid volumes.
    pub volumes: &'a BTreeSet<String>,
    /// A Pod (not a template): images are also checked for whitespace.
    pub pod: bool,
}

fn port_number(causes: &mut Causes, path: String, v: &Value) {
    if !v.as_i64().is_some_and(|n| (1..=65535).contains(&n)) {
        field::invalid(causes, path, v, PORT_RANGE);
    }
}

fn ports(c: &Value, path: &str, causes: &mut Causes) {
    let mut seen = BTreeSet::new();
    for (i, p) in items(c, "ports").iter().enumerate() {
        let ppath = format!("{path}.ports[{i}]");
        let name = text(p, "name");
        if !name.is_empty() {
            let msgs = names::port_name(name);
            if !msgs.is_empty() {
                names::each(causes, &format!("{ppath}.name"), name, msgs);
            } else if !seen.insert(name) {
                field::duplicate(causes, format!("{ppath}.name"), &json!(name));
            }
        }
        match p
            .get("containerPort")
            .filter(|v| !v.is_null() && **v != json!(0))
        {
            None => field::required(causes, format!("{ppath}.containerPort"), ""),
            Some(v) => port_number(causes, format!("{ppath}.containerPort"), v),
        }
        if let Some(h) = p
            .get("hostPort")
            .filter(|v| !v.is_null() && **v != json!(0))
        {
            port_number(causes, format!("{ppath}.hostPort"), h);
        }
        // `protocol` is defaulted to TCP before validation.
        if let Some(proto) = p.get("protocol").filter(|v| !v.is_null()) {
            if !proto.as_str().is_some_and(|s| PROTOCOLS.contains(&s)) {
                field::not_supported(causes, format!("{ppath}.protocol"), proto, PROTOCOLS);
            }
        }
    }
}

fn mounts(c: &Value, path: &str, ctx: &Context<'_>, causes: &mut Causes) {
    let mpath = format!("{path}.volumeMounts");
    let mut points = BTreeSet::new();
    for (i, m) in items(c, "volumeMounts").iter().enumerate() {
        let ipath = format!("{mpath}[{i}]");
        let name = text(m, "name");
        if name.is_empty() {
            field::required(causes, format!("{ipath}.name"), "");
        }
        if !ctx.volumes.contains(name) {
            field::not_found(causes, format!("{ipath}.name"), &json!(name));
        }
        let point = text(m, "mountPath");
        if point.is_empty() {
            field::required(causes, format!("{ipath}.mountPath"), "");
        }
        if !points.insert(point) {
            field::invalid(
                causes,
                format!("{ipath}.mountPath"),
                &json!(point),
                "must be unique",
            );
        }
        // The API server names the sub path without the mount's index.
        let sub = text(m, "subPath");
        if !sub.is_empty() {
            if sub.starts_with('/') {
                field::invalid(
                    causes,
                    format!("{mpath}.subPath"),
                    &json!(sub),
                    "must be a relative path",
                );
            }
            no_backsteps(causes, &format!("{mpath}.subPath"), sub);
        }
    }
}

/// `validateContainerCommon`: what every kind of container must satisfy.
fn common(c: &Value, path: &str, ctx: &Context<'_>, causes: &mut Causes) {
    let name = text(c, "name");
    if name.is_empty() {
        field::required(causes, format!("{path}.name"), "");
    } else {
        names::each(
            causes,
            &format!("{path}.name"),
            name,
            names::dns_label(name),
        );
    }
    let image = text(c, "image");
    if image.is_empty() {
        field::required(causes, format!("{path}.image"), "");
    } else if ctx.pod && image.trim() != image {
        field::invalid(
            causes,
            format!("{path}.image"),
            &json!(image),
            "must not have leading or trailing whitespace",
        );
    }
    ports(c, path, causes);
    env::validate(c, path, causes);
    mounts(c, path, ctx, causes);
    if let Some(r) = c.get("resources").filter(|r| r.is_object()) {
        resources::validate(r, &format!("{path}.resources"), causes);
    }
    security::container(c, path, causes);
}

fn set(c: &Value, key: &str) -> bool {
    c.get(key).is_some_and(|v| !v.is_null())
}

/// Validates `spec.containers` and `spec.initContainers` (under `spec`).
pub(crate) fn validate(spec: &Value, prefix: &str, ctx: &Context<'_>, causes: &mut Causes) {
    let mut all = BTreeSet::new();
    let cpath = format!("{prefix}.containers");
    for (i, c) in items(spec, "containers").iter().enumerate() {
        let path = format!("{cpath}[{i}]");
        common(c, &path, ctx, causes);
        probes::validate(c, &path, causes);
        if set(c, "restartPolicy") {
            field::forbidden(
                causes,
                format!("{path}.restartPolicy"),
                "may not be set for non-init containers",
            );
        }
        let name = text(c, "name");
        if !all.insert(name.to_string()) {
            field::duplicate(causes, format!("{path}.name"), &json!(name));
        }
    }
    let ipath = format!("{prefix}.initContainers");
    for (i, c) in items(spec, "initContainers").iter().enumerate() {
        let path = format!("{ipath}[{i}]");
        common(c, &path, ctx, causes);
        let mut sidecar = false;
        if let Some(rp) = c.get("restartPolicy").filter(|v| !v.is_null()) {
            sidecar = rp == "Always";
            if !sidecar {
                field::not_supported(causes, format!("{path}.restartPolicy"), rp, &["Always"]);
            }
        }
        let name = text(c, "name");
        if all.contains(name) {
            field::duplicate(causes, format!("{path}.name"), &json!(name));
        } else if !name.is_empty() {
            all.insert(name.to_string());
        }
        if sidecar {
            probes::validate(c, &path, causes);
        } else {
            for key in [
                "lifecycle",
                "livenessProbe",
                "readinessProbe",
                "startupProbe",
            ] {
                if set(c, key) {
                    field::forbidden(causes, format!("{path}.{key}"), INIT_ONLY);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(spec: Value, pod: bool) -> Causes {
        let vols: BTreeSet<String> = ["data".to_string()].into();
        let mut c = Causes::new();
        validate(
            &spec,
            "spec",
            &Context {
                volumes: &vols,
                pod,
            },
            &mut c,
        );
        c
    }

    #[test]
    fn init_containers_have_no_probes_unless_sidecars() {
        let probe = json!({"exec": {"command": ["true"]}});
        let spec = json!({"containers": [{"name": "app", "image": "nginx"}],
            "initContainers": [{"name": "init", "image": "busybox", "livenessProbe": probe}]});
        assert_eq!(
            check(spec, true),
            [(
                "spec.initContainers[0].livenessProbe".to_string(),
                format!("Forbidden: {INIT_ONLY}")
            )]
        );
        let sidecar = json!({"containers": [{"name": "app", "image": "nginx"}],
            "initContainers": [{"name": "proxy", "image": "envoy", "restartPolicy": "Always", "readinessProbe": probe}]});
        assert!(check(sidecar, true).is_empty());
        let bad_policy = json!({"containers": [{"name": "app", "image": "nginx", "restartPolicy": "Always"}],
            "initContainers": [{"name": "i", "image": "busybox", "restartPolicy": "OnFailure"}]});
        let c = check(bad_policy, true);
        assert_eq!(c[0].1, "Forbidden: may not be set for non-init containers");
        assert_eq!(
            c[1].1,
            "Unsupported value: \"OnFailure\": supported values: \"Always\""
        );
    }

    #[test]
    fn names_images_ports_mounts() {
        let spec = json!({"containers": [
            {"name": "app", "image": " nginx", "ports": [{"containerPort": 70000}, {"containerPort": 80, "protocol": "HTTP"}],
             "volumeMounts": [{"name": "data", "mountPath": "/d"}, {"name": "nope", "mountPath": "/d", "subPath": "../x"}]},
            {"name": "app", "image": "nginx"}],
            "initContainers": [{"name": "app", "image": "busybox"}]});
        let c = check(spec, true);
        let got: Vec<(&str, &str)> = c.iter().map(|(f, m)| (f.as_str(), m.as_str())).collect();
        assert_eq!(
            got,
            [
                (
                    "spec.containers[0].image",
                    "Invalid value: \" nginx\": must not have leading or trailing whitespace"
                ),
                (
                    "spec.containers[0].ports[0].containerPort",
                    "Invalid value: 70000: must be between 1 and 65535, inclusive"
                ),
                (
                    "spec.containers[0].ports[1].protocol",
                    "Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\""
                ),
                (
                    "spec.containers[0].volumeMounts[1].name",
                    "Not found: \"nope\""
                ),
                (
                    "spec.containers[0].volumeMounts[1].mountPath",
                    "Invalid value: \"/d\": must be unique"
                ),
                (
                    "spec.containers[0].volumeMounts.subPath",
                    "Invalid value: \"../x\": must not contain '..'"
                ),
                ("spec.containers[1].name", "Duplicate value: \"app\""),
                ("spec.initContainers[0].name", "Duplicate value: \"app\""),
            ]
        );
        // A template's image is not checked for whitespace.
        let t = json!({"containers": [{"name": "app", "image": " nginx"}]});
        assert!(check(t, false).is_empty());
    }
}
