//! Operations around provisioning: the asynchronous form (202 and the event
//! stream arriving phase by phase), the per-host lock, organisation scoping
//! of `/operations`, a restart interrupting a running operation, and a
//! machine whose host key changed.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::Server;
use crate::machine::{PASSWORD, USER};
use crate::provision::{env, phase_millis};

/// Read the SSE stream of operation `id` through `s` to its end: (event,
/// data, when it arrived).
pub(crate) async fn events(
    s: &Server,
    id: &str,
    key: (&str, &str),
) -> Vec<(String, Value, Duration)> {
    let started = Instant::now();
    let r = s
        .http
        .get(s.url(&format!("/operations/{id}/events")))
        .basic_auth(key.0, Some(key.1))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let mut r = r;
    let mut buf = String::new();
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while let Ok(Ok(Some(chunk))) = tokio::time::timeout_at(deadline, r.chunk()).await {
        buf.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buf.find("\n\n") {
            let frame: String = buf.drain(..end + 2).collect();
            let mut event = String::new();
            let mut data = Value::Null;
            for line in frame.lines() {
                if let Some(v) = line.strip_prefix("event: ") {
                    event = v.to_string();
                } else if let Some(v) = line.strip_prefix("data: ") {
                    data = serde_json::from_str(v).unwrap();
                }
            }
            if !event.is_empty() {
                out.push((event, data, started.elapsed()));
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn the_async_form_streams_phases_and_the_host_is_locked_meanwhile() {
    let e = env();
    let m = e.machine("node-m", "127.0.0.2");
    m.slow("kubeadm-init", 2.0);
    let a = e.new_cluster(&m, true).await;
    assert_eq!(a.status, 202, "{}", a.body);
    assert!(a.elapsed < Duration::from_secs(10), "{:?}", a.elapsed);
    assert_eq!(a.body["status"], true);
    let id = a.body["data"]["operation_id"].as_str().unwrap().to_string();
    assert_eq!(a.body["data"]["href"], format!("/operations/{id}"));
    // Answered before the work was done: the operation is still running
    // (its init phase alone takes 2 s).
    let (_, op) = e.operation(&id).await;
    assert_eq!(op["status"], "running", "{op}");

    // While it runs, the machine is locked: a second operation is refused
    // and runs nothing. Measure once the first is inside its long init
    // phase (one command), so its own commands do not move the log.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (_, op) = e.operation(&id).await;
        let in_init = op["phases"].as_array().is_some_and(|ps| {
            ps.iter()
                .any(|p| p["name"] == "init" && p["status"] == "running")
        });
        // The phase is marked before its command runs: wait until the slow
        // `kubeadm init` itself has started, so no command of the first
        // operation lands in the log while the second is measured.
        let init_started = m.commands().iter().any(|c| c.starts_with("kubeadm init"));
        if in_init && init_started {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never reached init: {op}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let before = m.ssh_lines().len();
    let second = e.new_cluster(&m, false).await;
    let info = second.failed();
    assert!(info.contains("locked") && info.contains(&id), "{info}");
    assert_eq!(
        m.ssh_lines().len(),
        before,
        "the refused operation ran nothing"
    );

    let (user, pass) = e.credentials();
    let evs = events(&e.s, &id, (&user, &pass)).await;
    let names: Vec<String> = evs
        .iter()
        .filter(|(ev, _, _)| ev == "phase")
        .map(|(_, d, _)| {
            format!(
                "{}:{}",
                d["data"]["phase"].as_str().unwrap(),
                d["data"]["status"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            "preflight:running",
            "preflight:succeeded",
            "prerequisites:running",
            "prerequisites:succeeded",
            "init:running",
            "init:succeeded",
            "kubeconfig:running",
            "kubeconfig:succeeded",
            "join-token:running",
            "join-token:succeeded",
            "verify:running",
            "verify:succeeded",
            "cleanup:skipped",
        ]
    );
    assert_eq!(evs.first().unwrap().0, "started");
    let (last, data, _) = evs.last().unwrap();
    assert_eq!(last, "finished");
    assert_eq!(data["data"]["status"], "succeeded");
    // Events arrived as the phases happened, not all at the end: the init
    // phase started well before the operation finished (init sleeps 2 s).
    let at = |name: &str| {
        evs.iter()
            .find(|(ev, d, _)| {
                ev == "phase"
                    && format!(
                        "{}:{}",
                        d["data"]["phase"].as_str().unwrap_or(""),
                        d["data"]["status"].as_str().unwrap_or("")
                    ) == name
            })
            .map(|(_, _, t)| *t)
            .unwrap()
    };
    assert!(
        evs.last().unwrap().2 - at("init:running") >= Duration::from_millis(1500),
        "events were not streamed as they happened: {evs:?}"
    );
    let (_, op) = e.operation(&id).await;
    assert_eq!(op["status"], "succeeded");
    eprintln!(
        "new_cluster (async, init slowed 2 s) phases (ms): {:?}",
        phase_millis(&op)
    );
    assert_eq!(e.node_names(), ["node-m"]);

    // A finished operation replays its whole stream, then ends.
    let again = events(&e.s, &id, (&user, &pass)).await;
    assert_eq!(again.len(), evs.len());

    // Another organisation sees neither the operation nor its events.
    let other = e.s.key("globex", "basic");
    let (ou, op_) = other.split_once(':').unwrap();
    for path in [
        format!("/operations/{id}"),
        format!("/operations/{id}/events"),
    ] {
        let r =
            e.s.http
                .get(e.s.url(&path))
                .basic_auth(ou, Some(op_))
                .send()
                .await
                .unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }
    let r =
        e.s.http
            .get(e.s.url(&format!("/operations/{id}")))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_marks_a_running_operation_interrupted() {
    let mut e = env();
    let m = e.machine("node-m", "127.0.0.2");
    m.slow("kubeadm-init", 20.0);
    let a = e.new_cluster(&m, true).await;
    assert_eq!(a.status, 202, "{}", a.body);
    let id = a.body["data"]["operation_id"].as_str().unwrap().to_string();
    // Wait until init is running.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, op) = e.operation(&id).await;
        if op["phases"][2]["status"] == "running" {
            break;
        }
        assert!(Instant::now() < deadline, "init never started: {op}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    e.s.stop();
    e.s.launch();
    let (st, op) = e.operation(&id).await;
    assert_eq!(st, 200);
    assert_eq!(op["status"], "interrupted", "{op}");
    assert_eq!(op["phases"][2]["status"], "interrupted");
    assert!(op["finished_at"].is_string());
    // `/metrics` counts it by kind and status.
    let kind = op["kind"].as_str().unwrap().to_string();
    let metrics = e.s.metrics().await;
    assert!(
        metrics.contains(&format!(
            "computehub_operations{{kind=\"{kind}\",status=\"interrupted\"}} 1"
        )),
        "{metrics}"
    );
    // The lock went with it: the machine can be provisioned again (once the
    // orphaned fixture from the dead run is out of the way).
    assert!(op["error"].as_str().unwrap().contains("did not complete"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_machine_whose_host_key_changed_is_refused() {
    let e = env();
    let mut m = e.machine("node-m", "127.0.0.2");
    let a = e.new_cluster(&m, false).await;
    assert_eq!(a.status, 200, "{}", a.body);
    m.new_host_key();
    let ran = m.ssh_lines().len();
    let a = e.new_cluster(&m, false).await;
    let info = a.failed();
    assert!(
        info.contains("host key changed") && info.contains("pinned"),
        "{info}"
    );
    assert_eq!(
        m.ssh_lines().len(),
        ran,
        "nothing ran on the changed machine"
    );
    let (_, op) = e.operation(a.op.as_deref().unwrap()).await;
    assert_eq!(op["status"], "failed");
    assert_eq!(op["phases"][0]["status"], "failed");
    let _ = (USER, PASSWORD);
}

/// A caller may choose its request id (`X-Request-Id`), and two callers may
/// choose the same one: each request's operation stays its own.
#[tokio::test(flavor = "multi_thread")]
async fn requests_sharing_a_request_id_keep_their_own_operations() {
    let e = env();
    let (a, b) = (
        e.machine("node-a", "127.0.0.2"),
        e.machine("node-b", "127.0.0.3"),
    );
    a.slow("kubeadm-init", 1.5);
    b.slow("kubeadm-init", 1.5);
    let (user, pass) = e.credentials();
    let other = e.s.key("globex", "basic");
    let (ou, op) = other.split_once(':').unwrap();
    let start = |m: &crate::machine::Machine, cred: (&str, &str)| {
        let port = m.port.to_string();
        e.s.http
            .post(e.s.url("/pcapi/api/v1/cluster/common/new_cluster"))
            .basic_auth(cred.0, Some(cred.1))
            .header("Prefer", "respond-async")
            .header("x-request-id", "chosen-by-the-caller")
            .form(&[
                ("host", "127.0.0.1"),
                ("port", port.as_str()),
                ("user", crate::machine::USER),
                ("psssword", crate::machine::PASSWORD),
                ("role", "master"),
            ])
            .send()
    };
    let (ra, rb) = tokio::join!(start(&a, (&user, &pass)), start(&b, (ou, op)));
    let mut ids = Vec::new();
    for r in [ra.unwrap(), rb.unwrap()] {
        assert_eq!(r.status(), 202);
        assert_eq!(r.headers()["x-request-id"], "chosen-by-the-caller");
        let body: Value = r.json().await.unwrap();
        ids.push(body["data"]["operation_id"].as_str().unwrap().to_string());
    }
    assert_ne!(ids[0], ids[1]);
    // Both run to the end, each with its own phases and its own target,
    // each seen by its own organisation only.
    for (id, cred, port) in [
        (&ids[0], (user.as_str(), pass.as_str()), a.port),
        (&ids[1], (ou, op), b.port),
    ] {
        let evs = events(&e.s, id, cred).await;
        let (last, data, _) = evs.last().unwrap();
        assert_eq!(last, "finished", "{evs:?}");
        assert_eq!(data["data"]["status"], "succeeded", "{evs:?}");
        let phases = evs.iter().filter(|(ev, _, _)| ev == "phase").count();
        assert_eq!(phases, 13, "{evs:?}");
        let r =
            e.s.http
                .get(e.s.url(&format!("/operations/{id}")))
                .basic_auth(cred.0, Some(cred.1))
                .send()
                .await
                .unwrap();
        let op: Value = r.json().await.unwrap();
        assert_eq!(op["status"], "succeeded", "{op}");
        assert!(
            op["target"].as_str().unwrap().contains(&port.to_string()),
            "{op}"
        );
    }
    let r =
        e.s.http
            .get(e.s.url(&format!("/operations/{}", ids[1])))
            .basic_auth(&user, Some(&pass))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 404);
}

/// An event stream is read with the credentials that opened it: a key
/// revoked while the operation runs ends its streams.
#[tokio::test(flavor = "multi_thread")]
async fn a_revoked_key_ends_the_event_streams_it_opened() {
    let e = env();
    let m = e.machine("node-m", "127.0.0.2");
    m.slow("kubeadm-init", 30.0);
    let a = e.new_cluster(&m, true).await;
    assert_eq!(a.status, 202, "{}", a.body);
    let id = a.body["data"]["operation_id"].as_str().unwrap().to_string();
    // A second key of the same organisation opens the stream.
    let watcher = e.s.key("acme", "basic");
    let (wu, wp) = watcher.split_once(':').unwrap();
    let mut r =
        e.s.http
            .get(e.s.url(&format!("/operations/{id}/events")))
            .basic_auth(wu, Some(wp))
            .send()
            .await
            .unwrap();
    assert_eq!(r.status(), 200);
    // Events flow while the key holds.
    let first = tokio::time::timeout(Duration::from_secs(10), r.chunk())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(String::from_utf8_lossy(&first).contains("event: "));
    let (status, body) = e.s.admin_delete(&format!("/admin/keys/{wu}")).await;
    assert_eq!(status, 200, "{body}");
    let revoked = Instant::now();
    // The stream ends (the operation, in its 30 s init, does not).
    let ended = tokio::time::timeout(Duration::from_secs(15), async {
        while let Ok(Some(_)) = r.chunk().await {}
    })
    .await;
    assert!(ended.is_ok(), "the stream outlived its key by 15 s");
    let (_, op) = e.operation(&id).await;
    assert_eq!(op["status"], "running", "{op}");
    eprintln!("stream ended {:?} after the revocation", revoked.elapsed());
}
