//! Clients per cluster: a cluster named by inventory id has its kubeconfig
//! opened by the host (the plugin never sees it); an inline kubeconfig is used
//! as given. Clients are cached by the kubeconfig's hash so connections are
//! reused, and API discovery answers are cached per client.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::core::{ApiResource, GroupVersionKind};
use kube::discovery::ApiCapabilities;
use sha2::{Digest, Sha256};

use super::KubeError;
use crate::store::Store;

/// Largest inline kubeconfig accepted.
const MAX_KUBECONFIG: usize = 256 * 1024;
/// Clients kept; the oldest is dropped beyond this.
const MAX_CLIENTS: usize = 64;

/// Where a cluster's kubeconfig comes from.
pub enum ClusterRef<'a> {
    /// A `clusters` record of the calling organisation.
    Id(&'a str),
    Inline(&'a str),
}

/// A client and its discovery cache.
pub struct Cluster {
    pub client: kube::Client,
    kinds: Mutex<HashMap<String, (ApiResource, ApiCapabilities)>>,
}

#[derive(Default)]
pub struct Clients {
    by_hash: Mutex<Vec<(String, Arc<Cluster>)>>,
}

impl Clients {
    pub async fn get(
        &self,
        store: &Store,
        org: Option<&str>,
        cluster: ClusterRef<'_>,
    ) -> Result<Arc<Cluster>, KubeError> {
        let yaml = match cluster {
            ClusterRef::Inline(y) => {
                if y.len() > MAX_KUBECONFIG {
                    return Err(KubeError::Invalid(
                        "kubeconfig is larger than 256 KiB".into(),
                    ));
                }
                y.to_string()
            }
            ClusterRef::Id(id) => {
                let org = org.ok_or_else(|| {
                    KubeError::Denied("a cluster id needs an authenticated organisation".into())
                })?;
                store
                    .reveal(org, "clusters", id, "kubeconfig")
                    .map_err(|e| match e {
                        crate::store::StoreError::NotFound(_) => {
                            KubeError::NotFound(format!("no cluster `{id}`"))
                        }
                        other => KubeError::Unavailable(other.to_string()),
                    })?
                    .ok_or_else(|| {
                        KubeError::Unavailable(format!("cluster `{id}` has no kubeconfig yet"))
                    })?
            }
        };
        let hash = hex::encode(Sha256::digest(yaml.as_bytes()));
        if let Some(c) = self.lookup(&hash) {
            return Ok(c);
        }
        let kubeconfig = Kubeconfig::from_yaml(&yaml)
            .map_err(|e| KubeError::Invalid(format!("kubeconfig is not valid: {e}")))?;
        let mut config =
            kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
                .await
                .map_err(|e| KubeError::Invalid(format!("kubeconfig is not usable: {e}")))?;
        config.connect_timeout = Some(Duration::from_secs(5));
        config.read_timeout = Some(Duration::from_secs(60));
        let client = kube::Client::try_from(config).map_err(|e| {
            KubeError::Invalid(format!("cannot build a client from the kubeconfig: {e}"))
        })?;
        let cluster = Arc::new(Cluster {
            client,
            kinds: Mutex::new(HashMap::new()),
        });
        let mut all = self.by_hash.lock().unwrap_or_else(|p| p.into_inner());
        if all.len() >= MAX_CLIENTS {
            all.remove(0);
        }
        all.push((hash, Arc::clone(&cluster)));
        Ok(cluster)
    }

    fn lookup(&self, hash: &str) -> Option<Arc<Cluster>> {
        let all = self.by_hash.lock().unwrap_or_else(|p| p.into_inner());
        all.iter()
            .find(|(h, _)| h == hash)
            .map(|(_, c)| Arc::clone(c))
    }
}

impl Cluster {
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
