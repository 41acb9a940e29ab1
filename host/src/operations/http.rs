//! `GET /operations` (a page of the organisation's operations,
//! [`super::list`]), `GET /operations/{id}` (the operation as JSON) and
//! `GET /operations/{id}/events` (server-sent events: every event so far,
//! then new ones as they happen, until the operation ends).
//!
//! The caller authenticates with any API key scheme (Bearer, Basic,
//! X-Auth-Token) or, without any of them, a console session's cookie (so a
//! browser's `EventSource` follows an operation); the organisation must own
//! the operation, otherwise the answer is the same 404 as for an id that
//! does not exist. The server throttles failed ones by client address. Events carry
//! their sequence number as the SSE `id`, so a client reconnecting with
//! `Last-Event-ID` resumes where it left off. The stream wakes on every
//! change this process makes ([`Operations::changed`]) and on another
//! replica's, announced by PostgreSQL `NOTIFY` ([`Operations::wake`]); on
//! PostgreSQL it also re-reads the store every second, for a notice lost
//! while the listening connection was down.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Request, Response};

use super::Operations;
use crate::auth::{self, Scheme};
use crate::envelope::Envelope;
use crate::server::reply::{self, Body};
use crate::store::Store;

/// A comment line sent when nothing happened for this long, so proxies and
/// clients keep the stream open.
const KEEPALIVE: Duration = Duration::from_secs(15);

/// The organisation of the caller, by whichever scheme its headers use.
async fn organisation(store: &Store, headers: &http::HeaderMap) -> Result<String, auth::AuthError> {
    let scheme =
        match headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .map(|(kind, _)| kind.to_ascii_lowercase())
        {
            Some(kind) if kind == "basic" => Scheme::Basic,
            Some(_) => Scheme::Bearer,
            None if headers.contains_key("x-auth-token") => Scheme::XAuthToken,
            // Only reads are served here, so no CSRF token is asked for.
            None if crate::console::session::cookie_token(headers).is_some() => {
                return crate::console::session::authenticate(store, &http::Method::GET, headers)
                    .await?
                    .map(|p| p.organisation)
                    .ok_or(auth::AuthError::Invalid);
            }
            None => return Err(auth::AuthError::Missing(
                "an API key (Authorization: Bearer or Basic, or X-Auth-Token) or a console session",
            )),
        };
    match auth::authenticate(store, scheme, headers).await? {
        Some(p) => Ok(p.organisation),
        None => Err(auth::AuthError::Invalid),
    }
}

/// Serve `/operations/...`; answers the response and the route it counts under.
pub async fn handle<B>(
    ops: &Arc<Operations>,
    store: &Arc<Store>,
    req: Request<B>,
) -> (Response<Body>, &'static str) {
    let path = req.uri().path().to_string();
    let rest = path
        .trim_start_matches("/operations")
        .trim_start_matches('/');
    let (id, events) = match rest.split_once('/') {
        Some((id, "events")) => (id, true),
        None if rest.is_empty() => return list(ops, store, &req).await,
        None => (rest, false),
        _ => {
            let r = reply::error(Envelope::plain(), 404, &format!("no route for GET {path}"));
            return (r, "/operations");
        }
    };
    let route = if events {
        "/operations/{id}/events"
    } else {
        "/operations/{id}"
    };
    if req.method() != http::Method::GET {
        let mut r = reply::error(
            Envelope::plain(),
            405,
            &format!(
                "method {} is not allowed on {path}; allowed: GET",
                req.method()
            ),
        );
        r.headers_mut()
            .insert(http::header::ALLOW, HeaderValue::from_static("GET"));
        return (r, route);
    }
    let org = match organisation(store, req.headers()).await {
        Ok(o) => o,
        Err(e) => {
            let r = reply::closing(reply::error(Envelope::plain(), e.status(), &e.to_string()));
            return (r, route);
        }
    };
    let not_found = || reply::error(Envelope::plain(), 404, &format!("no operation `{id}`"));
    if !events {
        let r = match ops.get(&org, id).await {
            Ok(Some(op)) => reply::json(200, &serde_json::to_value(op).unwrap_or_default()),
            Ok(None) => not_found(),
            Err(e) => internal(e),
        };
        return (r, route);
    }
    match ops.events_since(&org, id, 0).await {
        Ok(Some(_)) => {}
        Ok(None) => return (not_found(), route),
        Err(e) => return (internal(e), route),
    }
    // A client reconnecting with `Last-Event-ID` resumes after that event.
    let after = req
        .headers()
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .unwrap_or(0);
    let (tx, body) = reply::channel(16);
    let caller = Caller {
        store: Arc::clone(store),
        headers: credentials(req.headers()),
        org,
        checked: tokio::time::Instant::now(),
    };
    tokio::spawn(stream(Arc::clone(ops), caller, id.to_string(), after, tx));
    let mut r = Response::new(body);
    let h = r.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache"),
    );
    (r, route)
}

