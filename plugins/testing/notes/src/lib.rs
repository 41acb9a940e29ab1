//! Shared code of the `notes-v1`, `notes-v2` and `notes-v3` test components.
//!
//! All three are plugin `notes`, which owns a collection of its own,
//! `notes` (the host names it `notes.notes`), with a secret field `token`,
//! and answers failures in an envelope it declares itself
//! (`{"ok": false, "reason": ...}`). v2 adds the optional field `tag` (an
//! upgrade the host applies, keeping rows); v3 drops `token` (a destructive
//! change the host refuses at upload).

use computehub_sdk::declare::{self, collection, CollectionDecl, Envelope, Kind};
use computehub_sdk::inventory::{self, RowQuery, Value};
use computehub_sdk::prelude::*;
use serde_json::json;

/// The plugin name every version declares.
pub const NAME: &str = "notes";

/// Which fields a version declares.
#[derive(Clone, Copy)]
pub struct Shape {
    /// The secret field `token` (v1, v2).
    pub token: bool,
    /// The optional field `tag` (v2, v3).
    pub tag: bool,
}

/// `describe()` of notes at `version`.
pub fn describe(version: &str) -> PluginInfo {
    plugin_info(
        NAME,
        version,
        ErrorFormat::Plain,
        [
            route::get("/notes/version", AuthScheme::None).summary("The running version"),
            route::post("/notes", AuthScheme::Bearer)
                .summary("Store a note: {title, token?, tag?} (token sealed)"),
            route::get("/notes", AuthScheme::Bearer).summary("The caller's notes"),
        ],
    )
}

/// The collections of a version of shape `shape`.
pub fn collections(shape: Shape) -> Vec<CollectionDecl> {
    let mut c = collection("notes").unique("title", Kind::Text);
    if shape.token {
        c = c.field("token", Kind::Secret);
    }
    if shape.tag {
        c = c.field("tag", Kind::Text);
    }
    vec![c.index(&["title"]).into()]
}

/// The envelope every version declares.
pub fn envelope() -> Option<Envelope> {
    Some(declare::envelopes::flag("ok", "reason"))
}

fn fail(status: u16, reason: &str) -> Response {
    response::json(status, &json!({ "ok": false, "reason": reason }))
}

/// `handle()` of notes at `version`.
pub fn handle(version: &str, req: &Request) -> Response {
    match (req.method, req.route.as_str()) {
        (Method::Get, "/notes/version") => {
            response::json(200, &json!({ "plugin": NAME, "version": version }))
        }
        (Method::Post, "/notes") => {
            let Ok(body) =
                serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&req.body)
            else {
                return fail(400, "the body must be a JSON object");
            };
            let mut fields = Vec::new();
            for (name, v) in &body {
                let Some(text) = v.as_str() else {
                    return fail(400, &format!("`{name}` must be a string"));
                };
                let value = if name == "token" {
                    Value::secret(text)
                } else {
                    Value::from(text)
                };
                fields.push(inventory::field(name, value));
            }
            match inventory::insert("notes", &fields) {
                Ok(row) => response::json(
                    201,
                    &json!({ "ok": true, "data": inventory::row_json(&row) }),
                ),
                Err(e) => fail(400, &ApiError::from(e).to_string()),
            }
        }
        (Method::Get, "/notes") => {
            match inventory::query("notes", &RowQuery::new().order("title", false)) {
                Ok(page) => {
                    let rows: Vec<_> = page.rows.iter().map(inventory::row_json).collect();
                    response::json(
                        200,
                        &json!({ "ok": true, "data": { "total": page.total, "rows": rows } }),
                    )
                }
                Err(e) => fail(400, &ApiError::from(e).to_string()),
            }
        }
        _ => fail(404, "no such route"),
    }
}

/// A version of the notes plugin: `notes::version!(Notes, "1.0.0", Shape { .. })`.
#[macro_export]
macro_rules! version {
    ($t:ident, $version:expr, $shape:expr) => {
        struct $t;

        impl computehub_sdk::Plugin for $t {
            fn describe() -> computehub_sdk::PluginInfo {
                $crate::describe($version)
            }

            fn handle(req: computehub_sdk::Request) -> computehub_sdk::Response {
                $crate::handle($version, &req)
            }
        }

        impl computehub_sdk::declarations::Guest for $t {
            fn collections() -> Vec<computehub_sdk::declare::CollectionDecl> {
                $crate::collections($shape)
            }

            fn error_envelope() -> Option<computehub_sdk::declare::Envelope> {
                $crate::envelope()
            }
        }

        computehub_sdk::export_plugin!($t);
        computehub_sdk::export_declarations!($t);
    };
}
