//! The admin API, behind the admin token:
//! `GET /admin/plugins`, `PUT /admin/plugins/{id}?role=...` (the wasm as
//! body), `POST /admin/plugins/{id}/check?role=...` (the same upload as a
//! dry run, [`super::plugin_check`]), `POST /admin/plugins/{id}/rollback`; and the SSH host keys pinned
//! on first use: `GET /admin/ssh-host-keys[?org=ORG]`,
//! `DELETE /admin/ssh-host-keys/{org}/{target}` (a reinstalled machine
//! presents a new key, which stays refused until its pin is removed); and
//! API keys: `GET /admin/keys[?org=ORG]` (no secrets), `DELETE
//! /admin/keys/{id}` (revoke); and grants, `GET|PUT
//! /admin/plugins/{id}/grants` ([`super::grants`]).

use std::sync::LazyLock;

use http::{Method, Request, Response};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde_json::json;

use super::reply::{self, Body};
use super::{App, MAX_UPLOAD};
use crate::auth;
use crate::capabilities::ssh::pins;
use crate::registry::{router::method_name, InstallError, PluginEntry};
use crate::runtime::{LoadError, Role};
use crate::store::storable;

mod storage;

#[derive(Clone, Copy)]
enum Op {
    List,
    Plugin,
    Rollback,
    Check,
    Grants,
    Audit,
    HostKeys,
    HostKey,
    Keys,
    Key,
    Storage,
    OrgStorage,
}

static ROUTES: LazyLock<matchit::Router<Op>> = LazyLock::new(|| {
    let mut r = matchit::Router::new();
    for (path, op) in [
        ("/admin/plugins", Op::List),
        ("/admin/plugins/{id}", Op::Plugin),
        ("/admin/plugins/{id}/rollback", Op::Rollback),
        ("/admin/plugins/{id}/check", Op::Check),
        ("/admin/plugins/{id}/grants", Op::Grants),
        ("/admin/audit", Op::Audit),
        ("/admin/ssh-host-keys", Op::HostKeys),
        ("/admin/ssh-host-keys/{org}/{target}", Op::HostKey),
        ("/admin/keys", Op::Keys),
        ("/admin/keys/{id}", Op::Key),
        ("/admin/storage", Op::Storage),
        ("/admin/storage/{org}", Op::OrgStorage),
    ] {
        // Static, distinct templates: insertion cannot fail.
        let _ = r.insert(path, op);
    }
    r
});

fn error(status: u16, msg: &str) -> Response<Body> {
    reply::error(crate::envelope::Envelope::plain(), status, msg)
}

/// A pool's live figures: idle instances, created, reused, discarded by reason.
fn pool_figures<H: Send>(pool: &crate::runtime::warm::Pool<H>) -> serde_json::Value {
    use std::sync::atomic::Ordering;
    let discarded: serde_json::Map<String, serde_json::Value> = pool
        .stats
        .discards()
        .into_iter()
        .map(|(why, n)| (why.to_string(), n.into()))
        .collect();
    json!({
        "isolation": pool.isolation.as_str(),
        "idle": pool.idle_count(),
        "created": pool.stats.created.load(Ordering::Relaxed),
        "reused": pool.stats.reused.load(Ordering::Relaxed),
        "discarded": discarded,
    })
}

/// The instances of a plugin version: its endpoint pool, or its engine's.
pub fn instances(app: &App, p: &PluginEntry) -> serde_json::Value {
    if let Some(e) = &p.endpoint {
        return pool_figures(&e.pool);
    }
    let engines = app.registry.runtime.engines();
    let handle = match p.role {
        crate::runtime::Role::Pricing => engines.pricing.load_full(),
        crate::runtime::Role::Scheduling => engines.scheduling.load_full(),
        crate::runtime::Role::Endpoint => None,
    };
    handle
        .filter(|h| h.id == p.id)
        .map(|h| pool_figures(&h.pool))
        .unwrap_or(serde_json::Value::Null)
}

pub fn describe(app: &App, p: &PluginEntry) -> serde_json::Value {
    json!({
        "id": p.id,
        "role": p.role.as_str(),
        "name": p.name,
        "version": p.version,
        "sha256": p.sha256,
        "source": p.source,
        "active_since": p.active_since,
        "instances": instances(app, p),
        // What the plugin asks for itself (its `instances` export); the
        // stricter of it and the operator's is `instances.isolation`.
        "isolation_asked": p.asked.map(|a| a.as_str()),
        "collections": p.collections.iter().map(|c| crate::store::schema::qualified(&p.id, c)).collect::<Vec<_>>(),
        "envelope": p.envelope.describe(),
        "routes": p.routes.iter().map(|r| json!({
            "method": method_name(r.method),
            "path": r.path,
            "auth": r.auth.as_str(),
            "deadline_ms": r.deadline.as_millis() as u64,
        })).collect::<Vec<_>>(),
    })
}

