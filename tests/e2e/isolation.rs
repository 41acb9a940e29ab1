//! Isolation: a plugin that traps, loops forever or allocates without bound
//! fails only its own request.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::common::*;

#[tokio::test(flavor = "multi_thread")]
async fn each_failure_mode_fails_only_its_own_request() {
    let s = Server::start();
    for (path, status, needle) in [
        ("/fixtures/trap", 500, "failed"),
        ("/fixtures/spin", 503, "deadline"),
        ("/fixtures/hog", 500, "memory"),
    ] {
        let (got, body) = s.get(path).await;
        assert_eq!(got, status, "{path}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains(needle),
            "{path}: {body}"
        );
        let (ok, _) = s.get("/fixtures/echo/after").await;
        assert_eq!(ok, 200, "after {path}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_thousand_failing_calls_interleaved_with_healthy_ones() {
    let s = Arc::new(Server::start());
    let healthy_failures = Arc::new(AtomicUsize::new(0));
    let healthy_ok = Arc::new(AtomicUsize::new(0));
    let bad_as_expected = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    const WORKERS: usize = 8;
    const BAD_CALLS: usize = 1000;
    for w in 0..WORKERS {
        let s = Arc::clone(&s);
        let (hf, hk, bad) = (
            healthy_failures.clone(),
            healthy_ok.clone(),
            bad_as_expected.clone(),
        );
        tasks.push(tokio::spawn(async move {
            for i in (w..BAD_CALLS).step_by(WORKERS) {
                // Mostly traps and memory hogs; every tenth a runaway loop.
                let path = match i % 10 {
                    0 => "/fixtures/spin",
                    1 | 3 | 5 | 7 => "/fixtures/hog",
                    _ => "/fixtures/trap",
                };
                let (status, body) = s.get(path).await;
                if (status == 500 || status == 503) && body["error"].is_string() {
                    bad.fetch_add(1, Ordering::Relaxed);
                }
                let (status, body) = s.get(&format!("/fixtures/echo/n{i}")).await;
                if status == 200 && body["name"] == format!("n{i}") {
                    hk.fetch_add(1, Ordering::Relaxed);
                } else {
                    hf.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(healthy_failures.load(Ordering::Relaxed), 0);
    assert_eq!(healthy_ok.load(Ordering::Relaxed), BAD_CALLS);
    assert_eq!(bad_as_expected.load(Ordering::Relaxed), BAD_CALLS);
    let metrics = s.metrics().await;
    assert!(
        metrics.contains("computehub_plugin_events_total{plugin=\"fixtures\",event=\"trap\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("event=\"deadline_kill\"} 100"),
        "{metrics}"
    );
}
