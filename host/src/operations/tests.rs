use std::sync::Arc;

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
