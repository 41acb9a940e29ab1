//! What is decided before a request's body is read: its path, decoded once;
//! who the caller is (and whom it acts as) and whether it may do what it
//! asks (kube-apiserver's authentication and authorization filters,
//! [`crate::auth`]); then the body itself, read to [`MAX_BODY`] bytes at
//! most.

use std::collections::HashMap;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::{HeaderMap, Method};

use super::path::RequestPath;
use super::Inner;
use crate::auth::{self, Attributes, Decision, User};
use crate::error::{ApiError, ApiResult};
use crate::state::State;

/// The most a request's body may hold (kube-apiserver's
/// `MaxRequestBodyBytes`); a longer one is a `413` and is not read on.
pub const MAX_BODY: usize = 3 * 1024 * 1024;

/// A request refused before its body was read.
#[derive(Debug)]
pub(super) struct Refusal {
    /// The `Status` it is answered with.
    pub error: ApiError,
    /// Whether the caller was known by then: a request refused before
    /// authentication (a bad path, an unknown token) is not kept in the
    /// request log, which it could otherwise fill with what it sends.
    pub authenticated: bool,
}

impl Refusal {
    fn before_authentication(error: ApiError) -> Self {
        Refusal {
            error,
            authenticated: false,
        }
    }

    fn after_authentication(error: ApiError) -> Self {
        Refusal {
            error,
            authenticated: true,
        }
    }
}

/// The path decoded ([`RequestPath`]), then authentication, impersonation
/// and RBAC ([`crate::auth`]) on its decoded segments, the ones the router
/// reads: the caller (or whom it acts as) and the path, or the `400`,
/// `401` or `403` that refuses it. The health and version paths are open
/// to all.
pub(super) fn admit(
    inner: &Inner,
    method: &Method,
    raw_path: &str,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<(User, RequestPath), Refusal> {
    let path = RequestPath::parse(raw_path).map_err(Refusal::before_authentication)?;
    let authorization = text(headers, "authorization").unwrap_or("");
    let token = authorization.strip_prefix("Bearer ").map(str::trim);
    let admin = token == Some(inner.token.as_str()) || (authorization.is_empty() && !inner.tls);
    let impersonating = IMPERSONATE.iter().any(|h| headers.contains_key(*h))
        || headers.keys().any(|k| k.as_str().starts_with(EXTRA_PREFIX));
    if admin && !impersonating {
        return Ok((User::admin(), path));
    }
    let st = crate::lock(&inner.state);
    let user = match admin {
        true => Some(User::admin()),
        false => token.and_then(|t| auth::tokens::user(&st, t)),
    };
    if matches!(
        path.decoded.as_str(),
        "/version" | "/healthz" | "/livez" | "/readyz"
    ) {
        return Ok((user.unwrap_or_else(User::anonymous), path));
    }
    let user = user.ok_or_else(|| Refusal::before_authentication(ApiError::unauthorized()))?;
    let user = impersonate(&st, user, headers).map_err(Refusal::after_authentication)?;
    let attrs = Attributes::of(method, &path.decoded, &path.segs(), query);
    match auth::authorize(&st, &user, &attrs) {
        Decision::Allow(_) => Ok((user, path)),
        Decision::Deny => Err(Refusal::after_authentication(auth::rbac::forbidden(
            &user, &attrs,
        ))),
    }
}

/// The headers that ask to act as someone else (`kubectl --as`, `--as-group`,
/// `--as-uid`).
const IMPERSONATE: &[&str] = &["impersonate-user", "impersonate-group", "impersonate-uid"];

/// `Impersonate-Extra-<key>: <value>`: an extra of the impersonated user
/// (`kubectl --as-user-extra`), the key percent-encoded.
const EXTRA_PREFIX: &str = "impersonate-extra-";

/// Each `(key, value)` of the `Impersonate-Extra-*` headers, the key
/// lower-cased and percent-decoded (kube-apiserver's `unescapeExtraKey`).
fn extras(headers: &HeaderMap) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (k, v) in headers {
        let Some(key) = k.as_str().strip_prefix(EXTRA_PREFIX) else {
            continue;
        };
        let key = percent_encoding::percent_decode_str(key)
            .decode_utf8_lossy()
            .into_owned();
        // Checked whatever its bytes (kube-apiserver's header values are
        // any bytes): never dropped from the checks.
        out.push((key, String::from_utf8_lossy(v.as_bytes()).into_owned()));
    }
    out
}

fn text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// kube-apiserver's impersonation filter: the caller must be allowed to
/// `impersonate` the user (or the service account), each group and the uid
/// it names; then the request is that user's. A service account named
/// without groups has its own; anyone else has the groups named and
/// `system:authenticated`.
fn impersonate(st: &State, caller: User, headers: &HeaderMap) -> ApiResult<User> {
    let groups: Vec<String> = headers
        .get_all("impersonate-group")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(String::from)
        .collect();
    let uid = text(headers, "impersonate-uid");
    let extras = extras(headers);
    let Some(name) = text(headers, "impersonate-user") else {
        if groups.is_empty() && uid.is_none() && extras.is_empty() {
            return Ok(caller);
        }
        return Err(ApiError::bad_request(
            "requested an impersonated group, uid or extra without impersonating a user",
        ));
    };
    let asked = |group: &str, resource: &str, namespace: &str, name: &str| Attributes {
        verb: "impersonate".into(),
        resource_request: true,
        group: group.into(),
        resource: resource.into(),
        name: name.into(),
        namespace: namespace.into(),
        ..Attributes::default()
    };
    let account = name
        .strip_prefix("system:serviceaccount:")
        .and_then(|rest| rest.split_once(':'));
    let mut checks = vec![match account {
        Some((ns, sa)) => asked("", "serviceaccounts", ns, sa),
        None => asked("", "users", "", name),
    }];
    checks.extend(groups.iter().map(|g| asked("", "groups", "", g)));
    if let Some(u) = uid {
        checks.push(asked("authentication.k8s.io", "uids", "", u));
    }
    // One check per extra value: `impersonate` on `userextras/<key>`
    // named the value. (Extras decide nothing in RBAC: the user keeps them
    // to be shown.)
    checks.extend(extras.iter().map(|(key, value)| Attributes {
        subresource: key.clone(),
        ..asked("authentication.k8s.io", "userextras", "", value)
    }));
    for attrs in &checks {
        if !auth::authorize(st, &caller, attrs).allowed() {
            return Err(auth::rbac::forbidden(&caller, attrs));
        }
    }
    let mut user = match account {
        Some((ns, sa)) if groups.is_empty() => User::service_account(ns, sa, ""),
        _ => User {
            name: name.to_string(),
            uid: String::new(),
            groups,
            extra: Default::default(),
        },
    };
    for (key, value) in extras {
        user.extra.entry(key).or_default().push(value);
    }
    user.uid = uid.unwrap_or(&user.uid).to_string();
    if name != "system:anonymous" && !user.groups.iter().any(|g| g == "system:authenticated") {
        user.groups.push("system:authenticated".into());
    }
    Ok(user)
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
