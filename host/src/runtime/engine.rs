//! The wasmtime engine: component model, epoch interruption, and the pooling
//! instance allocator when the platform grants its reservation (on-demand
//! allocation otherwise, with a log line saying so).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// Limits applied to every plugin call.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Bytes of linear memory one instance may grow to.
    pub memory_bytes: usize,
    /// Deadline of routes that declare none.
    pub default_deadline: Duration,
    /// Calls one plugin serves at once.
    pub max_concurrency: usize,
    /// Instances the pool keeps slots for.
    pub pool_instances: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            memory_bytes: 64 << 20,
            default_deadline: Duration::from_secs(10),
            max_concurrency: 64,
            pool_instances: 256,
        }
    }
}

/// Bytes of each instance's linear memory reset in place between uses.
const KEEP_RESIDENT: usize = 2 << 20;

/// One epoch tick; deadlines are counted in ticks. Route deadlines are
/// hundreds of milliseconds or more, so 10 ms is precise enough, and the
/// ticker thread then wakes 100 times a second (at 1 ms it used about 1.4%
/// of a core).
pub const TICK: Duration = Duration::from_millis(10);

fn base_config() -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    if std::env::var("COMPUTEHUB_PERFMAP").is_ok() {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    config
}

pub fn build(limits: &Limits) -> anyhow::Result<Engine> {
    let mut config = base_config();
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(limits.pool_instances);
    pool.total_core_instances(limits.pool_instances * 4);
    pool.total_memories(limits.pool_instances * 2);
    pool.total_tables(limits.pool_instances * 4);
    pool.total_stacks(limits.pool_instances);
    pool.max_memory_size(limits.memory_bytes);
    pool.max_unused_warm_slots(limits.pool_instances / 4);
    // Reset the first pages of a slot in place instead of returning them to
    // the kernel: a fresh instance then touches warm memory instead of
    // faulting in zeroed pages (and the resets need no TLB shootdowns).
    pool.linear_memory_keep_resident(KEEP_RESIDENT);
    pool.table_keep_resident(64 << 10);
    pool.async_stack_keep_resident(64 << 10);
    pool.decommit_batch_size(16);
    pool.pagemap_scan(wasmtime::Enabled::Auto);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    match Engine::new(&config) {
        Ok(engine) => {
            tracing::info!(
                slots = limits.pool_instances,
                "plugin engine uses the pooling allocator"
            );
            Ok(engine)
        }
        Err(e) => {
            tracing::warn!(error = %e, "pooling allocator refused by the platform; falling back to on-demand allocation");
            Ok(Engine::new(&base_config())?)
        }
    }
}

/// Advances the engine's epoch every [`TICK`] on a thread of its own.
pub struct EpochTicker {
    stop: Arc<AtomicBool>,
}

impl EpochTicker {
    pub fn start(engine: Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let spawned = std::thread::Builder::new()
            .name("epoch-ticker".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(TICK);
                    engine.increment_epoch();
                }
            });
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the epoch ticker; deadlines fall back to wall-clock timeouts");
        }
        EpochTicker { stop }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
