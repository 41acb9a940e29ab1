//! Operator controls (#19): the admin token rotated while the server runs,
//! `/metrics` behind a token with throttled requests counted, and
//! per-organisation request rate limits.

use std::process::Command;
use std::time::Duration;

use crate::common::*;

fn leak(s: String) -> &'static str {
    Box::leak(s.into_boxed_str())
}

async fn admin_status(s: &Server, token: &str) -> u16 {
    s.http
        .get(s.url("/admin/plugins"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotated_admin_token_is_in_force_without_a_restart_and_audited() {
    let s = Server::start();
    assert_eq!(admin_status(&s, ADMIN).await, 200);
    let out = s
        .command()
        .args(["admin", "rotate-token", "--data-dir"])
        .arg(s.data())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let new = stdout.lines().last().unwrap().trim().to_string();
    assert!(new.starts_with("cha.") && new.len() > 40, "{stdout}");
    // Only the hash is kept.
    let row = s
        .store()
        .await
        .db()
        .query_opt(
            "SELECT value FROM host_settings WHERE name = 'admin_token_sha256'",
            vec![],
        )
        .await
        .unwrap()
        .expect("the rotated token's hash is in the store");
    let stored: String = row.get(0).unwrap();
    assert_eq!(stored.len(), 64);
    assert!(!stored.contains(&new));
    assert!(!s.data().join("admin-token.sha256").exists());
    // The running server: the old token is refused, the new one accepted.
    assert_eq!(admin_status(&s, ADMIN).await, 401);
    assert_eq!(admin_status(&s, &new).await, 200);
    // The rotation is in the audit log.
    let r = s
        .http
        .get(s.url("/admin/audit?route=admin%20rotate-token"))
        .bearer_auth(&new)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    let text = body.to_string();
    assert!(text.contains("\"method\":\"CLI\""), "{text}");
    assert!(text.contains("\"key_id\":\"admin\""), "{text}");
    assert!(!text.contains(&new));

    // A data dir without a store is refused in one sentence, and not made.
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("typo");
    let out = Command::new(BIN)
        .args(["admin", "rotate-token", "--data-dir"])
        .arg(&typo)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("holds no computehub store"), "{stderr}");
    assert!(!typo.exists());
    // And the server still answers the token rotated above.
    assert_eq!(admin_status(&s, &new).await, 200);
}

async fn whoami(s: &Server, key: &str) -> reqwest::Response {
    s.http
        .get(s.url("/fixtures/whoami"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
}

async fn metrics_with(s: &Server, token: Option<&str>) -> (u16, String) {
    let mut r = s.http.get(s.url("/metrics"));
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let r = r.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

fn counter(metrics: &str, line_start: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(line_start))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {line_start} in\n{metrics}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn organisations_over_their_rate_wait_others_do_not_and_metrics_need_their_token() {
    let secrets = tempfile::tempdir().unwrap();
    let token_file = secrets.path().join("metrics.token");
    let scrape = "scrape-token-0123456789abcdef";
    std::fs::write(&token_file, format!("{scrape}\n")).unwrap();
    let s = Server::with(Options {
        args: vec![
            "--org-requests-per-minute",
            "60",
            "--org-request-burst",
            "2",
            "--auth-failure-burst",
            "2",
            "--auth-failures-per-minute",
            "60",
            "--metrics-token-file",
            leak(token_file.display().to_string()),
        ],
        ..Options::default()
    });

    // /metrics: 401 without the token or with another, figures with it.
    let (status, body) = metrics_with(&s, None).await;
    assert_eq!(status, 401);
    assert!(!body.contains("computehub_requests_total"), "{body}");
    let (status, body) = metrics_with(&s, Some("scrape-token-0123456789abcdeX")).await;
    assert_eq!(status, 401);
    assert!(!body.contains("computehub_requests_total"));
    let (status, body) = metrics_with(&s, Some(scrape)).await;
    assert_eq!(status, 200);
    assert_eq!(
        counter(
            &body,
            "computehub_throttled_requests_total{reason=\"org_rate\"} "
        ),
        0
    );

    let acme = s.key("acme", "bearer");
    let acme2 = s.key("acme", "bearer");
    let globex = s.key("globex", "bearer");
    // A burst of two, then acme (whichever of its keys) waits...
    assert_eq!(whoami(&s, &acme).await.status(), 200);
    assert_eq!(whoami(&s, &acme2).await.status(), 200);
    let r = whoami(&s, &acme).await;
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    let body = r.text().await.unwrap();
    assert!(
        body.contains("organisation `acme` is over its request rate"),
        "{body}"
    );
    assert_eq!(whoami(&s, &acme2).await.status(), 429);
    // ...while globex is served.
    let r = whoami(&s, &globex).await;
    assert_eq!(r.status(), 200);
    let me: serde_json::Value = r.json().await.unwrap();
    assert_eq!(me["organisation"], "globex");
    // After the window acme is served again.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = whoami(&s, &acme).await;
    assert_eq!(r.status(), 200);
    let me: serde_json::Value = r.json().await.unwrap();
    assert_eq!(me["organisation"], "acme");

    // Failed authentication throttled: counted too.
    for _ in 0..2 {
        assert_eq!(whoami(&s, "chk.nosuchkey.wrong").await.status(), 401);
    }
    assert_eq!(whoami(&s, "chk.nosuchkey.wrong").await.status(), 429);
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (status, body) = metrics_with(&s, Some(scrape)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        counter(
            &body,
            "computehub_throttled_requests_total{reason=\"org_rate\"} "
        ),
        2
    );
    assert!(
        counter(
            &body,
            "computehub_throttled_requests_total{reason=\"auth_failures\"} "
        ) >= 1
    );
}
