//! `GET /v3/{project_id}/edgemgr/pods`: the project's deployment pods, by
//! exactly one of `node_id`, `group_id`, `deployment_id`, `deployment_ids`
//! (comma list), paged by `limit`/`offset`, with `count` the total.
//!
//! Each pod is mapped from the live Kubernetes pod (PodResponse, 表5-15):
//! containers with `image_url` and `version` as the create request gave
//! them (so they read as in the 201 answer; the live image reference split
//! at its tag when the pod does not say), envs, ports, resources (cpu in
//! cores, memory in Mi, as numbers), volumes, probes, restarts and states;
//! what Kubernetes cannot hold (GPU memory, the NPU type, the configs as
//! requested, the deployment's `description`, which the document's example
//! shows on each pod) comes from the pod's [`EXTRAS`] annotation written at
//! create.

use std::collections::BTreeMap;
use std::str::FromStr;

use computehub_sdk::datetime::Instant;
use computehub_sdk::envelope::ief;
use computehub_sdk::{kubectl, quantity, Request, Response};
use rust_decimal::Decimal;
use serde_json::{json, Map, Number, Value};

use crate::error::{IefError, IefResult, EXCLUSIVE};
use crate::project::{self, Project};
use crate::render::{DEPLOYMENT_LABEL, EXTRAS, NPU_310, NPU_310B};
use crate::validate::check_id;

const FILTERS: &[&str] = &["node_id", "group_id", "deployment_id", "deployment_ids"];

fn s<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

