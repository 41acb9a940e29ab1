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
//! The SK is kept sealed in the store and opened only here.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use chrono::{DateTime, NaiveDateTime, Utc};
use http::HeaderMap;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{keys, AuthError, Principal, Scheme};
use crate::store::Store;

/// The algorithm name in `Authorization`.
pub const ALGORITHM: &str = "SDK-HMAC-SHA256";
/// Largest accepted difference between `X-Sdk-Date` and the server's clock.
pub const MAX_SKEW: chrono::Duration = chrono::Duration::minutes(15);
/// Signatures remembered for replay detection; beyond it the oldest half is
/// dropped (those requests are close to failing the clock check anyway).
const MAX_REMEMBERED: usize = 200_000;
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

/// HMAC-SHA256 (RFC 2104) over `sha2`.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut k = [0u8; BLOCK];
    if key.len() > BLOCK {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(data);
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// Percent-encode every byte but the unreserved `A-Za-z0-9_.-~`, as Python's
/// `quote(s, safe='~')` does.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
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

fn header<'a>(req: &'a SignedRequest<'_>, name: &str) -> Option<&'a str> {
    match req.headers.get(name).and_then(|v| v.to_str().ok()) {
        Some(v) => Some(v),
        None if name == "host" => req.authority,
        None => None,
    }
}

fn payload_hash(req: &SignedRequest<'_>) -> String {
    if req.body.is_empty() {
        return EMPTY_SHA256.to_string();
    }
    // The SDKs leave non-JSON uploads unsigned (the marker header is signed);
    // a JSON body is always hashed, so it cannot be altered in flight.
    let json = header(req, "content-type").is_some_and(|ct| {
        let ct = ct.trim().to_ascii_lowercase();
        ct.starts_with("application/json") || ct.starts_with("application/bson")
    });
    if !json && header(req, "x-sdk-content-sha256").map(str::trim) == Some("UNSIGNED-PAYLOAD") {
        return "UNSIGNED-PAYLOAD".to_string();
    }
    hex::encode(Sha256::digest(req.body))
}

/// The canonical request, or the name of a signed header the request lacks.
fn canonical_request(req: &SignedRequest<'_>, signed: &[&str]) -> Result<String, String> {
    let mut headers = String::new();
    for name in signed {
        let value = header(req, name).ok_or_else(|| (*name).to_string())?;
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
        payload_hash(req)
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
    let canonical = canonical_request(req, signed)?;
    let to_sign = format!(
        "{ALGORITHM}\n{sdk_date}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    Ok(hex::encode(hmac_sha256(sk.as_bytes(), to_sign.as_bytes())))
}

fn parse_date(value: &str) -> Option<DateTime<Utc>> {
    NaiveDateTime::parse_from_str(value.trim(), DATE_FORMAT)
        .ok()
        .map(|t| t.and_utc())
}

/// Signatures seen recently, with the time their request was dated.
fn seen() -> &'static Mutex<HashMap<String, DateTime<Utc>>> {
    static SEEN: OnceLock<Mutex<HashMap<String, DateTime<Utc>>>> = OnceLock::new();
    SEEN.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Record a signature; false when it was already used.
fn first_use(signature: &str, dated: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    let mut seen = seen().lock().unwrap_or_else(|p| p.into_inner());
    if seen.contains_key(signature) {
        return false;
    }
    if seen.len() >= MAX_REMEMBERED {
        seen.retain(|_, t| now.signed_duration_since(*t).abs() <= MAX_SKEW);
        if seen.len() >= MAX_REMEMBERED {
            let mut times: Vec<DateTime<Utc>> = seen.values().copied().collect();
            times.sort();
            let cut = times[times.len() / 2];
            seen.retain(|_, t| *t > cut);
        }
    }
    seen.insert(signature.to_string(), dated);
    true
}

/// Verify a signed request at time `now` and resolve its key's principal.
pub fn verify(
    store: &Store,
    req: &SignedRequest<'_>,
    now: DateTime<Utc>,
) -> Result<Principal, AuthError> {
    let value = req
        .headers
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
    let sdk_date = header(req, "x-sdk-date").ok_or(AuthError::Missing("X-Sdk-Date"))?;
    let dated = parse_date(sdk_date).ok_or(AuthError::Malformed(
        "X-Sdk-Date must be `YYYYMMDDTHHMMSSZ` (UTC)",
    ))?;
    if now.signed_duration_since(dated).abs() > MAX_SKEW {
        return Err(AuthError::Expired);
    }
    let key = keys::lookup(store, auth.access)?.ok_or(AuthError::Invalid)?;
    if key.scheme != Scheme::Aksk.as_str() {
        return Err(AuthError::Forbidden(Scheme::Aksk.as_str()));
    }
    let sk = keys::open_secret(store, auth.access)?.ok_or(AuthError::Invalid)?;
    let expected =
        signature(req, &auth.signed_headers, sdk_date, &sk).map_err(|_| AuthError::Invalid)?;
    let presented = auth.signature.to_ascii_lowercase();
    if !bool::from(expected.as_bytes().ct_eq(presented.as_bytes())) {
        return Err(AuthError::Invalid);
    }
    let read = matches!(
        req.method.to_ascii_uppercase().as_str(),
        "GET" | "HEAD" | "OPTIONS"
    );
    if !read && !first_use(&presented, dated, now) {
        return Err(AuthError::Replayed);
    }
    Ok(Principal {
        organisation: key.org_id,
        key_id: auth.access.to_string(),
        scheme: Scheme::Aksk,
        project: key.project_id,
    })
}

/// `X-Sdk-Date` for `t`.
pub fn sdk_date(t: DateTime<Utc>) -> String {
    t.format(DATE_FORMAT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2.
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        // Test case 6: a key longer than the block.
        let mac = hmac_sha256(
            &[0xaa; 131],
            b"Test Using Larger Than Block-Size Key - Hash Key First",
        );
        assert_eq!(
            hex::encode(mac),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn canonical_forms_follow_the_sdk() {
        assert_eq!(
            canonical_uri("/v3/abc/edgemgr/pods"),
            "/v3/abc/edgemgr/pods/"
        );
        assert_eq!(canonical_uri("/a%20b/c:d/"), "/a%20b/c%3Ad/");
        assert_eq!(
            canonical_query("offset=0&limit=10&deployment_ids=b%2Ca"),
            "deployment_ids=b%2Ca&limit=10&offset=0"
        );
        assert_eq!(canonical_query(""), "");
        assert_eq!(canonical_query("a=2&a=1&b"), "a=1&a=2&b=");
    }

    #[test]
    fn authorization_header_parses() {
        let a = parse_authorization(
            "SDK-HMAC-SHA256 Access=AK1, SignedHeaders=host;x-sdk-date, Signature=ab12",
        )
        .unwrap();
        assert_eq!(a.access, "AK1");
        assert_eq!(a.signed_headers, ["host", "x-sdk-date"]);
        assert_eq!(a.signature, "ab12");
        assert!(parse_authorization("SDK-HMAC-SHA256 Access=AK1").is_none());
        assert!(parse_authorization("Bearer x").is_none());
    }

    /// The example of Huawei's signing guide, recomputed independently:
    /// a GET with two signed headers.
    #[test]
    fn signature_is_stable() {
        let mut headers = HeaderMap::new();
        headers.insert("host", "127.0.0.1:8080".parse().unwrap());
        headers.insert("x-sdk-date", "20240101T000000Z".parse().unwrap());
        let req = SignedRequest {
            method: "GET",
            path: "/v3/p1/edgemgr/pods",
            query: "node_id=n1",
            headers: &headers,
            authority: None,
            body: b"",
        };
        let canonical = canonical_request(&req, &["host", "x-sdk-date"]).unwrap();
        assert_eq!(
            canonical,
            format!(
                "GET\n/v3/p1/edgemgr/pods/\nnode_id=n1\nhost:127.0.0.1:8080\nx-sdk-date:20240101T000000Z\n\nhost;x-sdk-date\n{EMPTY_SHA256}"
            )
        );
        let a = signature(&req, &["host", "x-sdk-date"], "20240101T000000Z", "sk").unwrap();
        let b = signature(&req, &["host", "x-sdk-date"], "20240101T000000Z", "sk2").unwrap();
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert!(canonical_request(&req, &["host", "x-missing"]).is_err());
    }

    #[test]
    fn replays_are_refused_once_seen() {
        let now = Utc::now();
        let sig = format!("test-{}", crate::store::ids::random_id(12));
        assert!(first_use(&sig, now, now));
        assert!(!first_use(&sig, now, now));
    }
}
