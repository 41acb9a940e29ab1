//! The host's probes: `/readyz` (the store answers, plugins are loaded, no
//! shutdown) and the token check of `/metrics`.

use http::{Request, Response};
use hyper::body::Incoming;

use super::reply::{self, Body};
use super::{too_many_failures, App, ClientAddr, Shared};
use crate::envelope::Envelope;

/// `/metrics` restricted to its token: the refusal (401, or 429 for a
/// client that failed too often), or `None` to answer.
pub(super) fn metrics_refused(
    app: &App,
    shared: &Shared,
    req: &Request<Incoming>,
) -> Option<Response<Body>> {
    let token = app.metrics.token.get()?;
    let client = req.extensions().get::<ClientAddr>().map(|c| c.0);
    let throttle = shared.throttle.as_ref().zip(client);
    if let Some(wait) = throttle.and_then(|(t, a)| t.blocked(a, None)) {
        return Some(reply::closing(too_many_failures(Envelope::plain(), wait)));
    }
    let authorization = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if token.verify(authorization) {
        return None;
    }
    if authorization.is_some() {
        if let Some(wait) = throttle.and_then(|(t, a)| t.failed(a, None)) {
            return Some(reply::closing(too_many_failures(Envelope::plain(), wait)));
        }
    }
    let mut r = reply::error(
        Envelope::plain(),
        401,
        "/metrics needs the metrics token: send Authorization: Bearer <token>",
    );
    r.headers_mut().insert(
        http::header::WWW_AUTHENTICATE,
        http::HeaderValue::from_static("Bearer"),
    );
    Some(r)
}

/// `/readyz`: 200 when the store answers, plugins are loaded and the server
/// is not shutting down; 503 naming what is not ready otherwise.
pub(super) async fn readiness(app: &App) -> Response<Body> {
    // Bounded: a database that does not answer is not ready, and the probe
    // itself must answer.
    let ping = app
        .store
        .db()
        .query_opt("SELECT 1", crate::store::db::params![]);
    let store = matches!(
        tokio::time::timeout(std::time::Duration::from_secs(2), ping).await,
        Ok(Ok(Some(_)))
    );
    let plugins = app.registry.table().plugins.len();
    let draining = app.draining.load(std::sync::atomic::Ordering::Acquire);
    let ready = store && plugins > 0 && !draining;
    let body = serde_json::json!({
        "status": if ready { "ready" } else { "not ready" },
        "checks": {
            "store": if store { "ok" } else { "unreachable" },
            "plugins": plugins,
            "draining": draining,
        },
    });
    reply::json(if ready { 200 } else { 503 }, &body)
}
