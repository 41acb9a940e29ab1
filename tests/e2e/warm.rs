//! Warm instances per organisation, from outside: the fixtures plugin keeps
//! a global (its instance's request count and the organisation it served
//! last). Under concurrent load from two organisations no answer of one ever
//! carries the other's name; one organisation sees its instance reused;
//! `isolation = "request"` sees no reuse; after a trap, a deadline, the
//! memory cap, the high-water mark, a resource left open (stdout), the
//! request limit and the idle timeout the next request finds a fresh
//! instance. (`swap.rs` runs its 20 swaps on warm pools.)

use std::sync::Arc;

use serde_json::Value;

use crate::common::*;

async fn global(s: &Server, key: &str, then: Option<&str>) -> (u16, Value) {
    let mut req = s.http.get(s.url("/fixtures/global")).bearer_auth(key);
    if let Some(t) = then {
        req = req.query(&[("then", t)]);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn an_instance_serves_one_organisation_and_is_reused() {
    let s = Arc::new(Server::start());
    let keys = Arc::new([s.key("org-a", "bearer"), s.key("org-b", "bearer")]);
    let mut tasks = Vec::new();
    for c in 0..8usize {
        let (s, keys) = (Arc::clone(&s), Arc::clone(&keys));
        tasks.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            for i in 0..40usize {
                let who = (c + i) % 2;
                let (status, body) = global(&s, &keys[who], None).await;
                assert_eq!(status, 200, "{body}");
                seen.push((who, body));
            }
            seen
        }));
    }
    let mut max_count = [0u64; 2];
    for t in tasks {
        for (who, body) in t.await.unwrap() {
            let me = ["org-a", "org-b"][who];
            assert_eq!(body["organisation"], me);
            // The instance served nobody, or this organisation, before.
            assert!(
                body["previous"].is_null() || body["previous"] == me,
                "{me} was answered by an instance of {}",
                body["previous"]
            );
            max_count[who] = max_count[who].max(body["count"].as_u64().unwrap());
        }
    }
    assert!(
        max_count[0] > 1 && max_count[1] > 1,
        "no reuse: {max_count:?}"
    );
    let (_, fixtures) = s.get_admin("/admin/plugins/fixtures").await;
    let i = &fixtures["instances"];
    assert_eq!(i["isolation"], "organisation");
    assert!(i["reused"].as_u64().unwrap() > 0, "{i}");
    assert!(i["created"].as_u64().unwrap() >= 2, "{i}");
    let metrics = s.metrics().await;
    assert!(
        metrics.contains("computehub_plugin_instances_total{plugin=\"fixtures\",event=\"reused\""),
        "{metrics}"
    );
}

const REQUEST_ISOLATION: &str = r#"
default-deadline-ms = 5000
[plugins.fixtures]
role = "endpoint"
grants = ["log", "inventory"]
isolation = "request"
public-routes = ["/fixtures/echo/{name}", "/fixtures/trap", "/fixtures/spin", "/fixtures/hog", "/fixtures/sleep"]
"#;

#[tokio::test(flavor = "multi_thread")]
async fn request_isolation_reuses_nothing() {
    let s = Server::with(Options {
        config: REQUEST_ISOLATION,
        plugins: vec![("fixtures.wasm", "fixtures")],
        ..Options::default()
    });
    let key = s.key("org-a", "bearer");
    for _ in 0..10 {
        let (status, body) = global(&s, &key, None).await;
        assert_eq!(status, 200);
        assert_eq!(body["count"], 1, "{body}");
        assert!(body["previous"].is_null(), "{body}");
    }
    let (_, p) = s.get_admin("/admin/plugins/fixtures").await;
    assert_eq!(p["instances"]["isolation"], "request");
    assert_eq!(p["instances"]["reused"], 0);
}

