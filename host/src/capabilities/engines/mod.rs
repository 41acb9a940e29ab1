//! `pricing` and `scheduling` imports: each call goes to whichever engine
//! plugin is active at that moment, so swapping an engine changes every
//! caller at once.
//!
//! Reaching the engine (a warm instance of the calling organisation or a
//! fresh one, with a deadline of its own inside the caller's) is the
//! runtime's: this module defines the small trait it needs,
//! [`EngineRunner`], and the runtime implements it. This module owns the
//! rest: the per-call view ([`EnginesView`]), the span of each call, the
//! moves between the import-side and export-side bindings (distinct Rust
//! types with the same shape, crossed field by field: [`bridge`]), and what
//! the caller is told when no engine answers.

mod bridge;

use std::future::Future;
use std::pin::Pin;

use wasmtime::component::{HasData, Linker};

use super::CallContext;
use crate::bindings::endpoint::computehub::platform::{pricing, scheduling};
use crate::bindings::pricing_engine::exports::computehub::platform::pricing as ep;
use crate::bindings::scheduling_engine::exports::computehub::platform::scheduling as es;
use bridge::Bridge;

/// Why the active engine gave no answer (its own `error` is an answer).
#[derive(Debug, thiserror::Error)]
pub enum EngineFailure {
    /// No engine of the role is active.
    #[error("no engine is active")]
    NotActive,
    /// The engine `engine` trapped, ran out of time or memory; `error` says
    /// which (the runtime's call error, one sentence).
    #[error("engine `{engine}` failed: {error}")]
    Failed { engine: String, error: String },
}

/// The engine's own answer, or why there is none.
pub type EngineResult<T, E> = Result<Result<T, E>, EngineFailure>;

/// A call of the engine in progress (boxed: the trait is used as `dyn`).
pub type EngineCall<'a, T, E> = Pin<Box<dyn Future<Output = EngineResult<T, E>> + Send + 'a>>;

/// How the capability reaches the active engines: implemented by the
/// runtime, which owns the engine plugins, their pools and their stores.
/// `caller` is the context of the plugin calling the import; the engine
/// runs on behalf of the same request and organisation.
pub trait EngineRunner: Send + Sync {
    /// `pricing.quote` of the active pricing engine.
    fn quote<'a>(
        &'a self,
        caller: &'a CallContext,
        req: ep::QuoteRequest,
    ) -> EngineCall<'a, ep::PriceQuote, ep::Error>;

    /// `scheduling.fit` of the active scheduling engine.
    fn fit<'a>(
        &'a self,
        caller: &'a CallContext,
        products: Vec<es::Product>,
        nodes: Vec<es::Node>,
        explain: bool,
    ) -> EngineCall<'a, Vec<es::Verdict>, es::Error>;
}

/// One call's view of `pricing` and `scheduling`: the way to the engines
/// and who is calling.
pub struct EnginesView<'a> {
    runner: &'a dyn EngineRunner,
    ctx: &'a CallContext,
}

impl<'a> EnginesView<'a> {
    pub fn new(runner: &'a dyn EngineRunner, ctx: &'a CallContext) -> Self {
        EnginesView { runner, ctx }
    }
}

/// The `HasData` projection of `pricing` and `scheduling` (see
/// [`add_to_linker`]).
struct EnginesData;

impl HasData for EnginesData {
    type Data<'a> = EnginesView<'a>;
}

/// Link `pricing` and `scheduling`, each call served by the view `view`
/// projects.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> EnginesView<'_>,
) -> wasmtime::Result<()> {
    pricing::add_to_linker::<T, EnginesData>(linker, view)?;
    scheduling::add_to_linker::<T, EnginesData>(linker, view)
}

/// The engine's answer, or why there is none (logged, and told the caller
/// as `unavailable`).
fn answer<T, E>(
    role: &str,
    out: EngineResult<T, E>,
    unavailable: impl FnOnce(String) -> E,
) -> Result<T, E> {
    match out {
        Ok(answer) => answer,
        Err(EngineFailure::NotActive) => Err(unavailable(format!("no {role} engine is active"))),
        Err(EngineFailure::Failed { engine, error }) => {
            tracing::warn!(engine = %engine, error = %error, "{role} engine failed");
            Err(unavailable(format!(
                "{role} engine `{engine}` failed: {error}"
            )))
        }
    }
}

impl pricing::Host for EnginesView<'_> {
    #[tracing::instrument(target = "computehub::capability", name = "pricing.quote", skip_all)]
    async fn quote(
        &mut self,
        req: pricing::QuoteRequest,
    ) -> Result<pricing::PriceQuote, pricing::Error> {
        let out = self.runner.quote(self.ctx, req.bridge()).await;
        let out = out.map(|r| r.map(Bridge::bridge).map_err(Bridge::bridge));
        answer("pricing", out, pricing::Error::Unavailable)
    }
}

impl scheduling::Host for EnginesView<'_> {
    #[tracing::instrument(target = "computehub::capability", name = "scheduling.fit", skip_all)]
    async fn fit(
        &mut self,
        products: Vec<scheduling::Product>,
        nodes: Vec<scheduling::Node>,
        explain: bool,
    ) -> Result<Vec<scheduling::Verdict>, scheduling::Error> {
        let out = self
            .runner
            .fit(self.ctx, products.bridge(), nodes.bridge(), explain)
            .await;
        let out = out.map(|r| r.map(Bridge::bridge).map_err(Bridge::bridge));
        answer("scheduling", out, scheduling::Error::Unavailable)
    }
}