/// An exact decimal as a JSON number.
fn number(d: Decimal) -> Value {
    let text = d.round_dp(6).normalize().to_string();
    Number::from_str(&text)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

/// A Kubernetes quantity in IEF's unit: cores for cpu, Mi for memory, a
/// count for NPUs.
fn amount(resource: &str, q: &str) -> Option<Value> {
    match resource {
        "cpu" => quantity::millicores(q)
            .ok()
            .map(|m| number(Decimal::from(m) / Decimal::from(1000))),
        "memory" => quantity::units(q)
            .ok()
            .map(|b| number(Decimal::from(b) / Decimal::from(1_048_576))),
        _ => quantity::units(q).ok().map(|n| number(Decimal::from(n))),
    }
}

fn resources(c: &Value, gpu: Option<&Value>) -> Value {
    let mut out = Map::new();
    for kind in ["limits", "requests"] {
        let mut m = Map::new();
        if let Some(q) = c
            .pointer(&format!("/resources/{kind}"))
            .and_then(Value::as_object)
        {
            for (k, v) in q {
                let name = match k.as_str() {
                    "cpu" => "cpu",
                    "memory" => "memory",
                    NPU_310 | NPU_310B => "npu",
                    _ => continue,
                };
                if let Some(a) = v.as_str().and_then(|v| amount(k, v)) {
                    m.insert(name.into(), a);
                }
            }
        }
        if let Some(g) = gpu.and_then(|g| g.get(kind)).and_then(Value::as_str) {
            if let Ok(d) = Decimal::from_str(g) {
                m.insert("gpu".into(), number(d));
            }
        }
        out.insert(kind.into(), Value::Object(m));
    }
    Value::Object(out)
}

/// `registry/app:tag` -> (`registry/app`, `tag`); no tag -> (image, "").
pub fn split_image(image: &str) -> (String, String) {
    let slash = image.rfind('/').map_or(0, |i| i + 1);
    match image[slash..].rfind(':') {
        Some(i) => (
            image[..slash + i].to_string(),
            image[slash + i + 1..].to_string(),
        ),
        None => (image.to_string(), String::new()),
    }
}

/// `image_url` and `version` of a container running `image`: as the create
/// request gave them when the pod's extras say so (and still describe the
/// image it runs), else the reference split at its tag.
fn image_of(image: &str, extra: &Value) -> (String, String) {
    if let Some(url) = extra.get("image_url").and_then(Value::as_str) {
        let version = extra.get("version").and_then(Value::as_str).unwrap_or("");
        let joined = if version.is_empty() {
            url.to_string()
        } else {
            format!("{url}:{version}")
        };
        if joined == image {
            return (url.to_string(), version.to_string());
        }
    }
    split_image(image)
}

fn env(e: &Value) -> Value {
    let mut out = json!({"name": s(e, "/name")});
    if let Some(v) = e.get("value").and_then(Value::as_str) {
        out["value"] = json!(v);
    } else if let Some(f) = e.pointer("/valueFrom/fieldRef/fieldPath") {
        out["field_path"] = f.clone();
    } else if let Some(r) = e.pointer("/valueFrom/secretKeyRef") {
        out["value_from"] = json!({"secret": {"name": r["name"], "key": r["key"]}});
    } else if let Some(r) = e.pointer("/valueFrom/configMapKeyRef") {
        out["value_from"] = json!({"configmap": {"name": r["name"], "key": r["key"]}});
    }
    out
}

fn probe(p: &Value) -> Value {
    let mut out = Map::new();
    if let Some(h) = p.get("httpGet") {
        let mut g = json!({"path": h["path"], "port": h["port"], "scheme": s(h, "/scheme").to_ascii_lowercase()});
        if let Some(host) = h.get("host") {
            g["host"] = host.clone();
        }
        out.insert("http_get".into(), g);
    } else if let Some(cmd) = p.pointer("/exec/command").and_then(Value::as_array) {
        let words: Vec<&str> = cmd.iter().filter_map(Value::as_str).collect();
        let command = match words.as_slice() {
            ["/bin/sh", "-c", c] => (*c).to_string(),
            other => other.join(" "),
        };
        out.insert("exec".into(), json!({"command": command}));
    }
    out.insert(
        "initial_delay_seconds".into(),
        p.get("initialDelaySeconds").cloned().unwrap_or(json!(0)),
    );
    out.insert(
        "timeout_seconds".into(),
        p.get("timeoutSeconds").cloned().unwrap_or(json!(1)),
    );
    Value::Object(out)
}

fn volume(mount: &Value, volumes: &[Value]) -> Value {
    let name = s(mount, "/name");
    let def = volumes
        .iter()
        .find(|v| v["name"] == name)
        .cloned()
        .unwrap_or(Value::Null);
    let (kind, source) = if let Some(p) = def.pointer("/hostPath/path") {
        ("hostPath", p.as_str().unwrap_or("").to_string())
    } else if let Some(e) = def.get("emptyDir") {
        let medium = if e["medium"] == "Memory" {
            "memory"
        } else {
            "disk"
        };
        ("emptyDir", medium.to_string())
    } else if let Some(n) = def.pointer("/configMap/name") {
        ("configMap", n.as_str().unwrap_or("").to_string())
    } else {
        ("secret", s(&def, "/secret/secretName").to_string())
    };
    json!({
        "name": name,
        "type": kind,
        "read_only": mount.get("readOnly").and_then(Value::as_bool).unwrap_or(false),
        "source": source,
        "destination": s(mount, "/mountPath"),
    })
}

fn container(c: &Value, status: Option<&Value>, volumes: &[Value], extras: &Value) -> Value {
    let name = s(c, "/name");
    let extra = &extras["containers"][name];
    let (image_url, version) = image_of(s(c, "/image"), extra);
    let mut out = Map::new();
    for k in ["args", "command"] {
        if let Some(v) = c.get(k) {
            out.insert(k.into(), v.clone());
        }
    }
    out.insert("name".into(), json!(name));
    let envs: Vec<Value> = c
        .get("env")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(env)
        .collect();
    out.insert("envs".into(), json!(envs));
    out.insert("image_url".into(), json!(image_url));
    out.insert("version".into(), json!(version));
    for (from, to) in [
        ("livenessProbe", "liveness_probe"),
        ("readinessProbe", "readiness_probe"),
    ] {
        if let Some(p) = c.get(from) {
            out.insert(to.into(), probe(p));
        }
    }
    let ports: Vec<Value> = c
        .get("ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|p| {
            let mut m = json!({"container_port": p["containerPort"]});
            if let Some(h) = p.get("hostPort") {
                m["host_port"] = h.clone();
            }
            if let Some(ip) = p.get("hostIP") {
                m["host_ip"] = ip.clone();
            }
            m
        })
        .collect();
    out.insert("ports".into(), json!(ports));
    out.insert("resources".into(), resources(c, extra.get("gpu")));
    let mounts: Vec<Value> = c
        .get("volumeMounts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|m| volume(m, volumes))
        .collect();
    out.insert("volumes".into(), json!(mounts));
    let st = status.cloned().unwrap_or(Value::Null);
    out.insert(
        "restarts".into(),
        json!(st["restartCount"].as_u64().unwrap_or(0)),
    );
    let (state, reason, message) = match st.get("state").and_then(Value::as_object) {
        Some(m) => match m.iter().next() {
            Some((k, v)) => (
                k.clone(),
                s(v, "/reason").to_string(),
                s(v, "/message").to_string(),
            ),
            None => (String::new(), String::new(), String::new()),
        },
        None => ("waiting".to_string(), String::new(), String::new()),
    };
    out.insert("message".into(), json!(message));
    out.insert("reason".into(), json!(reason));
    out.insert(
        "is_ready".into(),
        json!(st["ready"].as_bool().unwrap_or(false).to_string()),
    );
    out.insert(
        "privileged".into(),
        json!(c
            .pointer("/securityContext/privileged")
            .and_then(Value::as_bool)
            .unwrap_or(false)),
    );
    out.insert("container_id".into(), json!(s(&st, "/containerID")));
    out.insert("state".into(), json!(state));
    out.insert(
        "npu_type".into(),
        json!(extra["npu_type"].as_str().unwrap_or("")),
    );
    Value::Object(out)
}

/// The time the pod last changed state (its latest condition), or its creation.
fn updated_at(pod: &Value, created: i64) -> i64 {
    pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| {
            c["lastTransitionTime"]
                .as_str()
                .and_then(kubectl::parse_rfc3339)
        })
        .max()
        .unwrap_or(created)
        .max(created)
}

