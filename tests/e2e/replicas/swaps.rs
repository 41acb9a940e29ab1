//! Plugin swaps and rollbacks through any replica reach all of them.

use super::*;

/// `/echo/version` of `s`: the version string, or the status on failure.
async fn echo_version(http: &reqwest::Client, base: &str) -> Result<String, u16> {
    match http.get(format!("{base}/echo/version")).send().await {
        Ok(r) if r.status() == 200 => {
            let v: Value = r.json().await.unwrap_or_default();
            Ok(v["version"].as_str().unwrap_or("").to_string())
        }
        Ok(r) => Err(r.status().as_u16()),
        Err(_) => Err(0),
    }
}

/// One client request of the swap test.
struct Seen {
    replica: usize,
    sent: Instant,
    status: u16,
    version: String,
}

#[tokio::test(flavor = "multi_thread")]
async fn swaps_through_any_replica_reach_all_within_a_second() {
    let r = Arc::new(replicas(3));
    let bases: Vec<String> = r.s.iter().map(|s| s.base.clone()).collect();
    for b in &bases {
        assert_eq!(echo_version(&r.s[0].http, b).await, Ok("1.0.0".into()));
    }
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();

    // One swap through replica 1, seen by 2 and 3.
    let mut lags: Vec<Duration> = Vec::new();
    let swap = |i: usize, file: &'static str| {
        let r = Arc::clone(&r);
        async move {
            let (status, body) = r.s[i].admin_put("echo", file).await;
            assert_eq!(status, 200, "{body}");
            (Instant::now(), body)
        }
    };
    let seen_within = |returned: Instant, version: &'static str| {
        let (http, bases) = (http.clone(), bases.clone());
        async move {
            let mut lags = Vec::new();
            for b in &bases {
                loop {
                    if echo_version(&http, b).await.as_deref() == Ok(version) {
                        lags.push(returned.elapsed());
                        break;
                    }
                    assert!(
                        returned.elapsed() < Duration::from_secs(20),
                        "{b} never served {version}"
                    );
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            lags
        }
    };
    let (returned, body) = swap(0, "echo_v2.wasm").await;
    assert_eq!(body["version"], "2.0.0");
    lags.extend(seen_within(returned, "2.0.0").await);

    // 20 swaps through replicas in turn under 16 round-robin clients.
    let stop = Arc::new(AtomicBool::new(false));
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let mut clients = Vec::new();
    for c in 0..16usize {
        let (http, bases, stop, seen) = (http.clone(), bases.clone(), stop.clone(), seen.clone());
        clients.push(tokio::spawn(async move {
            let mut n = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let replica = (c + n) % bases.len();
                n += 1;
                let sent = Instant::now();
                let (status, version) = match echo_version(&http, &bases[replica]).await {
                    Ok(v) => (200, v),
                    Err(s) => (s, String::new()),
                };
                seen.lock().unwrap().push(Seen {
                    replica,
                    sent,
                    status,
                    version,
                });
            }
        }));
    }
    // (returned, version, when the next swap was issued)
    let mut swaps: Vec<(Instant, &'static str)> = Vec::new();
    let mut issued_next: Vec<Instant> = Vec::new();
    for i in 0..20 {
        let (file, version) = if i % 2 == 0 {
            ("echo_v1.wasm", "1.0.0")
        } else {
            ("echo_v2.wasm", "2.0.0")
        };
        issued_next.push(Instant::now());
        let (returned, body) = swap(i % 3, file).await;
        assert_eq!(body["version"], version, "{body}");
        swaps.push((returned, version));
        lags.extend(seen_within(returned, version).await);
        // Let the 1 s rule be observed before the next swap.
        let wait = Duration::from_millis(1300).saturating_sub(returned.elapsed());
        tokio::time::sleep(wait).await;
    }
    issued_next.remove(0);
    issued_next.push(Instant::now() + Duration::from_secs(3600));
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.await.unwrap();
    }

    let seen = std::mem::take(&mut *seen.lock().unwrap());
    let failed: Vec<&Seen> = seen.iter().filter(|s| s.status != 200).collect();
    assert!(
        failed.is_empty(),
        "{} of {} requests failed (statuses {:?})",
        failed.len(),
        seen.len(),
        failed.iter().map(|s| s.status).collect::<Vec<_>>()
    );
    let mut checked = 0;
    for ((returned, version), next) in swaps.iter().zip(&issued_next) {
        let settled = *returned + Duration::from_secs(1);
        for s in seen.iter().filter(|s| s.sent >= settled && s.sent < *next) {
            checked += 1;
            assert_eq!(
                s.version,
                *version,
                "replica {} served {} {:?} after a swap to {version} returned",
                s.replica + 1,
                s.version,
                s.sent - *returned
            );
        }
    }
    lags.sort();
    eprintln!(
        "swap propagation: {} requests, {checked} checked after the 1 s mark; lag to each replica (ms): median {}, max {}",
        seen.len(),
        lags[lags.len() / 2].as_millis(),
        lags.last().unwrap().as_millis()
    );
    assert!(checked > 100, "only {checked} requests checked");
    // Every replica's admin API names the last swap's version, the same bytes.
    let mut active = Vec::new();
    for s in &r.s {
        let (status, list) = s.get_admin("/admin/plugins").await;
        assert_eq!(status, 200, "{list}");
        let echo = list["plugins"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["id"] == "echo")
            .cloned()
            .unwrap_or_else(|| panic!("no echo: {list}"));
        assert_eq!(echo["version"], swaps.last().unwrap().1, "{echo}");
        active.push(echo["sha256"].clone());
    }
    assert!(active[0].is_string(), "{active:?}");
    assert!(active.iter().all(|a| *a == active[0]), "{active:?}");
    let max = *lags.last().unwrap();
    assert!(
        max < Duration::from_millis(1250),
        "a replica served the old version {max:?} after a swap returned"
    );

    // Rollbacks through replica 2 walk the history back to the version the
    // replicas booted with (their plugins dir's v1), and every replica
    // follows, the last one too (no uploaded version left to serve).
    let mut rolled = 0;
    let last = loop {
        let resp = r.s[1]
            .http
            .post(r.s[1].url("/admin/plugins/echo/rollback"))
            .bearer_auth(ADMIN)
            .send()
            .await
            .unwrap();
        let returned = Instant::now();
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if status == 404 {
            break returned;
        }
        assert_eq!(status, 200, "{body}");
        rolled += 1;
        assert!(rolled <= 21, "more rollbacks than uploads: {body}");
    };
    assert_eq!(rolled, 21);
    let lags = seen_within(last, "1.0.0").await;
    assert!(
        lags.iter().all(|l| *l < Duration::from_millis(1250)),
        "{lags:?}"
    );
    // Every replica ends on the plugins dir's v1. The served version alone
    // cannot tell: the walk back passes uploaded copies of 1.0.0 too, so a
    // replica still applying the burst of 21 rollbacks may answer 1.0.0 from
    // one of them (CI saw one listed at an uploaded 2.0.0 right after). The
    // listing names the source; a follower may be a sync or two behind the
    // burst, hence the looser bound.
    let mut settled = Vec::new();
    for s in &r.s {
        loop {
            let (status, list) = s.get_admin("/admin/plugins").await;
            assert_eq!(status, 200, "{list}");
            let echo = list["plugins"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["id"] == "echo")
                .cloned()
                .unwrap_or_else(|| panic!("no echo: {list}"));
            if echo["version"] == "1.0.0" && echo["source"] == "plugins-dir" {
                settled.push(last.elapsed());
                break;
            }
            assert!(
                last.elapsed() < Duration::from_secs(20),
                "a replica never came back to the plugins dir's version: {echo}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    assert!(
        settled.iter().all(|l| *l < Duration::from_millis(2500)),
        "{settled:?}"
    );
}
