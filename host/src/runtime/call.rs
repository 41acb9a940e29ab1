//! One call into a plugin: a warm instance of the caller's organisation from
//! the version's pool ([`super::warm`]) or a fresh `Store` with the memory
//! limiter and instantiation from the pre-linked component; the epoch
//! deadline armed for this call; the call itself under a wall-clock timeout;
//! the classification of failures; the instance back to the pool, or
//! discarded.
//!
//! An endpoint plugin version is called through an [`EndpointPre`], which
//! resolves its `handler` exports once per loaded version, so a call does no
//! export lookup by name and no type check beyond the first.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt as _;
use tokio::sync::{Semaphore, SemaphorePermit};
use wasmtime::component::{ComponentExportIndex, Func, InstancePre, TypedFunc};
use wasmtime::{Store, Trap};

use super::engine::TICK;
use super::warm::{Isolation, Pool, Warm};
use super::{CallContext, HostServices, PluginState};
use crate::bindings::wit_types::{PluginInfo, Request, Response};

/// The interface every endpoint plugin exports.
const HANDLER: &str = "computehub:platform/handler@0.1.0";

/// An endpoint plugin version ready to be called: its pre-linked component
/// and the indices of its `handle` and `describe` exports.
#[derive(Clone)]
pub struct EndpointPre {
    pre: InstancePre<PluginState>,
    handle: ComponentExportIndex,
    describe: ComponentExportIndex,
    /// Whether `handle`'s type has been checked against the bindings. Every
    /// instance of `pre` is of the same component, so one check covers all.
    handle_checked: Arc<AtomicBool>,
    /// Warm instances of this version, by organisation.
    pub pool: Arc<Pool<Func>>,
}

impl EndpointPre {
    /// Resolve the `handler` exports of `pre` (fails if it has none); a
    /// fresh instance per request until [`Self::with_pool`].
    pub fn new(pre: InstancePre<PluginState>) -> anyhow::Result<Self> {
        let component = pre.component();
        let missing = |what: &str| anyhow::anyhow!("the component does not export `{what}`");
        let iface = component
            .get_export_index(None, HANDLER)
            .ok_or_else(|| missing(HANDLER))?;
        let handle = component
            .get_export_index(Some(&iface), "handle")
            .ok_or_else(|| missing("handler.handle"))?;
        let describe = component
            .get_export_index(Some(&iface), "describe")
            .ok_or_else(|| missing("handler.describe"))?;
        Ok(EndpointPre {
            pre,
            handle,
            describe,
            handle_checked: Arc::new(AtomicBool::new(false)),
            pool: Arc::new(Pool::unpooled()),
        })
    }

    /// The same version with its instances kept in `pool`.
    pub fn with_pool(mut self, pool: Arc<Pool<Func>>) -> Self {
        self.pool = pool;
        self
    }

    pub fn instance_pre(&self) -> &InstancePre<PluginState> {
        &self.pre
    }

    /// Instantiate into `store`: the `handle` export.
    async fn instantiate(&self, store: &mut Store<PluginState>) -> wasmtime::Result<Func> {
        let instance = self.pre.instantiate_async(&mut *store).await?;
        instance
            .get_func(&mut *store, self.handle)
            .ok_or_else(|| wasmtime::format_err!("the instance has no `handle` export"))
    }

    /// Call `handle` (`func`, of an instance in `store`).
    async fn call_handle(
        &self,
        store: &mut Store<PluginState>,
        func: Func,
        req: &Request,
    ) -> wasmtime::Result<Response> {
        let typed = if self.handle_checked.load(Ordering::Acquire) {
            // SAFETY: `handle_checked` is set only after `Func::typed` below
            // accepted these parameter and result types for this export of
            // this component; every instance of `self.pre` is of that same
            // component, so its `handle` has the same type.
            unsafe { TypedFunc::<(&Request,), (Response,)>::new_unchecked(func) }
        } else {
            let typed = func.typed::<(&Request,), (Response,)>(&*store)?;
            self.handle_checked.store(true, Ordering::Release);
            typed
        };
        let (resp,) = typed.call_async(&mut *store, (req,)).await?;
        Ok(resp)
    }

    /// Instantiate into `store` and call `describe`.
    async fn call_describe(&self, store: &mut Store<PluginState>) -> wasmtime::Result<PluginInfo> {
        let instance = self.pre.instantiate_async(&mut *store).await?;
        let describe = instance.get_typed_func::<(), (PluginInfo,)>(&mut *store, self.describe)?;
        let (info,) = describe.call_async(&mut *store, ()).await?;
        Ok(info)
    }
}

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
    store.epoch_deadline_trap();
    arm(&mut store, deadline);
    store
}

