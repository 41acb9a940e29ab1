//! The HTTP server: hyper connections, graceful shutdown, and the path of one
//! request (host endpoints, or route -> authenticate -> plugin -> response).

mod admin;
mod background;
pub mod metrics;
mod openapi;
pub mod reply;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{Request, Response};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tracing::Instrument;

use crate::auth::{self, AdminToken};
use crate::registry::{router::Miss, PluginEntry, Registry};
use crate::runtime::bindings::wit_types::{self, ErrorFormat};
use crate::runtime::{CallContext, CallError};
use crate::store::{ids, Store};
use metrics::{Metrics, PluginEvent};
use reply::Body;

/// Largest request body a plugin route accepts.
const MAX_BODY: usize = 8 << 20;
/// Largest plugin upload.
const MAX_UPLOAD: usize = 64 << 20;
/// How long shutdown waits for requests in flight.
const DRAIN: Duration = Duration::from_secs(30);

/// Everything the server needs, shared by all connections.
pub struct App {
    pub registry: Registry,
    pub store: Arc<Store>,
    pub admin: AdminToken,
    pub metrics: Metrics,
}

/// Serve until `shutdown` resolves, then stop accepting and drain.
pub async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let builder = auto::Builder::new(TokioExecutor::new());
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(s) => s,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let app = Arc::clone(&app);
                let service = hyper::service::service_fn(move |req| {
                    let app = Arc::clone(&app);
                    async move { Ok::<_, Infallible>(handle(app, req).await) }
                });
                let conn = builder.serve_connection(TokioIo::new(stream), service).into_owned();
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                });
            }
            _ = &mut shutdown => break,
        }
    }
    tracing::info!("shutting down: no new connections, draining requests in flight");
    drop(listener);
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still in flight after {DRAIN:?}; stopping anyway");
    }
    Ok(())
}

fn request_id() -> String {
    ids::random_id(16)
}

/// What a response is counted and logged under.
enum Counted {
    /// A host endpoint, by route.
    Host(String),
    /// No route matched.
    Unmatched,
    /// A plugin route: the version and the index of the route.
    Plugin(Arc<PluginEntry>, usize),
}

impl Counted {
    /// The plugin id and route template of the metrics.
    fn labels(&self) -> (&str, &str) {
        match self {
            Counted::Host(route) => ("host", route),
            Counted::Unmatched => ("none", "unmatched"),
            Counted::Plugin(p, i) => (&p.id, p.routes.get(*i).map_or("", |r| &r.path)),
        }
    }
}

/// `id@version` of the plugin (or `host`, `none`) in the access log.
impl std::fmt::Display for Counted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Counted::Host(_) => f.write_str("host"),
            Counted::Unmatched => f.write_str("none"),
            Counted::Plugin(p, _) => write!(f, "{}@{}", p.id, p.version),
        }
    }
}

async fn handle(app: Arc<App>, req: Request<Incoming>) -> Response<Body> {
    let id = request_id();
    let span = tracing::info_span!("request", id = %id);
    let start = Instant::now();
    let method = req.method().clone();
    let uri = req.uri().clone();
    async move {
        let (mut resp, counted) = dispatch(&app, req, &id).await;
        let status = resp.status().as_u16();
        let elapsed = start.elapsed();
        let (plugin_id, route) = counted.labels();
        app.metrics
            .record(plugin_id, method.as_str(), route, status, elapsed);
        if let Ok(v) = http::HeaderValue::from_str(&id) {
            resp.headers_mut().insert("x-request-id", v);
        }
        // The access log line stays at info for every response: it is what
        // ties a request id a client reports to the server's log (operators
        // and the e2e tests rely on it). It costs a few per cent of a
        // trivial plugin call's CPU.
        tracing::info!(
            method = %method,
            path = %uri.path(),
            plugin = %counted,
            status,
            micros = elapsed.as_micros() as u64,
            "served"
        );
        resp
    }
    .instrument(span)
    .await
}

