//! The active plugin versions and their route table, swapped atomically.
//!
//! A swap loads and checks the new version completely (compile, world, grant,
//! describe, route collisions) before one `ArcSwap::store` publishes it.
//! Requests hold an `Arc` of the table they started with, so requests in
//! flight finish on the old version and every request after the store sees
//! the new one. Activations are recorded in the store and the wasm kept in
//! the data dir, so a restart brings back the same versions.

mod check;
mod grants;
pub mod persist;
pub(crate) mod references;
pub mod router;
pub mod sync;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::sync::Semaphore;
use wasmtime::component::InstancePre;

use crate::auth::Scheme;
use crate::bindings::wit_types::{self, Method};
use crate::config::{Config, PluginConfig};
use crate::envelope::Envelope;
use crate::runtime::declarations;
use crate::runtime::{
    call, Capability, EndpointPre, EngineHandle, LoadError, PluginState, Role, Runtime,
};
use crate::store::{SchemaError, SchemaMode, Store};
pub use grants::GrantSource;
use router::Router;

/// Where an active version came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    Builtin,
    PluginsDir,
    Uploaded,
}

#[derive(Debug, Clone)]
pub struct RouteInfo {
    pub method: Method,
    pub path: String,
    pub auth: Scheme,
    pub deadline: Duration,
    pub openapi: Option<serde_json::Value>,
}

/// One active plugin version.
pub struct PluginEntry {
    pub id: String,
    pub role: Role,
    pub name: String,
    pub version: String,
    pub sha256: String,
    /// The envelope of the area's errors, which the host answers in.
    pub envelope: Arc<Envelope>,
    /// The collections the plugin declared (short names).
    pub collections: Vec<String>,
    pub routes: Vec<RouteInfo>,
    pub pre: InstancePre<PluginState>,
    /// `pre` ready for calls (endpoint plugins only).
    pub endpoint: Option<EndpointPre>,
    /// The grant includes `operations`: a call may begin one, so it needs an
    /// operation link.
    pub operations: bool,
    /// The grant includes a capability whose effects outlive the call
    /// (inventory, kubernetes, ssh, operations): a call runs to its end in a
    /// task of its own even when the client goes away, so it never stops
    /// halfway through a change.
    pub detached: bool,
    pub permits: Semaphore,
    pub active_since: String,
    pub source: Source,
    /// The isolation of its instances: the stricter of the operator's and
    /// the plugin's ask.
    pub isolation: crate::runtime::Isolation,
    /// What the plugin asks for (its `instances` export), if anything.
    pub asked: Option<crate::runtime::Isolation>,
}

impl PluginEntry {
    /// The templates of the routes it serves without authentication, each
    /// once, in declaration order.
    pub fn public_routes(&self) -> Vec<String> {
        public_templates(&self.routes)
    }
}

/// The templates of `routes` without authentication, each once, in order.
fn public_templates(routes: &[RouteInfo]) -> Vec<String> {
    let mut public: Vec<String> = Vec::new();
    for r in routes.iter().filter(|r| r.auth == Scheme::None) {
        if !public.contains(&r.path) {
            public.push(r.path.clone());
        }
    }
    public
}

/// A version boot loaded (role, wasm, where from).
type BootVersion = (Role, Arc<[u8]>, Source);

/// Everything a request needs, published as one unit.
pub struct Table {
    pub plugins: BTreeMap<String, Arc<PluginEntry>>,
    pub router: Router,
}

#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Collision(String),
    #[error("{0}")]
    NotFound(String),
    #[error("cannot record the plugin version: {0}")]
    Persist(String),
    /// Routes declared without authentication that the plugin's grant does
    /// not name in `public-routes` (method, template).
    #[error("plugin `{plugin}` serves {} without authentication, which its grant does not allow; name {} in its `public-routes`", anonymous_list(.routes), if .routes.len() == 1 { "it" } else { "them" })]
    NotPublic {
        plugin: String,
        routes: Vec<(&'static str, String)>,
        /// Every template the plugin serves without authentication, granted
        /// or not: the `public-routes` it needs.
        needs: Vec<String>,
    },
    /// The operator's config file names the plugin; its entry wins.
    #[error("plugin `{0}` is granted by the operator's config file, which wins; change it there")]
    ConfigWins(String),
}

