//! What one plugin call's `Store` holds: a WASI context without authority,
//! its memory limiter, the call's context (plugin, request, organisation) and
//! the host services; and the linker, each capability projected out of that
//! state by its own view.

use std::sync::Arc;

use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{Engine, ResourceLimiter, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::active::ActiveEngines;
use crate::capabilities::engines::EngineRunner;
use crate::capabilities::{CallContext, Capabilities, HasCapabilities};

/// Bytes of stdout/stderr kept per call (the rest is dropped).
const OUTPUT_CAP: usize = 64 * 1024;

/// What every call's store shares: the state of each capability, the
/// active engines, the limits, and the warm-instance pools. A capability
/// reaches only its own state, through its view ([`HasCapabilities`]).
pub struct HostServices {
    pub capabilities: Capabilities,
    pub engines: ActiveEngines,
    pub limits: super::Limits,
    /// Every warm-instance pool, its bounds and the host-wide budget.
    pub warm: Arc<super::warm::Pools>,
}

impl HostServices {
    pub fn new(capabilities: Capabilities, limits: super::Limits) -> Arc<Self> {
        Arc::new(HostServices {
            capabilities,
            engines: ActiveEngines::default(),
            // Idle warm instances hold pooling-allocator slots: keep at most
            // half of them, so fresh instances always find room.
            warm: Arc::new(super::warm::Pools::new(
                (limits.pool_instances / 2) as usize,
                super::warm::WarmSettings {
                    high_water: limits.memory_bytes / 2,
                    // As many as one plugin serves at once: an organisation
                    // at full concurrency finds a warm instance every time.
                    per_key: limits.max_concurrency.max(1),
                    ..Default::default()
                },
            )),
            limits,
        })
    }
}

pub struct PluginState {
    /// Built on the plugin's first WASI call: most calls make none, and
    /// building a context (clocks, random sources, pipes) is a measurable
    /// part of a trivial call. Built lazily or not, it is the same context.
    wasi: Option<Box<Wasi>>,
    table: ResourceTable,
    pub(super) limits: Limiter,
    pub ctx: CallContext,
    pub services: Arc<HostServices>,
}

/// The store's limits, and the most linear memory it held (a warm instance
/// past the pool's high-water mark is not reused).
///
/// The memory cap is the whole store's: a component may have many core
/// modules, each with a memory of its own, and a cap per memory would let
/// it hold that many times the cap.
pub struct Limiter {
    limits: StoreLimits,
    cap: usize,
    /// The bytes of every memory of the store, added up.
    total: usize,
    peak: usize,
}

impl Limiter {
    fn new(cap: usize) -> Self {
        let limits = StoreLimitsBuilder::new()
            .memory_size(cap)
            .table_elements(TABLE_ELEMENTS)
            .instances(64)
            .tables(64)
            .memories(8)
            .trap_on_grow_failure(true)
            .build();
        Limiter {
            limits,
            cap,
            total: 0,
            peak: 0,
        }
    }
}

/// Elements of one table at most (the pooling allocator's own bound,
/// enforced here too for the on-demand allocator a platform may force).
const TABLE_ELEMENTS: usize = 20_000;

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = self.total.saturating_sub(current).saturating_add(desired);
        if total > self.cap {
            // The text `classify` knows a memory-cap failure by.
            return Err(wasmtime::format_err!(
                "forcing trap when growing memory: the instance's memories would hold {total} bytes, more than its {} byte cap",
                self.cap
            ));
        }
        let ok = self.limits.memory_growing(current, desired, maximum)?;
        if ok {
            self.total = total;
            self.peak = self.peak.max(total);
        }
        Ok(ok)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.limits.memory_grow_failed(error)
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.limits.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}

/// A WASI context without authority and the pipes its stdout and stderr
/// write into.
struct Wasi {
    ctx: WasiCtx,
    stdout: MemoryOutputPipe,
    stderr: MemoryOutputPipe,
}

impl Wasi {
    fn new() -> Box<Self> {
        let stdout = MemoryOutputPipe::new(OUTPUT_CAP);
        let stderr = MemoryOutputPipe::new(OUTPUT_CAP);
        let ctx = WasiCtx::builder()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        Box::new(Wasi {
            ctx,
            stdout,
            stderr,
        })
    }
}

impl PluginState {
    pub fn new(ctx: CallContext, services: Arc<HostServices>) -> Self {
        PluginState {
            wasi: None,
            table: ResourceTable::new(),
            limits: Limiter::new(services.limits.memory_bytes),
            ctx,
            services,
        }
    }

    /// Whether every resource handed to the guest was dropped.
    pub fn table_is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// The most linear memory this store held (all its memories).
    pub fn memory_peak(&self) -> usize {
        self.limits.peak
    }

    /// Between two requests of a warm instance (its output already
    /// flushed): the WASI context (pipes, clocks, random sources) is
    /// dropped, to be built afresh by the next request that uses WASI.
    pub fn reset_between_requests(&mut self) {
        self.wasi = None;
    }

    /// Write what the guest printed into the log, one event per line.
    pub fn flush_output(&self) {
        let Some(wasi) = &self.wasi else {
            return;
        };
        for (stream, pipe) in [("stdout", &wasi.stdout), ("stderr", &wasi.stderr)] {
            let bytes = pipe.contents();
            if bytes.is_empty() {
                continue;
            }
            for line in String::from_utf8_lossy(&bytes).lines() {
                let line = crate::telemetry::one_line(line);
                tracing::info!(plugin = %self.ctx.plugin, stream, "{line}");
            }
        }
    }
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        let wasi = self.wasi.get_or_insert_with(Wasi::new);
        WasiCtxView {
            ctx: &mut wasi.ctx,
            table: &mut self.table,
        }
    }
}

impl HasCapabilities for PluginState {
    fn capabilities(&self) -> &Capabilities {
        &self.services.capabilities
    }

    fn call_context(&self) -> &CallContext {
        &self.ctx
    }

    fn engine_runner(&self) -> &dyn EngineRunner {
        &self.services
    }
}

/// The linker every plugin is pre-instantiated against: WASI p2 plus the
/// capabilities this host serves ([`crate::capabilities::add_to_linker`]).
pub fn linker(engine: &Engine) -> anyhow::Result<Linker<PluginState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    crate::capabilities::add_to_linker(&mut linker)?;
    Ok(linker)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: usize = 1 << 20;

    #[test]
    fn the_memory_cap_holds_for_all_memories_together() {
        let mut l = Limiter::new(64 * MIB);
        // Two memories of 30 MiB each fit; a third is past the cap although
        // each alone is far below it.
        assert!(l.memory_growing(0, 30 * MIB, None).unwrap());
        assert!(l.memory_growing(0, 30 * MIB, None).unwrap());
        let e = l.memory_growing(0, 30 * MIB, None).unwrap_err();
        assert!(
            e.to_string().contains("forcing trap when growing memory"),
            "{e}"
        );
        // A memory growing counts only what it adds.
        assert!(l.memory_growing(30 * MIB, 34 * MIB, None).unwrap());
        assert!(l.memory_growing(34 * MIB, 35 * MIB, None).is_err());
        assert_eq!(l.peak, 64 * MIB);
    }

    #[test]
    fn tables_are_bounded_without_the_pooling_allocator() {
        let mut l = Limiter::new(64 * MIB);
        assert!(l.table_growing(0, TABLE_ELEMENTS, None).unwrap());
        assert!(l.table_growing(0, TABLE_ELEMENTS + 1, None).is_err());
    }
}