/// `GET /operations`: a page of the caller's organisation's operations.
async fn list<B>(
    ops: &Operations,
    store: &Store,
    req: &Request<B>,
) -> (Response<Body>, &'static str) {
    const ROUTE: &str = "/operations";
    if req.method() != http::Method::GET {
        let mut r = reply::error(
            Envelope::plain(),
            405,
            &format!(
                "method {} is not allowed on /operations; allowed: GET",
                req.method()
            ),
        );
        r.headers_mut()
            .insert(http::header::ALLOW, HeaderValue::from_static("GET"));
        return (r, ROUTE);
    }
    let org = match organisation(store, req.headers()).await {
        Ok(o) => o,
        Err(e) => {
            let r = reply::closing(reply::error(Envelope::plain(), e.status(), &e.to_string()));
            return (r, ROUTE);
        }
    };
    let q = match super::list::ListQuery::parse(req.uri().query()) {
        Ok(q) => q,
        Err(m) => return (reply::error(Envelope::plain(), 400, &m), ROUTE),
    };
    let r = match ops.list(&org, &q).await {
        Ok(page) => reply::json(200, &serde_json::to_value(page).unwrap_or_default()),
        Err(e) => internal(e),
    };
    (r, ROUTE)
}

fn internal(e: super::OpError) -> Response<Body> {
    tracing::error!(error = %e, "operations: store failure");
    reply::error(
        Envelope::plain(),
        500,
        "the store failed; see the server log",
    )
}

/// How often a stream's credentials are checked again: a key revoked, a
/// session signed out or a user disabled ends the streams it opened.
const RECHECK: Duration = Duration::from_secs(5);

/// Who opened a stream: the credentials it presented, checked again every
/// [`RECHECK`] while the stream runs.
struct Caller {
    store: Arc<Store>,
    /// Only the credential headers of the request.
    headers: http::HeaderMap,
    org: String,
    checked: tokio::time::Instant,
}

impl Caller {
    async fn still_allowed(&mut self) -> bool {
        if self.checked.elapsed() < RECHECK {
            return true;
        }
        self.checked = tokio::time::Instant::now();
        matches!(organisation(&self.store, &self.headers).await, Ok(o) if o == self.org)
    }
}

/// The headers that carry credentials, copied.
fn credentials(headers: &http::HeaderMap) -> http::HeaderMap {
    let mut kept = http::HeaderMap::new();
    for name in [
        http::header::AUTHORIZATION,
        http::header::COOKIE,
        http::HeaderName::from_static("x-auth-token"),
    ] {
        for v in headers.get_all(&name) {
            kept.append(name.clone(), v.clone());
        }
    }
    kept
}

/// Feed the event stream until the operation ends, the client goes away or
/// its credentials no longer hold.
async fn stream(
    ops: Arc<Operations>,
    mut caller: Caller,
    id: String,
    after: i64,
    tx: tokio::sync::mpsc::Sender<Bytes>,
) -> Result<(), Infallible> {
    let mut seq = after;
    // On PostgreSQL other replicas write events without waking this
    // process: re-read at least every [`Operations::poll_interval`].
    let poll = ops.poll_interval();
    let wait = poll.map_or(RECHECK, |p| p.min(RECHECK));
    let mut last_sent = tokio::time::Instant::now();
    loop {
        if !caller.still_allowed().await {
            tracing::info!(operation = %id, "an event stream ended: its credentials no longer hold");
            return Ok(());
        }
        let org = caller.org.as_str();
        let changed = ops.changed();
        tokio::pin!(changed);
        changed.as_mut().enable();
        let (events, done) = match ops.events_since(org, &id, seq).await {
            Ok(Some(x)) => x,
            Ok(None) => return Ok(()),
            Err(e) => {
                tracing::error!(error = %e, "operations: cannot read events");
                return Ok(());
            }
        };
        for e in events {
            seq = e.seq;
            let frame = format!(
                "id: {}\nevent: {}\ndata: {}\n\n",
                e.seq,
                e.event,
                serde_json::json!({"at": e.at, "data": e.data})
            );
            if tx.send(Bytes::from(frame)).await.is_err() {
                return Ok(());
            }
            last_sent = tokio::time::Instant::now();
        }
        if done {
            return Ok(());
        }
        if tokio::time::timeout(wait, changed).await.is_err() && last_sent.elapsed() >= KEEPALIVE {
            if tx
                .send(Bytes::from_static(b": keep-alive\n\n"))
                .await
                .is_err()
            {
                return Ok(());
            }
            last_sent = tokio::time::Instant::now();
        }
    }
}
