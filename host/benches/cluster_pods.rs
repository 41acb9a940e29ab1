//! pcapi `get_cluster_pods` benchmark (not a test): latency with 10, 1,000,
//! 10,000 and 30,000 pods in a simulated cluster, through the real server,
//! the pcapi plugin (which reads the pods 500 at a time) and the kube-rs
//! capability. 30,000 pods are about 75 MB of list, beyond what one plugin
//! instance may hold (64 MiB): the board works because it pages.
//!
//! Run: `cargo bench --bench cluster_pods`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a failed step fails it

use std::time::{Duration, Instant};

use computehub::auth::{create_key, Scheme};
use computehub::config::Config;
use serde_json::json;
use simcluster::{ClusterSpec, NodeSpec, SimCluster};

const CALLS: usize = 20;

fn main() {
    computehub::memory::configure();
    let rt = computehub::cli::runtime_tokio().expect("tokio");
    rt.block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let (app, _) = computehub::cli::open_app(
            &dir.path().join("data"),
            dir.path().join("cache"),
            Config::default(),
            None,
            Some("bench".into()),
        )
        .await
        .expect("app");
        let cred = create_key(&app.store, "bench", Scheme::Basic)
            .await
            .expect("key")
            .credential;
        let (user, pass) = cred.split_once(':').expect("basic credential");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let running = std::sync::Arc::clone(&app);
        tokio::spawn(computehub::server::serve(
            listener,
            app,
            std::future::pending(),
        ));
        let http = reqwest::Client::new();
        println!("get_cluster_pods, {CALLS} calls each (p50 / p99 / max)");
        for pods in [10usize, 1_000, 10_000, 30_000] {
            let sim = SimCluster::start(
                ClusterSpec::new("bench")
                    .node(NodeSpec::control_plane("master"))
                    .node(
                        NodeSpec::new("worker-1")
                            .cpu("512")
                            .memory("2Ti")
                            .pods(30_000),
                    )
                    .node(
                        NodeSpec::new("worker-2")
                            .cpu("512")
                            .memory("2Ti")
                            .pods(30_000),
                    ),
            )
            .expect("sim");
            // pcapi reaches the simulation (loopback) only when it is named.
            running
                .registry
                .runtime
                .capabilities()
                .policy
                .add_kube_target("pcapi", sim.addr());
            for i in 0..pods {
                sim.create(json!({
                    "apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": format!("pod-{i:05}"), "namespace": "default"},
                    "spec": {"nodeName": if i % 2 == 0 { "worker-1" } else { "worker-2" },
                        "containers": [{"name": "c", "image": "busybox"}]},
                }))
                .expect("pod");
            }
            let kubeconfig = sim.kubeconfig_yaml();
            let expected = pods as u64 + count_system(&sim);
            let mut lat = Vec::with_capacity(CALLS);
            for _ in 0..CALLS + 2 {
                let t = Instant::now();
                let r = http
                    .get(format!(
                        "http://{addr}/pcapi/api/v1/cluster/common/get_cluster_pods"
                    ))
                    .query(&[("kubeconfig", kubeconfig.as_str())])
                    .basic_auth(user, Some(pass))
                    .send()
                    .await
                    .expect("send");
                assert_eq!(r.status(), 200);
                let bytes = r.bytes().await.expect("body");
                // Latency is until the whole body arrived; checking it is not.
                lat.push(t.elapsed());
                let body: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
                assert_eq!(body["data"]["total"].as_u64(), Some(expected));
            }
            lat.drain(..2); // warm-up: client, discovery
            lat.sort_unstable();
            let ms = |d: Duration| d.as_secs_f64() * 1e3;
            println!(
                "{pods:>6} pods: {:>8.2} ms / {:>8.2} ms / {:>8.2} ms",
                ms(lat[lat.len() / 2]),
                ms(lat[lat.len() * 99 / 100]),
                ms(lat[lat.len() - 1])
            );
        }
    });
}

/// Pods the simulation runs besides ours (none today; kept explicit).
fn count_system(sim: &SimCluster) -> u64 {
    sim.list("v1", "Pod", None)
        .iter()
        .filter(|p| p["metadata"]["namespace"] != "default")
        .count() as u64
}
