//! The browser console at `/console/`: a Preact + htm single page
//! ([`assets`], embedded), console users ([`users`]) and their sessions
//! ([`session`]). The host serves only the page, its files and
//! `/console/api/session` (sign in, who am I, sign out); every page calls
//! the public endpoints of the API areas with the session cookie, as any
//! client would with a key.
//!
//! `POST /console/api/session` takes `{org, name, password}` (JSON or a
//! form); failed sign-ins count against the client address and the claimed
//! user in the server's failed-authentication throttle (429 with
//! `Retry-After` once over). Answers are JSON: `{org, name, admin, csrf,
//! expires_at}` or `{msg}`.

pub mod assets;
pub mod session;
pub mod users;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use http::{header, HeaderValue, Method, Request, Response};
use hyper::body::Incoming;
use serde_json::json;

use crate::server::reply::{self, Body};
use crate::server::unverified::ReadError;
use crate::store::Store;

/// Largest sign-in body.
const MAX_SIGN_IN: usize = 16 << 10;

/// What the server hands the console for one request.
pub struct Context<'a> {
    pub store: &'a Arc<Store>,
    /// The client's address (for throttling failed sign-ins).
    pub client: Option<IpAddr>,
    /// Whether the connection is TLS (the cookie is then `Secure`).
    pub secure: bool,
    /// Failed sign-ins: `blocked` before checking, `failed` after a failure.
    pub throttle: Option<&'a dyn Throttle>,
    /// A sign-in's body is read before its sender is known: under the
    /// server's budget for such bodies, within their deadline.
    pub budget: &'a crate::server::unverified::Budget,
    pub body_timeout: Duration,
}

/// The server's failed-authentication throttle, as the console uses it.
pub trait Throttle: Sync {
    fn blocked(&self, addr: IpAddr, key: Option<&str>) -> Option<Duration>;
    fn failed(&self, addr: IpAddr, key: Option<&str>) -> Option<Duration>;
}

/// The demo's console user (`serve --demo`): an operator of `org` named
/// `demo`, with a new password at every start (printed once, with the URL).
pub async fn demo_user(store: &Store, org: &str, base_url: &str) -> anyhow::Result<()> {
    const NAME: &str = "demo";
    let password = users::generate_password();
    match users::create(store, org, NAME, &password, true).await {
        Ok(_) => {}
        Err(users::UserError::Exists(..)) => {
            users::reset_password(store, org, NAME, &password).await?
        }
        Err(e) => return Err(e.into()),
    }
    println!("console: {base_url}/console/ (organisation `{org}`, user `{NAME}`, password below, shown once)");
    println!("{password}");
    Ok(())
}

/// Whether `path` is the console's.
pub fn owns(path: &str) -> bool {
    path == "/console" || path.starts_with("/console/")
}

fn hardened(mut resp: Response<Body>) -> Response<Body> {
    let h = resp.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    resp
}