/// One PodResponse.
pub fn pod_response(pod: &Value, node_ids: &BTreeMap<String, String>, project: &str) -> Value {
    let extras: Value = pod
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(EXTRAS))
        .and_then(Value::as_str)
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or(Value::Null);
    let volumes: Vec<Value> = pod
        .pointer("/spec/volumes")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let statuses = |field: &str| -> Vec<Value> {
        pod.pointer(&format!("/status/{field}"))
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let list = |spec: &str, status: &str| -> Vec<Value> {
        let st = statuses(status);
        pod.pointer(&format!("/spec/{spec}"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|c| {
                container(
                    c,
                    st.iter().find(|x| x["name"] == c["name"]),
                    &volumes,
                    &extras,
                )
            })
            .collect()
    };
    let configs = match extras.get("configs") {
        Some(c) if c.is_object() => c.clone(),
        _ => json!({
            "host_network": pod.pointer("/spec/hostNetwork").and_then(Value::as_bool).unwrap_or(false),
            "host_pid": pod.pointer("/spec/hostPID").and_then(Value::as_bool).unwrap_or(false),
            "restart_policy": s(pod, "/spec/restartPolicy"),
        }),
    };
    let created = kubectl::parse_rfc3339(s(pod, "/metadata/creationTimestamp")).unwrap_or(0);
    let scheduling = pod
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| {
            cs.iter()
                .find(|c| c["type"] == "PodScheduled" && c["status"] == "False")
        });
    let mut out = json!({
        "id": s(pod, "/metadata/uid"),
        "name": s(pod, "/metadata/name"),
        "description": extras.get("description").and_then(Value::as_str).unwrap_or(""),
        "configs": configs,
        "init_containers": list("initContainers", "initContainerStatuses"),
        "containers": list("containers", "containerStatuses"),
        "node_id": node_ids.get(s(pod, "/spec/nodeName")).cloned().unwrap_or_default(),
        "deployment_id": pod.pointer("/metadata/labels").and_then(|l| l.get(DEPLOYMENT_LABEL)).cloned().unwrap_or(json!("")),
        "project_id": project,
        "reason": match s(pod, "/status/reason") { "" => scheduling.map_or("", |c| s(c, "/reason")), r => r },
        "message": match s(pod, "/status/message") { "" => scheduling.map_or("", |c| s(c, "/message")), m => m },
        "created_at": Instant::from_secs(created).rfc3339_millis(),
        "updated_at": Instant::from_secs(updated_at(pod, created)).rfc3339_millis(),
        "state": s(pod, "/status/phase").to_ascii_uppercase(),
    });
    if let Some(a) = pod.pointer("/spec/affinity") {
        out["affinity"] = a.clone();
    }
    out
}

