//! Keys and revocations seen by every replica at once; writes that survive a
//! replica's `kill -9`.

use super::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_key_made_on_one_replica_works_on_all_and_its_revocation_at_once() {
    let r = replicas(3);
    let (one, two, three) = (&r.s[0], &r.s[1], &r.s[2]);
    // The admin token is the same on every replica, and the seal key the
    // environment names (no data dir made its own).
    for s in &r.s {
        assert!(!s.data().join("seal.key").exists());
        let (status, body) = s.get_admin("/admin/keys").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["keys"], json!([]), "{body}");
    }

    let created = one
        .http
        .post(one.url("/admin/keys"))
        .bearer_auth(ADMIN)
        .json(&json!({"org": "acme", "scheme": "bearer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    let key = created["credential"].as_str().unwrap().to_string();
    let id = created["id"].as_str().unwrap().to_string();
    for s in [two, three, one] {
        let (status, who) = whoami(s, &key).await;
        assert_eq!(status, 200, "{who}");
        assert_eq!(who["organisation"], "acme", "{who}");
        assert_eq!(who["key_id"], id.as_str(), "{who}");
    }
    // Listed by every replica.
    for s in &r.s {
        let (_, list) = s.get_admin("/admin/keys?org=acme").await;
        assert_eq!(list["keys"].as_array().unwrap().len(), 1, "{list}");
        assert_eq!(list["keys"][0]["id"], id.as_str());
    }
    // Round-robin traffic keeps working.
    for _ in 0..6 {
        assert_eq!(whoami(r.pick(), &key).await.0, 200);
    }

    // Each replica answers the key from its read cache...
    for s in &r.s {
        s.until_cached(1, async || assert_eq!(whoami(s, &key).await.0, 200))
            .await;
    }
    // ...and once it is revoked through replica 2, the very next request
    // fails on 1 and 3.
    let (status, body) = two.admin_delete(&format!("/admin/keys/{id}")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["revoked"], true, "{body}");
    for s in [one, three, two] {
        let (status, body) = whoami(s, &key).await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(body, json!({"error": "invalid credentials"}));
    }
    // The store says so, and revoking again is a 404 on any replica.
    let revoked = r.psql(&format!(
        "SELECT revoked_at IS NOT NULL FROM api_keys WHERE id = '{id}'"
    ));
    assert_eq!(revoked, "t");
    let (status, _) = three.admin_delete(&format!("/admin/keys/{id}")).await;
    assert_eq!(status, 404);
    let (_, list) = one.get_admin("/admin/keys?org=acme").await;
    assert!(list["keys"][0]["revoked_at"].is_string(), "{list}");
}

/// The PostgreSQL table of the fixtures' `devices` collection.
fn devices_table(r: &Replicas) -> String {
    let t = r.psql(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE '%devices' ORDER BY 1",
    );
    t.lines().next().expect("a devices table").to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_of_a_replica_under_write_load_loses_no_acknowledged_write() {
    let mut r = replicas(3);
    let key = r.s[0].key("acme", "bearer");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(64)
        .build()
        .unwrap();
    // The fixtures' compute center exists before the writers race for it.
    let first = client
        .post(r.s[1].url("/fixtures/devices"))
        .bearer_auth(&key)
        .json(&json!({"name": "first", "ip": "127.0.0.2", "password": "pw-first"}))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    assert_eq!(first["name"], "first", "{first}");

    let bases: Vec<String> = r.s.iter().map(|s| s.base.clone()).collect();
    let victim = 2;
    let killed = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    // (replica, name, status or 0 for no answer, id, sent after the kill)
    type Outcome = (usize, String, u16, Option<String>, bool);
    let outcomes: Arc<Mutex<Vec<Outcome>>> = Arc::default();
    let mut writers = Vec::new();
    for w in 0..16usize {
        let (client, key, bases, killed, stop, outcomes) = (
            client.clone(),
            key.clone(),
            bases.clone(),
            killed.clone(),
            stop.clone(),
            outcomes.clone(),
        );
        writers.push(tokio::spawn(async move {
            let mut n = 0usize;
            while !stop.load(Ordering::Relaxed) {
                let replica = (w + n) % bases.len();
                let name = format!("w{w}-{n}");
                n += 1;
                let after = killed.load(Ordering::SeqCst);
                let sent = client
                    .post(format!("{}/fixtures/devices", bases[replica]))
                    .bearer_auth(&key)
                    .json(&json!({"name": name, "ip": "127.0.0.3", "password": "pw"}))
                    .send()
                    .await;
                let (status, id) = match sent {
                    Ok(resp) => {
                        let status = resp.status().as_u16();
                        let body: Value = resp.json().await.unwrap_or(Value::Null);
                        (status, body["id"].as_str().map(str::to_string))
                    }
                    Err(_) => (0, None),
                };
                outcomes
                    .lock()
                    .unwrap()
                    .push((replica, name, status, id, after));
                if replica == victim && after {
                    // Nothing listens there any more: do not spin.
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
        }));
    }
    // Kill the victim once it has acknowledged writes of its own, mid-load.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let acked_by_victim = outcomes
            .lock()
            .unwrap()
            .iter()
            .filter(|o| o.0 == victim && o.2 == 201)
            .count();
        if acked_by_victim >= 30 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the victim acknowledged too few writes"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    r.s[victim].kill();
    killed.store(true, Ordering::SeqCst);
    let killed_at = Instant::now();
    // The survivors keep serving under the same load.
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    let outcomes = std::mem::take(&mut *outcomes.lock().unwrap());

    let survivors = [0usize, 1];
    let to_survivors: Vec<&Outcome> = outcomes.iter().filter(|o| o.0 != victim).collect();
    let failed: Vec<&&Outcome> = to_survivors.iter().filter(|o| o.2 != 201).collect();
    assert!(
        failed.is_empty(),
        "{} of {} writes to the survivors failed: {:?}",
        failed.len(),
        to_survivors.len(),
        &failed[..failed.len().min(5)]
    );
    let after_kill = to_survivors.iter().filter(|o| o.4).count();
    assert!(
        after_kill >= 16,
        "only {after_kill} writes to the survivors after the kill"
    );
    // Every acknowledged write is there, readable from both survivors.
    let acked: Vec<(&str, &str)> = outcomes
        .iter()
        .filter(|o| o.2 == 201)
        .map(|o| (o.1.as_str(), o.3.as_deref().expect("an id in a 201")))
        .collect();
    let by_victim = outcomes.iter().filter(|o| o.0 == victim).count();
    let lost_answers = outcomes
        .iter()
        .filter(|o| o.0 == victim && o.2 != 201)
        .count();
    eprintln!(
        "kill -9 under load: {} writes, {} acknowledged, {} sent to the victim ({lost_answers} unanswered or refused), {after_kill} to the survivors after the kill ({:?} of load after it)",
        outcomes.len(),
        acked.len(),
        by_victim,
        killed_at.elapsed()
    );
    for (i, (name, id)) in acked.iter().enumerate() {
        let s = &r.s[survivors[i % 2]];
        let got = s
            .http
            .get(s.url(&format!("/fixtures/devices/{id}")))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(got.status(), 200, "acknowledged write {name} ({id}) lost");
        let row: Value = got.json().await.unwrap();
        assert_eq!(row["name"], *name);
        assert_eq!(row["adminpwd"], "******");
    }
    // The store holds the acknowledged writes and nothing that was never
    // sent; only writes to the victim that got no 201 may or may not be there.
    let table = devices_table(&r);
    let rows = r.psql(&format!("SELECT name FROM \"{table}\" ORDER BY name"));
    let stored: HashSet<&str> = rows.lines().collect();
    let sent: HashMap<&str, &Outcome> = outcomes.iter().map(|o| (o.1.as_str(), o)).collect();
    for (name, _) in &acked {
        assert!(stored.contains(name), "{name} not in the store");
    }
    for name in &stored {
        if *name == "first" {
            continue;
        }
        let o = sent
            .get(name)
            .unwrap_or_else(|| panic!("{name} in the store was never sent"));
        assert!(o.2 == 201 || o.0 == victim, "{o:?} stored but refused");
    }
    assert_eq!(rows.lines().count(), stored.len(), "one row per name");
    let listed: Value = r.s[0]
        .http
        .get(r.s[0].url("/fixtures/devices"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed["total"].as_u64().unwrap() as usize, stored.len());
    let (status, _) = whoami(&r.s[1], &key).await;
    assert_eq!(status, 200);
}
