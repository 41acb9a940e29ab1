//! `kubernetes`: clusters through the real kube-rs client. A plugin names a
//! cluster by inventory id (the host opens its sealed kubeconfig) or passes an
//! inline kubeconfig where its API receives one; objects cross as JSON text.
//!
//! The capability's state is [`Kubernetes`] (its [`Backend`], the clients
//! per cluster, the store the sealed kubeconfigs are read from, and the
//! grants every kubeconfig's server is checked against: [`clusters`]); a
//! call is served by a [`KubernetesView`] of it and the call's context.
//!
//! The capability reaches clusters only through the small traits of
//! [`backend`] ([`Backend`] builds a client once the checks passed,
//! [`Cluster`] lists, gets, applies and deletes objects and labels, cordons,
//! drains and measures nodes), so its grant checks, deadlines and WIT
//! conversions are written against them; [`KubeRs`] is the real
//! implementation (kube-rs, in `kube_rs`, `objects` and `nodes`).

pub mod backend;
mod clusters;
mod kube_rs;
mod nodes;
mod objects;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

pub use backend::{Backend, Cluster};
pub use clusters::Clients;
pub use kube_rs::KubeRs;

use wasmtime::component::{HasData, Linker};

use super::CallContext;
use crate::bindings::endpoint::computehub::platform::kubernetes::{
    self as wit, Cluster as WitCluster, DrainReport, Host, NodeCapacity, Selector,
};
use crate::policy::Policy;
use crate::store::Store;
use clusters::ClusterRef;

/// Budget of one call other than drain.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest drain a plugin may ask for.
const MAX_DRAIN: Duration = Duration::from_secs(600);
/// Most objects one page may ask for (kube-apiserver serves more, but a
/// page is meant to bound what the plugin holds at once).
pub const MAX_PAGE: u32 = 5_000;

#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Timeout(String),
    #[error("{0}")]
    Denied(String),
    /// The cluster could not be reached or answered something unreadable;
    /// the text is a library's and goes to the log only.
    #[error("the cluster's API server could not be reached")]
    Unreachable(String),
}

impl From<kube::Error> for KubeError {
    fn from(e: kube::Error) -> Self {
        match e {
            kube::Error::Api(s) => match s.code {
                404 => KubeError::NotFound(s.message),
                409 => KubeError::Conflict(s.message),
                // An expired continue token: the caller lists again.
                410 => KubeError::Conflict(s.message),
                400 | 422 => KubeError::Invalid(s.message),
                401 | 403 => KubeError::Denied(s.message),
                429 => KubeError::Conflict(s.message),
                _ => KubeError::Unavailable(s.message),
            },
            other => KubeError::Unreachable(other.to_string()),
        }
    }
}

impl From<KubeError> for wit::Error {
    fn from(e: KubeError) -> Self {
        match e {
            KubeError::NotFound(m) => wit::Error::NotFound(m),
            KubeError::Conflict(m) => wit::Error::Conflict(m),
            KubeError::Invalid(m) => wit::Error::Invalid(m),
            KubeError::Unavailable(m) => wit::Error::Unavailable(m),
            KubeError::Timeout(m) => wit::Error::Timeout(m),
            KubeError::Denied(m) => wit::Error::Denied(m),
            KubeError::Unreachable(_) => wit::Error::Unavailable(e.to_string()),
        }
    }
}

/// Run one call under `limit`. A failure whose detail is a library's is
/// logged (with the request id, from the request's span) and reaches the
/// plugin as one sentence naming the request id.
async fn timed<T>(
    request_id: Arc<str>,
    limit: Duration,
    f: impl std::future::Future<Output = Result<T, KubeError>>,
) -> Result<T, wit::Error> {
    match tokio::time::timeout(limit, f).await {
        Ok(Err(KubeError::Unreachable(detail))) => {
            tracing::warn!(error = %detail, "kubernetes: the API server could not be reached");
            Err(wit::Error::Unavailable(format!(
                "the cluster's API server could not be reached (request id {request_id}; the server log has the detail)"
            )))
        }
        Ok(r) => r.map_err(Into::into),
        Err(_) => Err(wit::Error::Timeout(format!(
            "the cluster did not answer within {limit:?}"
        ))),
    }
}

fn text(v: &serde_json::Value) -> String {
    v.to_string()
}

fn map_json(m: &std::collections::BTreeMap<String, String>) -> String {
    serde_json::to_string(m).unwrap_or_else(|_| "{}".into())
}

