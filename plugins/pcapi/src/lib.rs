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
//! Bad parameters answer 400 and cluster failures 502/503/504, each with the
//! documented failure envelope (`status: false`).

mod accommodate;
mod boards;
mod cluster;
mod nodes;
mod provision;

use computehub_sdk::envelope::pcapi;
use computehub_sdk::prelude::*;
use computehub_sdk::ApiError;

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

/// A route taking the documented SSH parameters of the machine it provisions.
fn machine_route(name: &str, summary: &str) -> RouteBuilder {
    route::post(&path(name), AuthScheme::Basic)
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

impl Plugin for Pcapi {
    fn describe() -> PluginInfo {
        plugin_info(
            "pcapi",
            env!("CARGO_PKG_VERSION"),
            ErrorFormat::Pcapi,
            [
                with_master(route::get(&path("get_cluster_pods"), AuthScheme::Basic))
                    .summary("Every pod of the cluster, as kubectl shows them")
                    .tag("pcapi"),
                with_master(route::get(&path("get_cluster_nodes"), AuthScheme::Basic))
                    .summary("Every node of the cluster, as kubectl shows them")
                    .tag("pcapi"),
                with_master(route::get(&path("determine_accommodat"), AuthScheme::Basic))
                    .summary("Ids of the products no single node can hold (bare JSON array)")
                    .query_param(
                        "resources",
                        true,
                        "JSON array of at most 10,000 products: [{\"id\":\"p1\",\"cpu\":\"4\",\"memory\":\"8Gi\",\"gpu\":1,\"gpu_model\":\"RTX4090-24G\",\"disk\":\"100Gi\",\"labels\":{\"kyy-gpu\":\"true\"}}] (only id required, at most 253 characters; at most 32 labels a product)",
                    )
                    .query_param("explain", false, "true: per product, its node or every node's shortfalls (whole nodes first, within 8 MiB of explanation an answer shared by the unplaceable products; `shortfalls_omitted` counts what was left out)")
                    .tag("pcapi"),
                with_master(route::post(&path("node_label_opt"), AuthScheme::Basic))
                    .summary("Label or unlabel a node")
                    .query_param("worker_node", true, "Node name (a DNS subdomain)")
                    .query_param("label", true, "key=value (or key to unlabel)")
                    .query_param("opt", true, "label | unlabel")
                    .tag("pcapi"),
                with_master(route::post(&path("node_state_switch"), AuthScheme::Basic))
                    .summary("Cordon or uncordon a node, optionally draining it")
                    .query_param("worker_node", true, "Node name (also `node_name`)")
                    .query_param("state", true, "cordon | uncordon")
                    .query_param("darin", false, "Drain after cordon (documented spelling; `drain` also accepted)")
                    .deadline_ms(300_000)
                    .tag("pcapi"),
                with_master(route::post(&path("delete_cluster_node"), AuthScheme::Basic))
                    .summary("Delete a node; with force, cordon and drain it first")
                    .query_param("node_name", true, "Node name")
                    .query_param("force", false, "Cordon and drain before deleting")
                    .deadline_ms(300_000)
                    .tag("pcapi"),
                with_master(route::post(&path("yaml_apply_delete"), AuthScheme::Basic))
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
            ],
        )
    }

    fn handle(req: Request) -> Response {
        let params = match req.params() {
            Ok(p) => p,
            Err(e) => return pcapi::from_error(&e.into()),
        };
        let name = req
            .route
            .strip_prefix(BASE)
            .unwrap_or("")
            .trim_start_matches('/');
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
            pcapi::from_error(&e)
        })
    }
}

export_plugin!(Pcapi);
