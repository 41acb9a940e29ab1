//! `get_cluster_pods` and `get_cluster_nodes`: the cluster's pods and nodes
//! with the documented row fields and kubectl's values.

use computehub_sdk::boards::{self, Board};
use computehub_sdk::envelope::pcapi;
use computehub_sdk::fields::At;
use computehub_sdk::kubectl::{self, or_none};
use computehub_sdk::kubernetes::Selector;
use computehub_sdk::params::Params;
use computehub_sdk::{ApiError, Response};
use serde_json::{json, Value};

use crate::cluster;

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

pub fn pods(p: &Params) -> Result<Response, ApiError> {
    let c = cluster::resolve(p)?;
    let fields = kubectl::POD_COLUMN_FIELDS.iter().chain(POD_ROW_FIELDS);
    let rows = boards::rows(&c, "v1", "Pod", &all(), fields.copied(), pod_row)?;
    Ok(pcapi::ok("operate success", &Board::from(rows)))
}

pub fn nodes(p: &Params) -> Result<Response, ApiError> {
    let c = cluster::resolve(p)?;
    let fields = kubectl::NODE_COLUMN_FIELDS.iter().chain(NODE_ROW_FIELDS);
    let rows = boards::rows(&c, "v1", "Node", &all(), fields.copied(), node_row)?;
    Ok(pcapi::ok("operate success", &Board::from(rows)))
}
