//! A training pod's opened ports.
//!
//! Each opened port is a `training_ports` record (system ports are opened
//! by the platform, custom ones by the user) and a NodePort Service in the
//! task's namespace selecting that one pod. The pod is marked for it with
//! the label [`POD_KEY_LABEL`] (a hash of namespace and name, since a pod
//! name may be longer than a label value). The external address of a port
//! is the task's configured gateway, or else the pod's node's ExternalIP
//! (InternalIP when it has none), and the Service's allocated NodePort.

use computehub_sdk::envelope::alaya;
use computehub_sdk::inventory::{self, Row, RowQuery};
use computehub_sdk::kubectl;
use computehub_sdk::kubernetes;
use computehub_sdk::{ApiError, Request, Response};
use serde_json::{json, Value};

use crate::task::{self, internal, TaskPod, TASK_LABEL};

/// Pod label a port's Service selects.
pub const POD_KEY_LABEL: &str = "alaya.computehub.io/pod-key";
/// Service label: `system` or `custom`.
pub const SOURCE_LABEL: &str = "alaya.computehub.io/port-source";
const PORTS: &str = "training_ports";

/// FNV-1a, 64 bits: stable short names for Services and pod keys.
fn fnv(parts: &[&str]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{h:016x}")
}

/// The Service exposing `port` of a task's pod.
pub fn service_name(task_id: &str, namespace: &str, pod: &str, port: u16) -> String {
    format!(
        "alaya-port-{}",
        fnv(&[task_id, namespace, pod, &port.to_string()])
    )
}

/// The value of [`POD_KEY_LABEL`] on a pod.
pub fn pod_key(namespace: &str, pod: &str) -> String {
    fnv(&[namespace, pod])
}

/// A validated `{protocol, port}`.
struct PortRequest {
    protocol: String,
    port: u16,
}

fn port_request(req: &Request) -> Result<PortRequest, ApiError> {
    let p = req.params()?;
    let protocol = p.required_str("protocol")?.trim().to_ascii_lowercase();
    if protocol != "http" && protocol != "https" {
        return Err(ApiError::BadRequest(format!(
            "parameter `protocol` must be `http` or `https`, got `{protocol}`"
        )));
    }
    let port = p.required_i64("port")?;
    let port = u16::try_from(port)
        .ok()
        .filter(|p| *p >= 1)
        .ok_or_else(|| {
            ApiError::BadRequest(format!(
                "parameter `port` must be an integer from 1 to 65535, got `{port}`"
            ))
        })?;
    Ok(PortRequest { protocol, port })
}

/// The host that reaches the pod's node from outside the cluster.
fn external_host(tp: &TaskPod) -> Result<String, ApiError> {
    if let Some(gw) = tp.task.text("gateway").filter(|g| !g.trim().is_empty()) {
        return Ok(gw.to_string());
    }
    let Some(node) = tp.pod.pointer("/spec/nodeName").and_then(Value::as_str) else {
        return Ok(String::new());
    };
    let node = kubernetes::get(&tp.cluster, "v1", "Node", None, node).map_err(internal)?;
    let Some(node) = node else {
        return Ok(String::new());
    };
    let node: Value = serde_json::from_str(&node)
        .map_err(|e| ApiError::Internal(format!("the cluster answered an invalid node: {e}")))?;
    Ok(kubectl::node_address(&node, "ExternalIP")
        .or_else(|| kubectl::node_address(&node, "InternalIP"))
        .unwrap_or("")
        .to_string())
}

/// The NodePort of a port's Service, if the Service exists.
fn node_port(tp: &TaskPod, service: &str) -> Result<Option<u64>, ApiError> {
    let svc = kubernetes::get(&tp.cluster, "v1", "Service", Some(&tp.namespace), service)
        .map_err(internal)?;
    let Some(svc) = svc else {
        return Ok(None);
    };
    let svc: Value = serde_json::from_str(&svc)
        .map_err(|e| ApiError::Internal(format!("the cluster answered an invalid service: {e}")))?;
    Ok(svc
        .pointer("/spec/ports/0/nodePort")
        .and_then(Value::as_u64))
}

fn port_rows(tp: &TaskPod) -> Result<Vec<Row>, ApiError> {
    let q = RowQuery::new()
        .eq("instance_id", tp.task.id.as_str())
        .eq("pod_name", tp.pod_name.as_str())
        .order("port", false);
    Ok(inventory::query(PORTS, &q)?.rows)
}