/// `GET /v3/{project_id}/edgemgr/pods`.
pub fn list(req: &Request, p: &Project) -> IefResult<Response> {
    let params = req
        .params()
        .map_err(|e| IefError::bad(crate::error::WRONG_TYPE, e.to_string()))?;
    let given: Vec<(&str, &str)> = FILTERS
        .iter()
        .filter_map(|k| {
            params
                .optional_str(k)
                .ok()
                .flatten()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(|v| (*k, v))
        })
        .collect();
    let names = FILTERS
        .iter()
        .map(|f| format!("`{f}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let (filter, value) = match given.as_slice() {
        [one] => *one,
        [] => {
            return Err(IefError::bad(
                EXCLUSIVE,
                format!("exactly one of {names} is required, got none"),
            ))
        }
        _ => {
            return Err(IefError::bad(
                EXCLUSIVE,
                format!("only one of {names} may be given"),
            ))
        }
    };
    let (limit, offset) = crate::deployments::page_params(&params)?;
    let nodes = project::edge_nodes(p, "")?;
    let node_ids: BTreeMap<String, String> = nodes
        .iter()
        .map(|n| (n.name.clone(), n.node_id.clone()))
        .collect();
    let (selector, on_nodes) = match filter {
        "deployment_id" => {
            check_id(value, filter)?;
            (format!("{DEPLOYMENT_LABEL}={value}"), None)
        }
        "deployment_ids" => {
            let ids: Vec<&str> = value
                .split(',')
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .collect();
            if ids.is_empty() || ids.len() > 100 {
                return Err(IefError::range(filter, "must list 1-100 deployment ids"));
            }
            for id in &ids {
                check_id(id, filter)?;
            }
            (format!("{DEPLOYMENT_LABEL} in ({})", ids.join(",")), None)
        }
        other => {
            check_id(value, other)?;
            let group = other == "group_id";
            let names: Vec<String> = project::target_nodes(p, group, value, other)?
                .into_iter()
                .map(|n| n.name)
                .collect();
            (DEPLOYMENT_LABEL.to_string(), Some(names))
        }
    };
    let (count, pods) = project::pods_window(p, &selector, on_nodes.as_deref(), offset, limit)?;
    let page: Vec<Value> = pods
        .iter()
        .map(|pod| pod_response(pod, &node_ids, &p.project_id))
        .collect();
    Ok(ief::ok(
        200,
        &computehub_sdk::object! { "count" => count, "pods" => page },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_split_at_their_tag() {
        assert_eq!(
            split_image("nginx:alpine"),
            ("nginx".into(), "alpine".into())
        );
        assert_eq!(
            split_image("reg:5000/app"),
            ("reg:5000/app".into(), String::new())
        );
        assert_eq!(
            split_image("reg:5000/app:1.2"),
            ("reg:5000/app".into(), "1.2".into())
        );
    }

    #[test]
    fn images_read_as_requested() {
        let extra = json!({"image_url": "nginx:alpine", "version": ""});
        assert_eq!(
            image_of("nginx:alpine", &extra),
            ("nginx:alpine".into(), String::new())
        );
        let extra = json!({"image_url": "reg:5000/web", "version": "2.1"});
        assert_eq!(
            image_of("reg:5000/web:2.1", &extra),
            ("reg:5000/web".into(), "2.1".into())
        );
        // A pod without extras, or running another image: split at the tag.
        assert_eq!(
            image_of("nginx:alpine", &Value::Null),
            ("nginx".into(), "alpine".into())
        );
        assert_eq!(
            image_of(
                "nginx:1.27",
                &json!({"image_url": "nginx:alpine", "version": ""})
            ),
            ("nginx".into(), "1.27".into())
        );
    }

    #[test]
    fn amounts_are_in_iefs_units() {
        assert_eq!(amount("cpu", "250m"), Some(json!(0.25)));
        assert_eq!(amount("cpu", "0.25"), Some(json!(0.25)));
        assert_eq!(amount("memory", "500Mi"), Some(json!(500)));
        assert_eq!(amount("memory", "1Gi"), Some(json!(1024)));
        assert_eq!(amount(NPU_310, "2"), Some(json!(2)));
    }
}
