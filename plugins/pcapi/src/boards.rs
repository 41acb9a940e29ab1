//! `get_cluster_pods` and `get_cluster_nodes`: the cluster's pods and nodes
//! with the documented row fields and kubectl's values.

use computehub_sdk::envelope::pcapi;
use computehub_sdk::fields::{parse_kept, At, Keep};
use computehub_sdk::kubectl::{self, or_none};
use computehub_sdk::kubernetes::{self, Selector};
use computehub_sdk::params::Params;
use computehub_sdk::{ApiError, Response};
use serde_json::{json, Value};

use crate::cluster;

/// Rows of the listed objects, each object parsed (only the `fields` its row
/// reads), turned into its row and dropped before the next (a 10,000-pod list
/// then fits the plugin's memory cap: only the small rows stay), sorted by
/// `key`.
fn rows(
    items: Vec<String>,
    fields: &[&[&str]],
    row: fn(&Value) -> Value,
    key: &[&str],
) -> Result<Vec<Value>, ApiError> {
    let keep = Keep::new(fields.iter().flat_map(|f| f.iter().copied()));
    let mut rows = items
        .into_iter()
        .map(|text| {
            parse_kept(&text, &keep).map(|o| row(&o)).map_err(|e| {
                ApiError::BadGateway(format!("the cluster answered an invalid object: {e}"))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let field = |r: &Value, k: &str| r[k].as_str().unwrap_or("").to_owned();
    rows.sort_by_cached_key(|r| key.iter().map(|k| field(r, k)).collect::<Vec<_>>());
    Ok(rows)
}

fn all() -> Selector {
    Selector {
        namespace: None,
        label_selector: None,
        field_selector: None,
    }
}

/// What [`pod_row`] reads besides kubectl's columns.
const POD_ROW_FIELDS: &[&str] = &[
    "/metadata/namespace",
    "/metadata/name",
    "/spec/nodeName",
    "/spec/readinessGates",
    "/status/podIP",
    "/status/nominatedNodeName",
];

pub fn pod_row(p: &Value) -> Value {
    let s = |ptr: &str| p.at(ptr).and_then(Value::as_str);
    let gates = kubectl::readiness_gates(p).join(",");
    json!({
        "pod_namespace": s("/metadata/namespace").unwrap_or("default"),
        "pod_name": s("/metadata/name").unwrap_or(""),
        "pod_ready": kubectl::pod_ready(p),
        "pod_running": kubectl::pod_status(p),
        "pod_restart": kubectl::pod_restarts(p).to_string(),
        "pod_age": kubectl::age(p),
        "pod_ip": or_none(s("/status/podIP")),
        "pod_node": or_none(s("/spec/nodeName")),
        "pod_nominated_node": or_none(s("/status/nominatedNodeName")),
        "pod_readiness_gates": or_none(Some(&gates)),
    })
}

/// What [`node_row`] reads besides kubectl's columns.
const NODE_ROW_FIELDS: &[&str] = &["/metadata/name", "/status/nodeInfo"];

pub fn node_row(n: &Value) -> Value {
    let s = |ptr: &str| n.at(ptr).and_then(Value::as_str);
    json!({
        "node_name": s("/metadata/name").unwrap_or(""),
        "node_status": kubectl::node_status(n),
        "node_role": kubectl::node_roles(n),
        "node_age": kubectl::age(n),
        "node_version": or_none(s("/status/nodeInfo/kubeletVersion")),
        "node_internalip": or_none(kubectl::node_address(n, "InternalIP")),
        "node_externalip": or_none(kubectl::node_address(n, "ExternalIP")),
        "node_osversion": or_none(s("/status/nodeInfo/osImage")),
        "node_kernelversion": or_none(s("/status/nodeInfo/kernelVersion")),
        "node_containeruntime": or_none(s("/status/nodeInfo/containerRuntimeVersion")),
    })
}

fn page(rows: Vec<Value>) -> Response {
    pcapi::ok(
        "operate success",
        &json!({"total": rows.len(), "rows": rows}),
    )
}

pub fn pods(p: &Params) -> Result<Response, ApiError> {
    let c = cluster::resolve(p)?;
    let items = kubernetes::list(&c, "v1", "Pod", &all())?;
    Ok(page(rows(
        items,
        &[kubectl::POD_COLUMN_FIELDS, POD_ROW_FIELDS],
        pod_row,
        &["pod_namespace", "pod_name"],
    )?))
}

pub fn nodes(p: &Params) -> Result<Response, ApiError> {
    let c = cluster::resolve(p)?;
    let items = kubernetes::list(&c, "v1", "Node", &all())?;
    Ok(page(rows(
        items,
        &[kubectl::NODE_COLUMN_FIELDS, NODE_ROW_FIELDS],
        node_row,
        &["node_name"],
    )?))
}
