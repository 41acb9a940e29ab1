//! The HTTP server: connections ([`listen`]: limited in number, timed out
//! by [`watchdog`], drained on shutdown) and the path of one request (host
//! endpoints and probes, or route -> authenticate -> plugin -> response,
//! [`request`]), its request id, trace, metrics and `served` line.

mod admin;
pub mod audit;
mod background;
pub mod forwarded;
mod grants;
pub mod limits;
mod listen;
pub mod metrics;
pub mod metrics_token;
mod openapi;
mod org_limit;
mod plugin_check;
mod probes;
pub mod replicas;
pub mod reply;
mod request;
mod throttle;
pub mod tls;
mod trim;
pub(crate) mod unverified;
mod watchdog;

use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{Request, Response};
use hyper::body::Incoming;
use tokio::net::TcpListener;
use tracing::Instrument;

use crate::auth::AdminToken;
use crate::envelope::Envelope;
use crate::registry::{PluginEntry, Registry};
use crate::store::{ids, Store};
pub use limits::ServerLimits;
pub use listen::serve_tls;
use metrics::Metrics;
use reply::Body;

/// Largest request body a plugin route accepts.
const MAX_BODY: usize = 8 << 20;
/// Largest plugin upload.
const MAX_UPLOAD: usize = 64 << 20;
/// Everything the server needs, shared by all connections.
pub struct App {
    pub registry: Registry,
    pub store: Arc<Store>,
    pub admin: AdminToken,
    pub metrics: Metrics,
    /// Set once shutdown begins: `/readyz` answers 503 from then on.
    pub draining: std::sync::atomic::AtomicBool,
}

/// What the requests of all connections share beyond the [`App`].
struct Shared {
    /// Memory for bodies read before their sender is verified.
    budget: unverified::Budget,
    unverified_body_timeout: Duration,
    /// Failed authentication, per client address and claimed key id.
    throttle: Option<throttle::Throttle>,
    /// Requests per organisation, once authenticated (off by default).
    org_limit: Option<org_limit::OrgLimit>,
    /// Connections are TLS (console cookies are then `Secure`).
    tls: bool,
    /// Whose `X-Forwarded-For` names the client.
    proxies: forwarded::TrustedProxies,
}

/// Serve with the default [`ServerLimits`] until `shutdown` resolves, then
/// stop accepting and drain.
pub async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    serve_with(listener, app, ServerLimits::default(), shutdown).await
}

/// Serve under `limits` until `shutdown` resolves, then stop accepting and
/// drain.
pub async fn serve_with(
    listener: TcpListener,
    app: Arc<App>,
    limits: ServerLimits,
    shutdown: impl std::future::Future<Output = ()>,
) -> anyhow::Result<()> {
    serve_tls(listener, app, limits, None, shutdown).await
}

/// A request counted in `computehub_requests_in_flight` until dropped (also
/// when its client goes away midway).
struct InFlight<'a>(&'a std::sync::atomic::AtomicI64);

