//! Server-side printing: `meta.k8s.io/v1` `Table` objects, as kube-apiserver
//! renders them for `kubectl get` (`Accept: application/json;as=Table;...`).
//!
//! Columns and cell formats follow Kubernetes' printers for nodes (`STATUS`
//! with `SchedulingDisabled`, `ROLES`, `VERSION`, wide `INTERNAL-IP`...), pods
//! (`READY`, `STATUS`, `RESTARTS`, wide `IP`, `NODE`), services, workloads,
//! jobs, namespaces, config maps, secrets, claims, PDBs, endpoints, quotas
//! and events (`LAST SEEN`, `TYPE`, `REASON`, `OBJECT`, `MESSAGE`); other kinds get
//! `NAME AGE`. Columns with priority 1 appear only with `-o wide`. The cells
//! kubectl computes (AGE, a pod's READY, STATUS and RESTARTS, a node's STATUS
//! and ROLES) come from [`kubefmt::kubectl`], which the guest SDK's cluster
//! boards print with too.

use chrono::{DateTime, Utc};
use kubefmt::kubectl;
use serde_json::{json, Value};

use crate::resources::ResourceDef;
use crate::store::Obj;

mod cells;
mod workloads;

pub(crate) use cells::endpoints_cell;
use cells::{events, quota_cells, slice_endpoints_cell, slice_ports_cell};

/// What each row carries in `object` (`?includeObject=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncludeObject {
    /// Nothing.
    None,
    /// `PartialObjectMetadata` (the default).
    Metadata,
    /// The full object.
    Object,
}

/// kubectl's AGE format and columns, shared with the guest SDK's boards.
pub use kubefmt::human_duration;
pub use kubefmt::kubectl::{age, node_roles, node_status, pod_status};

pub(crate) fn parse_time(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// A structured selector as a string (`app=web,tier in (a,b)`).
pub fn selector_string(sel: Option<&Value>) -> String {
    let Some(sel) = sel else { return String::new() };
    let mut parts = Vec::new();
    if let Some(m) = sel.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in m {
            parts.push(format!("{k}={}", v.as_str().unwrap_or("")));
        }
    }
    for e in sel
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = e["key"].as_str().unwrap_or("");
        let vals: Vec<&str> = e["values"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        parts.push(match e["operator"].as_str().unwrap_or("") {
            "In" => format!("{key} in ({})", vals.join(",")),
            "NotIn" => format!("{key} notin ({})", vals.join(",")),
            "Exists" => key.to_string(),
            _ => format!("!{key}"),
        });
    }
    parts.join(",")
}

pub(crate) fn or_none(s: String) -> String {
    kubefmt::kubectl::or_none(Some(&s))
}

pub(crate) fn str_at<'a>(o: &'a Value, p: &str) -> &'a str {
    o.pointer(p).and_then(Value::as_str).unwrap_or("")
}

pub(crate) fn int_at(o: &Value, p: &str) -> i64 {
    o.pointer(p).and_then(Value::as_i64).unwrap_or(0)
}

