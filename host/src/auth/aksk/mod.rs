//! Huawei Cloud AK/SK request signing (`SDK-HMAC-SHA256`), as the official
//! SDKs (`huaweicloudsdkcore`'s `Signer`) and API Gateway compute it:
//!
//! ```text
//! CanonicalRequest = METHOD \n CanonicalURI \n CanonicalQuery \n
//!                    CanonicalHeaders \n SignedHeaders \n hex(sha256(body))
//! StringToSign     = "SDK-HMAC-SHA256" \n X-Sdk-Date \n hex(sha256(CanonicalRequest))
//! Signature        = hex(hmac_sha256(SK, StringToSign))
//! Authorization: SDK-HMAC-SHA256 Access=<AK>, SignedHeaders=host;x-sdk-date;..., Signature=<hex>
//! ```
//!
//! The canonical URI is the decoded path, each segment re-encoded (every byte
//! but `A-Za-z0-9_.-~`), with a trailing `/`; the canonical query is the
//! decoded pairs sorted and re-encoded the same way; canonical headers are
//! the signed headers, lower-case, values trimmed. `X-Sdk-Date` and `Host`
//! must be signed. A request is refused when its date is more than
//! [`MAX_SKEW`] away from the server's clock, and the signature of a request
//! that changes state (any method but GET, HEAD, OPTIONS) is accepted once:
//! its replay inside the skew window is refused (older ones fail the clock
//! check). Reads are exempt: a client polling the same list within one
//! second signs identical requests, and repeating a read changes nothing.
//! The signatures seen are kept in the store ([`super::replay`], table
//! `request_signatures`, each row until its request's date leaves the
//! window), so every replica on one database refuses a replay another
//! accepted, and so does a server restarted inside the window.
//! The SK is kept sealed in the store and opened only here.
//!
//! The server verifies in two steps so that no body is read for a request
//! that its headers already condemn: [`check_headers`] (syntax, clock, the
//! key exists and is an AK/SK key, every signed header is present) before
//! the body, then [`HeadersChecked::finish`] with the body's [`BodyDigest`],
//! hashed chunk by chunk as it arrives (it also records a write's signature
//! in the store). [`verify`] does both at once.

use chrono::{DateTime, NaiveDateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use http::HeaderMap;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{keys, replay, AuthError, Principal, Scheme};
use crate::store::Store;

/// The algorithm name in `Authorization`.
pub const ALGORITHM: &str = "SDK-HMAC-SHA256";
/// Largest accepted difference between `X-Sdk-Date` and the server's clock.
pub const MAX_SKEW: chrono::Duration = chrono::Duration::minutes(15);
const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const DATE_FORMAT: &str = "%Y%m%dT%H%M%SZ";

/// The parts of a request the signature covers.
pub struct SignedRequest<'a> {
    pub method: &'a str,
    /// The path as received (percent-encoded).
    pub path: &'a str,
    /// The raw query string, without `?`.
    pub query: &'a str,
    pub headers: &'a HeaderMap,
    /// The request's authority, for `host` when no `Host` header was sent (HTTP/2).
    pub authority: Option<&'a str>,
    pub body: &'a [u8],
}

/// The request line and headers of a signed request: what the signature
/// covers besides the body.
pub struct RequestHead<'a> {
    pub method: &'a str,
    /// The path as received (percent-encoded).
    pub path: &'a str,
    /// The raw query string, without `?`.
    pub query: &'a str,
    pub headers: &'a HeaderMap,
    /// The request's authority, for `host` when no `Host` header was sent (HTTP/2).
    pub authority: Option<&'a str>,
}

impl<'a> SignedRequest<'a> {
    fn head(&self) -> RequestHead<'a> {
        RequestHead {
            method: self.method,
            path: self.path,
            query: self.query,
            headers: self.headers,
            authority: self.authority,
        }
    }
}

/// SHA-256 of a body fed in chunks as they arrive, and its length.
#[derive(Clone, Default)]
pub struct BodyDigest {
    hasher: Sha256,
    len: usize,
}

impl BodyDigest {
    pub fn new() -> Self {
        Self::default()
    }

    /// The digest of a complete body.
    pub fn of(body: &[u8]) -> Self {
        let mut d = Self::new();
        d.update(body);
        d
    }

    pub fn update(&mut self, chunk: &[u8]) {
        self.hasher.update(chunk);
        self.len += chunk.len();
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Whether the request carries an AK/SK signature.
pub fn is_signed(headers: &HeaderMap) -> bool {
    headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with(ALGORITHM))
}

struct Authorization<'a> {
    access: &'a str,
    signed_headers: Vec<&'a str>,
    signature: &'a str,
}

