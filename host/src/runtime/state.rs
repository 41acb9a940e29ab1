//! What one plugin call's `Store` holds: a WASI context without authority,
//! its memory limiter, the call's context (plugin, request, organisation) and
//! the host services capabilities use.

use std::sync::Arc;

use arc_swap::ArcSwapOption;
use wasmtime::component::{HasSelf, InstancePre, Linker, ResourceTable};
use wasmtime::{Engine, StoreLimits, StoreLimitsBuilder};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::endpoint::computehub::platform as wit;
use crate::store::Store;

/// Bytes of stdout/stderr kept per call (the rest is dropped).
const OUTPUT_CAP: usize = 64 * 1024;

/// The active pricing and scheduling engines, published by the registry on
/// every swap so the `pricing` and `scheduling` imports always reach the
/// current one.
#[derive(Default)]
pub struct ActiveEngines {
    pub pricing: ArcSwapOption<EngineHandle>,
    pub scheduling: ArcSwapOption<EngineHandle>,
}

pub struct EngineHandle {
    pub id: String,
    pub pre: InstancePre<PluginState>,
}

/// Services shared by every call.
pub struct HostServices {
    pub store: Arc<Store>,
    pub engines: ActiveEngines,
    pub limits: super::Limits,
    /// Kubernetes clients per cluster.
    pub kube: crate::capabilities::kubernetes::Clients,
    /// Pooled SSH connections and the explicit-target policy.
    pub ssh: crate::capabilities::ssh::Ssh,
    /// Persisted long operations.
    pub operations: Arc<crate::operations::Operations>,
    /// The operation link of each request in flight.
    pub op_links: crate::capabilities::operations::Links,
}

impl HostServices {
    pub fn new(store: Arc<Store>, limits: super::Limits) -> Arc<Self> {
        Arc::new(HostServices {
            engines: ActiveEngines::default(),
            limits,
            kube: Default::default(),
            ssh: Default::default(),
            operations: Arc::new(crate::operations::Operations::new(Arc::clone(&store))),
            op_links: Default::default(),
            store,
        })
    }
}

/// Who is calling and on whose behalf.
#[derive(Debug, Clone)]
pub struct CallContext {
    pub plugin: Arc<str>,
    pub request_id: Arc<str>,
    /// The authenticated organisation; inventory calls are scoped to it.
    pub organisation: Option<String>,
}

pub struct PluginState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(super) limits: StoreLimits,
    pub ctx: CallContext,
    pub services: Arc<HostServices>,
    pub(super) stdout: MemoryOutputPipe,
    pub(super) stderr: MemoryOutputPipe,
}

impl PluginState {
    pub fn new(ctx: CallContext, services: Arc<HostServices>) -> Self {
        let stdout = MemoryOutputPipe::new(OUTPUT_CAP);
        let stderr = MemoryOutputPipe::new(OUTPUT_CAP);
        let wasi = WasiCtx::builder()
            .stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let limits = StoreLimitsBuilder::new()
            .memory_size(services.limits.memory_bytes)
            .instances(64)
            .tables(64)
            .memories(8)
            .trap_on_grow_failure(true)
            .build();
        PluginState {
            wasi,
            table: ResourceTable::new(),
            limits,
            ctx,
            services,
            stdout,
            stderr,
        }
    }

    /// Write what the guest printed into the log, one event per line.
    pub fn flush_output(&self) {
        for (stream, pipe) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
            let bytes = pipe.contents();
            if bytes.is_empty() {
                continue;
            }
            for line in String::from_utf8_lossy(&bytes).lines() {
                tracing::info!(plugin = %self.ctx.plugin, stream, "{line}");
            }
        }
    }
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// The linker every plugin is pre-instantiated against: WASI p2 plus the
/// capabilities this host serves. A capability the host did not serve would
/// not be linked, so nothing could call a pretend implementation.
pub fn linker(engine: &Engine) -> anyhow::Result<Linker<PluginState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wit::log::add_to_linker::<_, HasSelf<PluginState>>(&mut linker, |s| s)?;
    wit::inventory::add_to_linker::<_, HasSelf<PluginState>>(&mut linker, |s| s)?;
    wit::pricing::add_to_linker::<_, HasSelf<PluginState>>(&mut linker, |s| s)?;
    wit::scheduling::add_to_linker::<_, HasSelf<PluginState>>(&mut linker, |s| s)?;
    wit::kubernetes::add_to_linker::<_, HasSelf<PluginState>>(&mut linker, |s| s)?;
    wit::ssh::add_to_linker::<_, HasSelf<PluginState>>(&mut linker, |s| s)?;
    wit::operations::add_to_linker::<_, HasSelf<PluginState>>(&mut linker, |s| s)?;
    Ok(linker)
}
