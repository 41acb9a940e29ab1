//! Alaya NeW: a distributed-training pod's basic information and its opened
//! ports (`/v1/training/instance/{id}/{podName}/...`), Bearer API keys,
//! answers in `{status, message, data}` with the same HTTP status.
//!
//! - `GET .../basic`: the pod as the live cluster has it ([`task`]);
//! - `GET .../open-port/list`: system and custom ports, each with its
//!   external host and NodePort ([`ports`]);
//! - `POST .../open-port` and `POST .../close-port`: the companion endpoints
//!   the document names, opening and closing a custom port.
//!
//! A task is a `training_instances` record of the caller's organisation;
//! its pods are the cluster's pods labelled with its id. A task of another
//! organisation, an unknown task and a pod that is not the task's all answer
//! the documented `403 Forbidden`, so nothing reveals what exists elsewhere.
//! Failures of the platform answer the documented `500 Internal Server
//! Error` (details go to the log); bad input answers 400 naming the field.

mod ports;
mod schema;
mod task;

use computehub_sdk::envelope::alaya;
use computehub_sdk::prelude::*;
use serde_json::json;

struct Alaya;

const BASE: &str = "/v1/training/instance/{id}/{podName}";

fn path(p: &str) -> String {
    format!("{BASE}/{p}")
}

fn with_ids(r: RouteBuilder) -> RouteBuilder {
    r.tag("alaya")
        .response(200, "`{status: 200, message: \"OK\", data}`", None)
        .response(
            400,
            "`{status: 400, message, data: {}}`: a bad `id` or `podName` (the message names the field and why)",
            None,
        )
        .response(
            403,
            "`{status: 403, message: \"Forbidden\", data: {}}`: another organisation's task, or an unknown task or pod",
            None,
        )
        .response(
            500,
            "`{status: 500, message: \"Internal Server Error\", data: {}}`",
            None,
        )
}

fn port_body(r: RouteBuilder) -> RouteBuilder {
    // Also accepted as query or form parameters.
    r.json_body(json!({
        "type": "object",
        "required": ["protocol", "port"],
        "properties": {
            "protocol": {"type": "string", "enum": ["http", "https"]},
            "port": {"type": "integer", "minimum": 1, "maximum": 65535}
        }
    }))
}

impl Plugin for Alaya {
    fn describe() -> PluginInfo {
        let docs = route::docs(include_str!("openapi.json"));
        plugin_info(
            "alaya",
            env!("CARGO_PKG_VERSION"),
            ErrorFormat::Alaya,
            [
                with_ids(route::get(&path("basic"), AuthScheme::Bearer))
                    .summary("A training pod's basic information (容器组基本信息)"),
                with_ids(route::get(&path("open-port/list"), AuthScheme::Bearer))
                    .summary("A training pod's opened ports: system and custom (Pod 开放端口列表)"),
                port_body(with_ids(route::post(
                    &path("open-port"),
                    AuthScheme::Bearer,
                )))
                .summary("Open a custom port of a training pod (Pod 开放端口)")
                .response(400, "`{status: 400, message, data: {}}`: a bad `id`, `podName`, `protocol` or `port` (the message names the field and why)", None)
                .response(409, "The port is already open", None),
                port_body(with_ids(route::post(
                    &path("close-port"),
                    AuthScheme::Bearer,
                )))
                .summary("Close a custom port of a training pod (Pod 关闭端口)")
                .response(400, "`{status: 400, message, data: {}}`: a bad `id`, `podName`, `protocol` or `port` (the message names the field and why)", None)
                .response(404, "No such custom port is open", None),
            ]
            .map(|r| r.documented(&docs)),
        )
    }

    fn handle(req: Request) -> Response {
        let name = req.route.strip_prefix(BASE).unwrap_or("");
        let result = match (req.method, name) {
            (Method::Get, "/basic") => task::basic(&req),
            (Method::Get, "/open-port/list") => ports::list(&req),
            (Method::Post, "/open-port") => ports::open(&req),
            (Method::Post, "/close-port") => ports::close(&req),
            _ => Err(ApiError::NotFound(format!("no Alaya route {}", req.route))),
        };
        result.unwrap_or_else(|e| render_error(&req, &e))
    }
}

/// The documented bodies for 403 and 5xx; other errors carry their message.
fn render_error(req: &Request, e: &ApiError) -> Response {
    let status = e.status();
    match status {
        403 => {
            computehub_sdk::log::info!("alaya: refused: {e}"; "route" => req.route.as_str());
            alaya::error(403, "Forbidden")
        }
        s if s >= 500 => {
            computehub_sdk::log::warn!("alaya: failed: {e}"; "route" => req.route.as_str());
            alaya::error(500, "Internal Server Error")
        }
        _ => alaya::from_error(e),
    }
}

export_plugin!(Alaya);
export_declarations!(Alaya);