fn install_error(e: InstallError) -> Response<Body> {
    let status = match &e {
        InstallError::Collision(_) | InstallError::ConfigWins(_) => 409,
        InstallError::NotFound(_) => 404,
        InstallError::Persist(detail) => {
            // A store failure: its detail is for the log, not the caller.
            tracing::error!(error = %detail, "recording the plugin version failed");
            return error(
                500,
                "the store failed while recording the plugin version; see the server log",
            );
        }
        InstallError::Load(LoadError::Describe(..)) => 422,
        InstallError::Load(_) | InstallError::Refused(_) | InstallError::NotPublic { .. } => 422,
    };
    error(status, &e.to_string())
}

/// The response and the route template it is counted under.
pub async fn handle(app: &App, req: Request<Incoming>) -> (Response<Body>, String) {
    let authz = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    // An operator's console session stands in for the token.
    let allowed = app.admin.verify(&app.store, authz).await
        || (authz.is_none()
            && crate::console::session::admin_allowed(&app.store, req.method(), req.headers())
                .await);
    if !allowed {
        return (
            reply::closing(error(
                401,
                "the admin API needs `Authorization: Bearer <admin token>`",
            )),
            "/admin".into(),
        );
    }
    let path = req.uri().path().to_string();
    let Ok(matched) = ROUTES.at(&path) else {
        return (
            error(404, &format!("no admin route {path}")),
            "/admin".into(),
        );
    };
    let op = *matched.value;
    let param = |name: &str| {
        let raw = matched.params.get(name).unwrap_or("");
        percent_encoding::percent_decode_str(raw)
            .decode_utf8_lossy()
            .into_owned()
    };
    let id = param("id");
    let (org, target) = (param("org"), param("target"));
    match (op, req.method().clone()) {
        (Op::List, Method::GET) => {
            let table = app.registry.table();
            let list: Vec<_> = table.plugins.values().map(|p| describe(app, p)).collect();
            (
                reply::json(200, &json!({ "plugins": list })),
                "/admin/plugins".into(),
            )
        }
        (Op::Plugin, Method::GET) => {
            let table = app.registry.table();
            let resp = match table.plugins.get(&id) {
                Some(p) => reply::json(200, &describe(app, p)),
                None => error(404, &format!("no plugin `{id}`")),
            };
            (resp, "/admin/plugins/{id}".into())
        }
        (Op::Plugin, Method::PUT) => (upload(app, req, &id).await, "/admin/plugins/{id}".into()),
        (Op::Rollback, Method::POST) => {
            let resp = match app.registry.rollback(&id).await {
                Ok(p) => reply::json(200, &describe(app, &p)),
                Err(e) => install_error(e),
            };
            (resp, "/admin/plugins/{id}/rollback".into())
        }
        (Op::Check, Method::POST) => (
            super::plugin_check::check(app, req, &id).await,
            "/admin/plugins/{id}/check".into(),
        ),
        (Op::Grants, Method::GET) => (
            super::grants::get(app, &id),
            "/admin/plugins/{id}/grants".into(),
        ),
        (Op::Grants, Method::PUT) => (
            super::grants::put(app, req, &id).await,
            "/admin/plugins/{id}/grants".into(),
        ),
        (Op::Audit, Method::GET) => (audit(app, req.uri().query()).await, "/admin/audit".into()),
        (Op::HostKeys, Method::GET) => (
            host_keys(app, req.uri().query()).await,
            "/admin/ssh-host-keys".into(),
        ),
        (Op::HostKey, Method::DELETE) => (
            forget_host_key(app, &org, &target).await,
            "/admin/ssh-host-keys/{org}/{target}".into(),
        ),
        (Op::Keys, Method::GET) => (keys(app, req.uri().query()).await, "/admin/keys".into()),
        (Op::Keys, Method::POST) => (create_key(app, req).await, "/admin/keys".into()),
        (Op::Key, Method::DELETE) => (revoke(app, &id).await, "/admin/keys/{id}".into()),
        (Op::Storage, Method::GET) => (
            storage::show(app, req.uri().query()).await,
            "/admin/storage".into(),
        ),
        (Op::Storage, Method::POST) => (storage::recount(app).await, "/admin/storage".into()),
        (Op::OrgStorage, Method::GET) => (
            storage::show_one(app, &org).await,
            "/admin/storage/{org}".into(),
        ),
        (Op::OrgStorage, Method::PUT) => (
            storage::set_quota(app, &org, req).await,
            "/admin/storage/{org}".into(),
        ),
        (_, m) => (
            error(405, &format!("method {m} is not allowed on {path}")),
            "/admin".into(),
        ),
    }
}

