//! Huawei IEF (Intelligent EdgeFabric), v3 paths, as Huawei's SDKs call
//! them: AK/SK-signed requests or `X-Auth-Token` (auth scheme `aksk`),
//! plain JSON bodies, errors `{error_code: "IEF.xxxxxx", error_msg}`.
//!
//! - `GET /v3/{project_id}/edgemgr/pods` ([`pods`]);
//! - `POST|GET /v3/{project_id}/edgemgr/deployments`,
//!   `GET|DELETE /v3/{project_id}/edgemgr/deployments/{deployment_id}`
//!   ([`deployments`], validation in [`validate`], the Kubernetes objects in
//!   [`render`]).
//!
//! A project id maps to the caller's organisation's cluster and a namespace
//! ([`project`]); edge nodes and node groups are the cluster's nodes carrying
//! node-id and group-id labels. The error codes are in [`error`] and
//! `docs/ief-error-codes.md`.

mod deployments;
mod error;
mod pods;
mod project;
mod render;
mod schema;
mod validate;

use computehub_sdk::prelude::*;
use serde_json::json;

use error::IefError;

struct Ief;

const PODS: &str = "/v3/{project_id}/edgemgr/pods";
const DEPLOYMENTS: &str = "/v3/{project_id}/edgemgr/deployments";
const DEPLOYMENT: &str = "/v3/{project_id}/edgemgr/deployments/{deployment_id}";

fn common(r: RouteBuilder) -> RouteBuilder {
    r.tag("ief")
        .param(
            "header",
            "ief-instance-id",
            false,
            json!({"type": "string"}),
            "Platinum edition instance id; empty for the professional edition",
        )
        .response(
            400,
            "`{error_code: \"IEF.1000xx\", error_msg}` naming the field (docs/ief-error-codes.md)",
            None,
        )
        .response(500, "`{error_code: \"IEF.100500\", error_msg}`", None)
}

impl Plugin for Ief {
    fn describe() -> PluginInfo {
        let docs = route::docs(include_str!("openapi.json"));
        plugin_info(
            "ief",
            env!("CARGO_PKG_VERSION"),
            ErrorFormat::Ief,
            [
                common(route::get(PODS, AuthScheme::Aksk))
                    .summary("List application instances (pods) by node, group or deployment (查询应用实例列表)")
                    .query_param("node_id", false, "Edge node id (exactly one of node_id, group_id, deployment_id, deployment_ids)")
                    .query_param("group_id", false, "Node group id")
                    .query_param("deployment_id", false, "Deployment id")
                    .query_param("deployment_ids", false, "Deployment ids, comma-separated, at most 100")
                    .query_param("limit", false, "At most this many pods (1-1000)")
                    .query_param("offset", false, "Skip this many pods")
                    .response(200, "`{count, pods: [PodResponse]}`", None),
                common(route::post(DEPLOYMENTS, AuthScheme::Aksk))
                    .summary("Create a deployment on an edge node or node group (创建部署)")
                    .json_body(json!({"type": "object", "required": ["name", "deployment"]}))
                    .response(201, "The deployment", None)
                    .response(409, "A deployment of that name exists (IEF.100013)", None),
                common(route::get(DEPLOYMENTS, AuthScheme::Aksk))
                    .summary("List deployments")
                    .query_param("name", false, "Deployment name")
                    .query_param("node_id", false, "Edge node id")
                    .query_param("group_id", false, "Node group id")
                    .query_param("limit", false, "At most this many (1-1000)")
                    .query_param("offset", false, "Skip this many")
                    .response(200, "`{count, deployments}`", None),
                common(route::get(DEPLOYMENT, AuthScheme::Aksk))
                    .summary("Show a deployment")
                    .response(200, "The deployment", None)
                    .response(404, "No such deployment (IEF.100014)", None),
                common(route::delete(DEPLOYMENT, AuthScheme::Aksk))
                    .summary("Delete a deployment and its pods")
                    .response(204, "Deleted", None)
                    .response(404, "No such deployment (IEF.100014)", None),
            ]
            .map(|r| r.documented(&docs)),
        )
    }

    fn handle(req: Request) -> Response {
        let result = project::resolve(&req).and_then(|p| match (req.method, req.route.as_str()) {
            (Method::Get, PODS) => pods::list(&req, &p),
            (Method::Post, DEPLOYMENTS) => deployments::create(&req, &p),
            (Method::Get, DEPLOYMENTS) => deployments::list(&req, &p),
            (Method::Get, DEPLOYMENT) => deployments::get(&req, &p),
            (Method::Delete, DEPLOYMENT) => deployments::delete(&req, &p),
            _ => Err(IefError {
                status: 404,
                code: "IEF.000404",
                msg: format!("no IEF route {}", req.route),
            }),
        });
        result.unwrap_or_else(|e| {
            if e.status >= 500 {
                computehub_sdk::log::warn!("ief: failed: {}", e.msg; "route" => req.route.as_str());
                IefError::internal("internal error; see the server log").response()
            } else {
                e.response()
            }
        })
    }
}

export_plugin!(Ief);
export_declarations!(Ief);
