//! The scheduling engine is hot-swappable: under 16 concurrent clients of
//! `determine_accommodat`, swapping in the example headroom engine fails no
//! request and changes every answer from the moment the swap returns; a
//! rollback restores the built-in rule.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::{json, Value};
use simcluster::{ClusterSpec, NodeSpec, SimCluster};

use crate::common::*;

const PATH: &str = "/pcapi/api/v1/cluster/common/determine_accommodat";

struct Seen {
    sent: Instant,
    done: Instant,
    status: u16,
    answer: Value,
}

#[tokio::test(flavor = "multi_thread")]
async fn swapping_the_scheduling_engine_under_load() {
    let sim = SimCluster::start(
        ClusterSpec::new("swap")
            .node(NodeSpec::control_plane("master"))
            .node(NodeSpec::new("worker").cpu("10").memory("32Gi")),
    )
    .unwrap();
    let s = Arc::new(Server::start());
    let basic = s.key("acme", "basic");
    let (user, pass) = basic.split_once(':').unwrap();
    let (user, pass) = (user.to_string(), pass.to_string());
    let kubeconfig = sim.kubeconfig_yaml();
    // 9.5 cores fit a 10-core node, but not with 10 % kept free.
    let products = json!([{"id": "p", "cpu": "9500m", "memory": "1Gi"}]).to_string();
    let ask = {
        let (s, user, pass) = (s.clone(), user.clone(), pass.clone());
        move || {
            let req = s
                .http
                .get(s.url(PATH))
                .query(&[
                    ("kubeconfig", kubeconfig.as_str()),
                    ("resources", products.as_str()),
                ])
                .basic_auth(&user, Some(&pass));
            async move {
                let r = req.send().await;
                match r {
                    Ok(r) => (
                        r.status().as_u16(),
                        r.json::<Value>().await.unwrap_or(Value::Null),
                    ),
                    Err(_) => (0, Value::Null),
                }
            }
        }
    };
    assert_eq!(ask().await, (200, json!([])));

    let stop = Arc::new(AtomicBool::new(false));
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let mut clients = Vec::new();
    for _ in 0..16 {
        let (stop, seen, ask) = (stop.clone(), seen.clone(), ask.clone());
        clients.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let sent = Instant::now();
                let (status, answer) = ask().await;
                seen.lock().unwrap().push(Seen {
                    sent,
                    done: Instant::now(),
                    status,
                    answer,
                });
            }
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let swap_issued = Instant::now();
    let r = s
        .http
        .put(s.url("/admin/plugins/scheduling?role=scheduling"))
        .bearer_auth(ADMIN)
        .body(wasm("headroom_scheduler.wasm"))
        .send()
        .await
        .unwrap();
    let swapped = Instant::now();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    let rollback_issued = Instant::now();
    let r = s
        .http
        .post(s.url("/admin/plugins/scheduling/rollback"))
        .bearer_auth(ADMIN)
        .send()
        .await
        .unwrap();
    let rolled_back = Instant::now();
    assert_eq!(r.status(), 200);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.await.unwrap();
    }

    let seen = std::mem::take(&mut *seen.lock().unwrap());
    assert!(seen.len() > 50, "only {} requests", seen.len());
    // pcapi answers a failure with 200 too (`status: false` in its envelope):
    // only the bare array is an answer.
    assert!(
        seen.iter().all(|r| r.status == 200 && r.answer.is_array()),
        "failed requests"
    );
    let (mut before, mut during, mut after) = (0, 0, 0);
    for r in &seen {
        if r.done < swap_issued {
            assert_eq!(r.answer, json!([]));
            before += 1;
        } else if r.sent > swapped && r.done < rollback_issued {
            assert_eq!(
                r.answer,
                json!(["p"]),
                "the headroom rule after the swap returned"
            );
            during += 1;
        } else if r.sent > rolled_back {
            assert_eq!(r.answer, json!([]), "the built-in rule after the rollback");
            after += 1;
        }
    }
    assert!(
        before > 0 && during > 0 && after > 0,
        "{before} {during} {after}"
    );
    assert_eq!(ask().await, (200, json!([])));
}

/// The scheduling engine keeps a warm instance per calling organisation
/// (issue #17): five `determine_accommodat` calls from each of two
/// organisations create exactly two engine instances, one each, reused by
/// the other eight calls, and both organisations get the built-in rule's
/// answer.
#[tokio::test(flavor = "multi_thread")]
async fn the_scheduling_engine_is_warm_per_organisation() {
    let sim = SimCluster::start(
        ClusterSpec::new("warm")
            .node(NodeSpec::control_plane("master"))
            .node(NodeSpec::new("worker").cpu("10").memory("32Gi")),
    )
    .unwrap();
    let s = Server::start();
    let kubeconfig = sim.kubeconfig_yaml();
    // 9.5 cores fit, 12 do not.
    let products = json!([
        {"id": "fits", "cpu": "9500m", "memory": "1Gi"},
        {"id": "too-big", "cpu": "12", "memory": "1Gi"}
    ])
    .to_string();
    let (_, before) = s.get_admin("/admin/plugins/scheduling").await;
    assert_eq!(before["instances"]["created"], 0, "{before}");
    let keys = [s.key("acme", "basic"), s.key("globex", "basic")];
    for _ in 0..5 {
        for key in &keys {
            let (user, pass) = key.split_once(':').unwrap();
            let r = s
                .http
                .get(s.url(PATH))
                .query(&[
                    ("kubeconfig", kubeconfig.as_str()),
                    ("resources", products.as_str()),
                ])
                .basic_auth(user, Some(pass))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            assert_eq!(r.json::<Value>().await.unwrap(), json!(["too-big"]));
        }
    }
    let (status, after) = s.get_admin("/admin/plugins/scheduling").await;
    assert_eq!(status, 200, "{after}");
    let i = &after["instances"];
    assert_eq!(i["isolation"], "organisation", "{i}");
    assert_eq!(i["created"], 2, "one instance per organisation: {i}");
    assert_eq!(i["reused"], 8, "{i}");
}