/// `GET .../open-port/list`: `ports` (system, no protocol) and `customPorts`.
pub fn list(req: &Request) -> Result<Response, ApiError> {
    let tp = task::resolve(req)?;
    let host = external_host(&tp)?;
    let (mut system, mut custom) = (Vec::new(), Vec::new());
    for row in port_rows(&tp)? {
        let (Some(port), Some(service)) = (row.integer("port"), row.text("service_name")) else {
            continue;
        };
        let Some(external) = node_port(&tp, service)? else {
            computehub_sdk::log::warn!(
                "alaya: port {port} of pod {} has no service `{service}`", tp.pod_name;
                "task" => tp.task_id
            );
            continue;
        };
        if row.text("source") == Some("system") {
            system.push(json!({"port": port, "externalHost": host, "externalPort": external}));
        } else {
            custom.push(json!({
                "protocol": row.text("protocol").unwrap_or("http"),
                "port": port,
                "externalHost": host,
                "externalPort": external,
            }));
        }
    }
    Ok(alaya::ok(
        &computehub_sdk::object! { "ports" => system, "customPorts" => custom },
    ))
}

/// The NodePort Service of one port, selecting one pod.
pub fn service_manifest(
    task_id: &str,
    namespace: &str,
    name: &str,
    key: &str,
    source: &str,
    protocol: &str,
    port: u16,
) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {TASK_LABEL: task_id, SOURCE_LABEL: source},
        },
        "spec": {
            "type": "NodePort",
            "selector": {POD_KEY_LABEL: key},
            "ports": [{"name": protocol, "protocol": "TCP", "port": port, "targetPort": port}],
        }
    })
}

/// `POST .../open-port`: record the port, mark the pod, create its Service;
/// answers the port with its external address.
pub fn open(req: &Request) -> Result<Response, ApiError> {
    let tp = task::resolve(req)?;
    let want = port_request(req)?;
    let service = service_name(&tp.task_id, &tp.namespace, &tp.pod_name, want.port);
    let row = inventory::insert(
        PORTS,
        &[
            inventory::field("instance_id", tp.task.id.as_str()),
            inventory::field("pod_name", tp.pod_name.as_str()),
            inventory::field("source", "custom"),
            inventory::field("protocol", want.protocol.as_str()),
            inventory::field("port", i64::from(want.port)),
            inventory::field("service_name", service.as_str()),
        ],
    )
    .map_err(|e| match e {
        inventory::Error::Conflict(_) => ApiError::Conflict(format!(
            "port {} is already open on pod `{}`",
            want.port, tp.pod_name
        )),
        other => other.into(),
    })?;
    let key = pod_key(&tp.namespace, &tp.pod_name);
    let label_pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": tp.pod_name, "namespace": tp.namespace, "labels": {POD_KEY_LABEL: key}},
    });
    let manifest = service_manifest(
        &tp.task_id,
        &tp.namespace,
        &service,
        &key,
        "custom",
        &want.protocol,
        want.port,
    );
    let exposed = kubernetes::apply(&tp.cluster, &label_pod.to_string())
        .and_then(|_| kubernetes::apply(&tp.cluster, &manifest.to_string()));
    let applied = match exposed {
        Ok(objs) => objs,
        Err(e) => {
            // Nothing half-open stays behind.
            let _ = inventory::delete(PORTS, &row.id);
            return Err(internal(e));
        }
    };
    let external = applied
        .first()
        .and_then(|s| serde_json::from_str::<Value>(s).ok())
        .and_then(|s| s.pointer("/spec/ports/0/nodePort").and_then(Value::as_u64));
    let external = match external {
        Some(p) => Some(p),
        None => node_port(&tp, &service)?,
    };
    Ok(alaya::ok(&json!({
        "protocol": want.protocol,
        "port": want.port,
        "externalHost": external_host(&tp)?,
        "externalPort": external,
    })))
}

/// `POST .../close-port`: remove a custom port's Service and record.
pub fn close(req: &Request) -> Result<Response, ApiError> {
    let tp = task::resolve(req)?;
    let want = port_request(req)?;
    let row = port_rows(&tp)?
        .into_iter()
        .find(|r| r.integer("port") == Some(i64::from(want.port)));
    let Some(row) = row else {
        return Err(ApiError::NotFound(format!(
            "port {} is not open on pod `{}`",
            want.port, tp.pod_name
        )));
    };
    if row.text("source") == Some("system") {
        return Err(ApiError::Conflict(format!(
            "port {} is a system port of pod `{}` and cannot be closed",
            want.port, tp.pod_name
        )));
    }
    if row.text("protocol") != Some(want.protocol.as_str()) {
        return Err(ApiError::NotFound(format!(
            "no {} port {} is open on pod `{}`",
            want.protocol, want.port, tp.pod_name
        )));
    }
    if let Some(service) = row.text("service_name") {
        kubernetes::delete(&tp.cluster, "v1", "Service", Some(&tp.namespace), service)
            .map_err(internal)?;
    }
    inventory::delete(PORTS, &row.id)?;
    Ok(alaya::ok(
        &json!({"protocol": want.protocol, "port": want.port}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_stable_and_short() {
        let a = service_name("t1", "ns", "pod-0", 8080);
        assert_eq!(a, service_name("t1", "ns", "pod-0", 8080));
        assert_ne!(a, service_name("t1", "ns", "pod-0", 8081));
        assert!(a.len() <= 63);
        assert_eq!(pod_key("ns", "p").len(), 16);
    }
}
