//! One request to a plugin's route, in the steps every such request takes:
//!
//! 1. [`route`]: the route template and the plugin version serving it (an
//!    unmatched path is answered in the envelope of the area it falls under);
//! 2. [`authenticate`]: the caller, from the headers alone (a client or key id
//!    that failed too often waits first); an AK/SK signature and kboss's
//!    debug `orgid` are settled once the body is read;
//! 3. [`read_body`]: under the shared budget and deadline while the sender is
//!    not verified yet, else up to [`MAX_BODY`];
//! 4. [`admit`]: a project-bound key on its project only, the organisation
//!    within its request rate;
//! 5. [`call`]: the plugin (warm or fresh instance, the route's deadline), in
//!    the background when the client prefers an operation;
//! 6. [`answer`]: the plugin's response, or its failure in the area's
//!    envelope.
//!
//! Each step answers `Err(response)` when the request ends there.

use std::sync::Arc;

use bytes::Bytes;
use http::request::Parts;
use http::{Request, Response};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use super::metrics::PluginEvent;
use super::reply::{self, Body};
use super::unverified::{self, ReadError};
use super::{audit, background, throttle, too_many, too_many_failures, App, ClientAddr, Counted};
use super::{Shared, MAX_BODY};
use crate::auth::{self, Principal};
use crate::bindings::wit_types;
use crate::envelope::Envelope;
use crate::registry::router::{self, Miss};
use crate::registry::{PluginEntry, RouteInfo, Table};
use crate::runtime::{CallContext, CallError};

/// A step's refusal: the response that ends the request.
type Step<T> = Result<T, Box<Response<Body>>>;

/// End the request with `resp`.
fn stop<T>(resp: Response<Body>) -> Step<T> {
    Err(Box::new(resp))
}

/// The route a request matched.
struct Routed {
    plugin: Arc<PluginEntry>,
    index: usize,
    params: Vec<(String, String)>,
    path: String,
}

impl Routed {
    fn route(&self) -> Option<&RouteInfo> {
        self.plugin.routes.get(self.index)
    }
}

/// The plugin route a request asks for, looked up before its span is made;
/// or the 404/405 that answers it.
pub(super) struct Target(Step<Routed>);

impl Target {
    pub(super) fn of(table: &Table, req: &Request<Incoming>) -> Self {
        Target(route(table, req))
    }

    /// The matched route's template.
    pub(super) fn route_path(&self) -> Option<&str> {
        let routed = self.0.as_ref().ok()?;
        routed.route().map(|r| r.path.as_str())
    }
}

/// The plugin route `req` asks for (`target`): answers the request (and
/// the metrics' labels) end to end.
pub(super) async fn plugin_request(
    app: &App,
    shared: &Shared,
    req: Request<Incoming>,
    id: &str,
    target: Target,
) -> (Response<Body>, Counted) {
    let routed = match target.0 {
        Ok(r) => r,
        Err(resp) => return (*resp, Counted::Unmatched),
    };
    // Borrowed from the plugin version the request holds (a route's
    // description, its OpenAPI document included, is not copied).
    let Some(route) = routed.route() else {
        let resp = reply::error(Envelope::plain(), 500, "route table mismatch");
        return (resp, Counted::Unmatched);
    };
    let counted = |r| (r, Counted::Plugin(Arc::clone(&routed.plugin), routed.index));
    let format = &*routed.plugin.envelope;
    let guard = Guard::of(shared, &req);
    let pending = match authenticate(app, &guard, &req, route, format).await {
        Ok(p) => p,
        Err(resp) => return counted(*resp),
    };
    let (parts, body, principal) =
        match read_body(app, shared, &guard, req, route, pending, format).await {
            Ok(read) => read,
            Err(resp) => return counted(*resp),
        };
    if let Err(resp) = admit(shared, principal.as_ref(), &routed.params, format) {
        return counted(*resp);
    }
    let answer = call(app, &routed, route, parts, body, principal, id, format).await;
    // The request's count of the version moves to what it is counted under.
    (answer, Counted::Plugin(routed.plugin, routed.index))
}

/// Step 1: the route and plugin, or 404/405 in the area's envelope.
fn route(table: &Table, req: &Request<Incoming>) -> Step<Routed> {
    let path = router::normalize(req.uri().path()).into_owned();
    match table.router.lookup(req.method(), &path) {
        Ok((target, params)) => Ok(Routed {
            plugin: Arc::clone(&target.plugin),
            index: target.route,
            params,
            path,
        }),
        Err(Miss::NotFound) => {
            // In the envelope of the area the path falls under, when it
            // falls under one (`/dev/cpcc/...` is kboss's).
            let format = table.router.area_format(&path).unwrap_or(Envelope::plain());
            let msg = format!("no route for {} {path}", req.method());
            stop(reply::error(format, 404, &msg))
        }
        Err(Miss::MethodNotAllowed(allowed)) => {
            let format = table.router.area_format(&path).unwrap_or(Envelope::plain());
            let msg = format!(
                "method {} is not allowed on {path}; allowed: {}",
                req.method(),
                allowed.join(", ")
            );
            let mut r = reply::error(format, 405, &msg);
            if let Ok(v) = http::HeaderValue::from_str(&allowed.join(", ")) {
                r.headers_mut().insert(http::header::ALLOW, v);
            }
            stop(r)
        }
    }
}

