//! Accessors on the [`Request`] record the host hands to `handle`.
//!
//! The host has already routed the request: `req.route` is the template that
//! matched (dispatch on it with a `match`), `req.params` its parameters.

use serde::de::DeserializeOwned;

use crate::params::{ParamError, Params};
use crate::{AuthScheme, Method, Principal, Request};

impl Request {
    /// A route parameter (`{id}` in the template), percent-decoded.
    pub fn route_param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first header of this name (names compare case-insensitively).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `Content-Type` header, if any.
    pub fn content_type(&self) -> Option<&str> {
        self.header("content-type")
    }

    /// Route, query and body parameters merged (see [`Params`]).
    pub fn params(&self) -> Result<Params, ParamError> {
        Params::from_request(self)
    }

    /// The body as UTF-8 text.
    pub fn body_text(&self) -> Result<&str, ParamError> {
        std::str::from_utf8(&self.body).map_err(|e| ParamError::Body {
            format: "UTF-8 text",
            reason: format!("not UTF-8 from byte {}", e.valid_up_to()),
        })
    }

    /// The body decoded as JSON into `T`.
    pub fn body_json<T: DeserializeOwned>(&self) -> Result<T, ParamError> {
        serde_json::from_slice(&self.body).map_err(|e| ParamError::Body {
            format: "JSON",
            reason: crate::params::json_reason(&e),
        })
    }

    /// The authenticated caller; `None` only on routes with auth `none`.
    pub fn principal(&self) -> Option<&Principal> {
        self.principal.as_ref()
    }

    /// The caller's organisation, when authenticated.
    pub fn organisation(&self) -> Option<&str> {
        self.principal.as_ref().map(|p| p.organisation.as_str())
    }
}

impl Method {
    /// The method as sent on the wire (`GET`, `POST`, ...).
    pub fn as_str(&self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Head => "HEAD",
            Method::Options => "OPTIONS",
        }
    }
}

impl AuthScheme {
    /// The scheme's WIT name (`none`, `bearer`, `x-auth-token`, `basic`,
    /// `aksk`, `session`).
    pub fn as_str(&self) -> &'static str {
        match self {
            AuthScheme::None => "none",
            AuthScheme::Bearer => "bearer",
            AuthScheme::XAuthToken => "x-auth-token",
            AuthScheme::Basic => "basic",
            AuthScheme::Aksk => "aksk",
            AuthScheme::Session => "session",
        }
    }
}
