//! The plugin runtime: one wasmtime [`Engine`](wasmtime::Engine) (pooling
//! allocator, epoch interruption), compiled components cached on disk, grant
//! checks at load, and [`Store`](wasmtime::Store)s kept warm per organisation
//! ([`warm`]) or made fresh per call. The store's state ([`PluginState`])
//! gives each capability its view ([`crate::capabilities::HasCapabilities`]);
//! the active engines' side of the `pricing` and `scheduling` imports is
//! [`active`]'s.

mod active;
pub(crate) mod cache;
pub mod call;
pub mod declarations;
mod engine;
mod grants;
pub mod identity;
pub mod isolation;
mod optional;
mod state;
pub mod warm;

use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use wasmtime::component::{Component, InstancePre, Linker};

/// Who is calling, as every call into a plugin carries it (defined by the
/// capabilities, which serve calls on its behalf).
pub use crate::capabilities::CallContext;
/// The capability interfaces a plugin may be granted (defined beside them).
pub use crate::capabilities::Capability;
pub use active::{ActiveEngines, EngineHandle, EngineInstance};
pub use call::{CallError, EndpointPre};
pub use engine::Limits;
pub use state::{HostServices, PluginState};
pub use warm::{Isolation, Pools, WarmSettings};

/// What a plugin is for, and so which world it must export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Endpoint,
    Pricing,
    Scheduling,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Endpoint => "endpoint",
            Role::Pricing => "pricing",
            Role::Scheduling => "scheduling",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "endpoint" => Role::Endpoint,
            "pricing" => Role::Pricing,
            "scheduling" => Role::Scheduling,
            _ => return None,
        })
    }
}

/// Why a plugin could not be loaded. Each message is one sentence naming the
/// plugin and what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("plugin `{0}` is not a valid WebAssembly component: {1}")]
    Compile(String, String),
    #[error("plugin `{plugin}` imports `{interface}`, which its grant does not include")]
    NotGranted { plugin: String, interface: String },
    #[error("plugin `{plugin}` imports `{interface}`, which this host does not serve yet")]
    NotServed { plugin: String, interface: String },
    #[error("plugin `{plugin}` imports `{interface}`, which this host does not provide")]
    UnknownImport { plugin: String, interface: String },
    #[error("plugin `{plugin}` does not export `{interface}`, which the {role} role requires")]
    WrongWorld {
        plugin: String,
        interface: String,
        role: &'static str,
    },
    #[error("plugin `{0}` failed to describe itself: {1}")]
    Describe(String, String),
    #[error("plugin `{0}` cannot be linked: {1}")]
    Link(String, String),
}

/// A compiled, checked, ready-to-instantiate plugin version.
pub struct Loaded {
    pub id: String,
    pub role: Role,
    pub sha256: String,
    pub pre: InstancePre<PluginState>,
    /// `pre` with its `handler` exports resolved, for the endpoint role.
    pub endpoint: Option<EndpointPre>,
    /// Whether the compiled code came from the on-disk cache.
    pub cache_hit: bool,
    /// The isolation in force: the stricter of the operator's and what the
    /// plugin asks for.
    pub isolation: Isolation,
    /// What the plugin asks for (its `instances` export), if anything.
    pub asked: Option<Isolation>,
}

/// The runtime shared by every plugin.
pub struct Runtime {
    engine: wasmtime::Engine,
    linker: Linker<PluginState>,
    cache_dir: PathBuf,
    pub limits: Limits,
    pub services: Arc<HostServices>,
    _ticker: engine::EpochTicker,
}

impl Runtime {
    pub fn new(
        cache_dir: PathBuf,
        limits: Limits,
        services: Arc<HostServices>,
    ) -> anyhow::Result<Self> {
        let engine = engine::build(&limits)?;
        let linker = state::linker(&engine)?;
        std::fs::create_dir_all(&cache_dir)?;
        let ticker = engine::EpochTicker::start(engine.clone());
        Ok(Runtime {
            engine,
            linker,
            cache_dir,
            limits,
            services,
            _ticker: ticker,
        })
    }

    pub fn engine(&self) -> &wasmtime::Engine {
        &self.engine
    }

    /// The state of every capability (grants, operations, clients, pools).
    pub fn capabilities(&self) -> &crate::capabilities::Capabilities {
        &self.services.capabilities
    }

    /// The active pricing and scheduling engines.
    pub fn engines(&self) -> &ActiveEngines {
        &self.services.engines
    }

    /// Every warm-instance pool.
    pub fn warm(&self) -> &Arc<Pools> {
        &self.services.warm
    }

    /// The capabilities a component imports (the `grants` it needs).
    pub fn imported(&self, wasm: &[u8]) -> anyhow::Result<Vec<Capability>> {
        let (component, _, _) = cache::compile(&self.engine, &self.cache_dir, wasm)?;
        Ok(grants::imported(&self.engine, &component))
    }

    /// Compile (or fetch from the cache), check the world and the grant,
    /// pre-link a plugin and ask it which isolation it wants (its optional
    /// `instances` export: the only call into it).
    pub async fn load(
        &self,
        id: &str,
        role: Role,
        wasm: &[u8],
        granted: &[Capability],
        isolation: Isolation,
    ) -> Result<Loaded, LoadError> {
        let (component, sha256, cache_hit): (Component, String, bool) =
            cache::compile(&self.engine, &self.cache_dir, wasm)
                .map_err(|e| LoadError::Compile(id.to_string(), format!("{e:#}")))?;
        if cache_hit {
            tracing::info!(plugin = %id, sha256 = %sha256, "compiled component cache hit");
        } else {
            tracing::info!(plugin = %id, sha256 = %sha256, "compiled component (cache miss)");
        }
        grants::check(&self.engine, &component, id, role, granted)?;
        let pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| LoadError::Link(id.to_string(), format!("{e:#}")))?;
        let asked = isolation::asked(&pre, self.services.clone(), id).await;
        let isolation = asked.map_or(isolation, |a| isolation.stricter(a));
        let endpoint = match role {
            Role::Endpoint => Some(
                EndpointPre::new(pre.clone())
                    .map_err(|e| LoadError::Link(id.to_string(), format!("{e:#}")))?
                    .with_pool(self.warm().pool(isolation)),
            ),
            Role::Pricing | Role::Scheduling => None,
        };
        Ok(Loaded {
            id: id.to_string(),
            role,
            sha256,
            pre,
            endpoint,
            cache_hit,
            isolation,
            asked,
        })
    }
}
