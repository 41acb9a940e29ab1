//! The active pricing and scheduling engines and the runtime's side of the
//! `engines` capability ([`EngineRunner`]): a call of an import runs on a
//! warm instance of the active engine kept for the calling organisation, or
//! a fresh one, with a deadline of its own inside the caller's; the instance
//! goes back to its pool, or is discarded if the call failed.

use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use wasmtime::component::InstancePre;

use super::call::{self, CallError};
use super::{HostServices, PluginState, Role};
use crate::bindings::pricing_engine::exports::computehub::platform::pricing as ep;
use crate::bindings::scheduling_engine::exports::computehub::platform::scheduling as es;
use crate::bindings::{pricing_engine, scheduling_engine};
use crate::capabilities::engines::{EngineCall, EngineFailure, EngineResult, EngineRunner};
use crate::capabilities::CallContext;

/// Budget of one engine call.
const ENGINE_DEADLINE: Duration = Duration::from_secs(5);

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
    pub role: Role,
    pub pre: InstancePre<PluginState>,
    /// Warm instances of this engine, by calling organisation.
    pub pool: Arc<super::warm::Pool<EngineInstance>>,
}

/// An engine instance's bindings (the handle of its warm pool).
pub enum EngineInstance {
    Pricing(pricing_engine::PricingEngine),
    Scheduling(scheduling_engine::SchedulingEngine),
}

impl EngineInstance {
    /// Instantiate `pre` into `store` as the engine of `role`.
    pub async fn instantiate(
        pre: &InstancePre<PluginState>,
        role: Role,
        store: &mut wasmtime::Store<PluginState>,
    ) -> wasmtime::Result<Self> {
        Ok(match role {
            Role::Scheduling => EngineInstance::Scheduling(
                scheduling_engine::SchedulingEnginePre::new(pre.clone())?
                    .instantiate_async(store)
                    .await?,
            ),
            _ => EngineInstance::Pricing(
                pricing_engine::PricingEnginePre::new(pre.clone())?
                    .instantiate_async(store)
                    .await?,
            ),
        })
    }
}

/// The context of a call into `engine`, on behalf of `caller`'s request.
fn engine_ctx(caller: &CallContext, engine: &EngineHandle) -> CallContext {
    CallContext {
        plugin: engine.id.as_str().into(),
        request_id: caller.request_id.clone(),
        organisation: caller.organisation.clone(),
        operation: None,
    }
}

/// Run `f` on a warm instance of `engine` kept for the organisation of `ctx`
/// (or a fresh one), then return the instance to its pool, or discard it if
/// the call failed.
async fn with_engine<T>(
    ctx: CallContext,
    services: Arc<HostServices>,
    engine: &EngineHandle,
    f: impl AsyncFnOnce(&EngineInstance, &mut wasmtime::Store<PluginState>) -> Result<T, CallError>,
) -> Result<T, CallError> {
    let org = ctx.organisation.clone();
    let mut w = call::checkout(
        &engine.pool,
        engine.pre.engine(),
        ctx,
        &services,
        ENGINE_DEADLINE,
        async |store: &mut wasmtime::Store<PluginState>| {
            EngineInstance::instantiate(&engine.pre, engine.role, store).await
        },
    )
    .await?;
    let out = f(&w.handle, &mut w.store).await;
    w.store.data().flush_output();
    engine.pool.checkin(w, org.as_deref(), out.is_ok());
    out
}

/// An instance of the other engine role in a pool (never built so).
fn mismatch(role: &str) -> CallError {
    CallError::Trap(format!(
        "the {role} engine's pool holds another role's instance"
    ))
}

fn failed(engine: &EngineHandle, e: CallError) -> EngineFailure {
    EngineFailure::Failed {
        engine: engine.id.clone(),
        error: e.to_string(),
    }
}

/// Each store's state holds the services as an `Arc`; an engine call makes
/// a store of its own from a clone of it.
impl EngineRunner for Arc<HostServices> {
    fn quote<'a>(
        &'a self,
        caller: &'a CallContext,
        req: ep::QuoteRequest,
    ) -> EngineCall<'a, ep::PriceQuote, ep::Error> {
        Box::pin(quote(self, caller, req))
    }

    fn fit<'a>(
        &'a self,
        caller: &'a CallContext,
        products: Vec<es::Product>,
        nodes: Vec<es::Node>,
        explain: bool,
    ) -> EngineCall<'a, Vec<es::Verdict>, es::Error> {
        Box::pin(fit(self, caller, products, nodes, explain))
    }
}

/// `pricing.quote` of the active pricing engine.
async fn quote(
    services: &Arc<HostServices>,
    caller: &CallContext,
    req: ep::QuoteRequest,
) -> EngineResult<ep::PriceQuote, ep::Error> {
    let Some(handle) = services.engines.pricing.load_full() else {
        return Err(EngineFailure::NotActive);
    };
    let ctx = engine_ctx(caller, &handle);
    with_engine(
        ctx,
        Arc::clone(services),
        &handle,
        async |e, store| match e {
            EngineInstance::Pricing(e) => {
                let call = e.computehub_platform_pricing().call_quote(store, &req);
                call::with_deadline(ENGINE_DEADLINE, call).await
            }
            EngineInstance::Scheduling(_) => Err(mismatch("pricing")),
        },
    )
    .await
    .map_err(|e| failed(&handle, e))
}

/// `scheduling.fit` of the active scheduling engine.
async fn fit(
    services: &Arc<HostServices>,
    caller: &CallContext,
    products: Vec<es::Product>,
    nodes: Vec<es::Node>,
    explain: bool,
) -> EngineResult<Vec<es::Verdict>, es::Error> {
    let Some(handle) = services.engines.scheduling.load_full() else {
        return Err(EngineFailure::NotActive);
    };
    let ctx = engine_ctx(caller, &handle);
    with_engine(
        ctx,
        Arc::clone(services),
        &handle,
        async |e, store| match e {
            EngineInstance::Scheduling(e) => {
                let call = e
                    .computehub_platform_scheduling()
                    .call_fit(store, &products, &nodes, explain);
                call::with_deadline(ENGINE_DEADLINE, call).await
            }
            EngineInstance::Pricing(_) => Err(mismatch("scheduling")),
        },
    )
    .await
    .map_err(|e| failed(&handle, e))
}
