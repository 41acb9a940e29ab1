//! `pricing` and `scheduling` imports: each call goes to whichever engine
//! plugin is active at that moment (a fresh instance, the caller's deadline
//! budget), so swapping an engine changes every caller at once.
//!
//! Import-side and export-side bindings are distinct Rust types with the same
//! shape; values cross by moving each field ([`bridge`]).

mod bridge;

use std::sync::Arc;
use std::time::Duration;

use crate::runtime::bindings::endpoint::computehub::platform::{pricing, scheduling};
use crate::runtime::bindings::{pricing_engine, scheduling_engine};
use crate::runtime::{call, CallContext, PluginState};
use bridge::Bridge;

/// Budget of one engine call.
const ENGINE_DEADLINE: Duration = Duration::from_secs(5);

impl PluginState {
    fn engine_context(&self, engine: &str) -> CallContext {
        CallContext {
            plugin: engine.into(),
            request_id: self.ctx.request_id.clone(),
            organisation: self.ctx.organisation.clone(),
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
        let services = Arc::clone(&self.services);
        let engine = handle.pre.engine().clone();
        let mut store = call::new_store(
            &engine,
            self.engine_context(&handle.id),
            services,
            ENGINE_DEADLINE,
        );
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
        match out {
            Ok(Ok(q)) => Ok(q.bridge()),
            Ok(Err(e)) => Err(e.bridge()),
            Err(e) => {
                tracing::warn!(engine = %handle.id, error = %e, "pricing engine failed");
                Err(unavailable(format!(
                    "pricing engine `{}` failed: {e}",
                    handle.id
                )))
            }
        }
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
        let services = Arc::clone(&self.services);
        let engine = handle.pre.engine().clone();
        let mut store = call::new_store(
            &engine,
            self.engine_context(&handle.id),
            services,
            ENGINE_DEADLINE,
        );
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
        match out {
            Ok(Ok(v)) => Ok(v.bridge()),
            Ok(Err(e)) => Err(e.bridge()),
            Err(e) => {
                tracing::warn!(engine = %handle.id, error = %e, "scheduling engine failed");
                Err(unavailable(format!(
                    "scheduling engine `{}` failed: {e}",
                    handle.id
                )))
            }
        }
    }
}
