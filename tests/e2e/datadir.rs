//! One server per data dir, and starts that fail early: a second server on
//! a data dir in use stops with one sentence and the first goes on; a start
//! that cannot listen does not use up the admin token's only printing; a
//! command pointed at a data dir that holds no store creates none.

use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::*;

fn serve(data: &std::path::Path, listen: &str) -> Command {
    let mut cmd = Command::new(BIN);
    // The compiled-component cache the other tests share (no recompiling).
    let cache = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("e2e-cache");
    cmd.args(["serve", "--listen", listen, "--data-dir"])
        .arg(data)
        .arg("--cache-dir")
        .arg(cache)
        .env_remove("COMPUTEHUB_ADMIN_TOKEN")
        .env("COMPUTEHUB_LOG", "warn")
        .stdin(Stdio::null());
    cmd
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_server_on_a_data_dir_in_use_stops_and_the_first_goes_on() {
    let s = Server::start();
    let out = serve(&s.data(), "127.0.0.1:0").output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "another computehub server (pid {}) serves data dir",
            s.pid()
        )),
        "{stderr}"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("listening on"));
    let r = s.http.get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

#[test]
fn a_start_that_cannot_listen_keeps_the_admin_token_for_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = serve(&data, &addr).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot listen on"));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("admin token"));
    drop(taken);
    // The next start generates and prints the token.
    let mut child = serve(&data, "127.0.0.1:0")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let lines = std::thread::spawn(move || printed_until_listening(stdout));
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !lines.is_finished() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    let seen = lines.join().unwrap();
    assert!(
        seen.iter()
            .any(|l| l.starts_with("admin token (shown once")),
        "{seen:?}"
    );
}

