//! Scheduling benchmark (not a test): the time to check 1,000 products
//! against 10, 1,000 and 10,000 nodes, through the same path an endpoint
//! plugin's `scheduling.fit` import takes (host bridge + the built-in
//! scheduling engine component), and through the engine call alone.
//! Target: 10,000 nodes x 1,000 products <= 100 ms, growing linearly.
//!
//! Run: `cargo bench --bench scheduling`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test: a failed step fails it

use std::sync::Arc;
use std::time::{Duration, Instant};

use computehub::bindings::endpoint::computehub::platform::scheduling::{
    Host, Node, Product, Resources, Taint,
};
use computehub::capabilities::engines::EnginesView;
use computehub::capabilities::Capabilities;
use computehub::runtime::{CallContext, EngineHandle, HostServices, Limits, Role, Runtime};
use computehub::store::Store;

const PLUGINS: &str = env!("COMPUTEHUB_TEST_PLUGINS");

/// A deterministic pseudo-random sequence (no dependency, same every run).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

fn nodes(n: usize, rng: &mut Lcg) -> Vec<Node> {
    (0..n)
        .map(|i| {
            let gpus = if i % 4 == 0 { 8 } else { 0 };
            Node {
                name: format!("node-{i:05}"),
                allocatable: Resources {
                    cpu_milli: 64_000,
                    memory_bytes: 256 << 30,
                    gpu: gpus,
                    disk_bytes: 2 << 40,
                    pods: 110,
                },
                requested: Resources {
                    cpu_milli: rng.next(64_000),
                    memory_bytes: rng.next(256 << 30),
                    gpu: if gpus > 0 { rng.next(9) } else { 0 },
                    disk_bytes: rng.next(2 << 40),
                    pods: rng.next(110),
                },
                labels: vec![
                    ("kyy-gpu".into(), (gpus > 0).to_string()),
                    ("zone".into(), format!("z{}", i % 3)),
                ],
                gpu_model: (gpus > 0).then(|| "RTX4090-24G".to_string()),
                unschedulable: i % 50 == 7,
                taints: if i % 100 == 3 {
                    vec![Taint {
                        key: "dedicated".into(),
                        value: "infra".into(),
                        effect: "NoSchedule".into(),
                    }]
                } else {
                    vec![]
                },
            }
        })
        .collect()
}

fn products(n: usize, rng: &mut Lcg) -> Vec<Product> {
    (0..n)
        .map(|i| {
            let gpu = if i % 3 == 0 { 1 + rng.next(4) } else { 0 };
            Product {
                id: format!("p{i}"),
                requests: Resources {
                    cpu_milli: 500 + rng.next(40_000),
                    memory_bytes: (1 + rng.next(200)) << 30,
                    gpu,
                    disk_bytes: (10 + rng.next(500)) << 30,
                    pods: 1,
                },
                gpu_model: (gpu > 0).then(|| "RTX4090-24G".to_string()),
                // Every tenth product asks for a label no node has: a full scan.
                labels: if i % 10 == 0 {
                    vec![("zone".into(), "nowhere".into())]
                } else {
                    vec![("zone".into(), format!("z{}", i % 3))]
                },
            }
        })
        .collect()
}

fn main() {
    computehub::memory::configure();
    let rt = computehub::cli::runtime_tokio().expect("tokio");
    rt.block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(Store::open(dir.path()).await.expect("store"));
        let services = HostServices::new(Capabilities::new(store), Limits::default());
        let runtime = Runtime::new(
            dir.path().join("cache"),
            Limits::default(),
            services.clone(),
        )
        .expect("runtime");
        let wasm = std::fs::read(format!("{PLUGINS}/scheduling.wasm")).expect("scheduling.wasm");
        let loaded = runtime
            .load(
                "scheduling",
                Role::Scheduling,
                &wasm,
                &[],
                computehub::runtime::Isolation::Organisation,
            )
            .await
            .expect("load");
        services
            .engines
            .scheduling
            .store(Some(Arc::new(EngineHandle {
                id: "scheduling".into(),
                role: Role::Scheduling,
                pre: loaded.pre,
                pool: services
                    .warm
                    .pool(computehub::runtime::Isolation::Organisation),
            })));
        let mut rng = Lcg(42);
        let prods = products(1000, &mut rng);
        println!("1,000 products (1 in 10 unplaceable by label: a full scan each)");
        for n in [10usize, 1_000, 10_000] {
            let ns = nodes(n, &mut rng);
            let mut best = Duration::MAX;
            let mut unplaceable = 0;
            for _ in 0..5 {
                let ctx = CallContext {
                    plugin: "bench".into(),
                    request_id: "bench".into(),
                    organisation: None,
                    operation: None,
                };
                let mut state = EnginesView::new(&services, &ctx);
                let t = Instant::now();
                let v = state
                    .fit(prods.clone(), ns.clone(), false)
                    .await
                    .expect("fit");
                best = best.min(t.elapsed());
                unplaceable = v.iter().filter(|v| v.node.is_none()).count();
            }
            let per_node = best.as_secs_f64() * 1e6 / n as f64;
            println!(
                "{n:>6} nodes: {:>8.2} ms  ({per_node:.2} µs per node; {unplaceable} unplaceable)",
                best.as_secs_f64() * 1e3
            );
        }
    });
}
