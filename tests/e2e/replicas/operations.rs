//! Operations across replicas: the per-target lock, and the operations of
//! a replica that died (interrupted within its lease).

use super::*;

async fn new_cluster(s: &Server, cred: (&str, &str), m: &Machine, prefer_async: bool) -> Answer {
    let port = m.port.to_string();
    crate::provision::post(
        s,
        cred,
        "new_cluster",
        &[
            ("host", "127.0.0.1"),
            ("port", &port),
            ("user", USER),
            ("psssword", PASSWORD),
            ("role", "master"),
        ],
        prefer_async,
    )
    .await
}

async fn operation(s: &Server, cred: (&str, &str), id: &str) -> (u16, Value) {
    let r = s
        .http
        .get(s.url(&format!("/operations/{id}")))
        .basic_auth(cred.0, Some(cred.1))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Poll `id` through `s` until `done` holds (at most `limit`).
async fn wait_operation(
    s: &Server,
    cred: (&str, &str),
    id: &str,
    limit: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let (status, op) = operation(s, cred, id).await;
        assert_eq!(status, 200, "{op}");
        if done(&op) {
            return op;
        }
        assert!(Instant::now() < deadline, "gave up waiting: {op}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn init_running(op: &Value) -> bool {
    op["phases"].as_array().is_some_and(|ps| {
        ps.iter()
            .any(|p| p["name"] == "init" && p["status"] == "running")
    })
}

fn pcapi_replicas(args: Vec<&'static str>) -> Replicas {
    replicas_with(
        3,
        || Options {
            config: crate::provision::CONFIG,
            plugins: vec![],
            args: args.clone(),
            ..Options::default()
        },
        |_, url| url.to_string(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn two_operations_on_one_machine_through_two_replicas_one_conflict() {
    let r = pcapi_replicas(Vec::new());
    let sim = simcluster::SimCluster::start(simcluster::ClusterSpec::new("prov")).unwrap();
    let m = Machine::start("node-m", "127.0.0.2");
    m.attach(&sim);
    // The lock is held for the whole run: long enough that the second
    // request, sent at the same moment, meets it.
    m.slow("kubeadm-init", 4.0);
    let basic = r.s[0].key("acme", "basic");
    let (user, pass) = basic.split_once(':').unwrap();
    let cred = (user, pass);

    let (a, b) = tokio::join!(
        new_cluster(&r.s[0], cred, &m, true),
        new_cluster(&r.s[1], cred, &m, true)
    );
    let (won, lost) = if a.status == 202 { (a, b) } else { (b, a) };
    assert_eq!(won.status, 202, "{}", won.body);
    let id = won.body["data"]["operation_id"]
        .as_str()
        .unwrap()
        .to_string();
    let info = lost.failed();
    assert!(
        info.contains("is locked") && info.contains(&id),
        "exactly one of the two meets the lock: {info}"
    );
    // One operation in the store, the winner's; the refused one ran nothing.
    let ops = r.psql("SELECT id, status FROM operations ORDER BY id");
    assert_eq!(ops, format!("{id}|running"), "{ops}");
    // The third replica follows it live over its event stream (woken by
    // the other replica's notices) to the end, then answers it as done.
    let evs = crate::provision_async::events(&r.s[2], &id, cred).await;
    let names: Vec<&str> = evs.iter().map(|(e, _, _)| e.as_str()).collect();
    assert_eq!(names.first(), Some(&"started"), "{names:?}");
    assert!(names.contains(&"phase"), "{names:?}");
    let (last, data, _) = evs.last().expect("events");
    assert_eq!(last, "finished", "{evs:?}");
    assert_eq!(data["data"]["status"], "succeeded", "{data}");
    let op = wait_operation(&r.s[2], cred, &id, Duration::from_secs(60), |op| {
        op["status"] != "running"
    })
    .await;
    assert_eq!(op["status"], "succeeded", "{op}");
    let ops = r.psql("SELECT id, status FROM operations ORDER BY id");
    assert_eq!(ops, format!("{id}|succeeded"), "{ops}");
    let inits = m
        .commands()
        .iter()
        .filter(|c| c.starts_with("kubeadm init"))
        .count();
    assert_eq!(inits, 1, "{:?}", m.commands());
    let nodes: Vec<String> = sim
        .list("v1", "Node", None)
        .iter()
        .map(|n| n["metadata"]["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(nodes, ["node-m"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_operation_of_a_killed_replica_is_interrupted_within_its_lease() {
    let mut r = pcapi_replicas(vec!["--operation-lease-ms", "2000"]);
    let sim = simcluster::SimCluster::start(simcluster::ClusterSpec::new("prov")).unwrap();
    let m = Machine::start("node-m", "127.0.0.2");
    m.attach(&sim);
    m.slow("kubeadm-init", 30.0);
    let basic = r.s[0].key("acme", "basic");
    let (user, pass) = basic.split_once(':').unwrap();
    let cred = (user, pass);

    let a = new_cluster(&r.s[0], cred, &m, true).await;
    assert_eq!(a.status, 202, "{}", a.body);
    let id = a.body["data"]["operation_id"].as_str().unwrap().to_string();
    wait_operation(&r.s[1], cred, &id, Duration::from_secs(30), init_running).await;
    // While its replica lives and renews the lease, the others leave it
    // running (well past one lease).
    tokio::time::sleep(Duration::from_secs(5)).await;
    for s in &r.s[1..] {
        let (_, op) = operation(s, cred, &id).await;
        assert_eq!(op["status"], "running", "{op}");
    }

    r.s[0].kill();
    let killed = Instant::now();
    let op = wait_operation(&r.s[1], cred, &id, Duration::from_secs(20), |op| {
        op["status"] != "running"
    })
    .await;
    let lag = killed.elapsed();
    eprintln!("operation interrupted {lag:?} after its replica's kill -9 (lease 2 s)");
    assert_eq!(op["status"], "interrupted", "{op}");
    assert!(op["finished_at"].is_string(), "{op}");
    let init = op["phases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "init")
        .unwrap();
    assert_eq!(init["status"], "interrupted", "{op}");
    assert!(
        lag < Duration::from_secs(2) + Duration::from_secs(3),
        "interrupted only {lag:?} after the kill"
    );
    // The third replica agrees, and so does the store.
    let (_, seen) = operation(&r.s[2], cred, &id).await;
    assert_eq!(seen["status"], "interrupted");
    let stored = r.psql(&format!("SELECT status FROM operations WHERE id = '{id}'"));
    assert_eq!(stored, "interrupted");
    // The lock went with it: the machine can be operated on again.
    let again = new_cluster(&r.s[2], cred, &m, true).await;
    assert_eq!(again.status, 202, "{}", again.body);
}
