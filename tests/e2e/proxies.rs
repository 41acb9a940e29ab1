//! Behind a reverse proxy the operator names (`--trusted-proxy`), the
//! client is the one its `X-Forwarded-For` names: one client's failed
//! keys do not lock out the others who share the proxy, and the log and
//! the audit log name the client. From any other peer the header is the
//! client's own text and changes nothing.

use crate::common::*;

/// `n` requests with a made-up bearer key as the client `xff` names:
/// their statuses.
async fn failures(s: &Server, xff: &str, n: usize) -> Vec<u16> {
    let mut out = Vec::new();
    for _ in 0..n {
        let r = s
            .http
            .get(s.url("/fixtures/whoami"))
            .bearer_auth("chk.nope.nope")
            .header("x-forwarded-for", xff)
            .send()
            .await
            .unwrap();
        out.push(r.status().as_u16());
    }
    out
}

async fn whoami_as(s: &Server, key: &str, xff: &str) -> u16 {
    s.http
        .get(s.url("/fixtures/whoami"))
        .bearer_auth(key)
        .header("x-forwarded-for", xff)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread")]
async fn clients_behind_a_trusted_proxy_are_throttled_one_by_one() {
    let s = Server::with(Options {
        args: vec![
            "--auth-failure-burst",
            "3",
            "--auth-failures-per-minute",
            "1",
            "--trusted-proxy",
            "127.0.0.0/8",
        ],
        ..Options::default()
    });
    let key = s.key("acme", "bearer");
    // 203.0.113.7 spends its allowance and is throttled ...
    let got = failures(&s, "203.0.113.7", 5).await;
    assert_eq!(got[..3], [401, 401, 401], "{got:?}");
    assert_eq!(got[3..], [429, 429], "{got:?}");
    assert_eq!(whoami_as(&s, &key, "203.0.113.7").await, 429);
    // ... while another client of the same proxy is not (a spoofed first
    // hop changes nothing: the proxy appends the real one).
    assert_eq!(whoami_as(&s, &key, "203.0.113.8").await, 200);
    assert_eq!(whoami_as(&s, &key, "203.0.113.7, 203.0.113.9").await, 200);
    // The log names the client.
    let log = s.log_text();
    assert!(log.contains("client=203.0.113.8"), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_the_flag_forwarded_headers_are_ignored() {
    let s = Server::with(Options {
        args: vec![
            "--auth-failure-burst",
            "3",
            "--auth-failures-per-minute",
            "1",
        ],
        ..Options::default()
    });
    let key = s.key("acme", "bearer");
    let got = failures(&s, "203.0.113.7", 4).await;
    assert_eq!(got, [401, 401, 401, 429]);
    // Another claimed client is the same peer: still throttled.
    assert_eq!(whoami_as(&s, &key, "203.0.113.8").await, 429);
    let log = s.log_text();
    assert!(!log.contains("203.0.113.8"), "{log}");
}
