//! Authentication: API keys bound to organisations (stored as SHA-256 of a
//! 256-bit secret, never logged), the per-route schemes that present them,
//! Huawei AK/SK request signing ([`aksk`]), kboss's `orgid` in explicit debug
//! mode ([`debug`]), and the admin token that guards `/admin`.
//!
//! A key bound to a project is accepted only on routes whose `{project_id}`
//! parameter names that project ([`Principal::allows_project`]).

mod admin;
pub mod aksk;
pub mod debug;
mod keys;
mod replay;

pub use admin::AdminToken;
pub use keys::{
    create_key, create_project_key, list_keys, revoke_key, sealed_secret_opens, validate_project,
    Credential, KeyInfo,
};

use base64::Engine as _;
use http::HeaderMap;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::store::Store;

/// How a route's callers authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum Scheme {
    None,
    Bearer,
    XAuthToken,
    Basic,
    Aksk,
    Session,
}

impl Scheme {
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::None => "none",
            Scheme::Bearer => "bearer",
            Scheme::XAuthToken => "x-auth-token",
            Scheme::Basic => "basic",
            Scheme::Aksk => "aksk",
            Scheme::Session => "session",
        }
    }

    pub fn parse(s: &str) -> Option<Scheme> {
        Some(match s {
            "none" => Scheme::None,
            "bearer" => Scheme::Bearer,
            "x-auth-token" => Scheme::XAuthToken,
            "basic" => Scheme::Basic,
            "aksk" => Scheme::Aksk,
            "session" => Scheme::Session,
            _ => return None,
        })
    }
}

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub organisation: String,
    pub key_id: String,
    pub scheme: Scheme,
    /// The project the key is bound to, if any.
    pub project: Option<String>,
}

impl Principal {
    /// Whether this caller may use a route whose `project_id` parameter is
    /// `project` (always, for keys bound to no project).
    pub fn allows_project(&self, project: Option<&str>) -> bool {
        match (&self.project, project) {
            (Some(bound), Some(asked)) => bound == asked,
            _ => true,
        }
    }
}

/// Why a request was not authenticated. 401 for all but `Forbidden` (403).
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("missing credentials: send {0}")]
    Missing(&'static str),
    #[error("invalid credentials")]
    Invalid,
    #[error("this key is not valid for {0} authentication")]
    Forbidden(&'static str),
    #[error("malformed credentials: {0}")]
    Malformed(&'static str),
    #[error("the request's X-Sdk-Date is too far from the server's clock (at most 15 minutes)")]
    Expired,
    #[error("this signed request was already received (replay)")]
    Replayed,
    #[error("this key is not valid for project `{0}`")]
    WrongProject(String),
    #[error("credential store unavailable")]
    Store,
    /// A console session's state-changing call without its CSRF token.
    #[error("a console session needs its X-CSRF-Token on state-changing calls")]
    Csrf,
    /// A debug-mode `orgid` that is not a valid organisation id.
    #[error("parameter `orgid` is not valid: {0}")]
    BadOrgid(String),
}

impl AuthError {
    pub fn status(&self) -> u16 {
        match self {
            AuthError::Forbidden(_) | AuthError::WrongProject(_) | AuthError::Csrf => 403,
            AuthError::Store => 503,
            AuthError::BadOrgid(_) => 400,
            _ => 401,
        }
    }
}

/// Resolve the caller of a route with `scheme`. `Ok(None)` for `Scheme::None`.
///
/// On `aksk` routes this handles the `X-Auth-Token` alternative; a signed
/// request is verified by [`aksk::verify`], which needs the body.
pub async fn authenticate(
    store: &Store,
    scheme: Scheme,
    headers: &HeaderMap,
) -> Result<Option<Principal>, AuthError> {
    let (key_id, secret, expect) = match scheme {
        Scheme::None => return Ok(None),
        Scheme::Bearer => {
            let token =
                bearer(headers).ok_or(AuthError::Missing("Authorization: Bearer <api key>"))?;
            let (id, secret) = keys::split_token(token).ok_or(AuthError::Invalid)?;
            (id, secret, "bearer")
        }
        // A kboss session presents a bearer API key; `orgid` instead of a key
        // is [`debug`] mode, decided by the server.
        Scheme::Session => {
            let token = bearer(headers).ok_or(AuthError::Missing(
                "Authorization: Bearer <api key> (kboss session)",
            ))?;
            let (id, secret) = keys::split_token(token).ok_or(AuthError::Invalid)?;
            (id, secret, "bearer")
        }
        Scheme::XAuthToken => {
            let token = headers
                .get("x-auth-token")
                .and_then(|v| v.to_str().ok())
                .ok_or(AuthError::Missing("X-Auth-Token: <token>"))?;
            let (id, secret) = keys::split_token(token.trim()).ok_or(AuthError::Invalid)?;
            (id, secret, "x-auth-token")
        }
        // Huawei APIs take a signed request or an IAM token.
        Scheme::Aksk => {
            let token = headers
                .get("x-auth-token")
                .and_then(|v| v.to_str().ok())
                .ok_or(AuthError::Missing(
                    "an AK/SK-signed request (Authorization: SDK-HMAC-SHA256 ...) or X-Auth-Token: <token>",
                ))?;
            let (id, secret) = keys::split_token(token.trim()).ok_or(AuthError::Invalid)?;
            (id, secret, "x-auth-token")
        }
        Scheme::Basic => {
            let (id, secret) =
                basic(headers).ok_or(AuthError::Missing("Authorization: Basic <key id:secret>"))?;
            (id, secret, "basic")
        }
    };
    let key = keys::lookup(store, &key_id)
        .await?
        .ok_or(AuthError::Invalid)?;
    let presented = keys::hash_secret(&secret);
    if !bool::from(presented.as_bytes().ct_eq(key.secret_sha256.as_bytes())) {
        return Err(AuthError::Invalid);
    }
    if key.scheme != expect {
        return Err(AuthError::Forbidden(scheme.as_str()));
    }
    Ok(Some(Principal {
        organisation: key.org_id,
        key_id,
        // The token alternative of an `aksk` route is reported as what it is.
        scheme: if scheme == Scheme::Aksk {
            Scheme::XAuthToken
        } else {
            scheme
        },
        project: key.project_id,
    }))
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (kind, token) = v.split_once(' ')?;
    kind.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let v = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (kind, b64) = v.split_once(' ')?;
    if !kind.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, pass) = text.split_once(':')?;
    Some((user.to_string(), pass.to_string()))
}