/// The role of an upload (`?role=`, else the active version's, the
/// config's, or endpoint) and its body, the component.
pub(super) async fn component(
    app: &App,
    req: Request<Incoming>,
    id: &str,
) -> Result<(Role, bytes::Bytes), Response<Body>> {
    let role_param = req.uri().query().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "role")
            .map(|(_, v)| v.into_owned())
    });
    let role = match role_param.as_deref() {
        None => app
            .registry
            .table()
            .plugins
            .get(id)
            .map(|p| p.role)
            .or_else(|| app.registry.effective_config().role(id))
            .unwrap_or(Role::Endpoint),
        Some(r) => match Role::parse(r) {
            Some(role) => role,
            None => {
                return Err(error(
                    400,
                    &format!("parameter `role` must be endpoint, pricing or scheduling, got `{r}`"),
                ))
            }
        },
    };
    let wasm = match Limited::new(req.into_body(), MAX_UPLOAD).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return Err(error(
                413,
                &format!("plugin upload is larger than {} MiB", MAX_UPLOAD >> 20),
            ))
        }
    };
    if wasm.is_empty() {
        return Err(error(
            400,
            "the request body must be the plugin's wasm component",
        ));
    }
    Ok((role, wasm))
}

async fn upload(app: &App, req: Request<Incoming>, id: &str) -> Response<Body> {
    let (role, wasm) = match component(app, req, id).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    match app.registry.install(id, role, &wasm).await {
        Ok(p) => reply::json(200, &describe(app, &p)),
        Err(e) => refused(app, id, &wasm, e),
    }
}

/// The answer to a refused upload (or dry run). One the grant refuses says
/// what the component asks for, so the operator can grant it (`PUT
/// /admin/plugins/{id}/grants`) and upload again.
pub(super) fn refused(app: &App, id: &str, wasm: &[u8], e: InstallError) -> Response<Body> {
    let public = match &e {
        InstallError::Load(LoadError::NotGranted { .. }) => None,
        InstallError::NotPublic { needs, .. } => Some(needs.clone()),
        _ => return install_error(e),
    };
    let grants: Vec<&str> = app
        .registry
        .runtime
        .imported(wasm)
        .unwrap_or_default()
        .into_iter()
        .map(|c| c.interface())
        .collect();
    let mut needs = json!({ "grants": grants });
    if let Some(public) = public {
        needs["public-routes"] = json!(public);
    }
    reply::json(
        422,
        &json!({
            "error": e.to_string(),
            "needs": needs,
            "grant_at": format!("/admin/plugins/{id}/grants"),
        }),
    )
}

/// A store failure: the details go to the log, the client gets a 500 saying
/// what failed.
fn store_failed(what: &str, e: crate::store::StoreError) -> Response<Body> {
    tracing::error!(error = %e, "{what} failed");
    error(500, &format!("the store failed while {what}"))
}

/// The `org` query parameter of the admin lists.
fn org_param(query: Option<&str>) -> Option<String> {
    query.and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "org")
            .map(|(_, v)| v.into_owned())
    })
}

/// `GET /admin/audit[?org=ORG&route=TEMPLATE&status=N&limit=N&offset=N]`:
/// state-changing calls, newest first (50 a page by default, at most 1,000).
async fn audit(app: &App, query: Option<&str>) -> Response<Body> {
    let mut f = super::audit::Filter {
        limit: 50,
        ..Default::default()
    };
    for (k, v) in url::form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        let number = |what: &str, max: u32| {
            v.parse::<u32>()
                .ok()
                .filter(|n| *n <= max)
                .ok_or_else(|| format!("parameter `{what}` must be an integer from 0 to {max}"))
        };
        let parsed = match k.as_ref() {
            "org" => {
                f.org = Some(v.to_string());
                Ok(())
            }
            "route" => {
                f.route = Some(v.to_string());
                Ok(())
            }
            "status" => number("status", 999).map(|n| f.status = Some(n as u16)),
            "limit" => number("limit", 1000).map(|n| f.limit = n),
            "offset" => number("offset", u32::MAX).map(|n| f.offset = n),
            other => Err(format!(
                "unknown parameter `{other}` (org, route, status, limit, offset)"
            )),
        };
        if let Err(m) = parsed {
            return error(400, &m);
        }
    }
    let unstorable = |v: &Option<String>| v.as_deref().is_some_and(|t| !storable(t));
    if unstorable(&f.org) || unstorable(&f.route) {
        return reply::json(200, &json!({ "total": 0, "entries": [] }));
    }
    match super::audit::query(&app.store, &f).await {
        Ok((rows, total)) => reply::json(200, &json!({ "total": total, "entries": rows })),
        Err(e) => store_failed("reading the audit log", e),
    }
}

