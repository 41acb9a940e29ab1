//! AK/SK signing against RFC 4231 and the SDK's canonical forms.

use super::*;

#[test]
fn hmac_matches_rfc_4231() {
    // Test case 2.
    let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?").unwrap();
    assert_eq!(
        hex::encode(mac),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    // Test case 6: a key longer than the block.
    let mac = hmac_sha256(
        &[0xaa; 131],
        b"Test Using Larger Than Block-Size Key - Hash Key First",
    )
    .unwrap();
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
    // Unreserved bytes stay; everything else, UTF-8 included, is %XX upper-case.
    assert_eq!(encode("a~b_c.d-e 中/?"), "a~b_c.d-e%20%E4%B8%AD%2F%3F");
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
    let canonical =
        canonical_request(&req.head(), &["host", "x-sdk-date"], &BodyDigest::of(b"")).unwrap();
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
    assert!(canonical_request(&req.head(), &["host", "x-missing"], &BodyDigest::new()).is_err());
}

/// A body hashed chunk by chunk as it arrives signs as the whole body.
#[test]
fn a_streamed_body_signs_as_the_whole() {
    let mut headers = HeaderMap::new();
    headers.insert("host", "h".parse().unwrap());
    headers.insert("x-sdk-date", "20240101T000000Z".parse().unwrap());
    headers.insert("content-type", "application/json".parse().unwrap());
    let body = br#"{"name": "app", "replicas": 1}"#;
    let req = SignedRequest {
        method: "POST",
        path: "/v3/p1/edgemgr/deployments",
        query: "",
        headers: &headers,
        authority: None,
        body,
    };
    let signed = ["content-type", "host", "x-sdk-date"];
    let whole = signature(&req, &signed, "20240101T000000Z", "sk").unwrap();
    let mut streamed = BodyDigest::new();
    for chunk in body.chunks(7) {
        streamed.update(chunk);
    }
    assert_eq!(streamed.len(), body.len());
    let from_chunks =
        signature_of(&req.head(), &streamed, &signed, "20240101T000000Z", "sk").unwrap();
    assert_eq!(whole, from_chunks);
    let other = signature_of(
        &req.head(),
        &BodyDigest::of(b"{}"),
        &signed,
        "20240101T000000Z",
        "sk",
    )
    .unwrap();
    assert_ne!(whole, other);
}

/// A signed write is accepted once (the store remembers it, so another
/// store handle on the same database would refuse it too); a signed
/// read may be repeated.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replays_are_refused_once_seen() {
    let store = Store::in_memory(crate::store::Sealer::from_key(&[5u8; 32]))
        .await
        .unwrap();
    let key = keys::create_key(&store, "acme", Scheme::Aksk)
        .await
        .unwrap();
    let (ak, sk) = key.credential.split_once(' ').unwrap();
    let now = Utc::now();
    let date = sdk_date(now);
    let mut headers = HeaderMap::new();
    headers.insert("host", "h".parse().unwrap());
    headers.insert("x-sdk-date", date.parse().unwrap());
    let signed = ["host", "x-sdk-date"];
    let mut kept = Vec::new();
    for (method, repeatable) in [("GET", true), ("POST", false), ("DELETE", false)] {
        let mut req = SignedRequest {
            method,
            path: "/v3/p1/edgemgr/deployments",
            query: "",
            headers: &headers,
            authority: None,
            body: b"",
        };
        let sig = signature(&req, &signed, &date, sk).unwrap();
        let auth = format!(
            "{ALGORITHM} Access={ak}, SignedHeaders={}, Signature={}",
            signed.join(";"),
            sig.to_ascii_uppercase()
        );
        let mut with_auth = headers.clone();
        with_auth.insert(http::header::AUTHORIZATION, auth.parse().unwrap());
        req.headers = &with_auth;
        let p = verify(&store, &req, now).await.unwrap();
        assert_eq!((p.organisation.as_str(), p.scheme), ("acme", Scheme::Aksk));
        let again = verify(&store, &req, now).await;
        if repeatable {
            assert!(again.is_ok(), "{method}");
        } else {
            assert!(matches!(again, Err(AuthError::Replayed)), "{method}");
            kept.push(format!("{ak}:{sig}"));
        }
    }
    // Each write's signature, kept until its date leaves the window.
    let rows = store
        .db()
        .query(
            "SELECT signature, expires_at FROM request_signatures ORDER BY signature",
            crate::store::db::params![],
        )
        .await
        .unwrap();
    kept.sort();
    let stored: Vec<String> = rows.iter().map(|r| r.get(0).unwrap()).collect();
    assert_eq!(stored, kept);
    for r in rows {
        let expires: i64 = r.get(1).unwrap();
        assert_eq!(expires, now.timestamp() + MAX_SKEW.num_seconds());
    }
}
