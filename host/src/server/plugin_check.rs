//! `POST /admin/plugins/{id}/check?role=...` (the wasm as body): the upload
//! of `PUT /admin/plugins/{id}` as a dry run. The component is compiled,
//! checked against the plugin's grant, described, its collections'
//! migration tried on a scratch store and its routes placed beside the
//! other plugins' ([`crate::registry::Registry::check`]); nothing is stored,
//! migrated or activated. The answer says what the upload would change:
//! the routes added, removed and kept against the active version, the
//! capabilities the component imports and whether its grant covers them,
//! the routes it would serve without authentication, and the collections it
//! declares. A refusal is the one the upload would give (422 with `needs`
//! when the grant lacks an import or a public route). Like every
//! state-changing admin call it is audited.

use std::collections::BTreeSet;

use http::{Request, Response};
use hyper::body::Incoming;
use serde_json::json;

use super::admin::{component, describe, refused};
use super::reply::{self, Body};
use super::App;
use crate::registry::router::method_name;
use crate::registry::PluginEntry;

/// `METHOD path` of every route of a version.
fn routes(p: &PluginEntry) -> BTreeSet<String> {
    p.routes
        .iter()
        .map(|r| format!("{} {}", method_name(r.method), r.path))
        .collect()
}

pub async fn check(app: &App, req: Request<Incoming>, id: &str) -> Response<Body> {
    let (role, wasm) = match component(app, req, id).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let checked = match app.registry.check(id, role, &wasm).await {
        Ok(c) => c,
        Err(e) => return refused(app, id, &wasm, e),
    };
    let new = routes(&checked.entry);
    let old = checked.active.as_deref().map(routes).unwrap_or_default();
    let imports: Vec<&str> = app
        .registry
        .runtime
        .imported(&wasm)
        .unwrap_or_default()
        .into_iter()
        .map(|c| c.interface())
        .collect();
    let granted: Vec<&str> = app
        .registry
        .effective_config()
        .grants(id)
        .into_iter()
        .map(|c| c.interface())
        .collect();
    let declared = app.store.declared(id).await.unwrap_or_default();
    let collections: Vec<_> = checked
        .entry
        .collections
        .iter()
        .map(|c| {
            json!({
                "name": crate::store::schema::qualified(id, c),
                "exists": declared.contains(c),
            })
        })
        .collect();
    let mut plugin = describe(app, &checked.entry);
    // The checked version has no instances: only a live one would.
    plugin["instances"] = serde_json::Value::Null;
    reply::json(
        200,
        &json!({
            "id": id,
            "role": role.as_str(),
            "stored": false,
            "plugin": plugin,
            "active": checked.active.as_deref().map(|a| json!({
                "name": a.name, "version": a.version, "sha256": a.sha256,
            })),
            "routes": {
                "added": new.difference(&old).collect::<Vec<_>>(),
                "removed": old.difference(&new).collect::<Vec<_>>(),
                "kept": new.intersection(&old).collect::<Vec<_>>(),
            },
            "grants": {
                "imports": imports,
                "granted": granted,
                "missing": imports.iter().filter(|i| !granted.contains(i)).collect::<Vec<_>>(),
                // Routes anonymous callers would reach (each granted, or
                // the check would have been refused).
                "public-routes": checked.entry.public_routes(),
            },
            "collections": collections,
        }),
    )
}
