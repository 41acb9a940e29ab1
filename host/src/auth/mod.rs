//! Authentication: API keys bound to organisations (stored as SHA-256 of a
//! 256-bit secret, never logged), the per-route schemes that present them,
//! kboss's `orgid` in explicit debug mode ([`debug`]), and the admin token
//! that guards `/admin`.

mod admin;
pub mod debug;
mod keys;

pub use admin::AdminToken;
pub use keys::{create_key, Credential};

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
    #[error("authentication scheme {0} is not available yet")]
    Unsupported(&'static str),
    #[error("credential store unavailable")]
    Store,
    /// A debug-mode `orgid` that is not a valid organisation id.
    #[error("parameter `orgid` is not valid: {0}")]
    BadOrgid(String),
}

impl AuthError {
    pub fn status(&self) -> u16 {
        match self {
            AuthError::Forbidden(_) => 403,
            AuthError::Store => 503,
            AuthError::BadOrgid(_) => 400,
            _ => 401,
        }
    }
}

/// Resolve the caller of a route with `scheme`. `Ok(None)` for `Scheme::None`.
pub fn authenticate(
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
        Scheme::Basic => {
            let (id, secret) =
                basic(headers).ok_or(AuthError::Missing("Authorization: Basic <key id:secret>"))?;
            (id, secret, "basic")
        }
        Scheme::Aksk => return Err(AuthError::Unsupported("AK/SK signing")),
    };
    let key = keys::lookup(store, &key_id)?.ok_or(AuthError::Invalid)?;
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
        scheme,
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