fn parse_authorization(value: &str) -> Option<Authorization<'_>> {
    let rest = value.trim().strip_prefix(ALGORITHM)?;
    let (mut access, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=')?;
        match k.trim() {
            "Access" => access = Some(v.trim()),
            "SignedHeaders" => signed = Some(v.trim()),
            "Signature" => signature = Some(v.trim()),
            _ => return None,
        }
    }
    let signed_headers: Vec<&str> = signed?.split(';').collect();
    let ok = signed_headers
        .iter()
        .all(|h| !h.is_empty() && h.bytes().all(|b| !b.is_ascii_uppercase()));
    ok.then_some(Authorization {
        access: access.filter(|a| !a.is_empty())?,
        signed_headers,
        signature: signature.filter(|s| !s.is_empty())?,
    })
}

/// HMAC-SHA256 (RFC 2104), the `hmac` crate over `sha2`.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> Result<[u8; 32], String> {
    // HMAC takes a key of any length (a long one is hashed first), so this
    // error cannot happen; it is reported rather than unwrapped all the same.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .map_err(|_| "the secret key cannot key an HMAC".to_string())?;
    mac.update(data);
    Ok(mac.finalize().into_bytes().into())
}

/// Every byte but the unreserved `A-Za-z0-9_.-~`.
const SDK_ENCODED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'_')
    .remove(b'.')
    .remove(b'-')
    .remove(b'~');

