//! `GET|PUT /admin/plugins/{id}/grants`: what a plugin is granted and where
//! that comes from (the operator's config file, the admin API, the built-in
//! defaults), and granting it through the admin API without a restart:
//! persisted, in force for the next call, a changed import grant reloading
//! the active version. The config file still wins where it names a plugin.
//!
//! The body is the plugin's config entry as JSON, the same keys as the TOML
//! (`{"grants": ["log", "inventory"], "write": ["devices"], "secrets":
//! ["devices.adminpwd"], "kube-targets": ["10.0.0.0/8:6443"]}`); `role`
//! defaults to the active version's.

use http::{Request, Response};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde_json::json;

use super::reply::{self, Body};
use super::App;
use crate::config::PluginConfig;
use crate::envelope::Envelope;
use crate::registry::InstallError;
use crate::runtime::Role;

/// Largest grant body.
const MAX_GRANT: usize = 64 << 10;

fn error(status: u16, msg: &str) -> Response<Body> {
    reply::error(Envelope::plain(), status, msg)
}

fn shown(app: &App, id: &str) -> serde_json::Value {
    let (grant, source) = app.registry.grant_of(id);
    json!({
        "id": id,
        "source": source.as_str(),
        "grant": grant.map_or_else(
            || json!({"grants": ["log"]}),
            |g| serde_json::to_value(g).unwrap_or_default(),
        ),
    })
}

/// `GET /admin/plugins/{id}/grants`.
pub fn get(app: &App, id: &str) -> Response<Body> {
    reply::json(200, &shown(app, id))
}

/// `PUT /admin/plugins/{id}/grants`.
pub async fn put(app: &App, req: Request<Incoming>, id: &str) -> Response<Body> {
    let body = match Limited::new(req.into_body(), MAX_GRANT).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return error(413, "a grant is at most 64 KiB of JSON"),
    };
    let mut value: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(serde_json::Value::Object(m)) => serde_json::Value::Object(m),
        _ => {
            return error(
                400,
                "the body must be a JSON object: the plugin's config entry",
            )
        }
    };
    if value.get("role").is_none() {
        let role = app
            .registry
            .table()
            .plugins
            .get(id)
            .map(|p| p.role)
            .or_else(|| app.registry.grant_of(id).0.map(|g| g.role))
            .unwrap_or(Role::Endpoint);
        value["role"] = json!(role.as_str());
    }
    let grant: PluginConfig = match serde_json::from_value(value) {
        Ok(g) => g,
        // serde's text names the field and what it expected; no secret can
        // be in a grant.
        Err(e) => return error(400, &format!("the grant is not valid: {e}")),
    };
    match app.registry.set_grant(id, grant).await {
        Ok(reloaded) => {
            let mut body = shown(app, id);
            body["reloaded"] = json!(reloaded);
            reply::json(200, &body)
        }
        Err(e @ InstallError::ConfigWins(_)) => error(409, &e.to_string()),
        Err(InstallError::Refused(m)) => error(422, &m),
        Err(InstallError::Persist(e)) => {
            tracing::error!(error = %e, "saving a grant failed");
            error(500, "the store failed while saving the grant")
        }
        Err(e) => error(422, &e.to_string()),
    }
}
