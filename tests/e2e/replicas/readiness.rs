//! Readiness that follows a replica's reach of PostgreSQL, and AK/SK replay
//! protection shared by all replicas.

use super::*;
use pgtest::proxy::Proxy;

/// `/readyz` of `s` until it answers `want` (at most `limit`): how long it took.
async fn ready_becomes(s: &Server, want: u16, limit: Duration) -> (Duration, Value) {
    let started = Instant::now();
    loop {
        let (status, body) = s.get("/readyz").await;
        if status == want {
            return (started.elapsed(), body);
        }
        assert!(
            started.elapsed() < limit,
            "/readyz stayed {status}, not {want}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn readyz_follows_a_replicas_reach_of_postgresql() {
    let pg_port = pgtest::server().port;
    let proxy = Proxy::start(pg_port).await;
    let proxied = format!("127.0.0.1:{}", proxy.port);
    let r = replicas_with(3, Options::default, |i, url| {
        if i == 2 {
            proxy.url(url)
        } else {
            url.to_string()
        }
    });
    let cut = &r.s[2];
    assert!(cut.database.as_deref().unwrap().contains(&proxied));
    for s in &r.s {
        let (status, body) = s.get("/readyz").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["checks"]["store"], "ok");
    }
    let key = r.s[0].key("acme", "bearer");
    assert_eq!(whoami(cut, &key).await.0, 200);

    // The proxy goes: that replica is not ready, the others still are.
    proxy.stop().await;
    let (lag, body) = ready_becomes(cut, 503, Duration::from_secs(15)).await;
    eprintln!("/readyz 503 {lag:?} after PostgreSQL became unreachable");
    assert_eq!(body["status"], "not ready", "{body}");
    assert_eq!(body["checks"]["store"], "unreachable", "{body}");
    assert_eq!(body["checks"]["draining"], false, "{body}");
    assert!(lag < Duration::from_secs(5), "{lag:?}");
    for s in &r.s[..2] {
        let (status, body) = s.get("/readyz").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(whoami(s, &key).await.0, 200);
    }
    // Still serving what needs no store: liveness.
    let (status, _) = cut.get("/healthz").await;
    assert_eq!(status, 200);

    // Back on the same port: ready again, and serving keys.
    assert!(
        proxy.resume().await,
        "could not listen on the proxy's port again"
    );
    let (lag, body) = ready_becomes(cut, 200, Duration::from_secs(20)).await;
    eprintln!("/readyz 200 again {lag:?} after PostgreSQL came back");
    assert_eq!(body["checks"]["store"], "ok");
    let deadline = Instant::now() + Duration::from_secs(10);
    while whoami(cut, &key).await.0 != 200 {
        assert!(Instant::now() < deadline, "keys never worked again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    proxy.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_aksk_write_accepted_by_one_replica_is_a_replay_on_another() {
    let sim = simcluster::SimCluster::start(simcluster::ClusterSpec::new("edge").node(
        simcluster::NodeSpec::new("edge-1").label("ief.computehub.io/node-id", crate::ief::N1),
    ))
    .unwrap();
    let mut r = replicas(3);
    let db = r.db.clone();
    let rest: Vec<Server> = r.s.drain(1..).collect();
    let first = r.s.pop().unwrap();
    let e = crate::ief::env_on(first, sim);

    // Signed for the service (the first replica's host, as a load balancer
    // in front of all three would be), accepted by replica 1.
    let create = e.path("deployments");
    let payload = serde_json::to_vec(&crate::ief::example()).unwrap();
    let mut h = e.sign("POST", &create, &payload, &e.ak, &e.sk, chrono::Utc::now());
    // The signed Host, sent as such to every replica.
    let host = e.s.base.trim_start_matches("http://").to_string();
    h.push(("host".into(), host.clone()));
    let (status, body) = e.raw("POST", &create, &payload, &h).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(e.deployments().len(), 1);

    // The same request replayed to replicas 2 and 3: refused as a replay,
    // before the plugin runs (not the 409 of a second create).
    for s in &rest {
        let mut req = s.http.post(s.url(&create));
        for (k, v) in &h {
            req = req.header(k, v);
        }
        let resp = req.body(payload.clone()).send().await.unwrap();
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        assert_eq!(status, 401, "{body}");
        assert_eq!(body["error_code"], "IEF.000401", "{body}");
        assert!(
            body["error_msg"].as_str().unwrap_or("").contains("replay"),
            "{body}"
        );
    }
    assert_eq!(e.deployments().len(), 1, "the replays created nothing");
    // A fresh signature (the same Host) is accepted by replica 3: a signed
    // delete, which replica 1 then refuses as a replay.
    let (_, listed) = e.call("GET", "deployments", None).await;
    let del = e.path(&format!(
        "deployments/{}",
        listed["deployments"][0]["id"].as_str().unwrap()
    ));
    let mut hd = e.sign("DELETE", &del, b"", &e.ak, &e.sk, chrono::Utc::now());
    hd.push(("host".into(), host.clone()));
    let mut req = rest[1].http.delete(rest[1].url(&del));
    for (k, v) in &hd {
        req = req.header(k, v);
    }
    assert_eq!(req.send().await.unwrap().status(), 204);
    assert!(e.deployments().is_empty());
    let (status, body) = e.raw("DELETE", &del, b"", &hd).await;
    assert_eq!(status, 401, "{body}");
    assert!(
        body["error_msg"].as_str().unwrap_or("").contains("replay"),
        "{body}"
    );
    // The store keeps the two writes' signatures, once each.
    let kept = r_psql(&db, "SELECT signature FROM request_signatures ORDER BY 1");
    assert_eq!(kept.lines().count(), 2, "{kept}");
    assert!(
        kept.lines().all(|k| k.starts_with(&format!("{}:", e.ak))),
        "{kept}"
    );
    // A fresh signature over a read works on every replica.
    let path = e.path(&format!("pods?node_id={}", crate::ief::N1));
    for s in &rest {
        let mut h = e.sign("GET", &path, b"", &e.ak, &e.sk, chrono::Utc::now());
        h.push(("host".into(), host.clone()));
        let mut req = s.http.get(s.url(&path));
        for (k, v) in &h {
            req = req.header(k, v);
        }
        assert_eq!(req.send().await.unwrap().status(), 200);
    }
}