/// The response, and what it is counted under.
async fn dispatch(app: &App, req: Request<Incoming>, id: &str) -> (Response<Body>, Counted) {
    let path = req.uri().path();
    let host = |r: Response<Body>, route: &str| (r, Counted::Host(route.to_string()));
    match path {
        "/healthz" => {
            return host(
                reply::json(200, &serde_json::json!({"status": "ok"})),
                "/healthz",
            )
        }
        "/metrics" => {
            return host(
                reply::text(200, "text/plain; version=0.0.4", app.metrics.render()),
                "/metrics",
            )
        }
        "/openapi.json" => {
            return host(
                reply::json(200, &openapi::document(&app.registry.table())),
                "/openapi.json",
            )
        }
        _ => {}
    }
    if path == "/admin" || path.starts_with("/admin/") {
        let (resp, route) = admin::handle(app, req).await;
        return host(resp, &route);
    }
    if path == "/operations" || path.starts_with("/operations/") {
        let ops = &app.registry.runtime.services.operations;
        let (resp, route) = crate::operations::http::handle(ops, &app.store, req).await;
        return host(resp, route);
    }
    plugin_request(app, req, id).await
}

async fn plugin_request(app: &App, req: Request<Incoming>, id: &str) -> (Response<Body>, Counted) {
    let table = app.registry.table();
    let miss = |r| (r, Counted::Unmatched);
    let (target, params) = match table.router.lookup(req.method(), req.uri().path()) {
        Ok(t) => t,
        Err(Miss::NotFound) => {
            let msg = format!("no route for {} {}", req.method(), req.uri().path());
            return miss(reply::error(ErrorFormat::Plain, 404, &msg));
        }
        Err(Miss::MethodNotAllowed(allowed)) => {
            let msg = format!(
                "method {} is not allowed on {}; allowed: {}",
                req.method(),
                req.uri().path(),
                allowed.join(", ")
            );
            let mut r = reply::error(ErrorFormat::Plain, 405, &msg);
            if let Ok(v) = http::HeaderValue::from_str(&allowed.join(", ")) {
                r.headers_mut().insert(http::header::ALLOW, v);
            }
            return miss(r);
        }
    };
    let plugin = Arc::clone(&target.plugin);
    let Some(route) = plugin.routes.get(target.route) else {
        return miss(reply::error(
            ErrorFormat::Plain,
            500,
            "route table mismatch",
        ));
    };
    let counted = |r| (r, Counted::Plugin(Arc::clone(&plugin), target.route));
    let format = plugin.error_format;

    // An AK/SK signature covers the body, so it is verified once the body is
    // read; every other credential is checked before reading it.
    let signed = route.auth == auth::Scheme::Aksk && auth::aksk::is_signed(req.headers());
    let authenticated = if signed {
        Ok(None)
    } else {
        auth::authenticate(&app.store, route.auth, req.headers())
    };
    // kboss's `orgid` stands in for a missing key in explicit debug mode only;
    // it may sit in the body, so the body is read before deciding.
    let debug_session = route.auth == auth::Scheme::Session
        && app.registry.config.debug_orgid
        && matches!(authenticated, Err(auth::AuthError::Missing(_)));
    let mut principal = match authenticated {
        Ok(p) => p,
        Err(_) if debug_session => None,
        Err(e) => {
            return counted(reply::closing(reply::error(
                format,
                e.status(),
                &e.to_string(),
            )))
        }
    };

    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            let msg = format!(
                "request body is larger than {} MiB or was cut off",
                MAX_BODY >> 20
            );
            return counted(reply::error(format, 413, &msg));
        }
    };
    if signed {
        let signed_req = auth::aksk::SignedRequest {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query().unwrap_or(""),
            headers: &parts.headers,
            authority: parts.uri.authority().map(|a| a.as_str()),
            body: &body,
        };
        match auth::aksk::verify(&app.store, &signed_req, chrono::Utc::now()) {
            Ok(p) => principal = Some(p),
            Err(e) => return counted(reply::error(format, e.status(), &e.to_string())),
        }
    }
    // A key bound to a project serves only that project's paths.
    if let Some(p) = &principal {
        let asked = params
            .iter()
            .find(|(k, _)| k == "project_id")
            .map(|(_, v)| v.as_str());
        if !p.allows_project(asked) {
            let e = auth::AuthError::WrongProject(asked.unwrap_or_default().to_string());
            return counted(reply::error(format, e.status(), &e.to_string()));
        }
    }
    if debug_session {
        let content_type = parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok());
        let query = parts.uri.query().unwrap_or("");
        let Some(orgid) = auth::debug::orgid_param(query, content_type, &body) else {
            let msg = "missing credentials: send Authorization: Bearer <api key> (kboss session) or, in debug mode, `orgid`";
            return counted(reply::error(format, 401, msg));
        };
        match auth::debug::principal(&app.store, &orgid) {
            Ok(p) => principal = Some(p),
            Err(e) => return counted(reply::error(format, e.status(), &e.to_string())),
        }
    }
    let Some(method) = crate::registry::router::parse_method(&parts.method) else {
        return counted(reply::error(format, 405, "method not supported"));
    };
    let headers = parts
        .headers
        .iter()
        .filter(|(k, _)| *k != http::header::AUTHORIZATION && k.as_str() != "x-auth-token")
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let wit_req = wit_types::Request {
        request_id: id.to_string(),
        method,
        path: parts.uri.path().to_string(),
        route: route.path.clone(),
        params,
        query: parts.uri.query().unwrap_or("").to_string(),
        headers,
        body: body.to_vec(),
        principal: principal.as_ref().map(|p| wit_types::Principal {
            organisation: p.organisation.clone(),
            key_id: p.key_id.clone(),
            scheme: to_wit_scheme(p.scheme),
        }),
    };
    let ctx = CallContext {
        plugin: plugin.id.as_str().into(),
        request_id: id.into(),
        organisation: principal.map(|p| p.organisation),
    };
    let answer = background::run(
        Arc::clone(&plugin),
        app.registry.runtime.services.clone(),
        ctx,
        route.deadline,
        wit_req,
        background::prefers_async(&parts.headers),
    )
    .await;
    let result = match answer {
        background::Answer::Accepted(op) => return counted(background::accepted(format, &op)),
        background::Answer::Done(r) => r,
    };
    match result {
        Ok(resp) => counted(plugin_response(resp)),
        Err(e) => {
            let event = match e {
                CallError::Busy => PluginEvent::Busy,
                CallError::Deadline(_) => PluginEvent::DeadlineKill,
                CallError::Memory => PluginEvent::MemoryLimit,
                CallError::Trap(_) => PluginEvent::Trap,
            };
            app.metrics.plugin_event(&plugin.id, event);
            tracing::warn!(plugin = %plugin.id, error = %e, "plugin call failed");
            let msg = match &e {
                CallError::Trap(_) => "the plugin failed while handling this request".to_string(),
                other => other.to_string(),
            };
            counted(reply::error(format, e.status(), &msg))
        }
    }
}

fn to_wit_scheme(s: auth::Scheme) -> wit_types::AuthScheme {
    use wit_types::AuthScheme as A;
    match s {
        auth::Scheme::None => A::None,
        auth::Scheme::Bearer => A::Bearer,
        auth::Scheme::XAuthToken => A::XAuthToken,
        auth::Scheme::Basic => A::Basic,
        auth::Scheme::Aksk => A::Aksk,
        auth::Scheme::Session => A::Session,
    }
}

fn plugin_response(r: wit_types::Response) -> Response<Body> {
    let mut resp = Response::new(reply::full(r.body));
    match http::StatusCode::from_u16(r.status) {
        Ok(s) => *resp.status_mut() = s,
        Err(_) => {
            tracing::warn!(status = r.status, "plugin answered an invalid status");
            return reply::error(
                ErrorFormat::Plain,
                500,
                "the plugin answered an invalid status",
            );
        }
    }
    for (k, v) in r.headers {
        if let (Ok(k), Ok(v)) = (
            http::HeaderName::from_bytes(k.as_bytes()),
            http::HeaderValue::from_str(&v),
        ) {
            resp.headers_mut().append(k, v);
        }
    }
    resp
}