fn message(status: u16, msg: &str) -> Response<Body> {
    let mut r = reply::json(status, &json!({ "msg": msg }));
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// The answer to a request under `/console`, and its route for metrics.
pub async fn handle(ctx: Context<'_>, req: Request<Incoming>) -> (Response<Body>, &'static str) {
    let path = req.uri().path().to_string();
    let (resp, route) = match (req.method().clone(), path.as_str()) {
        (_, "/console/api/session") => (session_api(&ctx, req).await, "/console/api/session"),
        (Method::GET | Method::HEAD, "/console") => {
            let mut r = reply::text(308, "text/plain; charset=utf-8", String::new());
            r.headers_mut()
                .insert(header::LOCATION, HeaderValue::from_static("/console/"));
            (r, "/console")
        }
        (Method::GET | Method::HEAD, "/console/") => {
            let a = assets::get();
            let mut r = file(&req, &a.index, "no-cache");
            if let Ok(v) = HeaderValue::from_str(&a.csp) {
                r.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
            }
            (r, "/console/")
        }
        (Method::GET | Method::HEAD, p) if p.starts_with("/console/assets/") => {
            let name = &p["/console/assets/".len()..];
            match assets::get().files.get(name) {
                Some(a) => (
                    file(&req, a, "public, max-age=31536000, immutable"),
                    "/console/assets/{file}",
                ),
                None => (
                    message(404, "no such console file"),
                    "/console/assets/{file}",
                ),
            }
        }
        (m, _) if m != Method::GET && m != Method::HEAD => {
            (message(405, "method not allowed"), "/console")
        }
        _ => (message(404, "no such console page"), "/console"),
    };
    (hardened(resp), route)
}

fn file(req: &Request<Incoming>, asset: &assets::Asset, cache: &'static str) -> Response<Body> {
    let gzip = req
        .headers()
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|e| e.split(';').next().is_some_and(|e| e.trim() == "gzip"));
    let bytes: &[u8] = if gzip { asset.gzip() } else { asset.bytes };
    let mut r = Response::new(reply::full(bytes.to_vec()));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if gzip {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    r
}

fn signed_in(s: &session::Session, expires_at: i64) -> serde_json::Value {
    json!({
        "org": s.user.organisation,
        "name": s.user.name,
        "admin": s.user.admin,
        "csrf": s.csrf,
        "expires_at": expires_at,
    })
}

async fn session_api(ctx: &Context<'_>, req: Request<Incoming>) -> Response<Body> {
    let mut resp = match *req.method() {
        Method::GET => match session::from_request(ctx.store, req.method(), req.headers()).await {
            Ok(Some(s)) => reply::json(200, &signed_in(&s, s.expires_at)),
            Ok(None) | Err(session::SessionError::Expired) => message(401, "not signed in"),
            Err(e) => store_unavailable(&e),
        },
        Method::POST => sign_in(ctx, req).await,
        Method::DELETE => match session::from_request(ctx.store, req.method(), req.headers()).await
        {
            Ok(_) => {
                if let Some(token) = session::cookie_token(req.headers()) {
                    if let Err(e) = session::delete(ctx.store, &token).await {
                        tracing::error!(error = %e, "a console session could not be ended");
                        return message(503, "the session store is unavailable");
                    }
                }
                let mut r = message(200, "signed out");
                if let Ok(v) = HeaderValue::from_str(&session::clear_cookie(ctx.secure)) {
                    r.headers_mut().insert(header::SET_COOKIE, v);
                }
                r
            }
            Err(session::SessionError::Csrf) => {
                message(403, &session::SessionError::Csrf.to_string())
            }
            Err(session::SessionError::Expired) => message(401, "not signed in"),
            Err(e) => store_unavailable(&e),
        },
        _ => {
            let mut r = message(405, "method not allowed; allowed: GET, POST, DELETE");
            r.headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("GET, POST, DELETE"));
            r
        }
    };
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

#[derive(serde::Deserialize)]
struct SignIn {
    #[serde(default)]
    org: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
}

fn parse_sign_in(content_type: &str, body: &[u8]) -> Option<SignIn> {
    if content_type.starts_with("application/x-www-form-urlencoded") {
        let mut s = SignIn {
            org: String::new(),
            name: String::new(),
            password: String::new(),
        };
        for (k, v) in url::form_urlencoded::parse(body) {
            match &*k {
                "org" => s.org = v.into_owned(),
                "name" => s.name = v.into_owned(),
                "password" => s.password = v.into_owned(),
                _ => {}
            }
        }
        Some(s)
    } else {
        serde_json::from_slice(body).ok()
    }
}

/// A session that could not be looked up: the store's text stays in the
/// log (it may name the database's address).
fn store_unavailable(e: &session::SessionError) -> Response<Body> {
    tracing::error!(error = %e, "a console session could not be looked up");
    message(503, "the session store is unavailable")
}

/// A sign-in whose body was not read (the connection is closed after it).
fn unread(e: ReadError, timeout: Duration) -> Response<Body> {
    match e {
        ReadError::TooLarge => message(413, "the sign-in request is too large"),
        ReadError::Busy => {
            let mut r = message(
                503,
                "the server is receiving too many requests from unverified callers; retry shortly",
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            r
        }
        ReadError::Timeout => message(
            408,
            &format!(
                "the sign-in request did not arrive within {} s",
                timeout.as_secs_f32()
            ),
        ),
        ReadError::Cut => message(400, "the sign-in request was cut off or malformed"),
    }
}

fn too_many(wait: Duration) -> Response<Body> {
    let mut r = message(
        429,
        "too many failed sign-ins from this address or for this user; wait and retry",
    );
    let secs = wait.as_secs().max(1).to_string();
    if let Ok(v) = HeaderValue::from_str(&secs) {
        r.headers_mut().insert(header::RETRY_AFTER, v);
    }
    r
}

async fn sign_in(ctx: &Context<'_>, req: Request<Incoming>) -> Response<Body> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let read = crate::server::unverified::read(
        req.into_body(),
        ctx.budget,
        MAX_SIGN_IN,
        ctx.body_timeout,
        |_| {},
    )
    .await;
    let body = match read {
        Ok((body, _reservation)) => body,
        Err(e) => return reply::closing(unread(e, ctx.body_timeout)),
    };
    let Some(form) = parse_sign_in(&content_type, &body) else {
        return message(400, "send {org, name, password} as JSON or a form");
    };
    if form.org.is_empty() || form.name.is_empty() || form.password.is_empty() {
        return message(400, "organisation, user name and password are all required");
    }
    let claimed = format!("console:{}/{}", form.org, form.name);
    let throttle = ctx.throttle.zip(ctx.client);
    if let Some(wait) = throttle.and_then(|(t, a)| t.blocked(a, Some(&claimed))) {
        return too_many(wait);
    }
    let user = match users::check_password(ctx.store, &form.org, &form.name, &form.password).await {
        Ok(Some(u)) => u,
        Ok(None) => {
            tracing::info!(org = %form.org, user = %form.name, "console sign-in refused");
            if let Some(wait) = throttle.and_then(|(t, a)| t.failed(a, Some(&claimed))) {
                return too_many(wait);
            }
            return message(401, "wrong organisation, user name or password");
        }
        Err(e) => {
            tracing::error!(error = %e, "console sign-in could not be checked");
            return message(503, "the user store is unavailable");
        }
    };
    let created = match session::create(ctx.store, &user).await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "a console session could not be created");
            return message(503, "the session store is unavailable");
        }
    };
    tracing::info!(org = %user.organisation, user = %user.name, "console sign-in");
    let s = session::Session {
        user,
        csrf: created.csrf,
        expires_at: created.expires_at,
    };
    let mut r = reply::json(200, &signed_in(&s, created.expires_at));
    if let Ok(v) = HeaderValue::from_str(&session::set_cookie(&created.token, ctx.secure)) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}
