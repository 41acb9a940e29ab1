//! `pricing` and `scheduling` imports: each call goes to whichever engine
//! plugin is active at that moment (a warm instance of the calling
//! organisation, or a fresh one, with a deadline of its own inside the
//! caller's), so swapping an engine changes every caller at once.
//!
//! Import-side and export-side bindings are distinct Rust types with the same
//! shape; values cross by moving each field ([`bridge`]).

mod bridge;

use std::sync::Arc;
use std::time::Duration;

use crate::runtime::bindings::endpoint::computehub::platform::{pricing, scheduling};
use crate::runtime::bindings::{pricing_engine, scheduling_engine};
use crate::runtime::{
    call, CallContext, CallError, EngineHandle, EngineInstance, HostServices, PluginState,
};
use bridge::Bridge;

/// Budget of one engine call.
const ENGINE_DEADLINE: Duration = Duration::from_secs(5);

impl PluginState {
    /// The context of a call into `engine`, on behalf of this call's caller.
    fn engine_ctx(&self, engine: &EngineHandle) -> CallContext {
        CallContext {
            plugin: engine.id.as_str().into(),
            request_id: self.ctx.request_id.clone(),
            organisation: self.ctx.organisation.clone(),
        }
    }
}

/// Run `f` on a warm instance of `engine` kept for the organisation of `ctx`
/// (or a fresh one), then return the instance to its pool, or discard it if
/// the call failed. Takes owned state: the plugin's store state is not `Sync`
/// and must not be held across the engine call.
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
        services,
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

/// The engine's answer, or why there is none (logged, and told the caller
/// as `unavailable`).
fn answer<T, E>(
    engine: &EngineHandle,
    role: &str,
    out: Result<Result<T, E>, CallError>,
    unavailable: impl FnOnce(String) -> E,
) -> Result<T, E> {
    match out {
        Ok(answer) => answer,
        Err(e) => {
            tracing::warn!(engine = %engine.id, error = %e, "{role} engine failed");
            Err(unavailable(format!(
                "{role} engine `{}` failed: {e}",
                engine.id
            )))
        }
    }
}

impl pricing::Host for PluginState {
    #[tracing::instrument(target = "computehub::capability", name = "pricing.quote", skip_all)]
    async fn quote(
        &mut self,
        req: pricing::QuoteRequest,
    ) -> Result<pricing::PriceQuote, pricing::Error> {
        let unavailable = |m: String| pricing::Error::Unavailable(m);
        let Some(handle) = self.services.engines.pricing.load_full() else {
            return Err(unavailable("no pricing engine is active".into()));
        };
        let req: pricing_engine::exports::computehub::platform::pricing::QuoteRequest =
            req.bridge();
        let (ctx, services) = (self.engine_ctx(&handle), Arc::clone(&self.services));
        let out = with_engine(ctx, services, &handle, async |e, store| match e {
            EngineInstance::Pricing(e) => {
                let call = e.computehub_platform_pricing().call_quote(store, &req);
                call::with_deadline(ENGINE_DEADLINE, call).await
            }
            EngineInstance::Scheduling(_) => Err(mismatch("pricing")),
        })
        .await;
        let out = out.map(|r| r.map(Bridge::bridge).map_err(Bridge::bridge));
        answer(&handle, "pricing", out, unavailable)
    }
}

impl scheduling::Host for PluginState {
    #[tracing::instrument(target = "computehub::capability", name = "scheduling.fit", skip_all)]
    async fn fit(
        &mut self,
        products: Vec<scheduling::Product>,
        nodes: Vec<scheduling::Node>,
        explain: bool,
    ) -> Result<Vec<scheduling::Verdict>, scheduling::Error> {
        let unavailable = |m: String| scheduling::Error::Unavailable(m);
        let Some(handle) = self.services.engines.scheduling.load_full() else {
            return Err(unavailable("no scheduling engine is active".into()));
        };
        let products: Vec<scheduling_engine::exports::computehub::platform::scheduling::Product> =
            products.bridge();
        let nodes: Vec<scheduling_engine::exports::computehub::platform::scheduling::Node> =
            nodes.bridge();
        let (ctx, services) = (self.engine_ctx(&handle), Arc::clone(&self.services));
        let out = with_engine(ctx, services, &handle, async |e, store| match e {
            EngineInstance::Scheduling(e) => {
                let call = e
                    .computehub_platform_scheduling()
                    .call_fit(store, &products, &nodes, explain);
                call::with_deadline(ENGINE_DEADLINE, call).await
            }
            EngineInstance::Pricing(_) => Err(mismatch("scheduling")),
        })
        .await;
        let out = out.map(|r| r.map(Bridge::bridge).map_err(Bridge::bridge));
        answer(&handle, "scheduling", out, unavailable)
    }
}