impl<'a> InFlight<'a> {
    fn enter(n: &'a std::sync::atomic::AtomicI64) -> Self {
        n.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        InFlight(n)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// A trusted proxy said the client reached it over HTTPS.
#[derive(Clone, Copy)]
struct ProxiedHttps(bool);

/// The client address of a request (set on it by the connection).
#[derive(Clone, Copy)]
struct ClientAddr(std::net::IpAddr);

/// A 429 of the host's, by reason (counted in
/// `computehub_throttled_requests_total`).
#[derive(Clone, Copy)]
struct Throttled(&'static str);

/// 429 in the area's envelope, with `Retry-After`, marked for the metrics.
fn too_many(format: &Envelope, wait: Duration, reason: &'static str, msg: &str) -> Response<Body> {
    let secs = throttle::retry_after(wait);
    let mut r = reply::error(format, 429, &format!("{msg}; retry in {secs} s"));
    if let Ok(v) = http::HeaderValue::from_str(&secs.to_string()) {
        r.headers_mut().insert(http::header::RETRY_AFTER, v);
    }
    r.extensions_mut().insert(Throttled(reason));
    r
}

/// 429 for a client (or key id) that failed authentication too often.
fn too_many_failures(format: &Envelope, wait: Duration) -> Response<Body> {
    too_many(
        format,
        wait,
        "auth_failures",
        "too many failed authentications",
    )
}

fn request_id() -> String {
    ids::random_id(16)
}

/// An incoming `X-Request-Id` worth keeping: 1-128 characters of
/// `[A-Za-z0-9._:-]` (anything else is replaced by one of ours).
fn valid_request_id(v: &str) -> bool {
    (1..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
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

async fn handle(
    app: &App,
    shared: &Shared,
    mut req: Request<Incoming>,
    peer: std::net::SocketAddr,
) -> Response<Body> {
    // Behind a trusted proxy, the client it names (otherwise the peer).
    let client = if shared.proxies.is_empty() {
        peer.ip()
    } else {
        let https = shared.proxies.https(peer.ip(), req.headers());
        req.extensions_mut().insert(ProxiedHttps(https));
        shared.proxies.client(peer.ip(), req.headers())
    };
    req.extensions_mut().insert(ClientAddr(client));
    // Refused credentials are audited; a request that presented none is
    // not (anyone can send those without bound: the access log has them).
    let presented =
        audit::changes_state(req.method()) && audit::presents_credentials(req.headers());
    // Filled in by whoever authenticates the caller, for the audit log (so
    // only for the requests it records).
    let caller = audit::changes_state(req.method()).then(|| {
        let caller: Arc<std::sync::Mutex<audit::Caller>> = Arc::default();
        req.extensions_mut().insert(Arc::clone(&caller));
        caller
    });
    // A caller's own request id is kept (and echoed) when it is one.
    let id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| valid_request_id(v))
        .map_or_else(request_id, str::to_string);
    // The caller's trace (a valid `traceparent`) is joined, or a new one
    // begun; a server span is made only when spans are exported.
    let to = Destination::of(app, &req);
    let incoming = crate::telemetry::TraceParent::from_headers(req.headers());
    let (span, trace) = crate::telemetry::server_span(&id, client, to.route(), incoming);
    // What every line of the request (the `served` line included) carries;
    // the caller is added once known. Never a secret.
    let log = crate::telemetry::RequestLog::new(id, client, to.route(), trace);
    let start = Instant::now();
    let method = req.method().clone();
    // The path is copied: a clone of the `Uri` would hold hyper's read
    // buffer (its bytes) past the request, and cost an atomic each way.
    let path = String::from(req.uri().path());
    let request = Arc::clone(&log);
    let served = async move {
        let id = request.id();
        let in_flight = InFlight::enter(&app.metrics.in_flight);
        // The request's reads share one stamp of the store's read cache
        // where taking one costs a round trip (PostgreSQL).
        let dispatched = dispatch(app, shared, req, id, to);
        let (mut resp, counted) = if app.store.db().reads_per_request() {
            crate::store::db::scope::one_request(dispatched).await
        } else {
            dispatched.await
        };
        drop(in_flight);
        if let Some(Throttled(reason)) = resp.extensions().get::<Throttled>().copied() {
            app.metrics.throttled(reason);
        }
        let status = resp.status().as_u16();
        let elapsed = start.elapsed();
        let (plugin_id, route) = counted.labels();
        app.metrics
            .record(plugin_id, method.as_str(), route, status, elapsed);
        let caller = caller
            .map(|c| c.lock().unwrap_or_else(|p| p.into_inner()).clone())
            .filter(|c| audit::worth_a_row(c, &counted, presented, status));
        if let Some(caller) = &caller {
            let record = audit::Record {
                request_id: id,
                caller,
                client: &client.to_string(),
                method: method.as_str(),
                route,
                path: &path,
                plugin: &counted.to_string(),
                status,
            };
            if let Err(e) = Box::pin(audit::record(&app.store, &record)).await {
                tracing::error!(error = %e, "the audit log could not be written");
            }
        }
        if let Ok(v) = http::HeaderValue::from_str(id) {
            resp.headers_mut().insert("x-request-id", v);
        }
        if let Some(v) = trace.header_value() {
            resp.headers_mut()
                .insert(crate::telemetry::traceparent::HEADER, v);
        }
        crate::telemetry::finish_request(&tracing::Span::current(), method.as_str(), route, status);
        // The access log line stays at info for every response: it is what
        // ties a request id a client reports to the server's log (operators
        // and the e2e tests rely on it). Since the request's fields left the
        // `tracing` span (stop 42) it costs nothing measurable.
        tracing::info!(
            method = %method,
            path = %path,
            plugin = %counted,
            status,
            micros = elapsed.as_micros() as u64,
            "served"
        );
        resp
    }
    .instrument(span);
    log.scope(served).await
}

/// Where a request goes: one of the host's own endpoints, or a plugin
/// route (looked up first, so that the request's log fields carry the
/// route from the start).
enum Destination {
    /// `/healthz`: the process answers.
    Health,
    /// `/readyz`: the store answers, the plugins are loaded, no shutdown.
    Ready,
    Metrics,
    OpenApi,
    Admin,
    Console,
    Operations,
    Plugin(request::Target),
}

impl Destination {
    fn of(app: &App, req: &Request<Incoming>) -> Self {
        let path = req.uri().path();
        match path {
            "/healthz" => Destination::Health,
            "/readyz" => Destination::Ready,
            "/metrics" => Destination::Metrics,
            "/openapi.json" => Destination::OpenApi,
            _ if path == "/admin" || path.starts_with("/admin/") => Destination::Admin,
            _ if crate::console::owns(path) => Destination::Console,
            _ if path == "/operations" || path.starts_with("/operations/") => {
                Destination::Operations
            }
            _ => Destination::Plugin(
                app.registry
                    .with_table(|table| request::Target::of(table, req)),
            ),
        }
    }

    /// The plugin route's template, for the request's log fields.
    fn route(&self) -> Option<&str> {
        match self {
            Destination::Plugin(t) => t.route_path(),
            _ => None,
        }
    }
}

/// The response, and what it is counted under.
///
/// The host's own routes are rare next to plugin routes: their futures are
/// boxed, so this future (moved whole on every request, with `handle`'s) is
/// sized by the plugin path (the request future went from 8.3 to 5.9 KB).
async fn dispatch(
    app: &App,
    shared: &Shared,
    req: Request<Incoming>,
    id: &str,
    to: Destination,
) -> (Response<Body>, Counted) {
    let path = req.uri().path();
    let host = |r: Response<Body>, route: &str| (r, Counted::Host(route.to_string()));
    match to {
        Destination::Health | Destination::Ready
            if !matches!(*req.method(), http::Method::GET | http::Method::HEAD) =>
        {
            let mut r = reply::error(
                Envelope::plain(),
                405,
                &format!(
                    "method {} is not allowed on {path}; allowed: GET, HEAD",
                    req.method()
                ),
            );
            r.headers_mut().insert(
                http::header::ALLOW,
                http::HeaderValue::from_static("GET, HEAD"),
            );
            host(r, path)
        }
        Destination::Health => host(
            reply::json(200, &serde_json::json!({"status": "ok"})),
            "/healthz",
        ),
        Destination::Ready => host(Box::pin(probes::readiness(app)).await, "/readyz"),
        Destination::Metrics => {
            if let Some(refused) = probes::metrics_refused(app, shared, &req) {
                return host(refused, "/metrics");
            }
            host(
                reply::text(
                    200,
                    "text/plain; version=0.0.4",
                    app.metrics.render()
                        + &metrics::render_instances(app)
                        + &Box::pin(metrics::render_process(app)).await,
                ),
                "/metrics",
            )
        }
        Destination::OpenApi => host(
            reply::json(200, &openapi::document(&app.registry.table())),
            "/openapi.json",
        ),
        Destination::Admin => {
            let (resp, route) = Box::pin(admin_request(app, shared, req)).await;
            host(resp, &route)
        }
        Destination::Console => {
            let ctx = crate::console::Context {
                store: &app.store,
                client: req.extensions().get::<ClientAddr>().map(|c| c.0),
                secure: shared.tls || req.extensions().get::<ProxiedHttps>().is_some_and(|h| h.0),
                throttle: shared
                    .throttle
                    .as_ref()
                    .map(|t| t as &dyn crate::console::Throttle),
                budget: &shared.budget,
                body_timeout: shared.unverified_body_timeout,
            };
            let (resp, route) = Box::pin(crate::console::handle(ctx, req)).await;
            host(resp, route)
        }
        Destination::Operations => {
            let (resp, route) = Box::pin(operations_request(app, shared, req)).await;
            host(resp, route)
        }
        Destination::Plugin(target) => request::plugin_request(app, shared, req, id, target).await,
    }
}

/// The admin API: wrong admin tokens count against the client address, as
/// failed API keys do (not against the token: that would lock out
/// everyone); the audit row names the token or the operator's session.
async fn admin_request(
    app: &App,
    shared: &Shared,
    req: Request<Incoming>,
) -> (Response<Body>, String) {
    let client = req.extensions().get::<ClientAddr>().map(|c| c.0);
    let throttle = shared.throttle.as_ref().zip(client);
    if let Some(wait) = throttle.and_then(|(t, a)| t.blocked(a, None)) {
        return (
            reply::closing(too_many_failures(Envelope::plain(), wait)),
            "/admin".to_string(),
        );
    }
    let audit_caller = req
        .extensions()
        .get::<Arc<std::sync::Mutex<audit::Caller>>>()
        .cloned();
    // An operator's console session, when it stands in for the token:
    // the audit row names the user, not the token.
    let operator = if req.headers().contains_key(http::header::AUTHORIZATION) {
        None
    } else {
        Box::pin(crate::console::session::from_request(
            &app.store,
            req.method(),
            req.headers(),
        ))
        .await
        .ok()
        .flatten()
        .filter(|s| s.user.admin)
        .map(|s| s.user)
    };
    let (mut resp, route) = Box::pin(admin::handle(app, req)).await;
    if resp.status() != http::StatusCode::UNAUTHORIZED {
        if let Some(c) = audit_caller {
            *c.lock().unwrap_or_else(|p| p.into_inner()) = match operator {
                Some(u) => audit::Caller {
                    organisation: Some(u.organisation),
                    key_id: Some(format!("console:{}", u.name)),
                    scheme: Some("console-session"),
                },
                None => audit::Caller {
                    organisation: None,
                    key_id: Some("admin".into()),
                    scheme: Some("admin-token"),
                },
            };
        }
    }
    if resp.status() == http::StatusCode::UNAUTHORIZED {
        if let Some(wait) = throttle.and_then(|(t, a)| t.failed(a, None)) {
            resp = reply::closing(too_many_failures(Envelope::plain(), wait));
        }
    }
    (resp, route)
}

/// `/operations`: failed keys and sessions count against the client
/// address, as on the admin API.
async fn operations_request(
    app: &App,
    shared: &Shared,
    req: Request<Incoming>,
) -> (Response<Body>, &'static str) {
    let client = req.extensions().get::<ClientAddr>().map(|c| c.0);
    let throttle = shared.throttle.as_ref().zip(client);
    if let Some(wait) = throttle.and_then(|(t, a)| t.blocked(a, None)) {
        return (
            reply::closing(too_many_failures(Envelope::plain(), wait)),
            "/operations",
        );
    }
    let ops = app.registry.runtime.capabilities().operations.records();
    let (mut resp, route) = Box::pin(crate::operations::http::handle(ops, &app.store, req)).await;
    if resp.status() == http::StatusCode::UNAUTHORIZED {
        if let Some(wait) = throttle.and_then(|(t, a)| t.failed(a, None)) {
            resp = reply::closing(too_many_failures(Envelope::plain(), wait));
        }
    }
    (resp, route)
}
