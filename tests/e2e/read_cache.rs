//! The store's read cache from outside, on either backend: a repeated read
//! is answered from what was kept (the hit counter in `/metrics` moves), a
//! write is read by the very next request, organisations keep their own
//! answers, and `read-cache = false` runs every read.

use serde_json::Value;

use crate::common::*;

async fn create(s: &Server, key: &str, name: &str) {
    let r = s
        .http
        .post(s.url("/fixtures/devices"))
        .bearer_auth(key)
        .form(&[("name", name), ("ip", "127.0.0.1"), ("password", "pw")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
}

async fn names(s: &Server, key: &str) -> Vec<String> {
    let r = s
        .http
        .get(s.url("/fixtures/devices"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn reads_are_kept_until_a_write_and_per_organisation() {
    let s = Server::start();
    let (a, b) = (s.key("acme", "bearer"), s.key("globex", "bearer"));
    create(&s, &a, "a1").await;
    create(&s, &b, "b1").await;
    assert_eq!(names(&s, &a).await, ["a1"]);
    // The same reads again (the key and the page): answered from the cache.
    s.until_cached(2, async || assert_eq!(names(&s, &a).await, ["a1"]))
        .await;
    // Another organisation's page is its own, cached or not.
    assert_eq!(names(&s, &b).await, ["b1"]);
    assert_eq!(names(&s, &b).await, ["b1"]);
    s.until_cached(2, async || assert_eq!(names(&s, &b).await, ["b1"]))
        .await;
    // A write is read by the very next request.
    create(&s, &a, "a2").await;
    assert_eq!(names(&s, &a).await, ["a1", "a2"]);
    assert_eq!(names(&s, &b).await, ["b1"]);
    s.until_cached(2, async || assert_eq!(names(&s, &a).await, ["a1", "a2"]))
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn read_cache_false_runs_every_read() {
    let config: &'static str = Box::leak(format!("read-cache = false\n{CONFIG}").into_boxed_str());
    let s = Server::with(Options {
        config,
        ..Options::default()
    });
    let a = s.key("acme", "bearer");
    create(&s, &a, "a1").await;
    for _ in 0..3 {
        assert_eq!(names(&s, &a).await, ["a1"]);
    }
    assert_eq!(s.read_cache().await, (0, 0));
}