pub struct Registry {
    pub runtime: Runtime,
    /// Where activations, admin grants and declared collections are kept.
    store: Arc<Store>,
    pub config: Config,
    table: ArcSwap<Table>,
    /// One install or rollback at a time; requests never take it.
    swap: tokio::sync::Mutex<()>,
    data_dir: PathBuf,
    builtins: &'static [(&'static str, &'static str, &'static [u8])],
    /// What boot loaded before any upload (built-in or plugins dir): the
    /// version a rollback past the first upload returns to.
    defaults: std::sync::Mutex<BTreeMap<String, BootVersion>>,
    /// Grants given through the admin API (persisted in `plugin_grants`),
    /// in force where the operator's config file does not name the plugin.
    admin_grants: std::sync::RwLock<BTreeMap<String, PluginConfig>>,
}

/// `` `GET /a`, `GET /b` ``
fn anonymous_list(routes: &[(&'static str, String)]) -> String {
    routes
        .iter()
        .map(|(m, p)| format!("`{m} {p}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn scheme_of(s: wit_types::AuthScheme) -> Scheme {
    use wit_types::AuthScheme as A;
    match s {
        A::None => Scheme::None,
        A::Bearer => Scheme::Bearer,
        A::XAuthToken => Scheme::XAuthToken,
        A::Basic => Scheme::Basic,
        A::Aksk => Scheme::Aksk,
        A::Session => Scheme::Session,
    }
}

impl Registry {
    pub fn new(
        runtime: Runtime,
        store: Arc<Store>,
        config: Config,
        data_dir: PathBuf,
        builtins: &'static [(&'static str, &'static str, &'static [u8])],
    ) -> Self {
        Registry {
            runtime,
            store,
            config,
            table: ArcSwap::from_pointee(Table {
                plugins: BTreeMap::new(),
                router: Router::default(),
            }),
            swap: tokio::sync::Mutex::new(()),
            data_dir,
            builtins,
            defaults: Default::default(),
            admin_grants: Default::default(),
        }
    }

    /// The current table; hold it for the whole request.
    pub fn table(&self) -> Arc<Table> {
        self.table.load_full()
    }

    /// `f` of the current table, without taking a count of it (what a
    /// request keeps of it, it clones: the matched plugin version).
    pub fn with_table<R>(&self, f: impl FnOnce(&Table) -> R) -> R {
        f(&self.table.load())
    }

    fn builtin(&self, id: &str) -> Option<(Role, &'static [u8])> {
        self.builtins
            .iter()
            .find(|(bid, _, _)| *bid == id)
            .and_then(|(_, role, wasm)| Role::parse(role).map(|r| (r, *wasm)))
    }

    fn default_of(&self, id: &str) -> Option<BootVersion> {
        let defaults = self.defaults.lock().unwrap_or_else(|p| p.into_inner());
        defaults.get(id).cloned()
    }

    /// Compile, check and describe a version without publishing it. Its
    /// declared collections are created or migrated here (additions only,
    /// which a version that then fails to publish leaves harmlessly behind);
    /// `schema` says whether what it lacks of the stored schema is refused
    /// (a new version) or kept (a version loaded before); `None` (a dry run)
    /// leaves the store untouched and checks the migration on a scratch copy
    /// of the declarations ([`check::migration`]).
    async fn prepare(
        &self,
        id: &str,
        role: Role,
        wasm: &[u8],
        source: Source,
        schema: Option<SchemaMode>,
    ) -> Result<PluginEntry, InstallError> {
        if let Some(configured) = self.effective_config().role(id) {
            if configured != role {
                return Err(InstallError::Refused(format!(
                    "plugin `{id}` is configured with role {}, not {}",
                    configured.as_str(),
                    role.as_str()
                )));
            }
        }
        let config = self.effective_config();
        let grants = config.grants(id);
        let isolation = config.isolation(id);
        let loaded = self
            .runtime
            .load(id, role, wasm, &grants, isolation)
            .await?;
        let (name, version, envelope, collections, routes) = match role {
            Role::Endpoint => {
                let Some(endpoint) = &loaded.endpoint else {
                    return Err(LoadError::Describe(
                        id.to_string(),
                        "no handler was resolved".into(),
                    )
                    .into());
                };
                let info = call::describe(endpoint, self.runtime.services.clone(), id)
                    .await
                    .map_err(|e| LoadError::Describe(id.to_string(), e.to_string()))?;
                // Both go into log lines, metric labels and answers as they are.
                for (what, value) in [("name", &info.name), ("version", &info.version)] {
                    if !crate::runtime::identity::shown(value) {
                        return Err(InstallError::Refused(format!(
                            "plugin `{id}` describes a {what} that is not 1 to 64 printable ASCII characters without spaces"
                        )));
                    }
                }
                let mut routes = Vec::with_capacity(info.routes.len());
                for r in info.routes {
                    router::check_template(&r.path)
                        .map_err(|e| InstallError::Refused(format!("plugin `{id}`: {e}")))?;
                    let auth = scheme_of(r.auth);
                    let openapi = if r.openapi.trim().is_empty() {
                        None
                    } else {
                        Some(serde_json::from_str(&r.openapi).map_err(|e| {
                            InstallError::Refused(format!(
                                "plugin `{id}` route `{}` has an invalid OpenAPI fragment: {e}",
                                r.path
                            ))
                        })?)
                    };
                    routes.push(RouteInfo {
                        method: r.method,
                        path: r.path,
                        auth,
                        deadline: r
                            .deadline_ms
                            .map(|ms| Duration::from_millis(ms.into()))
                            .unwrap_or(self.runtime.limits.default_deadline),
                        openapi,
                    });
                }
                // Deny by default: a route anonymous callers reach is the
                // operator's choice (`public-routes`), not the plugin's.
                let granted = config.public_routes(id);
                let anonymous: Vec<(&'static str, String)> = routes
                    .iter()
                    .filter(|r| r.auth == Scheme::None && !granted.contains(&r.path))
                    .map(|r| (router::method_name(r.method), r.path.clone()))
                    .collect();
                if !anonymous.is_empty() {
                    return Err(InstallError::NotPublic {
                        plugin: id.to_string(),
                        routes: anonymous,
                        needs: public_templates(&routes),
                    });
                }
                let declared =
                    declarations::declarations(&loaded.pre, self.runtime.services.clone(), id)
                        .await
                        .map_err(|e| InstallError::Refused(format!("plugin `{id}`: {e}")))?;
                let storage = config.storage(id).map_err(|e| {
                    InstallError::Refused(format!("plugin `{id}`: storage grant: {e}"))
                })?;
                // What this version declares, and what the store keeps of
                // earlier versions (a rollback, an import).
                let mut refs = references::declared(&declared.collections);
                refs.extend(references::stored(id, &self.store.schema_all()));
                references::check(id, &storage, &refs).map_err(InstallError::Refused)?;
                let envelope = match declared.envelope {
                    Some(e) => {
                        e.check()
                            .map_err(|e| InstallError::Refused(format!("plugin `{id}`: {e}")))?;
                        e
                    }
                    None => Envelope::from(info.error_format),
                };
                match schema {
                    Some(schema) => {
                        self.store
                            .declare(id, &info.version, &declared.collections, schema)
                            .await
                            .map_err(|e| match e {
                                SchemaError::Refused(m) => InstallError::Refused(m),
                                SchemaError::Store(e) => InstallError::Persist(e.to_string()),
                            })?;
                    }
                    None => {
                        check::migration(&self.store, id, &info.version, &declared.collections)
                            .await?
                    }
                }
                let collections = declared.collections.into_iter().map(|c| c.name).collect();
                (info.name, info.version, envelope, collections, routes)
            }
            _ => {
                // The engine's own name and version when it gives them (the
                // SDK's engines do); its id and a hash otherwise.
                let (name, version) = crate::runtime::identity::engine_identity(
                    &loaded.pre,
                    self.runtime.services.clone(),
                    id,
                )
                .await
                .unwrap_or_else(|| (id.to_string(), loaded.sha256[..12].to_string()));
                (
                    name,
                    version,
                    Envelope::plain().clone(),
                    Vec::new(),
                    Vec::new(),
                )
            }
        };
        Ok(PluginEntry {
            id: id.to_string(),
            role,
            name,
            version,
            sha256: loaded.sha256,
            envelope: Arc::new(envelope),
            collections,
            routes,
            pre: loaded.pre,
            endpoint: loaded.endpoint,
            operations: grants.contains(&Capability::Operations),
            // Logging and the engines' pure computations end with the call;
            // anything else (and anything added later) may not.
            detached: grants.iter().any(|c| {
                !matches!(
                    c,
                    Capability::Log | Capability::Pricing | Capability::Scheduling
                )
            }),
            permits: Semaphore::new(self.runtime.limits.max_concurrency),
            active_since: crate::store::records::now(),
            source,
            isolation: loaded.isolation,
            asked: loaded.asked,
        })
    }

    /// Publish `entries` on top of the current table (replacing same ids).
    fn publish(&self, entries: Vec<PluginEntry>) -> Result<Vec<Arc<PluginEntry>>, InstallError> {
        let current = self.table.load_full();
        let mut plugins = current.plugins.clone();
        let mut published = Vec::new();
        for e in entries {
            if e.role != Role::Endpoint {
                if let Some(other) = plugins.values().find(|p| p.role == e.role && p.id != e.id) {
                    return Err(InstallError::Refused(format!(
                        "plugin `{}` would be a second {} engine beside `{}`; upload it as `{}` to replace that one",
                        e.id,
                        e.role.as_str(),
                        other.id,
                        other.id
                    )));
                }
            }
            let e = Arc::new(e);
            plugins.insert(e.id.clone(), Arc::clone(&e));
            published.push(e);
        }
        let router = Router::build(plugins.values().filter(|p| p.role == Role::Endpoint))
            .map_err(InstallError::Collision)?;
        let mut retired_engines = Vec::new();
        for p in &published {
            let handle = || {
                Some(Arc::new(EngineHandle {
                    id: p.id.clone(),
                    role: p.role,
                    pre: p.pre.clone(),
                    pool: self.runtime.warm().pool(p.isolation),
                }))
            };
            let engines = self.runtime.engines();
            let old = match p.role {
                Role::Pricing => engines.pricing.swap(handle()),
                Role::Scheduling => engines.scheduling.swap(handle()),
                Role::Endpoint => None,
            };
            retired_engines.extend(old);
        }
        self.table.store(Arc::new(Table { plugins, router }));
        // Requests that start from now on run on the new versions; the old
        // versions' warm instances are dropped and none is kept again
        // (requests in flight finish on them).
        for e in retired_engines {
            e.pool.retire();
        }
        for p in &published {
            if let Some(old) = current.plugins.get(&p.id) {
                if !Arc::ptr_eq(old, p) {
                    if let Some(ep) = &old.endpoint {
                        ep.pool.retire();
                    }
                }
            }
        }
        Ok(published)
    }

    /// Load the built-in plugins, then the plugins dir, then the versions
    /// activated through the admin API, and publish them together.
    pub async fn boot(&self, plugins_dir: Option<&std::path::Path>) -> anyhow::Result<()> {
        let _guard = self.swap.lock().await;
        self.load_admin_grants().await?;
        let mut chosen: BTreeMap<String, (Role, Vec<u8>, Source)> = BTreeMap::new();
        for (id, _, _) in self.builtins {
            if self.config.plugins.get(*id).is_some_and(|p| p.disabled) {
                continue;
            }
            if let Some((role, wasm)) = self.builtin(id) {
                chosen.insert(id.to_string(), (role, wasm.to_vec(), Source::Builtin));
            }
        }
        if let Some(dir) = plugins_dir {
            for (id, wasm) in persist::read_plugins_dir(dir)? {
                let role = self.effective_config().role(&id).unwrap_or(Role::Endpoint);
                chosen.insert(id, (role, wasm, Source::PluginsDir));
            }
        }
        *self.defaults.lock().unwrap_or_else(|p| p.into_inner()) = chosen
            .iter()
            .map(|(id, (role, wasm, source))| {
                (id.clone(), (*role, Arc::from(wasm.as_slice()), *source))
            })
            .collect();
        for a in persist::active(&self.store).await? {
            match persist::read_wasm(&self.store, &self.data_dir, &a.sha256).await {
                Ok(wasm) => {
                    chosen.insert(a.plugin_id, (a.role, wasm, Source::Uploaded));
                }
                Err(e) => {
                    tracing::error!(plugin = %a.plugin_id, error = %e, "stored plugin version is missing; keeping the default")
                }
            }
        }
        let mut entries = Vec::new();
        for (id, (role, wasm, source)) in chosen {
            let entry = self
                .prepare(&id, role, &wasm, source, Some(SchemaMode::Keep))
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            tracing::info!(plugin = %id, version = %entry.version, routes = entry.routes.len(), "plugin loaded");
            entries.push(entry);
        }
        self.publish(entries).map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(())
    }

    /// Validate and activate a new version of `id`; returns it once every
    /// new request reaches it.
    pub async fn install(
        &self,
        id: &str,
        role: Role,
        wasm: &[u8],
    ) -> Result<Arc<PluginEntry>, InstallError> {
        persist::validate_id(id).map_err(InstallError::Refused)?;
        let _guard = self.swap.lock().await;
        let entry = self
            .prepare(id, role, wasm, Source::Uploaded, Some(SchemaMode::Upgrade))
            .await?;
        persist::write_wasm(&self.store, &entry.sha256, wasm)
            .await
            .map_err(|e| InstallError::Persist(e.to_string()))?;
        let (sha, version) = (entry.sha256.clone(), entry.version.clone());
        let published = self.publish(vec![entry])?;
        persist::record_activation(&self.store, id, role, &sha, &version)
            .await
            .map_err(|e| InstallError::Persist(e.to_string()))?;
        tracing::info!(plugin = %id, version = %version, sha256 = %sha, "plugin swapped");
        self.announce(id).await;
        published
            .into_iter()
            .next()
            .ok_or_else(|| InstallError::NotFound(id.to_string()))
    }

    /// Go back to the version active before the current one.
    pub async fn rollback(&self, id: &str) -> Result<Arc<PluginEntry>, InstallError> {
        if !crate::store::storable(id) {
            return Err(InstallError::NotFound(format!(
                "plugin `{}` has no uploaded version to roll back",
                id.escape_default()
            )));
        }
        let _guard = self.swap.lock().await;
        let store = &self.store;
        let history = persist::history(store, id)
            .await
            .map_err(|e| InstallError::Persist(e.to_string()))?;
        let Some(current) = history.first() else {
            return Err(InstallError::NotFound(format!(
                "plugin `{id}` has no uploaded version to roll back"
            )));
        };
        let entry = match history.get(1) {
            Some(prev) => {
                let wasm = persist::read_wasm(&self.store, &self.data_dir, &prev.sha256)
                    .await
                    .map_err(|e| InstallError::Persist(e.to_string()))?;
                self.prepare(
                    id,
                    prev.role,
                    &wasm,
                    Source::Uploaded,
                    Some(SchemaMode::Keep),
                )
                .await?
            }
            None => match self.default_of(id) {
                Some((role, wasm, source)) => {
                    self.prepare(id, role, &wasm, source, Some(SchemaMode::Keep))
                        .await?
                }
                None => {
                    return Err(InstallError::NotFound(format!(
                        "plugin `{id}` has no earlier version to roll back to"
                    )))
                }
            },
        };
        let published = self.publish(vec![entry])?;
        persist::retire(store, current.seq)
            .await
            .map_err(|e| InstallError::Persist(e.to_string()))?;
        tracing::info!(plugin = %id, "plugin rolled back");
        self.announce(id).await;
        published
            .into_iter()
            .next()
            .ok_or_else(|| InstallError::NotFound(id.to_string()))
    }
}
