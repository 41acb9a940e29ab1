//! Test component: plugin `wit-0-1-0`, built with raw wit-bindgen (not the
//! SDK) against `wit/`, a copy of the WIT as it was before
//! `inventory.query-table` was added (stop 35). The host must keep linking
//! and serving it: an addition to an interface may not break a plugin
//! built before it (`tests/e2e/tables.rs`).

#[allow(missing_docs, clippy::all)]
mod bindings {
    wit_bindgen::generate!({ world: "endpoint-plugin", path: "wit" });
}

use bindings::computehub::platform::inventory::{self, RowQuery};
use bindings::computehub::platform::types::{
    AuthScheme, ErrorFormat, Method, PluginInfo, Request, Response, Route,
};
use bindings::exports::computehub::platform::handler::Guest;

struct Old;

impl Guest for Old {
    fn describe() -> PluginInfo {
        PluginInfo {
            name: "wit-0-1-0".into(),
            version: "0.1.0".into(),
            error_format: ErrorFormat::Plain,
            routes: vec![Route {
                method: Method::Get,
                path: "/wit-0-1-0/devices".into(),
                auth: AuthScheme::Bearer,
                deadline_ms: None,
                openapi: String::new(),
            }],
        }
    }

    /// `{"total": n, "first": name}` of the caller's devices, through
    /// `inventory.query` as it was.
    fn handle(_req: Request) -> Response {
        let q = RowQuery {
            conditions: Vec::new(),
            order_by: Vec::new(),
            limit: Some(1),
            offset: 0,
        };
        let (status, body) = match inventory::query("devices", &q) {
            Ok(page) => {
                let first = page
                    .rows
                    .first()
                    .and_then(|r| r.fields.iter().find(|f| f.name == "name"))
                    .and_then(|f| match &f.value {
                        inventory::Value::Text(t) => Some(t.clone()),
                        _ => None,
                    })
                    .unwrap_or_default();
                (
                    200,
                    format!(r#"{{"total":{},"first":"{first}"}}"#, page.total),
                )
            }
            Err(_) => (500, r#"{"error":"inventory.query failed"}"#.to_owned()),
        };
        Response {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.into_bytes(),
        }
    }
}

bindings::export!(Old with_types_in bindings);