/// Failed-authentication throttling of one request: its client address and
/// the key id it claims.
struct Guard<'a> {
    throttle: &'a Option<throttle::Throttle>,
    client: Option<std::net::IpAddr>,
    claimed: Option<String>,
}

impl<'a> Guard<'a> {
    fn of(shared: &'a Shared, req: &Request<Incoming>) -> Self {
        Guard {
            throttle: &shared.throttle,
            client: req.extensions().get::<ClientAddr>().map(|c| c.0),
            claimed: throttle::claimed_key(req.headers()),
        }
    }

    /// 429 when this client (or key id) failed too often: its credentials
    /// are not even checked.
    fn blocked(&self, format: &Envelope) -> Option<Response<Body>> {
        let (Some(t), Some(addr)) = (self.throttle, self.client) else {
            return None;
        };
        let wait = t.blocked(addr, self.claimed.as_deref())?;
        Some(reply::closing(too_many_failures(format, wait)))
    }

    /// A failed authentication's answer, or 429 once it is one too many.
    fn failed(&self, e: &auth::AuthError, format: &Envelope) -> Response<Body> {
        let counts = !matches!(e, auth::AuthError::Missing(_) | auth::AuthError::Store);
        let over = match (self.throttle, self.client) {
            (Some(t), Some(addr)) if counts => t.failed(addr, self.claimed.as_deref()),
            _ => None,
        };
        match over {
            Some(wait) => too_many_failures(format, wait),
            None => reply::error(format, e.status(), &e.to_string()),
        }
    }
}

/// What the headers told of the caller.
struct Pending {
    principal: Option<Principal>,
    /// An AK/SK signature whose body hash is still to check.
    signature: Option<auth::aksk::HeadersChecked>,
    /// kboss's `orgid` may stand in for the key (debug mode): in the body,
    /// so settled after reading it.
    debug_session: bool,
}

impl Pending {
    /// Whether the body is read before its sender is verified.
    fn unverified(&self, route: &RouteInfo) -> bool {
        self.signature.is_some() || self.debug_session || route.auth == auth::Scheme::None
    }
}

/// Step 2: the caller, from the headers. Nothing past the headers has been
/// read: an AK/SK signature covers the body, so what the headers alone can
/// refute is checked now and the rest in [`read_body`].
async fn authenticate(
    app: &App,
    guard: &Guard<'_>,
    req: &Request<Incoming>,
    route: &RouteInfo,
    format: &Envelope,
) -> Step<Pending> {
    if let Some(resp) = guard.blocked(format) {
        return stop(resp);
    }
    let signed = route.auth == auth::Scheme::Aksk && auth::aksk::is_signed(req.headers());
    let mut signature = None;
    let authenticated = if signed {
        let authority = req.uri().authority().map(|a| a.as_str());
        auth::aksk::check_headers(&app.store, req.headers(), authority, chrono::Utc::now())
            .await
            .map(|checked| {
                signature = Some(checked);
                None
            })
    } else if route.auth == auth::Scheme::Session
        && !req.headers().contains_key(http::header::AUTHORIZATION)
        && crate::console::session::cookie_token(req.headers()).is_some()
    {
        // The console's session cookie (CSRF-checked on state changes).
        crate::console::session::authenticate(&app.store, req.method(), req.headers()).await
    } else {
        auth::authenticate(&app.store, route.auth, req.headers()).await
    };
    let debug_session = route.auth == auth::Scheme::Session
        && app.registry.config.debug_orgid
        && matches!(authenticated, Err(auth::AuthError::Missing(_)));
    let principal = match authenticated {
        Ok(p) => p,
        Err(_) if debug_session => None,
        Err(e) => return stop(reply::closing(guard.failed(&e, format))),
    };
    Ok(Pending {
        principal,
        signature,
        debug_session,
    })
}