/// The capability's state: the backend, clients per cluster, the store
/// holding the organisations' sealed kubeconfigs, and the grants
/// (`kube-targets`).
pub struct Kubernetes {
    backend: Arc<dyn Backend>,
    clients: Clients,
    store: Arc<Store>,
    policy: Arc<Policy>,
}

impl Kubernetes {
    /// The capability on real clusters ([`KubeRs`]).
    pub fn new(store: Arc<Store>, policy: Arc<Policy>) -> Self {
        Self::with_backend(Arc::new(KubeRs), store, policy)
    }

    /// The capability on clusters reached through `backend`.
    pub fn with_backend(backend: Arc<dyn Backend>, store: Arc<Store>, policy: Arc<Policy>) -> Self {
        Kubernetes {
            backend,
            clients: Clients::default(),
            store,
            policy,
        }
    }
}

/// One call's view of `kubernetes`: the state and who is calling. It holds
/// only shared references to `Sync` values, so a call's future may keep it
/// across awaits.
#[derive(Clone, Copy)]
pub struct KubernetesView<'a> {
    state: &'a Kubernetes,
    ctx: &'a CallContext,
}

impl<'a> KubernetesView<'a> {
    pub fn new(state: &'a Kubernetes, ctx: &'a CallContext) -> Self {
        KubernetesView { state, ctx }
    }

    /// The client of `c`, checked against this plugin's grant and scoped to
    /// its caller's organisation.
    async fn cluster(self, c: &WitCluster) -> Result<Arc<dyn Cluster>, KubeError> {
        let r = match c {
            WitCluster::Id(id) => ClusterRef::Id(id),
            WitCluster::Kubeconfig(k) => ClusterRef::Inline(k),
        };
        let asker = clusters::Asker {
            store: &self.state.store,
            policy: &self.state.policy,
            plugin: &self.ctx.plugin,
            organisation: self.ctx.organisation.as_deref(),
        };
        self.state
            .clients
            .get(&*self.state.backend, &asker, r)
            .await
    }

    fn rid(&self) -> Arc<str> {
        Arc::clone(&self.ctx.request_id)
    }
}

/// The `HasData` projection of `kubernetes` (see [`add_to_linker`]).
struct KubernetesData;

impl HasData for KubernetesData {
    type Data<'a> = KubernetesView<'a>;
}

/// Link `kubernetes`, each call served by the view `view` projects.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> KubernetesView<'_>,
) -> wasmtime::Result<()> {
    wit::add_to_linker::<T, KubernetesData>(linker, view)
}

/// The host's view of a plugin's selector.
fn selector(sel: &Selector) -> backend::Selector<'_> {
    backend::Selector {
        namespace: sel.namespace.as_deref(),
        labels: sel.label_selector.as_deref(),
        fields: sel.field_selector.as_deref(),
    }
}

