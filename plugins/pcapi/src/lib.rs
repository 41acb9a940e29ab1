//! pcapi: the compute center's cluster API (`/pcapi/api/v1/cluster/common/...`),
//! HTTP Basic as documented, `{status, info, data}` envelopes.
//!
//! - `get_cluster_pods`, `get_cluster_nodes`: kubectl-style boards;
//! - `node_label_opt`, `node_state_switch`, `delete_cluster_node`: node operations;
//! - `determine_accommodat`: products no single node can hold, through the
//!   `scheduling` capability (the active scheduling engine);
//! - `yaml_apply_delete`: a resource instance rendered from the documented
//!   parameters, applied (server-side apply) or deleted;
//! - `new_cluster`, `new_worker`: Kubernetes installed on machines over SSH,
//!   as persisted operations with phases ([`provision`]); with
//!   `Prefer: respond-async` the host answers 202 with the operation id.
//!
//! Every failure (a refused parameter, an unknown cluster or node, a failed
//! operation) answers HTTP 200 with the endpoint's documented failure
//! envelope: `status: false`, its `info` exactly (`operate failed`; `delete
//! node failed` and `switch node failed` with the documented `data`), and
//! what went wrong in `detail` ([`failure`]). Only the host's own answers
//! (401/403 authentication, 413, a trap or deadline) keep another status.

mod accommodate;
mod boards;
mod cluster;
mod nodes;
mod provision;
mod schema;

use computehub_sdk::envelope::pcapi;
use computehub_sdk::prelude::*;
use computehub_sdk::ApiError;
use serde_json::{json, Value};

struct Pcapi;

const BASE: &str = "/pcapi/api/v1/cluster/common";

fn path(p: &str) -> String {
    format!("{BASE}/{p}")
}

const MASTER_PARAMS: &[(&str, &str)] = &[
    (
        "host",
        "Address of the cluster's master (an inventory device)",
    ),
    ("port", "SSH port of the master"),
    ("user", "SSH user of the master"),
    (
        "psssword",
        "SSH password (documented spelling; `password` also accepted)",
    ),
    ("kubeconfig", "A kubeconfig, instead of host/port/user"),
    (
        "clusterid",
        "Inventory id of the cluster, when neither host nor kubeconfig is given",
    ),
];

/// The documented parameters a resource instance is rendered from
/// (`yaml_apply_delete`), besides the cluster, `action` and the names.
const WORKLOAD_PARAMS: [(&str, &str); 22] = [
    (
        "serviceaccount_name",
        "Service account name (default <podcd_name>-serviceaccount)",
    ),
    (
        "service_name",
        "Service name (default <podcd_name>-service)",
    ),
    ("cpcid", "Compute center id (recorded in labels)"),
    ("cluster_type", "Cluster type (kubernetes)"),
    ("source_name", "Resource instance name"),
    ("instance_type", "Instance type"),
    ("source_replicasetnum", "Replicas"),
    ("source_authuser", "Registry user"),
    (
        "source_authpasswd",
        "Registry password (stored in a Secret, never echoed)",
    ),
    ("pod_imagepath", "Container image"),
    (
        "source_memrate",
        "Memory limit (Kubernetes quantity, e.g. 4Gi)",
    ),
    ("source_cpurate", "CPU limit (cores or millicores)"),
    ("source_gpu", "nvidia.com/gpu limit"),
    (
        "source_selflabel",
        "Labels of the instance, key=value[,key=value], at most 32",
    ),
    (
        "source_nodeselector",
        "Node selector, key=value[,key=value], at most 32",
    ),
    (
        "source_portmode",
        "Port mapping mode: NodePort, ClusterIP, ...",
    ),
    (
        "source_restartpolicy",
        "Restart policy: Always, OnFailure, Never",
    ),
    ("source_apiport", "Service port inside the cluster"),
    ("source_insideport", "Container port"),
    (
        "source_outsideport",
        "NodePort outside the cluster (30000-32767)",
    ),
    (
        "source_mountpath",
        "Mount path of the storage claim in the container",
    ),
    (
        "source_storagelimits",
        "Size of the storage claim (e.g. 100Gi)",
    ),
];

fn with_master(r: RouteBuilder) -> RouteBuilder {
    r.query_params(MASTER_PARAMS.iter())
}

/// A route's documented answer: the envelope, failures included.
fn answered(r: RouteBuilder) -> RouteBuilder {
    r.response(200, pcapi::RESPONSE_200, Some(pcapi::response_schema()))
}

