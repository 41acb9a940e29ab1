//! A plugin's answer is served from the console's origin, so the host keeps
//! it from acting as that origin in a browser: no cookie, framing or
//! credentialed-CORS header of the plugin's reaches the client, and every
//! plugin answer is sandboxed (`Content-Security-Policy: sandbox`) and never
//! sniffed into HTML.

use crate::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_plugin_page_cannot_act_as_the_consoles_origin() {
    let s = Server::start();
    let key = s.key("acme", "bearer");
    let r = s
        .http
        .get(s.url("/fixtures/page"))
        .bearer_auth(&key)
        .header("x-request-id", "page-1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let h = r.headers().clone();
    let body = r.text().await.unwrap();
    // The page arrives whole (the plugin's `content-length` and
    // `transfer-encoding` did not frame it) ...
    assert_eq!(body, "<script>fetch('/console/api/session')</script>");
    // ... as the plugin's content type and its own harmless header ...
    assert_eq!(h["content-type"], "text/html");
    assert_eq!(h["x-fixtures"], "kept");
    // ... but without its cookie or credentialed CORS, with the host's
    // request id, and sandboxed whatever policy the plugin asked for.
    assert!(h.get("set-cookie").is_none(), "{h:?}");
    assert!(h.get("access-control-allow-credentials").is_none(), "{h:?}");
    assert!(h.get("connection").is_none(), "{h:?}");
    assert_eq!(h["x-request-id"], "page-1");
    let csp: Vec<_> = h.get_all("content-security-policy").iter().collect();
    assert_eq!(csp.len(), 1, "{h:?}");
    let csp = csp[0].to_str().unwrap();
    assert!(csp.starts_with("sandbox;"), "{csp}");
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(h["x-content-type-options"], "nosniff");

    // Every plugin answer is confined the same way, JSON included; the
    // host's own answers (the console) are not sandboxed.
    let r = s
        .http
        .get(s.url("/fixtures/whoami"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .starts_with("sandbox;"));
    let r = s.http.get(s.url("/console/")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let csp = r
        .headers()
        .get("content-security-policy")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    assert!(!csp.contains("sandbox"), "{csp}");
}
