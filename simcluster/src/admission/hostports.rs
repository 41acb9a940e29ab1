//! Host ports as the API server checks them: one `hostIP/protocol/hostPort`
//! once among the containers (`checkHostPortConflicts`), and within each
//! init container on its own (init containers run one at a time; the API
//! server names each `initContainers[0]`, having checked it as a list of
//! one); and on the host network a host port, when set, equal to its
//! container port (`validateHostNetwork`). Pods get `hostPort` defaulted to
//! the container port on the host network ([`default_host_network_ports`])
//! before this runs, as `SetDefaults_Pod` does; templates do not.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::field::{self, items, text};
use super::Causes;

fn host_port(p: &Value) -> i64 {
    p.get("hostPort").and_then(Value::as_i64).unwrap_or(0)
}

fn conflicts(containers: &[Value], path: &str, causes: &mut Causes) {
    let mut seen = BTreeSet::new();
    for (ci, c) in containers.iter().enumerate() {
        for (pi, p) in items(c, "ports").iter().enumerate() {
            let port = host_port(p);
            if port == 0 {
                continue;
            }
            let proto = match text(p, "protocol") {
                "" => "TCP",
                other => other,
            };
            let key = format!("{}/{proto}/{port}", text(p, "hostIP"));
            if !seen.insert(key.clone()) {
                field::duplicate(
                    causes,
                    format!("{path}[{ci}].ports[{pi}].hostPort"),
                    &json!(key),
                );
            }
        }
    }
}

/// Validates the host ports of `spec` (at `prefix`).
pub(crate) fn validate(spec: &Value, prefix: &str, causes: &mut Causes) {
    let containers = items(spec, "containers");
    conflicts(containers, &format!("{prefix}.containers"), causes);
    for c in items(spec, "initContainers") {
        conflicts(
            std::slice::from_ref(c),
            &format!("{prefix}.initContainers"),
            causes,
        );
    }
    if spec.get("hostNetwork") == Some(&json!(true)) {
        for (ci, c) in containers.iter().enumerate() {
            for (pi, p) in items(c, "ports").iter().enumerate() {
                let cp = p.get("containerPort").cloned().unwrap_or(json!(0));
                let hp = host_port(p);
                if hp != 0 && Some(hp) != cp.as_i64() {
                    field::invalid(
                        causes,
                        format!("{prefix}.containers[{ci}].ports[{pi}].containerPort"),
                        &cp,
                        "must match `hostPort` when `hostNetwork` is true",
                    );
                }
            }
        }
    }
}

/// `SetDefaults_Pod`: on the host network a port's host port is its
/// container port.
pub(crate) fn default_host_network_ports(pod: &mut Value) {
    let spec = &mut pod["spec"];
    if spec.get("hostNetwork") != Some(&json!(true)) {
        return;
    }
    for field in ["containers", "initContainers"] {
        let Some(cs) = spec.get_mut(field).and_then(Value::as_array_mut) else {
            continue;
        };
        for c in cs {
            let Some(ports) = c.get_mut("ports").and_then(Value::as_array_mut) else {
                continue;
            };
            for p in ports {
                if host_port(p) == 0 && p.get("containerPort").is_some() {
                    p["hostPort"] = p["containerPort"].clone();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(spec: Value) -> Causes {
        let mut c = Causes::new();
        validate(&spec, "spec", &mut c);
        c
    }

    #[test]
    fn one_host_port_per_pod() {
        let spec = json!({"containers": [
            {"name": "a", "ports": [{"containerPort": 80, "hostPort": 8080}]},
            {"name": "b", "ports": [{"containerPort": 81, "hostPort": 8080, "protocol": "UDP"},
                                    {"containerPort": 82, "hostPort": 8080, "protocol": "TCP"}]}]});
        assert_eq!(
            check(spec),
            [(
                "spec.containers[1].ports[1].hostPort".to_string(),
                "Duplicate value: \"/TCP/8080\"".to_string()
            )]
        );
        // Each init container is checked alone, and named as the first.
        let init = json!({"containers": [{"ports": [{"containerPort": 80, "hostPort": 80}]}],
            "initContainers": [{"ports": [{"containerPort": 80, "hostPort": 80}]},
                               {"ports": [{"containerPort": 1, "hostPort": 90}, {"containerPort": 2, "hostPort": 90}]}]});
        assert_eq!(
            check(init),
            [(
                "spec.initContainers[0].ports[1].hostPort".to_string(),
                "Duplicate value: \"/TCP/90\"".to_string()
            )]
        );
    }

    #[test]
    fn host_network_needs_equal_ports() {
        let spec = json!({"hostNetwork": true, "containers": [{"ports": [
            {"containerPort": 80, "hostPort": 8080}, {"containerPort": 81}]}]});
        assert_eq!(
            check(spec),
            [(
                "spec.containers[0].ports[0].containerPort".to_string(),
                "Invalid value: 80: must match `hostPort` when `hostNetwork` is true".to_string()
            )]
        );
        let mut pod = json!({"spec": {"hostNetwork": true, "containers": [
            {"ports": [{"containerPort": 81}]}, {"ports": [{"containerPort": 81}]}]}});
        default_host_network_ports(&mut pod);
        assert_eq!(pod["spec"]["containers"][0]["ports"][0]["hostPort"], 81);
        assert_eq!(
            check(pod["spec"].clone())[0].1,
            "Duplicate value: \"/TCP/81\""
        );
    }
}