/// A route taking the documented SSH parameters of the machine it provisions.
fn machine_route(name: &str, summary: &str) -> RouteBuilder {
    answered(route::post(&path(name), AuthScheme::Basic))
        .summary(summary)
        .query_param("host", true, "IP address of the machine")
        .query_param("port", true, "SSH port")
        .query_param("user", true, "SSH user")
        .query_param(
            "psssword",
            true,
            "SSH password (documented spelling; `password` also accepted)",
        )
        .param(
            "header",
            "Prefer",
            false,
            serde_json::json!({"type": "string", "enum": ["respond-async"]}),
            "respond-async: answer 202 with the operation id at once",
        )
        .tag("pcapi")
}

/// The route's documentation from `openapi.json` (parameter types and the
/// document's example): an envelope's success schema is read from the
/// example, next to the envelope of a failure; a `POST` also takes its
/// parameters as a form or JSON body.
fn documented(r: RouteBuilder, docs: &serde_json::Map<String, Value>) -> RouteBuilder {
    let key = r.key();
    let example = docs.get(&key).and_then(|d| d.get("example"));
    let r = match example {
        Some(example) if example.get("status").is_some() => {
            let mut success = route::schema_of(example);
            success["required"] = json!(["status", "info", "data"]);
            success["properties"]["status"] = json!({"const": true});
            r.response_schema(200, json!({"anyOf": [success, pcapi::response_schema()]}))
        }
        _ => r,
    }
    .documented(docs);
    if key.starts_with("POST ") {
        r.query_as_body()
    } else {
        r
    }
}

impl Plugin for Pcapi {
    fn describe() -> PluginInfo {
        let docs = route::docs(include_str!("openapi.json"));
        plugin_info(
            "pcapi",
            env!("CARGO_PKG_VERSION"),
            ErrorFormat::Pcapi,
            [
                answered(with_master(route::get(&path("get_cluster_pods"), AuthScheme::Basic)))
                    .summary("Every pod of the cluster, as kubectl shows them")
                    .tag("pcapi"),
                answered(with_master(route::get(&path("get_cluster_nodes"), AuthScheme::Basic)))
                    .summary("Every node of the cluster, as kubectl shows them")
                    .tag("pcapi"),
                with_master(route::get(&path("determine_accommodat"), AuthScheme::Basic))
                    .summary("Ids of the products no single node can hold (bare JSON array)")
                    .response(
                        200,
                        "The bare JSON array of the ids no node can hold (with explain=true the envelope `{status: true, info, data: {unplaceable, products}}`); a failure answers HTTP 200 `{status: false, info: \"operate failed\", data: \"\", detail}`",
                        None,
                    )
                    .query_param(
                        "resources",
                        true,
                        "at most 10,000 products, one JSON array or the parameter repeated with one product each (resources={..}&resources={..}, also resources[]=): [{\"id\":\"p1\",\"cpu\":\"4\",\"memory\":\"8Gi\",\"gpu\":1,\"gpu_model\":\"RTX4090-24G\",\"disk\":\"100Gi\",\"labels\":{\"kyy-gpu\":\"true\"}}] (only id required, at most 253 characters; at most 32 labels a product)",
                    )
                    .query_param("explain", false, "true: per product, its node or every node's shortfalls (whole nodes first, within 8 MiB of explanation an answer shared by the unplaceable products; `shortfalls_omitted` counts what was left out)")
                    .tag("pcapi"),
                answered(with_master(route::post(&path("node_label_opt"), AuthScheme::Basic)))
                    .summary("Label or unlabel a node")
                    .query_param("worker_node", true, "Node name (a DNS subdomain)")
                    .query_param("label", true, "key=value (or key to unlabel)")
                    .query_param("opt", true, "label | unlabel")
                    .tag("pcapi"),
                answered(with_master(route::post(&path("node_state_switch"), AuthScheme::Basic)))
                    .summary("Cordon or uncordon a node, optionally draining it")
                    .query_param("worker_node", true, "Node name (also `node_name`)")
                    .query_param("state", true, "cordon | uncordon")
                    .query_param("darin", false, "Drain after cordon (documented spelling; `drain` also accepted)")
                    .deadline_ms(300_000)
                    .tag("pcapi"),
                answered(with_master(route::post(&path("delete_cluster_node"), AuthScheme::Basic)))
                    .summary("Delete a node; with force, cordon and drain it first")
                    .query_param("node_name", true, "Node name")
                    .query_param("force", false, "Cordon and drain before deleting")
                    .deadline_ms(300_000)
                    .tag("pcapi"),
                answered(with_master(route::post(&path("yaml_apply_delete"), AuthScheme::Basic)))
                    .summary("Apply or delete a resource instance rendered from the source_* parameters")
                    .query_param("action", false, "apply (default) | delete")
                    .query_param("namespace_name", true, "Namespace")
                    .query_param("podcd_name", true, "Workload name")
                    .query_param("source_podengine", false, "StatefulSet, Deployment, DaemonSet, CronJob, Job, Standalone")
                    .query_params(WORKLOAD_PARAMS.iter())
                    .deadline_ms(60_000)
                    .tag("pcapi"),
                machine_route("new_cluster", "Install a Kubernetes control plane on a machine over SSH; data: join command and kubeconfig")
                    .query_param("role", true, "master")
                    .query_param("cluster_type", false, "kubernetes (the only one supported)")
                    .query_param("package_source", false, "Kubernetes apt source URL")
                    .query_param("pod_network_cidr", false, "Pod network CIDR (10.244.0.0/16)")
                    .query_param("token_ttl", false, "Lifetime of the join token (2h0m0s)")
                    .deadline_ms(1_800_000),
                machine_route("new_worker", "Join a machine to a cluster over SSH with the CA pinned, and wait until its node is Ready")
                    .query_param("role", true, "worker")
                    .query_param("join_command", true, "kubeadm join <endpoint> --token <t> --discovery-token-ca-cert-hash sha256:<h>")
                    .query_param("kubeconfig", false, "The cluster's kubeconfig, to check the node name and wait for Ready")
                    .query_param("package_source", false, "Kubernetes apt source URL")
                    .deadline_ms(1_200_000),
            ]
            .map(|r| documented(r, &docs)),
        )
    }

