//! pcapi: the compute center's cluster API (`/pcapi/api/v1/cluster/common/...`),
//! HTTP Basic as documented, `{status, info, data}` envelopes.
//!
//! - `get_cluster_pods`, `get_cluster_nodes`: kubectl-style boards;
//! - `node_label_opt`, `node_state_switch`, `delete_cluster_node`: node operations;
//! - `determine_accommodat`: products no single node can hold, through the
//!   `scheduling` capability (the active scheduling engine);
//! - `yaml_apply_delete`: a resource instance rendered from the documented
//!   parameters, applied (server-side apply) or deleted.
//!
//! Bad parameters answer 400 and cluster failures 502/503/504, each with the
//! documented failure envelope (`status: false`).

mod accommodate;
mod boards;
mod cluster;
mod nodes;

use computehub_sdk::envelope::pcapi;
use computehub_sdk::prelude::*;
use computehub_sdk::ApiError;

struct Pcapi;

const BASE: &str = "/pcapi/api/v1/cluster/common";

fn path(p: &str) -> String {
    format!("{BASE}/{p}")
}

const MASTER_PARAMS: &[(&str, &str)] = &[
    ("host", "Address of the cluster's master (an inventory device)"),
    ("port", "SSH port of the master"),
    ("user", "SSH user of the master"),
    ("psssword", "SSH password (documented spelling; `password` also accepted)"),
    ("kubeconfig", "A kubeconfig, instead of host/port/user"),
];

fn with_master(mut r: RouteBuilder) -> RouteBuilder {
    for (name, what) in MASTER_PARAMS {
        r = r.query_param(name, false, what);
    }
    r
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
                        "JSON array of products: [{\"id\":\"p1\",\"cpu\":\"4\",\"memory\":\"8Gi\",\"gpu\":1,\"gpu_model\":\"RTX4090-24G\",\"disk\":\"100Gi\",\"labels\":{\"kyy-gpu\":\"true\"}}]",
                    )
                    .query_param("explain", false, "true: per product, its node or every node's shortfalls")
                    .tag("pcapi"),
                with_master(route::post(&path("node_label_opt"), AuthScheme::Basic))
                    .summary("Label or unlabel a node")
                    .query_param("worker_node", true, "Node name")
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
                    .deadline_ms(60_000)
                    .tag("pcapi"),
            ],
        )
    }

    fn handle(req: Request) -> Response {
        let params = match req.params() {
            Ok(p) => p,
            Err(e) => return pcapi::from_error(&e.into()),
        };
        let name = req.route.strip_prefix(BASE).unwrap_or("").trim_start_matches('/');
        let result = match (req.method, name) {
            (Method::Get, "get_cluster_pods") => boards::pods(&params),
            (Method::Get, "get_cluster_nodes") => boards::nodes(&params),
            (Method::Get, "determine_accommodat") => accommodate::determine(&params),
            (Method::Post, "node_label_opt") => nodes::label(&params),
            (Method::Post, "node_state_switch") => nodes::state_switch(&params),
            (Method::Post, "delete_cluster_node") => nodes::delete(&params),
            (Method::Post, "yaml_apply_delete") => nodes::yaml_apply_delete(&params),
            _ => Err(ApiError::NotFound(format!("no pcapi route {}", req.route))),
        };
        result.unwrap_or_else(|e| {
            computehub_sdk::log::warn!("pcapi call failed: {e}"; "route" => req.route.as_str());
            pcapi::from_error(&e)
        })
    }
}

export_plugin!(Pcapi);
