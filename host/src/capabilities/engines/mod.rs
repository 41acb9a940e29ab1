//! `pricing` and `scheduling` imports: each call goes to whichever engine
//! plugin is active at that moment (a fresh instance with a deadline of its
//! own, inside the caller's), so swapping an engine changes every caller at
//! once.
//!
//! Import-side and export-side bindings are distinct Rust types with the same
//! shape; values cross by moving each field ([`bridge`]).

mod bridge;

use std::sync::Arc;
use std::time::Duration;

use crate::runtime::bindings::endpoint::computehub::platform::{pricing, scheduling};
use crate::runtime::bindings::{pricing_engine, scheduling_engine};
use crate::runtime::{call, CallContext, CallError, EngineHandle, PluginState};
use bridge::Bridge;

/// Budget of one engine call.
const ENGINE_DEADLINE: Duration = Duration::from_secs(5);

impl PluginState {
    /// A store for one call into `engine`, on behalf of this call's caller.
    fn engine_store(&self, engine: &EngineHandle) -> wasmtime::Store<PluginState> {
        let ctx = CallContext {
            plugin: engine.id.as_str().into(),
            request_id: self.ctx.request_id.clone(),
            organisation: self.ctx.organisation.clone(),
        };
        call::new_store(
            engine.pre.engine(),
            ctx,
            Arc::clone(&self.services),
            ENGINE_DEADLINE,
        )
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
        let mut store = self.engine_store(&handle);
        let out = call::with_deadline(ENGINE_DEADLINE, async {
            let e = pricing_engine::PricingEnginePre::new(handle.pre.clone())?
                .instantiate_async(&mut store)
                .await?;
            e.computehub_platform_pricing()
                .call_quote(&mut store, &req)
                .await
        })
        .await;
        store.data().flush_output();
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
        let mut store = self.engine_store(&handle);
        let out = call::with_deadline(ENGINE_DEADLINE, async {
            let e = scheduling_engine::SchedulingEnginePre::new(handle.pre.clone())?
                .instantiate_async(&mut store)
                .await?;
            e.computehub_platform_scheduling()
                .call_fit(&mut store, &products, &nodes, explain)
                .await
        })
        .await;
        store.data().flush_output();
        let out = out.map(|r| r.map(Bridge::bridge).map_err(Bridge::bridge));
        answer(&handle, "scheduling", out, unavailable)
    }
}