#[test]
fn keys_list_on_a_data_dir_without_a_store_creates_none() {
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("computehub-dat");
    let kubeconfig = dir.path().join("kubeconfig.yaml");
    std::fs::write(&kubeconfig, "apiVersion: v1\nkind: Config\n").unwrap();
    let kubeconfig = kubeconfig.to_str().unwrap();
    for args in [
        vec!["keys", "list"],
        vec!["keys", "revoke", "k1"],
        vec!["users", "list"],
        vec!["admin", "rotate-token"],
        vec![
            "clusters",
            "import",
            "--org",
            "acme",
            "--name",
            "c1",
            "--kubeconfig",
            kubeconfig,
        ],
    ] {
        let out = Command::new(BIN)
            .args(&args)
            .arg("--data-dir")
            .arg(&typo)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("holds no computehub store"),
            "{args:?}"
        );
        assert!(!typo.exists(), "{args:?} created {}", typo.display());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn liveness_and_readiness_answer_get_and_head_only() {
    let s = Server::start();
    let r = s.http.get(s.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["checks"]["store"], "ok");
    assert!(body["checks"]["plugins"].as_u64().unwrap() > 0);
    assert_eq!(body["checks"]["draining"], false);
    for path in ["/healthz", "/readyz"] {
        let r = s.http.head(s.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 200, "HEAD {path}");
        let r = s.http.post(s.url(path)).send().await.unwrap();
        assert_eq!(r.status(), 405, "POST {path}");
        assert_eq!(r.headers()["allow"], "GET, HEAD");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn request_ids_are_kept_and_json_log_lines_name_the_caller() {
    let s = Server::with(Options {
        args: vec!["--log-format", "json"],
        ..Options::default()
    });
    let key = s.key("acme", "bearer");
    let r = s
        .http
        .get(s.url("/fixtures/whoami"))
        .bearer_auth(&key)
        .header("x-request-id", "client-req.42")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-request-id"], "client-req.42");
    // Not an id we keep: replaced by one of ours.
    let r = s
        .http
        .get(s.url("/healthz"))
        .header("x-request-id", "has spaces and ; semicolons")
        .send()
        .await
        .unwrap();
    let ours = r.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_ne!(ours, "has spaces and ; semicolons");
    assert_eq!(ours.len(), 16);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = s.log_text();
    let served: serde_json::Value = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["fields"]["message"] == "served" && v["span"]["id"] == "client-req.42")
        .unwrap_or_else(|| panic!("no JSON `served` line for the request: {log}"));
    let span = &served["span"];
    assert_eq!(span["org"], "acme");
    assert_eq!(span["scheme"], "bearer");
    assert_eq!(span["route"], "/fixtures/whoami");
    assert_eq!(span["client"], "127.0.0.1");
    assert!(span["key"].as_str().is_some_and(|k| !k.is_empty()));
    assert_eq!(served["fields"]["status"], 200);
    // A plugin's own log fields arrive as a structured object beside the
    // host's (the fixtures plugin logs the path of every request).
    let logged: serde_json::Value = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|v| v["fields"]["request_id"] == "client-req.42" && v["fields"]["plugin"].is_object())
        .unwrap_or_else(|| panic!("no JSON plugin line for the request: {log}"));
    assert_eq!(logged["fields"]["plugin"]["path"], "/fixtures/whoami");
    assert_eq!(logged["fields"]["plugin"].as_object().unwrap().len(), 1);
    assert!(logged["fields"].get("plugin_fields").is_none());
    // Written on the plugin's fiber, inside the request: its fields too.
    assert_eq!(logged["span"]["id"], "client-req.42");
    assert_eq!(logged["span"]["org"], "acme");
    // The key's secret is nowhere in the log.
    let secret = key.rsplit('.').next().unwrap();
    assert!(!log.contains(secret));
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_authentication_is_throttled_per_client_and_key() {
    let s = Server::with(Options {
        args: vec![
            "--auth-failure-burst",
            "5",
            "--auth-failures-per-minute",
            "6",
        ],
        ..Options::default()
    });
    let good = s.key("acme", "bearer");
    let id = good.split('.').nth(1).unwrap().to_string();
    let whoami = |token: String| {
        let (http, url) = (s.http.clone(), s.url("/fixtures/whoami"));
        async move {
            let r = http.get(url).bearer_auth(token).send().await.unwrap();
            let retry = r
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_string());
            (r.status().as_u16(), retry)
        }
    };
    // Five wrong secrets for a real key id are plain 401s...
    for i in 0..5 {
        let (status, _) = whoami(format!("chk.{id}.wrong{i}")).await;
        assert_eq!(status, 401);
    }
    // ...the sixth is one too many: 429 with Retry-After.
    let (status, retry) = whoami(format!("chk.{id}.wrong5")).await;
    assert_eq!(status, 429);
    assert!(retry.unwrap().parse::<u64>().unwrap() >= 1);
    // Meanwhile even the right key from this address waits, unchecked.
    let (status, _) = whoami(good.clone()).await;
    assert_eq!(status, 429);
    // Host endpoints without credentials still answer.
    let r = s.http.get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    // Wrong admin tokens count against the address too.
    let r = s
        .http
        .get(s.url("/admin/plugins"))
        .bearer_auth("wrong-admin-token")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
}

#[tokio::test(flavor = "multi_thread")]
async fn state_changing_calls_are_in_the_audit_log_without_secrets() {
    let s = Server::start();
    let key = s.key("acme", "bearer");
    let secret = key.rsplit('.').next().unwrap().to_string();
    let r = s
        .http
        .post(s.url("/fixtures/devices"))
        .bearer_auth(&key)
        .form(&[
            ("name", "d1"),
            ("ip", "10.9.9.9"),
            ("password", "S3CRET-PW"),
        ])
        .header("x-request-id", "audit-1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // A read is not audited; a refused write is, with its outcome.
    s.http
        .get(s.url("/fixtures/devices"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    let r = s
        .http
        .post(s.url("/fixtures/devices"))
        .bearer_auth("chk.nope.nope")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let (status, _) = s.admin_delete("/admin/keys/no-such-key").await;
    assert_eq!(status, 404);
    // What anyone can send without bound gets no row: no credentials at
    // all, a path no route serves, a method of the client's invention.
    let long = format!("/nowhere/{}", "x".repeat(20_000));
    for (method, path) in [
        ("POST", "/fixtures/devices"),
        ("POST", long.as_str()),
        ("DELETE", "/nowhere"),
        ("XMASS", "/fixtures/devices"),
    ] {
        let r = s
            .http
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                s.url(path),
            )
            .send()
            .await
            .unwrap();
        assert!(
            r.status().is_client_error(),
            "{method} {path}: {}",
            r.status()
        );
    }

    let (status, page) = s.get_admin("/admin/audit?org=acme").await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(page["total"], 1, "{page}");
    let e = &page["entries"][0];
    assert_eq!(e["request_id"], "audit-1");
    assert_eq!(e["organisation"], "acme");
    assert_eq!(e["scheme"], "bearer");
    assert_eq!(e["method"], "POST");
    assert_eq!(e["route"], "/fixtures/devices");
    assert_eq!(e["status"], 201);
    assert_eq!(e["client"], "127.0.0.1");
    assert!(e["plugin"].as_str().unwrap().starts_with("fixtures@"));
    let (_, all) = s.get_admin("/admin/audit?limit=10").await;
    let entries = all["entries"].as_array().unwrap();
    // Newest first: the admin call, the refused write, the device.
    assert_eq!(all["total"], 3, "{all}");
    assert_eq!(entries[0]["key_id"], "admin");
    assert_eq!(entries[0]["status"], 404);
    assert_eq!(entries[1]["status"], 401);
    assert!(entries[1]["organisation"].is_null());
    let text = all.to_string();
    for hidden in [secret.as_str(), "S3CRET-PW", "10.9.9.9"] {
        assert!(!text.contains(hidden), "{hidden} in the audit log");
    }
    let (status, body) = s.get_admin("/admin/audit?limit=5000").await;
    assert_eq!(status, 400, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_show_the_process_the_build_and_requests_in_flight() {
    let s = Server::start();
    let m = s.metrics().await;
    let value = |name: &str| -> f64 {
        m.lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name} in {m}"))
            .parse()
            .unwrap()
    };
    assert!(value("process_resident_memory_bytes") > 1e6);
    assert!(value("process_open_fds") > 3.0);
    assert!(value("process_cpu_seconds_total") >= 0.0);
    // This very request is in flight while the figures are taken.
    assert_eq!(value("computehub_requests_in_flight"), 1.0);
    assert!(
        m.contains("computehub_build_info{version=\"0.1.0\",wasmtime=\"48\"} 1"),
        "{m}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn after_sigterm_readiness_is_false_while_requests_are_still_served() {
    // A delay long enough that a loaded machine (CI runs this beside a
    // hundred other servers) still has time to ask within it.
    let mut s = Server::with(Options {
        args: vec!["--shutdown-delay-ms", "6000"],
        ..Options::default()
    });
    let (status, _) = s.get("/readyz").await;
    assert_eq!(status, 200);
    let signalled = std::time::Instant::now();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &s.pid().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    // Within the delay: out of rotation (once the signal is handled), still
    // serving.
    let fresh = reqwest::Client::new();
    let body: serde_json::Value = loop {
        let r = fresh.get(s.url("/readyz")).send().await.unwrap();
        if r.status() == 503 {
            break r.json().await.unwrap();
        }
        assert_eq!(r.status(), 200);
        assert!(
            signalled.elapsed() < Duration::from_secs(3),
            "/readyz still 200 3 s after SIGTERM; log:\n{}",
            s.log_text()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(body["checks"]["draining"], true, "{body}");
    let r = fresh.get(s.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = fresh
        .get(s.url("/fixtures/echo/still"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        signalled.elapsed() < Duration::from_secs(6),
        "the checks above ran after the delay, so they did not test it"
    );
    // Then it stops accepting and exits on its own.
    let status = s.stop();
    assert!(status.success(), "{status:?}; log:\n{}", s.log_text());
    assert!(
        signalled.elapsed() >= Duration::from_secs(6),
        "it exited before the delay"
    );
    let after = reqwest::Client::new();
    assert!(after.get(s.url("/healthz")).send().await.is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_throttled_client_succeeds_again_after_the_window() {
    // Two failures at once, refilled twice a second.
    let s = Server::with(Options {
        args: vec![
            "--auth-failure-burst",
            "2",
            "--auth-failures-per-minute",
            "120",
        ],
        ..Options::default()
    });
    let good = s.key("acme", "bearer");
    let id = good.split('.').nth(1).unwrap().to_string();
    let whoami = |token: String| {
        let (http, url) = (s.http.clone(), s.url("/fixtures/whoami"));
        async move {
            let r = http.get(url).bearer_auth(token).send().await.unwrap();
            let retry = r
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_string());
            (r.status().as_u16(), retry)
        }
    };
    for _ in 0..2 {
        assert_eq!(whoami(format!("chk.{id}.wrong")).await.0, 401);
    }
    // The third is one too many; then even the right key waits.
    assert_eq!(whoami(format!("chk.{id}.wrong")).await.0, 429);
    let (status, retry) = whoami(good.clone()).await;
    assert_eq!(status, 429);
    let wait: u64 = retry.unwrap().parse().unwrap();
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let (status, _) = whoami(good).await;
    assert_eq!(status, 200);
}