    fn handle(req: Request) -> Response {
        let name = req
            .route
            .strip_prefix(BASE)
            .unwrap_or("")
            .trim_start_matches('/');
        let params = match req.params() {
            Ok(p) => p,
            Err(e) => return failure(name, &Params::new(), &e.into()),
        };
        let result = match (req.method, name) {
            (Method::Get, "get_cluster_pods") => boards::pods(&params),
            (Method::Get, "get_cluster_nodes") => boards::nodes(&params),
            (Method::Get, "determine_accommodat") => accommodate::determine(&params),
            (Method::Post, "node_label_opt") => nodes::label(&params),
            (Method::Post, "node_state_switch") => nodes::state_switch(&params),
            (Method::Post, "delete_cluster_node") => nodes::delete(&params),
            (Method::Post, "yaml_apply_delete") => nodes::yaml_apply_delete(&params),
            (Method::Post, "new_cluster") => provision::new_cluster(&params),
            (Method::Post, "new_worker") => provision::new_worker(&params),
            _ => Err(ApiError::NotFound(format!("no pcapi route {}", req.route))),
        };
        result.unwrap_or_else(|e| {
            computehub_sdk::log::warn!("pcapi call failed: {e}"; "route" => req.route.as_str());
            failure(name, &params, &e)
        })
    }
}

/// A failure of endpoint `name` as its document shows it: HTTP 200,
/// `status: false`, the endpoint's failure `info` and `data`, and `detail`.
///
/// `data` describes what was attempted where the document's example does
/// (`delete_cluster_node`: `{node_name, force}`; `node_state_switch`:
/// `{state, drain}`, the node added as on success; `node_label_opt`, whose
/// failure example is `node_state_switch`'s: the node, label and opt),
/// `null` for `yaml_apply_delete` (its example), `""` otherwise.
fn failure(name: &str, p: &Params, e: &ApiError) -> Response {
    // What was sent, as far as it reads (the failure may be that it does not).
    let text = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| p.optional_str(n).ok().flatten())
            .unwrap_or("")
            .to_owned()
    };
    let flag = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| p.optional_bool(n).ok().flatten())
            .unwrap_or(false)
    };
    match name {
        "delete_cluster_node" => pcapi::failure(
            "delete node failed",
            &json!({"node_name": text(&["node_name", "worker_node"]), "force": flag(&["force"])}),
            e,
        ),
        "node_state_switch" => pcapi::failure(
            "switch node failed",
            &json!({"state": text(&["state"]), "drain": flag(&["darin", "drain"]),
                "node_name": text(&["worker_node", "node_name"])}),
            e,
        ),
        "node_label_opt" => pcapi::failure(
            "switch node failed",
            &json!({"worker_node": text(&["worker_node", "node_name"]), "label": text(&["label"]),
                "opt": text(&["opt"])}),
            e,
        ),
        "yaml_apply_delete" => pcapi::failure(pcapi::FAILED, &Value::Null, e),
        _ => pcapi::from_error(e),
    }
}

export_plugin!(Pcapi);
export_declarations!(Pcapi);
