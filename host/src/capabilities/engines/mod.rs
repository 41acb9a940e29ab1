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
use crate::runtime::{call, CallContext, CallError, EngineHandle, EngineInstance, PluginState};
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
        let org = self.ctx.organisation.clone();
        let w = call::checkout(
            &handle.pool,
            handle.pre.engine(),
            self.engine_ctx(&handle),
            Arc::clone(&self.services),
            ENGINE_DEADLINE,
            async |store: &mut wasmtime::Store<PluginState>| {
                let e = pricing_engine::PricingEnginePre::new(handle.pre.clone())?
                    .instantiate_async(store)
                    .await?;
                Ok(EngineInstance::Pricing(e))
            },
        )
        .await;
        let out = match w {
            Err(e) => Err(e),
            Ok(mut w) => {
                let out = match &w.handle {
                    EngineInstance::Pricing(e) => {
                        let call = e
                            .computehub_platform_pricing()
                            .call_quote(&mut w.store, &req);
                        call::with_deadline(ENGINE_DEADLINE, call).await
                    }
                    EngineInstance::Scheduling(_) => Err(CallError::Trap(
                        "the pricing engine's pool holds a scheduling instance".into(),
                    )),
                };
                w.store.data().flush_output();
                handle.pool.checkin(w, org.as_deref(), out.is_ok());
                out
            }
        };
        let out = out.map(|r| r.map(Bridge::bridge).map_err(Bridge::bridge));
        answer(&handle, "pricing", out, unavailable)
    }
}

impl scheduling::Host for PluginState {
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
        let org = self.ctx.organisation.clone();
        let w = call::checkout(
            &handle.pool,
            handle.pre.engine(),
            self.engine_ctx(&handle),
            Arc::clone(&self.services),
            ENGINE_DEADLINE,
            async |store: &mut wasmtime::Store<PluginState>| {
                let e = scheduling_engine::SchedulingEnginePre::new(handle.pre.clone())?
                    .instantiate_async(store)
                    .await?;
                Ok(EngineInstance::Scheduling(e))
            },
        )
        .await;
        let out = match w {
            Err(e) => Err(e),
            Ok(mut w) => {
                let out = match &w.handle {
                    EngineInstance::Scheduling(e) => {
                        let call = e.computehub_platform_scheduling().call_fit(
                            &mut w.store,
                            &products,
                            &nodes,
                            explain,
                        );
                        call::with_deadline(ENGINE_DEADLINE, call).await
                    }
                    EngineInstance::Pricing(_) => Err(CallError::Trap(
                        "the scheduling engine's pool holds a pricing instance".into(),
                    )),
                };
                w.store.data().flush_output();
                handle.pool.checkin(w, org.as_deref(), out.is_ok());
                out
            }
        };
        let out = out.map(|r| r.map(Bridge::bridge).map_err(Bridge::bridge));
        answer(&handle, "scheduling", out, unavailable)
    }
}
