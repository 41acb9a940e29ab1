//! The small trait the capability talks to a cluster through, and what
//! crosses it. [`Backend`] builds a [`Cluster`] client from a kubeconfig the
//! capability has already checked (and, for an inline one, the address its
//! grant approved); [`Cluster`] is the handful of operations a plugin may
//! ask of a cluster. The real implementation is kube-rs ([`super::kube_rs`]);
//! the capability's grant checks, client cache, deadlines and WIT
//! conversions are written against these traits only.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::KubeError;
use crate::policy::kubeconfig;

/// Which objects a list covers.
#[derive(Debug, Clone, Copy)]
pub struct Selector<'a> {
    pub namespace: Option<&'a str>,
    pub labels: Option<&'a str>,
    pub fields: Option<&'a str>,
}

/// One page of a list: its objects (JSON texts, each with its `apiVersion`
/// and `kind`) and the token that continues it.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub items: Vec<String>,
    pub continue_token: Option<String>,
}

/// What a drain evicted and what it left (`namespace/name`).
#[derive(Debug, Clone, Default)]
pub struct DrainReport {
    pub evicted: Vec<String>,
    pub skipped: Vec<String>,
}

/// A node's capacity: allocatable, requests of its non-terminal pods and
/// usage from the metrics API (resource name to quantity).
#[derive(Debug, Clone, Default)]
pub struct NodeCapacity {
    pub name: String,
    pub allocatable: BTreeMap<String, String>,
    pub requested: BTreeMap<String, String>,
    pub usage: BTreeMap<String, String>,
    pub labels: Vec<(String, String)>,
    pub unschedulable: bool,
    pub taints: serde_json::Value,
}

/// Builds clients. Called only after the capability's checks passed.
pub trait Backend: Send + Sync + 'static {
    /// A client for `config`, connecting to `connect_to` instead of the
    /// server's own address when given (the capability always gives the
    /// address the plugin's grant approved).
    fn connect(
        &self,
        config: &kubeconfig::Checked,
        connect_to: Option<SocketAddr>,
    ) -> Result<Arc<dyn Cluster>, KubeError>;
}

/// The operations the capability performs on one cluster. Objects are named
/// by `apiVersion` + `kind`; manifests arrive as documents the capability
/// has already parsed and checked (each has apiVersion, kind and name).
#[async_trait]
pub trait Cluster: Send + Sync {
    /// Every object the selector covers.
    async fn list(
        &self,
        api_version: &str,
        kind: &str,
        sel: Selector<'_>,
    ) -> Result<Vec<String>, KubeError>;

    /// At most `limit` objects (1 to [`super::MAX_PAGE`]) from where
    /// `continue_token` left off, in the API server's order.
    async fn list_page(
        &self,
        api_version: &str,
        kind: &str,
        sel: Selector<'_>,
        limit: u32,
        continue_token: Option<&str>,
    ) -> Result<Page, KubeError>;

    async fn get(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Option<serde_json::Value>, KubeError>;

    /// Server-side apply of every document, in order; the applied objects.
    async fn apply(&self, docs: &[serde_json::Value]) -> Result<Vec<serde_json::Value>, KubeError>;

    /// Delete every document's object, last first; `kind/name` (or
    /// `kind/namespace/name`) of what existed and was deleted.
    async fn delete_documents(&self, docs: &[serde_json::Value]) -> Result<Vec<String>, KubeError>;

    /// Whether the object existed (and was deleted).
    async fn delete(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<bool, KubeError>;

    async fn label_node(
        &self,
        node: &str,
        set: &[(String, String)],
        remove: &[String],
    ) -> Result<(), KubeError>;

    async fn cordon(&self, node: &str, unschedulable: bool) -> Result<(), KubeError>;

    /// Cordon, evict every evictable pod and wait until they are gone,
    /// within `timeout`.
    async fn drain(&self, node: &str, timeout: Duration) -> Result<DrainReport, KubeError>;

    async fn capacity(&self) -> Result<Vec<NodeCapacity>, KubeError>;
}
