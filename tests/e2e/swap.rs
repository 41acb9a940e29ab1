//! Hot swap: under 16 concurrent clients, 20 swaps and a rollback fail no
//! request, and every request sent after a swap returns sees the new version;
//! a restart keeps the swapped version without recompiling.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::common::*;

/// One client request.
struct Seen {
    sent: Instant,
    done: Instant,
    status: u16,
    version: String,
    request_id: String,
}

struct Swap {
    issued: Instant,
    returned: Instant,
    version: &'static str,
}

#[tokio::test(flavor = "multi_thread")]
async fn twenty_swaps_and_a_rollback_under_sixteen_clients() {
    let s = Arc::new(Server::start());
    let stop = Arc::new(AtomicBool::new(false));
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let mut clients = Vec::new();
    for c in 0..16 {
        let (s, stop, seen) = (s.clone(), stop.clone(), seen.clone());
        clients.push(tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // Some requests stay in flight across a swap.
                let path = if (n + c).is_multiple_of(4) {
                    "/echo/sleep?ms=20"
                } else {
                    "/echo/version"
                };
                n += 1;
                let sent = Instant::now();
                let r = s.http.get(s.url(path)).send().await;
                let (status, version, rid) = match r {
                    Ok(r) => {
                        let status = r.status().as_u16();
                        let rid = r
                            .headers()
                            .get("x-request-id")
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or("")
                            .to_string();
                        let v: serde_json::Value = r.json().await.unwrap_or_default();
                        (status, v["version"].as_str().unwrap_or("").to_string(), rid)
                    }
                    Err(_) => (0, String::new(), String::new()),
                };
                seen.lock().unwrap().push(Seen {
                    sent,
                    done: Instant::now(),
                    status,
                    version,
                    request_id: rid,
                });
            }
        }));
    }
    let mut swaps = Vec::new();
    for i in 0..20 {
        let (file, version) = if i % 2 == 0 {
            ("echo_v2.wasm", "2.0.0")
        } else {
            ("echo_v1.wasm", "1.0.0")
        };
        tokio::time::sleep(std::time::Duration::from_millis(60)).await;
        let issued = Instant::now();
        let (status, body) = s.admin_put("echo", file).await;
        let returned = Instant::now();
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["version"], version);
        swaps.push(Swap {
            issued,
            returned,
            version,
        });
    }
    // After 20 swaps v1 is active with v2 before it: a rollback restores v2.
    tokio::time::sleep(std::time::Duration::from_millis(40)).await;
    let issued = Instant::now();
    let r = s
        .http
        .post(s.url("/admin/plugins/echo/rollback"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    let returned = Instant::now();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["version"], "2.0.0");
    swaps.push(Swap {
        issued,
        returned,
        version: "2.0.0",
    });
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.await.unwrap();
    }

    let seen = std::mem::take(&mut *seen.lock().unwrap());
    assert!(seen.len() > 200, "only {} requests", seen.len());
    let failed: Vec<_> = seen.iter().filter(|r| r.status != 200).collect();
    assert!(failed.is_empty(), "{} failed requests", failed.len());
    let mut checked = 0;
    for Seen {
        sent,
        done,
        version,
        request_id: rid,
        ..
    } in seen.iter()
    {
        // The last swap that had returned when this request was sent...
        // (Requests sent before the first swap returned may see either.)
        let Some(k) = swaps.iter().rposition(|w| w.returned <= *sent) else {
            continue;
        };
        // ...unless the next swap began before this request completed (then
        // it was in flight across that swap and may see either version).
        if swaps.get(k + 1).is_some_and(|next| next.issued <= *done) {
            continue;
        }
        assert_eq!(
            version,
            swaps[k].version,
            "request {rid} sent {:?} after swap {k} returned (swap took {:?}) saw the old version\n{}",
            sent.duration_since(swaps[k].returned),
            swaps[k].returned.duration_since(swaps[k].issued),
            s.log_text().lines().filter(|l| l.contains("swapped") || l.contains("echo@")).collect::<Vec<_>>().join("\n")
        );
        checked += 1;
    }
    assert!(checked > 20, "only {checked} requests fell between swaps");
    assert_eq!(s.get("/echo/version").await.1["version"], "2.0.0");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_keeps_the_swapped_version_and_does_not_recompile() {
    let mut s = Server::with(Options {
        own_cache: true,
        ..Options::default()
    });
    let (status, _) = s.admin_put("echo", "echo_v2.wasm").await;
    assert_eq!(status, 200);
    assert_eq!(s.get("/echo/version").await.1["version"], "2.0.0");
    let (_, list) = s.get_admin("/admin/plugins").await;
    let echo = list["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == "echo")
        .unwrap()
        .clone();
    assert_eq!(echo["source"], "uploaded");
    assert_eq!(echo["sha256"].as_str().unwrap().len(), 64);

    assert!(s.stop().success());
    let before = s.log_text().len();
    s.launch();
    assert_eq!(s.get("/echo/version").await.1["version"], "2.0.0");
    let after_restart = &s.log_text()[before..];
    for plugin in ["echo", "fixtures"] {
        assert!(
            after_restart
                .lines()
                .any(|l| l.contains("compiled component cache hit")
                    && l.contains(&format!("plugin={plugin}"))),
            "no cache hit for {plugin}:\n{after_restart}"
        );
    }
    assert!(!after_restart.contains("cache miss"), "{after_restart}");

    // Rolling back after the restart returns to the plugins-dir version,
    // and there is nothing before that.
    let rollback = || {
        s.http
            .post(s.url("/admin/plugins/echo/rollback"))
            .bearer_auth(ADMIN)
            .send()
    };
    let r = rollback().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(s.get("/echo/version").await.1["version"], "1.0.0");
    assert_eq!(rollback().await.unwrap().status(), 404);
}