/// The `Content-Length` a request announces, if any.
pub(super) fn announced_length(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The answer to an unverified body that was not read; the connection
/// closes (the rest of the body is not read either).
fn unverified_refusal(format: &Envelope, e: ReadError, shared: &Shared) -> Response<Body> {
    let resp = match e {
        ReadError::TooLarge => reply::error(
            format,
            413,
            &format!("request body is larger than {} MiB", MAX_BODY >> 20),
        ),
        ReadError::Busy => {
            let mut r = reply::error(
                format,
                503,
                "the server is receiving too many request bodies from unverified callers; retry shortly",
            );
            r.headers_mut().insert(
                http::header::RETRY_AFTER,
                http::HeaderValue::from_static("1"),
            );
            r
        }
        ReadError::Timeout => reply::error(
            format,
            408,
            &format!(
                "the request body did not arrive within {} s",
                shared.unverified_body_timeout.as_secs_f32()
            ),
        ),
        ReadError::Cut => reply::error(format, 400, "the request body was cut off or malformed"),
    };
    reply::closing(resp)
}

/// Step 3: the body, and the caller it settles (an AK/SK signature over it,
/// a debug `orgid` in it). A body read before its sender is verified is
/// read under the global budget and deadline, released once the caller is
/// known.
async fn read_body(
    app: &App,
    shared: &Shared,
    guard: &Guard<'_>,
    req: Request<Incoming>,
    route: &RouteInfo,
    pending: Pending,
    format: &Envelope,
) -> Step<(Parts, Bytes, Option<Principal>)> {
    let unverified = pending.unverified(route);
    if unverified && announced_length(req.headers()).is_some_and(|n| n > MAX_BODY as u64) {
        return stop(unverified_refusal(format, ReadError::TooLarge, shared));
    }
    let Pending {
        mut principal,
        signature,
        debug_session,
    } = pending;
    let (parts, body) = req.into_parts();
    let mut digest = signature.as_ref().map(|_| auth::aksk::BodyDigest::new());
    let (body, reservation) = if hyper::body::Body::is_end_stream(&body) {
        // No body (a GET, `Content-Length: 0`): nothing to wait for or to
        // hold, so neither the budget nor the deadline is involved.
        (Bytes::new(), None)
    } else if unverified {
        let read = unverified::read(
            body,
            &shared.budget,
            MAX_BODY,
            shared.unverified_body_timeout,
            |chunk| {
                if let Some(d) = digest.as_mut() {
                    d.update(chunk);
                }
            },
        )
        .await;
        match read {
            Ok((body, reservation)) => (body, Some(reservation)),
            Err(e) => return stop(unverified_refusal(format, e, shared)),
        }
    } else {
        match Limited::new(body, MAX_BODY).collect().await {
            Ok(b) => (b.to_bytes(), None),
            Err(_) => {
                let msg = format!(
                    "request body is larger than {} MiB or was cut off",
                    MAX_BODY >> 20
                );
                return stop(reply::error(format, 413, &msg));
            }
        }
    };
    if let (Some(checked), Some(digest)) = (signature, &digest) {
        let head = auth::aksk::RequestHead {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            query: parts.uri.query().unwrap_or(""),
            headers: &parts.headers,
            authority: parts.uri.authority().map(|a| a.as_str()),
        };
        match checked
            .finish(&app.store, &head, digest, chrono::Utc::now())
            .await
        {
            Ok(p) => principal = Some(p),
            Err(e) => return stop(guard.failed(&e, format)),
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
            return stop(reply::error(format, 401, msg));
        };
        match auth::debug::principal(&app.store, &orgid).await {
            Ok(p) => principal = Some(p),
            Err(e) => return stop(reply::error(format, e.status(), &e.to_string())),
        }
    }
    // The caller is known: the body no longer counts against the budget.
    drop(reservation);
    if let Some(p) = &principal {
        record_caller(&parts, p);
    }
    Ok((parts, body, principal))
}

/// The caller on the request's log lines (and exported span) and in its
/// audit row.
fn record_caller(parts: &Parts, p: &Principal) {
    crate::telemetry::request::record_caller(&p.organisation, &p.key_id, p.scheme.as_str());
    if let Some(c) = parts
        .extensions
        .get::<Arc<std::sync::Mutex<audit::Caller>>>()
    {
        *c.lock().unwrap_or_else(|p| p.into_inner()) = audit::Caller {
            organisation: Some(p.organisation.clone()),
            key_id: Some(p.key_id.clone()),
            scheme: Some(p.scheme.as_str()),
        };
    }
}

/// Step 4: a key bound to a project serves only that project's paths; an
/// organisation over its request rate waits (the plugin is not called).
fn admit(
    shared: &Shared,
    principal: Option<&Principal>,
    params: &[(String, String)],
    format: &Envelope,
) -> Step<()> {
    let Some(p) = principal else {
        return Ok(());
    };
    let asked = params
        .iter()
        .find(|(k, _)| k == "project_id")
        .map(|(_, v)| v.as_str());
    if !p.allows_project(asked) {
        let e = auth::AuthError::WrongProject(asked.unwrap_or_default().to_string());
        return stop(reply::error(format, e.status(), &e.to_string()));
    }
    if let Some(limit) = &shared.org_limit {
        if let Err(wait) = limit.check(&p.organisation) {
            let msg = format!("organisation `{}` is over its request rate", p.organisation);
            return stop(too_many(format, wait, "org_rate", &msg));
        }
    }
    Ok(())
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

/// The request as the plugin sees it: no credentials (`authorization`,
/// `x-auth-token`, the console's cookie and CSRF token are removed).
fn wit_request(
    routed: &Routed,
    route: &RouteInfo,
    parts: &Parts,
    body: Bytes,
    principal: Option<&Principal>,
    method: wit_types::Method,
    id: &str,
) -> wit_types::Request {
    let headers = parts
        .headers
        .iter()
        .filter(|(k, _)| {
            *k != http::header::AUTHORIZATION
                && *k != http::header::COOKIE
                && !matches!(k.as_str(), "x-auth-token" | "x-csrf-token")
        })
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    wit_types::Request {
        request_id: id.to_string(),
        method,
        path: routed.path.clone(),
        route: route.path.clone(),
        params: routed.params.clone(),
        query: parts.uri.query().unwrap_or("").to_string(),
        headers,
        body: body.to_vec(),
        principal: principal.map(|p| wit_types::Principal {
            organisation: p.organisation.clone(),
            key_id: p.key_id.clone(),
            scheme: to_wit_scheme(p.scheme),
        }),
    }
}

/// Steps 5 and 6: the plugin's call (in the background when the client
/// prefers an operation) and its answer.
#[allow(clippy::too_many_arguments)]
async fn call(
    app: &App,
    routed: &Routed,
    route: &RouteInfo,
    parts: Parts,
    body: Bytes,
    principal: Option<Principal>,
    id: &str,
    format: &Envelope,
) -> Response<Body> {
    let Some(method) = router::parse_method(&parts.method) else {
        return reply::error(format, 405, "method not supported");
    };
    let wit_req = wit_request(routed, route, &parts, body, principal.as_ref(), method, id);
    let plugin = &routed.plugin;
    let ctx = CallContext {
        plugin: plugin.id.as_str().into(),
        request_id: id.into(),
        organisation: principal.map(|p| p.organisation),
        operation: None,
    };
    let answer = background::run(
        plugin,
        &app.registry.runtime.services,
        ctx,
        route.deadline,
        wit_req,
        background::prefers_async(&parts.headers),
    )
    .await;
    match answer {
        background::Answer::Accepted(op) => background::accepted(format, &op),
        background::Answer::Done(result) => answer_of(app, plugin, result, format),
    }
}

/// Step 6: the plugin's response, or its failure in the area's envelope
/// (a trap's detail stays in the log).
fn answer_of(
    app: &App,
    plugin: &PluginEntry,
    result: Result<wit_types::Response, CallError>,
    format: &Envelope,
) -> Response<Body> {
    match result {
        Ok(resp) => plugin_response(resp),
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
            reply::error(format, e.status(), &msg)
        }
    }
}

fn plugin_response(r: wit_types::Response) -> Response<Body> {
    let mut resp = Response::new(reply::full(r.body));
    match http::StatusCode::from_u16(r.status) {
        Ok(s) => *resp.status_mut() = s,
        Err(_) => {
            tracing::warn!(status = r.status, "plugin answered an invalid status");
            return reply::error(
                Envelope::plain(),
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
            if plugin_may_set(&k) {
                resp.headers_mut().append(k, v);
            }
        }
    }
    confine(resp.headers_mut());
    resp
}

/// Headers a plugin's answer never carries: the connection's framing (the
/// host's to decide), cookies (the console's session lives on this origin),
/// and what widens what a browser lets other origins or later visits do.
const HOST_ONLY: [&str; 16] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "content-length",
    "upgrade",
    "te",
    "trailer",
    "set-cookie",
    "set-cookie2",
    "clear-site-data",
    "strict-transport-security",
    "alt-svc",
    "access-control-allow-credentials",
    "x-request-id",
    "traceparent",
];

fn plugin_may_set(name: &http::HeaderName) -> bool {
    !HOST_ONLY.contains(&name.as_str())
}

/// A plugin's answer is served from the console's origin, so a browser
/// must never run it as a page of that origin: it is sandboxed (an opaque
/// origin: no script, no cookies, no same-origin calls), never sniffed
/// into HTML, never framed.
fn confine(headers: &mut http::HeaderMap) {
    headers.insert(
        http::header::CONTENT_SECURITY_POLICY,
        http::HeaderValue::from_static("sandbox; default-src 'none'; frame-ancestors 'none'"),
    );
    headers.insert(
        http::header::X_CONTENT_TYPE_OPTIONS,
        http::HeaderValue::from_static("nosniff"),
    );
}
