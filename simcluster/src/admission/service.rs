//! Service admission: type and port defaults, ClusterIP allocation
//! (10.96.0.0/12) and NodePorts (30000-32767, unique per cluster, kept across
//! updates, checked when requested); ports as `validateServicePort` checks
//! them (names required and unique when there are several, protocols, target
//! ports) and no two with one protocol and port.

use serde_json::{json, Value};

use super::field::{self, text};
use super::{default_fields, names, probes, Causes};

const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];
use crate::state::State;

const NODE_PORT_MIN: u16 = 30000;
const NODE_PORT_MAX: u16 = 32767;

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
pub(super) fn service_admit(
    st: &mut State,
    svc: &mut Value,
    old: Option<&Value>,
    causes: &mut Causes,
) {
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
    let named = ports.len() > 1;
    let mut names_seen = Vec::new();
    let mut keys_seen = Vec::new();
    for (i, p) in ports.iter_mut().enumerate() {
        let port = p.get("port").and_then(Value::as_i64).unwrap_or(0);
        default_fields(
            p,
            &[("protocol", json!("TCP")), ("targetPort", json!(port))],
        );
        port_checks(p, i, named, &mut names_seen, causes);
        let key = (p["protocol"].clone(), port);
        if keys_seen.contains(&key) {
            causes.push((
                format!("spec.ports[{i}]"),
                format!(
                    "Duplicate value: core.ServicePort{{Name:\"\", Protocol:{}, AppProtocol:(*string)(nil), Port:{port}, TargetPort:intstr.IntOrString{{Type:0, IntVal:0, StrVal:\"\"}}, NodePort:0}}",
                    key.0
                ),
            ));
        }
        keys_seen.push(key);
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

/// `validateServicePort`: a name (required, unique, an RFC 1123 label when
/// the service has several ports), the port, the protocol, the target port.
fn port_checks(p: &Value, i: usize, named: bool, seen: &mut Vec<String>, causes: &mut Causes) {
    let path = format!("spec.ports[{i}]");
    let name = text(p, "name");
    if named && name.is_empty() {
        field::required(causes, format!("{path}.name"), "");
    } else if !name.is_empty() {
        names::each(
            causes,
            &format!("{path}.name"),
            name,
            names::dns_label(name),
        );
        if seen.iter().any(|s| s == name) {
            field::duplicate(causes, format!("{path}.name"), &json!(name));
        } else {
            seen.push(name.to_string());
        }
    }
    let port = p.get("port").cloned().unwrap_or(json!(0));
    if !port.as_i64().is_some_and(|n| (1..=65535).contains(&n)) {
        field::invalid(
            causes,
            format!("{path}.port"),
            &port,
            "must be between 1 and 65535, inclusive",
        );
    }
    let proto = &p["protocol"];
    if !proto.as_str().is_some_and(|s| PROTOCOLS.contains(&s)) {
        field::not_supported(causes, format!("{path}.protocol"), proto, PROTOCOLS);
    }
    probes::port_num_or_name(p.get("targetPort"), &format!("{path}.targetPort"), causes);
}

fn svc_key(old: Option<&Value>) -> Option<(String, String)> {
    let o = old?;
    Some((
        o["metadata"]["namespace"].as_str()?.to_string(),
        o["metadata"]["name"].as_str()?.to_string(),
    ))
}
