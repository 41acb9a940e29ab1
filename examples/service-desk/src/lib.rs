//! `service-desk`: a new API area with data of its own, the code of the
//! plugin guide's walk-through ("A new API area with its own data").
//!
//! - `POST /desk/tickets` (Bearer) opens a ticket `{title, contact_token?}`;
//! - `GET /desk/tickets` (Bearer) lists the caller's tickets, `?status=`.
//!
//! The plugin owns the collection `tickets` (the host names it
//! `service-desk.tickets`): organisation-scoped, `contact_token` sealed at
//! rest and read back redacted. Its failures, and the host's own answers on
//! its routes, are `{"ok": false, "error": "..."}`.

use computehub_sdk::declarations::Guest;
use computehub_sdk::declare::{self, collection, CollectionDecl, Envelope, Kind};
use computehub_sdk::inventory::{self, RowQuery, Value};
use computehub_sdk::prelude::*;
use serde_json::json;

struct Desk;

// guide:declare
impl Guest for Desk {
    fn collections() -> Vec<CollectionDecl> {
        vec![collection("tickets")
            .required("title", Kind::Text)
            .required("status", Kind::Text)
            .field("contact_token", Kind::Secret)
            .index(&["status"])
            .into()]
    }

    fn error_envelope() -> Option<Envelope> {
        Some(declare::envelopes::flag("ok", "error"))
    }
}
// guide:end

impl Plugin for Desk {
    fn describe() -> PluginInfo {
        plugin_info(
            "service-desk",
            env!("CARGO_PKG_VERSION"),
            ErrorFormat::Plain,
            [
                route::post("/desk/tickets", AuthScheme::Bearer).summary("Open a ticket"),
                route::get("/desk/tickets", AuthScheme::Bearer)
                    .query_param("status", false, "Only tickets in this status")
                    .summary("The caller's tickets"),
            ],
        )
    }

    fn handle(req: Request) -> Response {
        let answer = match (req.method, req.route.as_str()) {
            (Method::Post, "/desk/tickets") => open(&req),
            (Method::Get, "/desk/tickets") => list(&req),
            _ => Err(ApiError::NotFound("no such route".into())),
        };
        answer.unwrap_or_else(|e| {
            response::json(e.status(), &json!({ "ok": false, "error": e.to_string() }))
        })
    }
}

// guide:store
fn open(req: &Request) -> Result<Response, ApiError> {
    let p = req.params()?;
    let title = p.required_str("title")?;
    let mut fields = vec![
        inventory::field("title", title),
        inventory::field("status", "open"),
    ];
    if let Some(token) = p.optional_str("contact_token")? {
        fields.push(inventory::field("contact_token", Value::secret(token)));
    }
    // `tickets` is this plugin's own collection: no grant needed.
    let row = inventory::insert("tickets", &fields)?;
    Ok(response::json(
        201,
        &json!({ "ok": true, "data": inventory::row_json(&row) }),
    ))
}

fn list(req: &Request) -> Result<Response, ApiError> {
    let p = req.params()?;
    let mut q = RowQuery::new().order("created-at", false);
    if let Some(status) = p.optional_str("status")? {
        q = q.eq("status", status);
    }
    let page = inventory::query("tickets", &q)?;
    let rows: Vec<_> = page.rows.iter().map(inventory::row_json).collect();
    Ok(response::json(
        200,
        &json!({ "ok": true, "data": { "total": page.total, "rows": rows } }),
    ))
}
// guide:end

export_plugin!(Desk);
computehub_sdk::export_declarations!(Desk);