impl Host for KubernetesView<'_> {
    #[tracing::instrument(target = "computehub::capability", name = "kubernetes.list", skip_all)]
    async fn list(
        &mut self,
        cluster: WitCluster,
        api_version: String,
        kind: String,
        sel: Selector,
    ) -> Result<Vec<String>, wit::Error> {
        let view = *self;
        timed(self.rid(), CALL_TIMEOUT, async move {
            let c = view.cluster(&cluster).await?;
            let sel = selector(&sel);
            c.list(&api_version, &kind, sel).await
        })
        .await
    }

    #[tracing::instrument(
        target = "computehub::capability",
        name = "kubernetes.list_page",
        skip_all
    )]
    async fn list_page(
        &mut self,
        cluster: WitCluster,
        api_version: String,
        kind: String,
        sel: Selector,
        limit: u32,
        continue_token: Option<String>,
    ) -> Result<wit::ObjectPage, wit::Error> {
        let view = *self;
        timed(self.rid(), CALL_TIMEOUT, async move {
            let c = view.cluster(&cluster).await?;
            let sel = selector(&sel);
            if !(1..=MAX_PAGE).contains(&limit) {
                return Err(KubeError::Invalid(format!(
                    "a page holds 1 to {MAX_PAGE} objects, not {limit}"
                )));
            }
            let page = c
                .list_page(&api_version, &kind, sel, limit, continue_token.as_deref())
                .await?;
            Ok(wit::ObjectPage {
                items: page.items,
                continue_token: page.continue_token,
            })
        })
        .await
    }

    #[tracing::instrument(target = "computehub::capability", name = "kubernetes.get", skip_all)]
    async fn get(
        &mut self,
        cluster: WitCluster,
        api_version: String,
        kind: String,
        namespace: Option<String>,
        name: String,
    ) -> Result<Option<String>, wit::Error> {
        let view = *self;
        timed(self.rid(), CALL_TIMEOUT, async move {
            let c = view.cluster(&cluster).await?;
            Ok(c.get(&api_version, &kind, namespace.as_deref(), &name)
                .await?
                .as_ref()
                .map(text))
        })
        .await
    }

    #[tracing::instrument(target = "computehub::capability", name = "kubernetes.apply", skip_all)]
    async fn apply(
        &mut self,
        cluster: WitCluster,
        manifests: String,
    ) -> Result<Vec<String>, wit::Error> {
        let view = *self;
        timed(self.rid(), CALL_TIMEOUT, async move {
            let c = view.cluster(&cluster).await?;
            let docs = objects::documents(&manifests)?;
            Ok(c.apply(&docs).await?.iter().map(text).collect())
        })
        .await
    }

    #[tracing::instrument(
        target = "computehub::capability",
        name = "kubernetes.delete_manifests",
        skip_all
    )]
    async fn delete_manifests(
        &mut self,
        cluster: WitCluster,
        manifests: String,
    ) -> Result<Vec<String>, wit::Error> {
        let view = *self;
        timed(self.rid(), CALL_TIMEOUT, async move {
            let c = view.cluster(&cluster).await?;
            let docs = objects::documents(&manifests)?;
            c.delete_documents(&docs).await
        })
        .await
    }

    #[tracing::instrument(
        target = "computehub::capability",
        name = "kubernetes.delete",
        skip_all
    )]
    async fn delete(
        &mut self,
        cluster: WitCluster,
        api_version: String,
        kind: String,
        namespace: Option<String>,
        name: String,
    ) -> Result<bool, wit::Error> {
        let view = *self;
        timed(self.rid(), CALL_TIMEOUT, async move {
            let c = view.cluster(&cluster).await?;
            c.delete(&api_version, &kind, namespace.as_deref(), &name)
                .await
        })
        .await
    }

    #[tracing::instrument(
        target = "computehub::capability",
        name = "kubernetes.label_node",
        skip_all
    )]
    async fn label_node(
        &mut self,
        cluster: WitCluster,
        node: String,
        set: Vec<(String, String)>,
        remove: Vec<String>,
    ) -> Result<(), wit::Error> {
        let view = *self;
        timed(self.rid(), CALL_TIMEOUT, async move {
            let c = view.cluster(&cluster).await?;
            c.label_node(&node, &set, &remove).await
        })
        .await
    }

    #[tracing::instrument(
        target = "computehub::capability",
        name = "kubernetes.cordon",
        skip_all
    )]
    async fn cordon(
        &mut self,
        cluster: WitCluster,
        node: String,
        unschedulable: bool,
    ) -> Result<(), wit::Error> {
        let view = *self;
        timed(self.rid(), CALL_TIMEOUT, async move {
            let c = view.cluster(&cluster).await?;
            c.cordon(&node, unschedulable).await
        })
        .await
    }

    #[tracing::instrument(target = "computehub::capability", name = "kubernetes.drain", skip_all)]
    async fn drain(
        &mut self,
        cluster: WitCluster,
        node: String,
        timeout_ms: u32,
    ) -> Result<DrainReport, wit::Error> {
        let limit = Duration::from_millis(timeout_ms.into()).min(MAX_DRAIN);
        // The drain's own deadline reports what blocked it; this outer one is a backstop.
        let view = *self;
        timed(self.rid(), limit + Duration::from_secs(5), async move {
            let c = view.cluster(&cluster).await?;
            let r = c.drain(&node, limit).await?;
            Ok(DrainReport {
                evicted: r.evicted,
                skipped: r.skipped,
            })
        })
        .await
    }

    #[tracing::instrument(
        target = "computehub::capability",
        name = "kubernetes.capacity",
        skip_all
    )]
    async fn capacity(&mut self, cluster: WitCluster) -> Result<Vec<NodeCapacity>, wit::Error> {
        let view = *self;
        timed(self.rid(), CALL_TIMEOUT, async move {
            let c = view.cluster(&cluster).await?;
            Ok(c.capacity()
                .await?
                .into_iter()
                .map(|n| NodeCapacity {
                    name: n.name,
                    allocatable: map_json(&n.allocatable),
                    requested: map_json(&n.requested),
                    usage: map_json(&n.usage),
                    labels: n.labels,
                    unschedulable: n.unschedulable,
                    taints: n.taints.to_string(),
                })
                .collect())
        })
        .await
    }
}
