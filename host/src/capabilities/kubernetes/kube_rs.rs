//! The real [`Backend`]: kube-rs clients (kube 5, k8s-openapi 0.29). A
//! client is built from the checked kubeconfig's values only, with short
//! connect and read timeouts, and every request it sends carries the trace
//! context of the plugin call it serves (`traceparent`). API discovery
//! answers are cached per client. The operations themselves are in
//! [`super::objects`] and [`super::nodes`].

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use kube::core::{ApiResource, GroupVersionKind};
use kube::discovery::ApiCapabilities;

use super::backend::{Backend, Cluster, DrainReport, NodeCapacity, Page, Selector};
use super::{nodes, objects, KubeError};
use crate::policy::kubeconfig;

/// The kube-rs backend.
#[derive(Debug, Default, Clone, Copy)]
pub struct KubeRs;

impl Backend for KubeRs {
    fn connect(
        &self,
        config: &kubeconfig::Checked,
        connect_to: Option<SocketAddr>,
    ) -> Result<Arc<dyn Cluster>, KubeError> {
        let mut config = config
            .client_config(connect_to)
            .map_err(|e| KubeError::Invalid(e.to_string()))?;
        config.connect_timeout = Some(Duration::from_secs(5));
        config.read_timeout = Some(Duration::from_secs(60));
        // Each request carries the calling request's trace (`traceparent`).
        let client = kube::client::ClientBuilder::try_from(config)
            .map_err(|e| {
                tracing::warn!(error = %e, "kubernetes: cannot build a client");
                KubeError::Invalid(
                    "kubeconfig: its credentials or certificates are not usable".into(),
                )
            })?
            .with_layer(&crate::telemetry::outgoing::TraceparentLayer)
            .build();
        Ok(Arc::new(KubeCluster {
            client,
            kinds: Mutex::new(HashMap::new()),
        }))
    }
}

/// A kube-rs client and its discovery cache.
pub struct KubeCluster {
    pub client: kube::Client,
    kinds: Mutex<HashMap<String, (ApiResource, ApiCapabilities)>>,
}

impl KubeCluster {
    /// The resource behind `apiVersion` + `kind`, by discovery (cached).
    pub async fn resource(
        &self,
        api_version: &str,
        kind: &str,
    ) -> Result<(ApiResource, ApiCapabilities), KubeError> {
        let key = format!("{api_version}/{kind}");
        if let Some(found) = self
            .kinds
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return Ok(found.clone());
        }
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", api_version),
        };
        if version.is_empty() || kind.is_empty() {
            return Err(KubeError::Invalid(format!(
                "`{api_version}` `{kind}` is not a kind"
            )));
        }
        let gvk = GroupVersionKind::gvk(group, version, kind);
        let found = kube::discovery::pinned_kind(&self.client, &gvk)
            .await
            .map_err(|e| match KubeError::from(e) {
                KubeError::NotFound(_) => {
                    KubeError::Invalid(format!("the cluster does not serve {api_version} {kind}"))
                }
                other => other,
            })?;
        self.kinds
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, found.clone());
        Ok(found)
    }
}

#[async_trait]
impl Cluster for KubeCluster {
    async fn list(
        &self,
        api_version: &str,
        kind: &str,
        sel: Selector<'_>,
    ) -> Result<Vec<String>, KubeError> {
        objects::list(self, api_version, kind, sel).await
    }

    async fn list_page(
        &self,
        api_version: &str,
        kind: &str,
        sel: Selector<'_>,
        limit: u32,
        continue_token: Option<&str>,
    ) -> Result<Page, KubeError> {
        objects::list_page(self, api_version, kind, sel, limit, continue_token).await
    }

    async fn get(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Option<serde_json::Value>, KubeError> {
        objects::get(self, api_version, kind, namespace, name).await
    }

    async fn apply(&self, docs: &[serde_json::Value]) -> Result<Vec<serde_json::Value>, KubeError> {
        objects::apply(self, docs).await
    }

    async fn delete_documents(&self, docs: &[serde_json::Value]) -> Result<Vec<String>, KubeError> {
        objects::delete_documents(self, docs).await
    }

    async fn delete(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<bool, KubeError> {
        objects::delete(self, api_version, kind, namespace, name).await
    }

    async fn label_node(
        &self,
        node: &str,
        set: &[(String, String)],
        remove: &[String],
    ) -> Result<(), KubeError> {
        nodes::label(self, node, set, remove).await
    }

    async fn cordon(&self, node: &str, unschedulable: bool) -> Result<(), KubeError> {
        nodes::cordon(self, node, unschedulable).await
    }

    async fn drain(&self, node: &str, timeout: Duration) -> Result<DrainReport, KubeError> {
        nodes::drain(self, node, timeout).await
    }

    async fn capacity(&self) -> Result<Vec<NodeCapacity>, KubeError> {
        nodes::capacity(self).await
    }
}
