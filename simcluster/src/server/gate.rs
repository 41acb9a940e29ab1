//! What is decided before a request's body is read: who the caller is and
//! whether it may do what it asks (kube-apiserver's authentication and
//! authorization filters, [`crate::auth`]), then the body itself, read to
//! [`MAX_BODY`] bytes at most.

use std::collections::HashMap;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::Method;

use super::Inner;
use crate::auth::{self, Attributes, Decision, User};
use crate::error::{ApiError, ApiResult};

/// The most a request's body may hold (kube-apiserver's
/// `MaxRequestBodyBytes`); a longer one is a `413` and is not read on.
pub const MAX_BODY: usize = 3 * 1024 * 1024;

/// Authentication, then RBAC ([`crate::auth`]): the caller, or the `401` or
/// `403` that refuses it. The health and version paths are open to all.
pub(super) fn admit(
    inner: &Inner,
    method: &Method,
    path: &str,
    query: &HashMap<String, String>,
    authorization: &str,
) -> ApiResult<User> {
    let token = authorization.strip_prefix("Bearer ").map(str::trim);
    if token == Some(inner.token.as_str()) || (authorization.is_empty() && !inner.tls) {
        return Ok(User::admin());
    }
    let st = crate::lock(&inner.state);
    let user = token.and_then(|t| auth::tokens::user(&st, t));
    if matches!(path, "/version" | "/healthz" | "/livez" | "/readyz") {
        return Ok(user.unwrap_or_else(User::anonymous));
    }
    let user = user.ok_or_else(ApiError::unauthorized)?;
    let attrs = Attributes::of(method, path, query);
    match auth::authorize(&st, &user, &attrs) {
        Decision::Allow(_) => Ok(user),
        Decision::Deny => Err(auth::rbac::forbidden(&user, &attrs)),
    }
}

/// The body, at most [`MAX_BODY`] bytes of it.
pub(super) async fn read_body(
    body: hyper::body::Incoming,
    declared: Option<u64>,
) -> ApiResult<Bytes> {
    let too_large = || {
        ApiError::new(
            413,
            "RequestEntityTooLarge",
            format!("Request entity too large: limit is {MAX_BODY}"),
        )
    };
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return Err(too_large());
    }
    match http_body_util::Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => Ok(b.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Err(_) => Err(ApiError::bad_request(
            "the request's body could not be read",
        )),
    }
}