/// A plugin may ask for a fresh instance per request itself (its
/// `instances` export, `export_request_isolation!`): the stricter of its
/// ask and the operator's `organisation` default is in force.
#[tokio::test(flavor = "multi_thread")]
async fn a_plugin_asking_for_request_isolation_gets_it() {
    let s = Server::with(Options {
        plugins: vec![("fixtures.wasm", "fixtures"), ("fresh.wasm", "fresh")],
        ..Options::default()
    });
    let key = s.key("org-a", "bearer");
    for _ in 0..10 {
        let r = s
            .http
            .get(s.url("/fresh/global"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["count"], 1, "a fresh instance every time: {body}");
        assert_eq!(body["organisation"], "org-a");
    }
    let (_, p) = s.get_admin("/admin/plugins/fresh").await;
    assert_eq!(p["isolation_asked"], "request", "{p}");
    assert_eq!(p["instances"]["isolation"], "request", "{p}");
    assert_eq!(p["instances"]["reused"], 0, "{p}");
    let (_, grant) = s.get_admin("/admin/plugins/fresh/grants").await;
    assert_eq!(grant["source"], "default", "the operator chose nothing");
    // Beside it, a plugin that asks nothing is kept warm, as the config says.
    for want in 1..=3 {
        let (_, body) = global(&s, &key, None).await;
        assert_eq!(body["count"], want, "{body}");
    }
    let (_, p) = s.get_admin("/admin/plugins/fixtures").await;
    assert!(p["isolation_asked"].is_null(), "{p}");
    assert_eq!(p["instances"]["isolation"], "organisation");
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_and_limits_leave_no_instance_behind() {
    let s = Server::start();
    let key = s.key("org-a", "bearer");
    // Sequential calls reuse one instance: its count goes up.
    for want in 1..=3 {
        let (_, body) = global(&s, &key, None).await;
        assert_eq!(body["count"], want, "{body}");
    }
    for (then, status) in [
        ("trap", 500),
        ("spin", 503),
        ("hog", 500),
        ("grow", 200),
        ("print", 200),
    ] {
        let (got, body) = global(&s, &key, Some(then)).await;
        assert_eq!(got, status, "{then}: {body}");
        // The next request finds a fresh instance.
        let (_, body) = global(&s, &key, None).await;
        assert_eq!(body["count"], 1, "after {then}: {body}");
        assert!(body["previous"].is_null(), "after {then}: {body}");
    }
    // At most 128 requests per instance: the 129th is served by a fresh one.
    let mut last = 0;
    for _ in 0..128 {
        let (_, body) = global(&s, &key, None).await;
        last = body["count"].as_u64().unwrap();
    }
    assert_eq!(last, 1, "the instance served more than 128 requests");
    let (_, p) = s.get_admin("/admin/plugins/fixtures").await;
    let d = &p["instances"]["discarded"];
    assert!(d["failed"].as_u64().unwrap() >= 3, "{d}");
    assert_eq!(d["high-water"], 1, "{d}");
    // Printing left the instance's stdout stream in the host's table.
    assert_eq!(d["resources"], 1, "{d}");
    assert!(
        s.log_text().contains("fixtures: printed for org-a"),
        "the printed line is not in the log"
    );
    assert_eq!(d["max-uses"], 1, "{d}");
}

/// An instance idle past the timeout (5 s) is dropped by the sweep, not
/// kept: the next request after it finds a fresh instance, and the pool
/// counts the discard as `idle`.
#[tokio::test(flavor = "multi_thread")]
async fn an_instance_idle_past_the_timeout_is_not_reused() {
    let s = Server::start();
    let key = s.key("org-a", "bearer");
    for want in 1..=2 {
        let (_, body) = global(&s, &key, None).await;
        assert_eq!(body["count"], want, "{body}");
    }
    let (_, p) = s.get_admin("/admin/plugins/fixtures").await;
    assert_eq!(p["instances"]["discarded"]["idle"], 0, "{p}");
    // The timeout, then at least one run of the sweep (every second).
    tokio::time::sleep(std::time::Duration::from_millis(6_500)).await;
    let (_, p) = s.get_admin("/admin/plugins/fixtures").await;
    assert_eq!(p["instances"]["discarded"]["idle"], 1, "{p}");
    let (_, body) = global(&s, &key, None).await;
    assert_eq!(body["count"], 1, "{body}");
    assert!(body["previous"].is_null(), "{body}");
}