/// Arm the store's epoch deadline for one call (again for each call of a
/// warm instance: the deadline counts from now).
pub fn arm(store: &mut Store<PluginState>, deadline: Duration) {
    // One tick more than fits: the first tick may come at once, and the
    // deadline should not fire early.
    let ticks = (deadline.as_micros() / TICK.as_micros()) as u64 + 1;
    store.set_epoch_deadline(ticks);
}

/// A warm instance of the caller's organisation, its context set to this
/// call's; or a fresh one made by `make`.
pub async fn checkout<H: Send>(
    pool: &Pool<H>,
    engine: &wasmtime::Engine,
    ctx: CallContext,
    services: &Arc<HostServices>,
    deadline: Duration,
    make: impl AsyncFnOnce(&mut Store<PluginState>) -> wasmtime::Result<H>,
) -> Result<Warm<H>, CallError> {
    if let Some(mut w) = pool.checkout(ctx.organisation.as_deref()) {
        w.store.data_mut().ctx = ctx;
        arm(&mut w.store, deadline);
        return Ok(w);
    }
    let mut store = new_store(engine, ctx, Arc::clone(services), deadline);
    match with_deadline(deadline, make(&mut store)).await {
        Ok(handle) => {
            pool.created();
            Ok(Warm::new(store, handle))
        }
        Err(e) => {
            store.data().flush_output();
            Err(e)
        }
    }
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
///
/// A mapped future, not an `async fn`: one would hold `fut` twice, as its
/// argument and inside the timeout it awaits (rust-lang/rust#62958), and
/// so would every request in flight.
pub fn with_deadline<T>(
    deadline: Duration,
    fut: impl Future<Output = wasmtime::Result<T>>,
) -> impl Future<Output = Result<T, CallError>> {
    // A little slack so the epoch trap, which names the cause, usually wins.
    tokio::time::timeout(deadline + Duration::from_millis(50), fut).map(move |r| match r {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(classify(e, deadline)),
        Err(_) => Err(CallError::Deadline(deadline)),
    })
}

/// A slot of the plugin's concurrency limit: at once when one is free, else
/// waiting a little, not the whole deadline (overload should shed).
async fn permit(permits: &Semaphore, deadline: Duration) -> Result<SemaphorePermit<'_>, CallError> {
    if let Ok(p) = permits.try_acquire() {
        return Ok(p);
    }
    let wait = deadline.min(Duration::from_millis(500));
    tokio::time::timeout(wait, permits.acquire())
        .await
        .map_err(|_| CallError::Busy)?
        .map_err(|_| CallError::Busy)
}

/// Serve one request with an endpoint plugin version.
pub async fn handle_endpoint(
    endpoint: &EndpointPre,
    permits: &Semaphore,
    services: &Arc<HostServices>,
    ctx: CallContext,
    deadline: Duration,
    req: Request,
) -> Result<Response, CallError> {
    let _permit = permit(permits, deadline).await?;
    let pool = &endpoint.pool;
    let org = ctx.organisation.clone();
    let mut w = checkout(
        pool,
        endpoint.pre.engine(),
        ctx,
        services,
        deadline,
        async |store: &mut Store<PluginState>| Box::pin(endpoint.instantiate(store)).await,
    )
    .await?;
    let func = w.handle;
    let result = with_deadline(deadline, endpoint.call_handle(&mut w.store, func, &req)).await;
    w.store.data().flush_output();
    pool.checkin(w, org.as_deref(), result.is_ok());
    result
}

/// Serve one request with the endpoint plugin pre-linked as `pre`. Resolves
/// its exports first; [`handle_endpoint`] with an [`EndpointPre`] made once
/// per version does not.
pub async fn handle(
    _engine: &wasmtime::Engine,
    pre: &InstancePre<PluginState>,
    permits: &Semaphore,
    services: Arc<HostServices>,
    ctx: CallContext,
    deadline: Duration,
    req: Request,
) -> Result<Response, CallError> {
    let endpoint = EndpointPre::new(pre.clone()).map_err(|e| CallError::Trap(format!("{e:#}")))?;
    debug_assert_eq!(endpoint.pool.isolation, Isolation::Request);
    handle_endpoint(&endpoint, permits, &services, ctx, deadline, req).await
}

/// Ask an endpoint plugin for its name, version and routes.
pub async fn describe(
    endpoint: &EndpointPre,
    services: Arc<HostServices>,
    plugin: &str,
) -> Result<PluginInfo, CallError> {
    let ctx = CallContext {
        plugin: plugin.into(),
        request_id: "describe".into(),
        organisation: None,
        operation: None,
    };
    let deadline = Duration::from_secs(5);
    // Never pooled: `describe` runs once per load, not for an organisation.
    let mut store = new_store(endpoint.pre.engine(), ctx, services, deadline);
    let result = with_deadline(deadline, endpoint.call_describe(&mut store)).await;
    store.data().flush_output();
    result
}