/// Percent-encode every byte but the unreserved `A-Za-z0-9_.-~`, as Python's
/// `quote(s, safe='~')` does (upper-case hex).
fn encode(s: &str) -> String {
    utf8_percent_encode(s, SDK_ENCODED).to_string()
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

fn canonical_uri(path: &str) -> String {
    let decoded = decode(path);
    let mut uri = decoded.split('/').map(encode).collect::<Vec<_>>().join("/");
    if !uri.ends_with('/') {
        uri.push('/');
    }
    uri
}

fn canonical_query(query: &str) -> String {
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn header<'a>(headers: &'a HeaderMap, authority: Option<&'a str>, name: &str) -> Option<&'a str> {
    match headers.get(name).and_then(|v| v.to_str().ok()) {
        Some(v) => Some(v),
        None if name == "host" => authority,
        None => None,
    }
}

fn payload_hash(req: &RequestHead<'_>, body: &BodyDigest) -> String {
    if body.is_empty() {
        return EMPTY_SHA256.to_string();
    }
    let header = |name| header(req.headers, req.authority, name);
    // The SDKs leave non-JSON uploads unsigned (the marker header is signed);
    // a JSON body is always hashed, so it cannot be altered in flight.
    let json = header("content-type").is_some_and(|ct| {
        let ct = ct.trim().to_ascii_lowercase();
        ct.starts_with("application/json") || ct.starts_with("application/bson")
    });
    if !json && header("x-sdk-content-sha256").map(str::trim) == Some("UNSIGNED-PAYLOAD") {
        return "UNSIGNED-PAYLOAD".to_string();
    }
    hex::encode(body.hasher.clone().finalize())
}

/// The canonical request, or the name of a signed header the request lacks.
fn canonical_request(
    req: &RequestHead<'_>,
    signed: &[&str],
    body: &BodyDigest,
) -> Result<String, String> {
    let mut headers = String::new();
    for name in signed {
        let value = header(req.headers, req.authority, name).ok_or_else(|| (*name).to_string())?;
        headers.push_str(name);
        headers.push(':');
        headers.push_str(value.trim());
        headers.push('\n');
    }
    Ok(format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        req.method.to_ascii_uppercase(),
        canonical_uri(req.path),
        canonical_query(req.query),
        headers,
        signed.join(";"),
        payload_hash(req, body)
    ))
}

/// The signature a client holding `sk` sends for `req` (tests and tools use
/// this to sign; the server recomputes it to verify).
pub fn signature(
    req: &SignedRequest<'_>,
    signed: &[&str],
    sdk_date: &str,
    sk: &str,
) -> Result<String, String> {
    signature_of(&req.head(), &BodyDigest::of(req.body), signed, sdk_date, sk)
}

fn signature_of(
    req: &RequestHead<'_>,
    body: &BodyDigest,
    signed: &[&str],
    sdk_date: &str,
    sk: &str,
) -> Result<String, String> {
    let canonical = canonical_request(req, signed, body)?;
    let to_sign = format!(
        "{ALGORITHM}\n{sdk_date}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    Ok(hex::encode(hmac_sha256(sk.as_bytes(), to_sign.as_bytes())?))
}

fn parse_date(value: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(value.trim(), DATE_FORMAT)
        .ok()
        .map(|t| t.and_utc())
}

/// A signed request whose headers passed every check that needs no body:
/// well-formed, dated within [`MAX_SKEW`], every signed header present, the
/// AK an active AK/SK key. [`HeadersChecked::finish`] checks the signature
/// once the body has been hashed.
pub struct HeadersChecked {
    access: String,
    signed_headers: Vec<String>,
    /// The presented signature, lower-case.
    signature: String,
    sdk_date: String,
    dated: DateTime<Utc>,
    sk: String,
    organisation: String,
    project: Option<String>,
}

/// The checks of a signed request that need only its headers (`authority`
/// stands in for a missing `Host`, as in HTTP/2).
pub async fn check_headers(
    store: &Store,
    headers: &HeaderMap,
    authority: Option<&str>,
    now: DateTime<Utc>,
) -> Result<HeadersChecked, AuthError> {
    let value = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or(AuthError::Missing("Authorization: SDK-HMAC-SHA256 ..."))?;
    let auth = parse_authorization(value).ok_or(AuthError::Malformed(
        "Authorization must be `SDK-HMAC-SHA256 Access=<AK>, SignedHeaders=<h1;h2>, Signature=<hex>`",
    ))?;
    for required in ["host", "x-sdk-date"] {
        if !auth.signed_headers.contains(&required) {
            return Err(AuthError::Malformed(
                "SignedHeaders must include `host` and `x-sdk-date`",
            ));
        }
    }
    let sdk_date =
        header(headers, authority, "x-sdk-date").ok_or(AuthError::Missing("X-Sdk-Date"))?;
    let dated = parse_date(sdk_date).ok_or(AuthError::Malformed(
        "X-Sdk-Date must be `YYYYMMDDTHHMMSSZ` (UTC)",
    ))?;
    if now.signed_duration_since(dated).abs() > MAX_SKEW {
        return Err(AuthError::Expired);
    }
    // A signature over a header the request lacks cannot match.
    if auth
        .signed_headers
        .iter()
        .any(|h| header(headers, authority, h).is_none())
    {
        return Err(AuthError::Invalid);
    }
    let key = keys::lookup(store, auth.access)
        .await?
        .ok_or(AuthError::Invalid)?;
    if key.scheme != Scheme::Aksk.as_str() {
        return Err(AuthError::Forbidden(Scheme::Aksk.as_str()));
    }
    let sk = keys::open_secret(store, auth.access)
        .await?
        .ok_or(AuthError::Invalid)?;
    Ok(HeadersChecked {
        access: auth.access.to_string(),
        signed_headers: auth.signed_headers.iter().map(|h| h.to_string()).collect(),
        signature: auth.signature.to_ascii_lowercase(),
        sdk_date: sdk_date.to_string(),
        dated,
        sk,
        organisation: key.org_id,
        project: key.project_id,
    })
}

impl HeadersChecked {
    /// Check the signature over `req` and the body hashed into `body`, and
    /// refuse a replayed write (the store keeps every write's signature
    /// until its date leaves the window); the key's principal.
    pub async fn finish(
        self,
        store: &Store,
        req: &RequestHead<'_>,
        body: &BodyDigest,
        now: DateTime<Utc>,
    ) -> Result<Principal, AuthError> {
        let signed: Vec<&str> = self.signed_headers.iter().map(String::as_str).collect();
        let expected = signature_of(req, body, &signed, &self.sdk_date, &self.sk)
            .map_err(|_| AuthError::Invalid)?;
        if !bool::from(expected.as_bytes().ct_eq(self.signature.as_bytes())) {
            return Err(AuthError::Invalid);
        }
        let read = matches!(
            req.method.to_ascii_uppercase().as_str(),
            "GET" | "HEAD" | "OPTIONS"
        );
        if !read {
            let key = format!("{}:{}", self.access, self.signature);
            let expires = (self.dated + MAX_SKEW).timestamp();
            if !replay::first_use(store, &key, expires).await? {
                return Err(AuthError::Replayed);
            }
            replay::purge_now_and_then(store, now.timestamp()).await;
        }
        Ok(Principal {
            organisation: self.organisation,
            key_id: self.access,
            scheme: Scheme::Aksk,
            project: self.project,
        })
    }
}

/// Verify a signed request at time `now` and resolve its key's principal.
pub async fn verify(
    store: &Store,
    req: &SignedRequest<'_>,
    now: DateTime<Utc>,
) -> Result<Principal, AuthError> {
    check_headers(store, req.headers, req.authority, now)
        .await?
        .finish(store, &req.head(), &BodyDigest::of(req.body), now)
        .await
}

/// `X-Sdk-Date` for `t`.
pub fn sdk_date(t: DateTime<Utc>) -> String {
    t.format(DATE_FORMAT).to_string()
}

#[cfg(test)]
mod tests;
