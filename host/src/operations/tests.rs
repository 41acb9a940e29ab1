use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::store::{Sealer, Store};

async fn ops() -> Operations {
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    let store = Store::with_connection(conn, Sealer::from_key(&[7u8; 32]))
        .await
        .unwrap();
    Operations::new(Arc::new(store))
}

fn origin(org: &str) -> Origin<'_> {
    Origin {
        org,
        plugin: "pcapi",
        request_id: "r1",
    }
}

fn phases(p: &[&str]) -> Vec<String> {
    p.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn phases_output_and_result_are_persisted() {
    let o = ops().await;
    let id = o
        .begin(
            &origin("acme"),
            "new-cluster",
            "10.0.0.1:22",
            &phases(&["preflight", "init"]),
        )
        .await
        .unwrap();
    o.phase(&id, "preflight", PhaseStatus::Running, "")
        .await
        .unwrap();
    o.output(&id, "preflight", "ok\n").await.unwrap();
    o.phase(&id, "preflight", PhaseStatus::Succeeded, "")
        .await
        .unwrap();
    o.phase(&id, "init", PhaseStatus::Running, "")
        .await
        .unwrap();
    o.output(
        &id,
        "init",
        "kubeadm join 10.0.0.1:6443 --token abcdef.0123456789abcdef",
    )
    .await
    .unwrap();
    o.finish(&id, Ok(r#"{"node": "m1"}"#)).await.unwrap();
    let v = o.get("acme", &id).await.unwrap().unwrap();
    assert_eq!(v.status, "succeeded");
    assert_eq!(v.phases[0].status, "succeeded");
    assert_eq!(v.phases[0].output, "ok\n");
    assert_eq!(v.phases[1].status, "succeeded");
    assert!(!v.phases[1].output.contains("0123456789abcdef"));
    assert_eq!(v.result.unwrap()["node"], "m1");
    assert!(
        o.get("globex", &id).await.unwrap().is_none(),
        "other orgs see nothing"
    );
    let (events, done) = o.events_since("acme", &id, 0).await.unwrap().unwrap();
    assert!(done);
    let kinds: Vec<&str> = events.iter().map(|e| e.event.as_str()).collect();
    assert_eq!(
        kinds,
        ["started", "phase", "output", "phase", "phase", "output", "finished"]
    );
    assert!(o
        .phase(&id, "init", PhaseStatus::Running, "")
        .await
        .is_err());
}

#[tokio::test]
async fn one_operation_per_target_at_a_time() {
    let o = ops().await;
    let id = o
        .begin(
            &origin("acme"),
            "new-cluster",
            "10.0.0.1:22",
            &phases(&["a"]),
        )
        .await
        .unwrap();
    let e = o
        .begin(
            &origin("acme"),
            "new-worker",
            "10.0.0.1:22",
            &phases(&["a"]),
        )
        .await
        .unwrap_err();
    assert!(matches!(&e, OpError::Conflict(m) if m.contains(&id)), "{e}");
    let e = o
        .begin(
            &origin("globex"),
            "new-worker",
            "10.0.0.1:22",
            &phases(&["a"]),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&e, OpError::Conflict(m) if !m.contains(&id)),
        "another org learns no id: {e}"
    );
    o.finish(&id, Err("boom")).await.unwrap();
    o.begin(
        &origin("acme"),
        "new-cluster",
        "10.0.0.1:22",
        &phases(&["a"]),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn a_restart_interrupts_running_operations() {
    let o = ops().await;
    let id = o
        .begin(&origin("acme"), "new-cluster", "h:22", &phases(&["a", "b"]))
        .await
        .unwrap();
    o.phase(&id, "a", PhaseStatus::Running, "").await.unwrap();
    assert_eq!(o.interrupt_running().await.unwrap(), 1);
    let v = o.get("acme", &id).await.unwrap().unwrap();
    assert_eq!(v.status, "interrupted");
    assert_eq!(v.phases[0].status, "interrupted");
    assert_eq!(v.phases[1].status, "pending");
    assert!(v.error.unwrap().contains("did not complete"));
}

#[tokio::test]
async fn bad_input_is_refused() {
    let o = ops().await;
    assert!(o
        .begin(&origin("acme"), "bad kind", "h", &phases(&["a"]))
        .await
        .is_err());
    assert!(o.begin(&origin("acme"), "k", "h", &[]).await.is_err());
    assert!(o
        .begin(&origin("acme"), "k", "h", &phases(&["a", "a"]))
        .await
        .is_err());
    let id = o
        .begin(&origin("acme"), "k", "h", &phases(&["a"]))
        .await
        .unwrap();
    assert!(o.phase(&id, "zzz", PhaseStatus::Running, "").await.is_err());
    assert!(o.finish(&id, Ok("not json")).await.is_err());
    o.abandon(&id, "the plugin trapped").await;
    assert_eq!(o.get("acme", &id).await.unwrap().unwrap().status, "failed");
}

// Leases: replicas sharing a store.

async fn sqlite_store() -> Arc<Store> {
    let conn = rusqlite::Connection::open_in_memory().unwrap();
    Arc::new(
        Store::with_connection(conn, Sealer::from_key(&[7u8; 32]))
            .await
            .unwrap(),
    )
}

/// A store over the PostgreSQL database `url` (one per replica: each has
/// its own connections).
async fn pg_store(url: &str) -> Arc<Store> {
    Arc::new(
        Store::open_postgres(url, 4, Sealer::from_key(&[7u8; 32]), "test")
            .await
            .unwrap(),
    )
}

fn replica(store: &Arc<Store>, id: &str, lease_ms: u64) -> Arc<Operations> {
    let o = Operations::with_replica(Arc::clone(store), id.to_string());
    o.set_lease(Duration::from_millis(lease_ms));
    Arc::new(o)
}

async fn status(o: &Operations, id: &str) -> String {
    o.get("acme", id).await.unwrap().unwrap().status
}

/// Replica `a` stops renewing; `b`, alive, sweeps: after the lease `a`'s
/// running operation is interrupted, `b`'s is untouched.
async fn a_stopped_replicas_operation_is_interrupted_after_its_lease(
    sa: Arc<Store>,
    sb: Arc<Store>,
) {
    let a = replica(&sa, "rep-a", 300);
    let b = replica(&sb, "rep-b", 300);
    assert_ne!(Operations::new(Arc::clone(&sa)).replica(), a.replica());
    let ida = a
        .begin(
            &origin("acme"),
            "new-cluster",
            "ha:22",
            &phases(&["x", "y"]),
        )
        .await
        .unwrap();
    a.phase(&ida, "x", PhaseStatus::Running, "").await.unwrap();
    let idb = b
        .begin(&origin("acme"), "new-cluster", "hb:22", &phases(&["x"]))
        .await
        .unwrap();
    b.phase(&idb, "x", PhaseStatus::Running, "").await.unwrap();
    assert_eq!(b.sweep().await.unwrap(), 0, "a's lease has not passed yet");
    assert_eq!(status(&b, &ida).await, "running");
    // `a` renews no more; `b` renews and sweeps every 100 ms.
    let started = std::time::Instant::now();
    let task = b.spawn_leases();
    loop {
        if status(&b, &ida).await == "interrupted" {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "a's operation was never interrupted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Let several of b's own leases pass: renewed, its operation runs on.
    tokio::time::sleep(Duration::from_millis(700)).await;
    task.abort();
    assert_eq!(status(&a, &idb).await, "running");
    b.output(&idb, "x", "still here").await.unwrap();
    let v = a.get("acme", &ida).await.unwrap().unwrap();
    assert_eq!(v.phases[0].status, "interrupted");
    assert_eq!(v.phases[1].status, "pending");
    assert!(v.error.unwrap().contains("did not complete"));
    let (events, done) = a.events_since("acme", &ida, 0).await.unwrap().unwrap();
    assert!(done);
    let last = events.last().unwrap();
    assert_eq!(last.event, "finished");
    assert_eq!(last.data["status"], "interrupted");
    // A late write of the stopped replica is refused.
    assert!(a.finish(&ida, Ok("{}")).await.is_err());
    // The target's lock went with it.
    let again = b
        .begin(&origin("acme"), "new-cluster", "ha:22", &phases(&["x"]))
        .await
        .unwrap();
    b.finish(&again, Ok("{}")).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_sqlite_a_stopped_replicas_operation_is_interrupted_after_its_lease() {
    let s = sqlite_store().await;
    a_stopped_replicas_operation_is_interrupted_after_its_lease(Arc::clone(&s), s).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_a_stopped_replicas_operation_is_interrupted_after_its_lease() {
    let url = pgtest::database();
    a_stopped_replicas_operation_is_interrupted_after_its_lease(
        pg_store(&url).await,
        pg_store(&url).await,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_start_up_spares_live_replicas_operations() {
    let url = pgtest::database();
    let sa = pg_store(&url).await;
    let a = replica(&sa, "rep-a", 15_000);
    let live = a
        .begin(&origin("acme"), "k", "live:22", &phases(&["x"]))
        .await
        .unwrap();
    let legacy = a
        .begin(&origin("acme"), "k", "legacy:22", &phases(&["x"]))
        .await
        .unwrap();
    let expired = a
        .begin(&origin("acme"), "k", "expired:22", &phases(&["x"]))
        .await
        .unwrap();
    // A row from before leases, and one whose replica stopped long ago.
    sa.db()
        .execute(
            "UPDATE operations SET owner = NULL, lease_until = NULL WHERE id = ?1",
            params![legacy.as_str()],
        )
        .await
        .unwrap();
    sa.db()
        .execute(
            "UPDATE operations SET owner = 'rep-gone', lease_until = 1 WHERE id = ?1",
            params![expired.as_str()],
        )
        .await
        .unwrap();
    // A new replica starts on the same database.
    let c = Operations::new(pg_store(&url).await);
    assert_eq!(c.interrupt_running().await.unwrap(), 2);
    assert_eq!(status(&c, &live).await, "running");
    assert_eq!(status(&c, &legacy).await, "interrupted");
    assert_eq!(status(&c, &expired).await, "interrupted");
    a.finish(&live, Ok("{}")).await.unwrap();
    assert_eq!(c.poll_interval(), Some(POLL), "other replicas write here");
}

#[tokio::test]
async fn on_sqlite_start_up_interrupts_every_running_operation() {
    let s = sqlite_store().await;
    let a = replica(&s, "rep-a", 15_000);
    let id = a
        .begin(&origin("acme"), "k", "h:22", &phases(&["x"]))
        .await
        .unwrap();
    // Its lease is live, but a SQLite store has one process: a new one
    // means the old one is gone.
    let c = Operations::new(Arc::clone(&s));
    assert_eq!(c.sweep().await.unwrap(), 0);
    assert_eq!(c.interrupt_running().await.unwrap(), 1);
    assert_eq!(status(&c, &id).await, "interrupted");
    assert_eq!(
        c.poll_interval(),
        None,
        "one process: woken on every change"
    );
}

#[tokio::test]
async fn renewing_keeps_a_replicas_operations_and_it_never_sweeps_its_own() {
    let s = sqlite_store().await;
    let a = replica(&s, "rep-a", 15_000);
    let b = replica(&s, "rep-b", 15_000);
    let id = a
        .begin(&origin("acme"), "k", "h:22", &phases(&["x"]))
        .await
        .unwrap();
    let expire = || async {
        s.db()
            .execute(
                "UPDATE operations SET lease_until = 1 WHERE id = ?1",
                params![id.as_str()],
            )
            .await
            .unwrap();
    };
    expire().await;
    assert_eq!(a.sweep().await.unwrap(), 0, "a replica is alive to itself");
    assert_eq!(a.renew().await.unwrap(), 1);
    assert_eq!(b.sweep().await.unwrap(), 0, "renewed");
    assert_eq!(status(&b, &id).await, "running");
    expire().await;
    assert_eq!(b.sweep().await.unwrap(), 1);
    assert_eq!(a.renew().await.unwrap(), 0, "nothing of a's runs any more");
}

#[tokio::test]
async fn wake_wakes_event_streams() {
    let o = ops().await;
    let changed = o.changed();
    tokio::pin!(changed);
    changed.as_mut().enable();
    o.wake();
    tokio::time::timeout(Duration::from_secs(5), changed)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_stopping_replica_releases_only_its_own_operations() {
    let s = sqlite_store().await;
    let a = replica(&s, "rep-a", 15_000);
    let b = replica(&s, "rep-b", 15_000);
    let ida = a
        .begin(&origin("acme"), "k", "ha:22", &phases(&["x"]))
        .await
        .unwrap();
    let idb = b
        .begin(&origin("acme"), "k", "hb:22", &phases(&["x"]))
        .await
        .unwrap();
    assert_eq!(a.release().await.unwrap(), 1);
    assert_eq!(status(&a, &ida).await, "interrupted");
    assert_eq!(status(&a, &idb).await, "running");
}

/// Every committed change is announced on [`CHANNEL`], so another replica's
/// event streams wake at once (its listener calls `wake`).
#[tokio::test]
async fn on_postgres_changes_are_announced_to_the_other_replicas() {
    let url = pgtest::database();
    let (a, b) = (pg_store(&url).await, pg_store(&url).await);
    let mut notices = b
        .db()
        .listen(&[CHANNEL])
        .await
        .unwrap()
        .expect("PostgreSQL listens");
    let o = Operations::new(a);
    let id = o
        .begin(
            &origin("acme"),
            "new-cluster",
            "127.0.0.9:22",
            &phases(&["init"]),
        )
        .await
        .unwrap();
    o.phase(&id, "init", PhaseStatus::Running, "")
        .await
        .unwrap();
    o.finish(&id, Ok("{}")).await.unwrap();
    for _ in 0..3 {
        let n = tokio::time::timeout(Duration::from_secs(5), notices.recv())
            .await
            .expect("a notice within 5 s")
            .expect("the listening connection is open");
        assert_eq!(n.channel, CHANNEL);
        assert_eq!(n.payload, id);
    }
}
