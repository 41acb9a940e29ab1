//! One call into a plugin: a fresh `Store` with the memory limiter and an
//! epoch deadline, instantiation from the pre-linked component, the call
//! itself under a wall-clock timeout, and the classification of failures.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use wasmtime::component::InstancePre;
use wasmtime::{Store, Trap};

use super::bindings::endpoint::{exports::computehub::platform::handler, EndpointPluginPre};
use super::bindings::wit_types::{PluginInfo, Request, Response};
use super::engine::TICK;
use super::{CallContext, HostServices, PluginState};

/// Why a call produced no response.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("plugin is at its concurrency limit")]
    Busy,
    #[error("plugin exceeded its deadline of {0:?}")]
    Deadline(Duration),
    #[error("plugin exceeded its memory limit")]
    Memory,
    #[error("plugin trapped: {0}")]
    Trap(String),
}

impl CallError {
    pub fn status(&self) -> u16 {
        match self {
            CallError::Busy | CallError::Deadline(_) => 503,
            CallError::Memory | CallError::Trap(_) => 500,
        }
    }
}

/// A store for one call, its epoch deadline armed.
pub fn new_store(
    engine: &wasmtime::Engine,
    ctx: CallContext,
    services: Arc<HostServices>,
    deadline: Duration,
) -> Store<PluginState> {
    let mut store = Store::new(engine, PluginState::new(ctx, services));
    store.limiter(|s| &mut s.limits);
    let ticks = (deadline.as_micros() / TICK.as_micros()).max(1) as u64;
    store.set_epoch_deadline(ticks);
    store.epoch_deadline_trap();
    store
}

/// Turn a wasmtime error into what the client is told (details are logged).
pub fn classify(err: wasmtime::Error, deadline: Duration) -> CallError {
    let text = format!("{err:#}");
    match err.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => CallError::Deadline(deadline),
        // StoreLimits with `trap_on_grow_failure` words it so.
        _ if text.contains("forcing trap when growing memory") => CallError::Memory,
        Some(trap) => CallError::Trap(trap.to_string()),
        None => CallError::Trap(text),
    }
}

/// Run `fut` (which drives the store) under the wall-clock deadline too, since
/// the epoch only interrupts guest code, not host awaits.
pub async fn with_deadline<T>(
    deadline: Duration,
    fut: impl std::future::Future<Output = wasmtime::Result<T>>,
) -> Result<T, CallError> {
    // A little slack so the epoch trap, which names the cause, usually wins.
    match tokio::time::timeout(deadline + Duration::from_millis(50), fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(classify(e, deadline)),
        Err(_) => Err(CallError::Deadline(deadline)),
    }
}

/// Serve one request with an endpoint plugin.
pub async fn handle(
    engine: &wasmtime::Engine,
    pre: &InstancePre<PluginState>,
    permits: &Semaphore,
    services: Arc<HostServices>,
    ctx: CallContext,
    deadline: Duration,
    req: Request,
) -> Result<Response, CallError> {
    // Wait a little for a slot, not the whole deadline: overload should shed.
    let wait = deadline.min(Duration::from_millis(500));
    let _permit = tokio::time::timeout(wait, permits.acquire())
        .await
        .map_err(|_| CallError::Busy)?
        .map_err(|_| CallError::Busy)?;
    let mut store = new_store(engine, ctx, services, deadline);
    let result = with_deadline(deadline, async {
        let plugin = EndpointPluginPre::new(pre.clone())?
            .instantiate_async(&mut store)
            .await?;
        plugin
            .computehub_platform_handler()
            .call_handle(&mut store, &req)
            .await
    })
    .await;
    store.data().flush_output();
    result
}

/// Ask an endpoint plugin for its name, version and routes.
pub async fn describe(
    engine: &wasmtime::Engine,
    pre: &InstancePre<PluginState>,
    services: Arc<HostServices>,
    plugin: &str,
) -> Result<PluginInfo, CallError> {
    let ctx = CallContext {
        plugin: plugin.into(),
        request_id: "describe".into(),
        organisation: None,
    };
    let deadline = Duration::from_secs(5);
    let mut store = new_store(engine, ctx, services, deadline);
    let result = with_deadline(deadline, async {
        let p = EndpointPluginPre::new(pre.clone())?
            .instantiate_async(&mut store)
            .await?;
        let h: &handler::Guest = p.computehub_platform_handler();
        h.call_describe(&mut store).await
    })
    .await;
    store.data().flush_output();
    result
}