pub(crate) fn containers_images(template_spec: &Value) -> (String, String) {
    let cs = template_spec["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let names: Vec<&str> = cs.iter().filter_map(|c| c["name"].as_str()).collect();
    let images: Vec<&str> = cs.iter().filter_map(|c| c["image"].as_str()).collect();
    (names.join(","), images.join(","))
}

pub(crate) fn col(name: &str, ty: &str, priority: u8) -> Value {
    let format = if name == "Name" { "name" } else { "" };
    json!({"name": name, "type": ty, "format": format, "description": "", "priority": priority})
}

pub(crate) type Row = Vec<Value>;

fn columns_and_cells(def: &ResourceDef, o: &Value) -> (Vec<Value>, Row) {
    let name = json!(o["metadata"]["name"]);
    let age = json!(age(o));
    let s = |x: &str| col(x, "string", 0);
    let w = |x: &str| col(x, "string", 1);
    let i = |x: &str| col(x, "integer", 0);
    match def.plural {
        "nodes" => {
            let addr = |t: &str| kubectl::node_address(o, t).unwrap_or("<none>");
            (
                vec![
                    s("Name"),
                    s("Status"),
                    s("Roles"),
                    s("Age"),
                    s("Version"),
                    w("Internal-IP"),
                    w("External-IP"),
                    w("OS-Image"),
                    w("Kernel-Version"),
                    w("Container-Runtime"),
                ],
                vec![
                    name,
                    json!(node_status(o)),
                    json!(node_roles(o)),
                    age,
                    json!(str_at(o, "/status/nodeInfo/kubeletVersion")),
                    json!(addr("InternalIP")),
                    json!(addr("ExternalIP")),
                    json!(str_at(o, "/status/nodeInfo/osImage")),
                    json!(str_at(o, "/status/nodeInfo/kernelVersion")),
                    json!(str_at(o, "/status/nodeInfo/containerRuntimeVersion")),
                ],
            )
        }
        "pods" => (
            vec![
                s("Name"),
                s("Ready"),
                s("Status"),
                i("Restarts"),
                s("Age"),
                w("IP"),
                w("Node"),
                w("Nominated Node"),
                w("Readiness Gates"),
            ],
            vec![
                name,
                json!(kubectl::pod_ready(o)),
                json!(pod_status(o)),
                json!(kubectl::pod_restarts(o)),
                age,
                json!(or_none(str_at(o, "/status/podIP").into())),
                json!(or_none(str_at(o, "/spec/nodeName").into())),
                json!(or_none(str_at(o, "/status/nominatedNodeName").into())),
                json!("<none>"),
            ],
        ),
        "services" => {
            let ty = str_at(o, "/spec/type");
            let ext_ips: Vec<&str> = o
                .pointer("/spec/externalIPs")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let external = match ty {
                "LoadBalancer" => {
                    let ing: Vec<&str> = o
                        .pointer("/status/loadBalancer/ingress")
                        .and_then(Value::as_array)
                        .map(|a| {
                            a.iter()
                                .filter_map(|x| x["ip"].as_str().or(x["hostname"].as_str()))
                                .collect()
                        })
                        .unwrap_or_default();
                    if ing.is_empty() && ext_ips.is_empty() {
                        "<pending>".to_string()
                    } else {
                        [ing, ext_ips].concat().join(",")
                    }
                }
                "ExternalName" => str_at(o, "/spec/externalName").to_string(),
                _ => or_none(ext_ips.join(",")),
            };
            let ports: Vec<String> = o
                .pointer("/spec/ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|p| {
                    let proto = p["protocol"].as_str().unwrap_or("TCP");
                    match p.get("nodePort").and_then(Value::as_i64) {
                        Some(np) => format!("{}:{np}/{proto}", p["port"]),
                        None => format!("{}/{proto}", p["port"]),
                    }
                })
                .collect();
            let sel: Vec<String> = o
                .pointer("/spec/selector")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect();
            (
                vec![
                    s("Name"),
                    s("Type"),
                    s("Cluster-IP"),
                    s("External-IP"),
                    s("Port(s)"),
                    s("Age"),
                    w("Selector"),
                ],
                vec![
                    name,
                    json!(ty),
                    json!(or_none(str_at(o, "/spec/clusterIP").into())),
                    json!(external),
                    json!(or_none(ports.join(","))),
                    age,
                    json!(or_none(sel.join(","))),
                ],
            )
        }
        "deployments" | "replicasets" | "statefulsets" | "daemonsets" | "jobs" | "cronjobs" => {
            workloads::workload_row(def.plural, o, name, age)
        }
        "namespaces" => (
            vec![s("Name"), s("Status"), s("Age")],
            vec![name, json!(str_at(o, "/status/phase")), age],
        ),
        "configmaps" => {
            let n = o
                .get("data")
                .and_then(Value::as_object)
                .map_or(0, |m| m.len())
                + o.get("binaryData")
                    .and_then(Value::as_object)
                    .map_or(0, |m| m.len());
            (
                vec![s("Name"), i("Data"), s("Age")],
                vec![name, json!(n), age],
            )
        }
        "secrets" => {
            let n = o
                .get("data")
                .and_then(Value::as_object)
                .map_or(0, |m| m.len());
            (
                vec![s("Name"), s("Type"), i("Data"), s("Age")],
                vec![name, json!(str_at(o, "/type")), json!(n), age],
            )
        }
        "serviceaccounts" => {
            let n = o
                .get("secrets")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            (
                vec![s("Name"), i("Secrets"), s("Age")],
                vec![name, json!(n), age],
            )
        }
        "persistentvolumeclaims" => {
            let modes: Vec<&str> = o
                .pointer("/status/accessModes")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(|m| match m {
                    "ReadWriteOnce" => "RWO",
                    "ReadOnlyMany" => "ROX",
                    "ReadWriteMany" => "RWX",
                    "ReadWriteOncePod" => "RWOP",
                    x => x,
                })
                .collect();
            (
                vec![
                    s("Name"),
                    s("Status"),
                    s("Volume"),
                    s("Capacity"),
                    s("Access Modes"),
                    s("StorageClass"),
                    s("VolumeAttributesClass"),
                    s("Age"),
                    w("VolumeMode"),
                ],
                vec![
                    name,
                    json!(str_at(o, "/status/phase")),
                    json!(str_at(o, "/spec/volumeName")),
                    json!(str_at(o, "/status/capacity/storage")),
                    json!(modes.join(",")),
                    json!(str_at(o, "/spec/storageClassName")),
                    json!("<unset>"),
                    age,
                    json!(o
                        .pointer("/spec/volumeMode")
                        .and_then(Value::as_str)
                        .unwrap_or("Filesystem")),
                ],
            )
        }
        "poddisruptionbudgets" => {
            let f = |k: &str| {
                o.pointer(&format!("/spec/{k}"))
                    .map(|v| {
                        v.as_str()
                            .map(String::from)
                            .unwrap_or_else(|| v.to_string())
                    })
                    .unwrap_or_else(|| "N/A".into())
            };
            (
                vec![
                    s("Name"),
                    s("Min Available"),
                    s("Max Unavailable"),
                    i("Allowed Disruptions"),
                    s("Age"),
                ],
                vec![
                    name,
                    json!(f("minAvailable")),
                    json!(f("maxUnavailable")),
                    json!(int_at(o, "/status/disruptionsAllowed")),
                    age,
                ],
            )
        }
        "endpoints" => (
            vec![s("Name"), s("Endpoints"), s("Age")],
            vec![name, json!(endpoints_cell(o)), age],
        ),
        "endpointslices" => (
            vec![
                s("Name"),
                s("AddressType"),
                s("Ports"),
                s("Endpoints"),
                s("Age"),
            ],
            vec![
                name,
                json!(str_at(o, "/addressType")),
                json!(slice_ports_cell(o)),
                json!(slice_endpoints_cell(o)),
                age,
            ],
        ),
        "events" => events(o),
        // Roles print their creation time; LimitRanges have no printer of
        // their own: the API server's default columns are the same.
        "limitranges" | "roles" | "clusterroles" => (
            vec![s("Name"), col("Created At", "date", 0)],
            vec![name, json!(str_at(o, "/metadata/creationTimestamp"))],
        ),
        "rolebindings" | "clusterrolebindings" => {
            let of = |kind: &str| -> String {
                let names: Vec<String> = o["subjects"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|s| s["kind"] == kind)
                    .map(|s| {
                        let name = s["name"].as_str().unwrap_or("");
                        if kind == "ServiceAccount" {
                            format!("{}/{name}", s["namespace"].as_str().unwrap_or(""))
                        } else {
                            name.to_string()
                        }
                    })
                    .collect();
                names.join(", ")
            };
            let role = format!(
                "{}/{}",
                str_at(o, "/roleRef/kind"),
                str_at(o, "/roleRef/name")
            );
            (
                vec![
                    s("Name"),
                    s("Role"),
                    s("Age"),
                    w("Users"),
                    w("Groups"),
                    w("ServiceAccounts"),
                ],
                vec![
                    name,
                    json!(role),
                    age,
                    json!(of("User")),
                    json!(of("Group")),
                    json!(of("ServiceAccount")),
                ],
            )
        }
        "storageclasses" => {
            let shown = match crate::admission::storage::is_default(o) {
                true => json!(format!("{} (default)", name.as_str().unwrap_or(""))),
                false => name,
            };
            let expand = o
                .get("allowVolumeExpansion")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            (
                vec![
                    s("Name"),
                    s("Provisioner"),
                    s("ReclaimPolicy"),
                    s("VolumeBindingMode"),
                    s("AllowVolumeExpansion"),
                    s("Age"),
                ],
                vec![
                    shown,
                    json!(str_at(o, "/provisioner")),
                    json!(str_at(o, "/reclaimPolicy")),
                    json!(str_at(o, "/volumeBindingMode")),
                    json!(expand),
                    age,
                ],
            )
        }
        "priorityclasses" => (
            vec![
                s("Name"),
                i("Value"),
                col("Global-Default", "boolean", 0),
                s("Age"),
                s("PreemptionPolicy"),
            ],
            vec![
                name,
                json!(o.get("value").and_then(Value::as_i64).unwrap_or(0)),
                json!(o
                    .get("globalDefault")
                    .and_then(Value::as_bool)
                    .unwrap_or(false)),
                age,
                json!(str_at(o, "/preemptionPolicy")),
            ],
        ),
        "resourcequotas" => {
            let (request, limit) = quota_cells(o);
            (
                vec![s("Name"), s("Age"), s("Request"), s("Limit")],
                vec![name, age, json!(request), json!(limit)],
            )
        }
        _ => (vec![s("Name"), s("Age")], vec![name, age]),
    }
}

fn row_object(o: &Value, include: IncludeObject) -> Value {
    match include {
        IncludeObject::None => Value::Null,
        IncludeObject::Object => o.clone(),
        IncludeObject::Metadata => {
            json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": o["metadata"]})
        }
    }
}

/// A Table of `objs` (possibly empty) at resourceVersion `rv`.
pub fn table(def: &ResourceDef, objs: &[Obj], rv: &str, include: IncludeObject) -> Value {
    let (columns, _) = columns_and_cells(def, &json!({"metadata": {}}));
    let rows: Vec<Value> = objs
        .iter()
        .map(|o| {
            let (_, cells) = columns_and_cells(def, o);
            let mut r = json!({"cells": cells});
            let obj = row_object(o, include);
            if !obj.is_null() {
                r["object"] = obj;
            }
            r
        })
        .collect();
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": rv}, "columnDefinitions": columns, "rows": rows})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors() {
        assert_eq!(
            selector_string(Some(
                &json!({"matchLabels": {"app": "x"}, "matchExpressions": [{"key": "t", "operator": "In", "values": ["a", "b"]}]})
            )),
            "app=x,t in (a,b)"
        );
    }
}