/// `GET /admin/keys[?org=ORG]`: the API keys, without secrets.
async fn keys(app: &App, query: Option<&str>) -> Response<Body> {
    let org = org_param(query);
    if org.as_deref().is_some_and(|o| !storable(o)) {
        return reply::json(200, &json!({ "keys": [] }));
    }
    match auth::list_keys(&app.store, org.as_deref()).await {
        Ok(list) => reply::json(200, &json!({ "keys": list })),
        Err(e) => store_failed("listing api keys", e),
    }
}

/// What `POST /admin/keys` takes.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKey {
    org: String,
    scheme: String,
    #[serde(default)]
    project: Option<String>,
}

/// `POST /admin/keys` (`{"org", "scheme", "project"?}`): a new API key; its
/// credential is in this answer only (the store keeps its hash).
async fn create_key(app: &App, req: Request<Incoming>) -> Response<Body> {
    let body = match Limited::new(req.into_body(), 4 << 10).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return error(413, "a key request is at most 4 KiB of JSON"),
    };
    let new: NewKey = match serde_json::from_slice(&body) {
        Ok(n) => n,
        Err(_) => {
            return error(
                400,
                "the body must be {\"org\": ORG, \"scheme\": \"bearer\"|\"x-auth-token\"|\"basic\"|\"aksk\", \"project\": optional}",
            )
        }
    };
    let Some(scheme) = auth::Scheme::parse(&new.scheme) else {
        return error(
            400,
            &format!(
                "`scheme`: `{}` is not bearer, x-auth-token, basic or aksk",
                new.scheme
            ),
        );
    };
    if let Err(e) = crate::store::ids::validate_org(&new.org) {
        return error(400, &format!("`org`: {e}"));
    }
    match auth::create_project_key(&app.store, &new.org, scheme, new.project.as_deref()).await {
        Ok(c) => {
            tracing::info!(key_id = %c.key_id, org = %c.organisation, "api key created by the admin API");
            reply::json(
                201,
                &json!({
                    "id": c.key_id,
                    "organisation": c.organisation,
                    "scheme": c.scheme.as_str(),
                    "project": c.project,
                    "credential": c.credential,
                }),
            )
        }
        Err(crate::store::StoreError::Invalid(m)) => error(400, &m),
        Err(e) => store_failed("creating an api key", e),
    }
}

/// `DELETE /admin/keys/{id}`: revoke a key.
async fn revoke(app: &App, id: &str) -> Response<Body> {
    if !storable(id) {
        return error(404, &format!("no active key `{}`", id.escape_default()));
    }
    match auth::revoke_key(&app.store, id).await {
        Ok(true) => {
            tracing::info!(key_id = id, "api key revoked by the admin API");
            reply::json(200, &json!({ "id": id, "revoked": true }))
        }
        Ok(false) => error(404, &format!("no active key `{id}`")),
        Err(e) => store_failed("revoking an api key", e),
    }
}

/// `GET /admin/ssh-host-keys[?org=ORG]`: the pinned host keys.
async fn host_keys(app: &App, query: Option<&str>) -> Response<Body> {
    let org = org_param(query);
    if org.as_deref().is_some_and(|o| !storable(o)) {
        return reply::json(200, &json!({ "host_keys": [] }));
    }
    match pins::list(&app.store, org.as_deref()).await {
        Ok(list) => reply::json(200, &json!({ "host_keys": list })),
        Err(e) => store_failed("listing ssh host keys", e),
    }
}

/// `DELETE /admin/ssh-host-keys/{org}/{target}`: forget a pin, so the next
/// connection pins the key the machine presents then.
async fn forget_host_key(app: &App, org: &str, target: &str) -> Response<Body> {
    if !storable(org) || !storable(target) {
        return error(
            404,
            "no host key is pinned for that target in that organisation",
        );
    }
    match pins::forget(&app.store, org, target).await {
        Ok(true) => {
            tracing::info!(org, target, "ssh: host key pin removed by the admin API");
            reply::json(
                200,
                &json!({ "org": org, "target": target, "forgotten": true }),
            )
        }
        Ok(false) => error(
            404,
            &format!("no host key is pinned for `{target}` in organisation `{org}`"),
        ),
        Err(e) => store_failed("removing an ssh host key pin", e),
    }
}
