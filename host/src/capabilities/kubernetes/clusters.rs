//! Which cluster a call reaches, and whether it may: a cluster named by
//! inventory id has its kubeconfig opened by the host (the plugin never sees
//! it, and must be granted to read `clusters`); an inline kubeconfig is the
//! caller's text. Either passes the kubeconfig policy (`policy::kubeconfig`:
//! nothing runs, no file is read), and either's API server must lie inside
//! the asking plugin's `kube-targets` (a stored kubeconfig was written by
//! whichever plugin holds the secret grant, from what a machine printed):
//! its name is resolved once, the address checked and connected to, and
//! checked again on every use of the cached client. The [`Backend`] builds a
//! client from the checked values. Clients are cached by the hash of what
//! they were checked for (the plugin and the text), so connections are
//! reused.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use super::backend::{Backend, Cluster};
use super::KubeError;
use crate::policy::{kubeconfig, Egress, Policy};
use crate::store::Store;

/// Clients kept; the oldest is dropped beyond this.
const MAX_CLIENTS: usize = 64;

/// Where a cluster's kubeconfig comes from.
pub enum ClusterRef<'a> {
    /// A `clusters` record of the calling organisation.
    Id(&'a str),
    Inline(&'a str),
}

/// The clients built so far, by the hash of what they were checked for.
#[derive(Default)]
pub struct Clients {
    /// Clients by hash, with the address each connects to (checked against
    /// the plugin's grant on every use).
    by_hash: Mutex<Vec<Cached>>,
}

struct Cached {
    key: String,
    cluster: Arc<dyn Cluster>,
    egress: SocketAddr,
}

/// Who asks for a client.
pub struct Asker<'a> {
    pub store: &'a Store,
    pub policy: &'a Policy,
    pub plugin: &'a str,
    pub organisation: Option<&'a str>,
}

fn hash(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update([0]);
    }
    hex::encode(h.finalize())
}

impl Clients {
    /// The client of `cluster` for `asker`: cached, or checked and built by
    /// `backend`.
    pub async fn get(
        &self,
        backend: &dyn Backend,
        asker: &Asker<'_>,
        cluster: ClusterRef<'_>,
    ) -> Result<Arc<dyn Cluster>, KubeError> {
        let (yaml, key) = match cluster {
            ClusterRef::Inline(y) => (y.to_string(), hash(&["inline", asker.plugin, y])),
            ClusterRef::Id(id) => {
                let yaml = stored(asker, id).await?;
                let key = hash(&["id", &yaml]);
                (yaml, key)
            }
        };
        if let Some((c, addr)) = self.lookup(&key) {
            // A grant narrowed since (through the admin API) applies to a
            // cached client at once: its address is checked again.
            asker
                .policy
                .check_egress(asker.plugin, Egress::Kube, addr)
                .map_err(|e| KubeError::Denied(e.0))?;
            return Ok(c);
        }
        let checked = kubeconfig::check(&yaml).map_err(|e| KubeError::Invalid(e.to_string()))?;
        // Any kubeconfig reaches only what the plugin's grant names; the
        // checked address is the one connected to.
        let connect_to = egress(asker, &checked).await?;
        let cluster = backend.connect(&checked, Some(connect_to))?;
        let mut all = self.by_hash.lock().unwrap_or_else(|p| p.into_inner());
        if all.len() >= MAX_CLIENTS {
            all.remove(0);
        }
        all.push(Cached {
            key,
            cluster: Arc::clone(&cluster),
            egress: connect_to,
        });
        Ok(cluster)
    }

    fn lookup(&self, hash: &str) -> Option<(Arc<dyn Cluster>, SocketAddr)> {
        let all = self.by_hash.lock().unwrap_or_else(|p| p.into_inner());
        all.iter()
            .find(|c| c.key == hash)
            .map(|c| (Arc::clone(&c.cluster), c.egress))
    }
}

/// The sealed kubeconfig of the organisation's cluster `id`, for a plugin
/// granted to read `clusters` (the kubeconfig is used on its behalf).
async fn stored(asker: &Asker<'_>, id: &str) -> Result<String, KubeError> {
    let org = asker.organisation.ok_or_else(|| {
        KubeError::Denied("a cluster id needs an authenticated organisation".into())
    })?;
    asker
        .policy
        .check_read(asker.plugin, "clusters")
        .map_err(|e| KubeError::Denied(e.0))?;
    asker
        .store
        .reveal(org, "clusters", id, "kubeconfig")
        .await
        .map_err(|e| match e {
            crate::store::StoreError::NotFound(_) => {
                KubeError::NotFound(format!("no cluster `{id}`"))
            }
            other => {
                tracing::error!(error = %other, "kubernetes: cannot open a stored kubeconfig");
                KubeError::Unavailable("the store failed".into())
            }
        })?
        .ok_or_else(|| KubeError::Unavailable(format!("cluster `{id}` has no kubeconfig yet")))
}

/// The address a kubeconfig's server is reached at: an IP literal, or a
/// name resolved once, each address checked against the plugin's
/// `kube-targets`; the first allowed one is used.
async fn egress(asker: &Asker<'_>, checked: &kubeconfig::Checked) -> Result<SocketAddr, KubeError> {
    let (host, port) = checked.host_port();
    // A plugin granted no API servers gets its caller's name neither looked
    // up (a lookup is traffic the caller chose) nor reached.
    if !asker.policy.has_egress(asker.plugin, Egress::Kube) {
        return Err(KubeError::Denied(format!(
            "plugin `{}` may not connect to `{host}`: it has no `kube-targets`",
            asker.plugin
        )));
    }
    let addrs: Vec<SocketAddr> = match host.parse::<std::net::IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|_| {
                KubeError::Invalid(format!(
                    "kubeconfig: the server name `{host}` does not resolve"
                ))
            })?
            .collect(),
    };
    let mut refusal = None;
    for a in addrs {
        match asker.policy.check_egress(asker.plugin, Egress::Kube, a) {
            Ok(()) => return Ok(a),
            Err(e) => {
                refusal.get_or_insert(e);
            }
        }
    }
    Err(KubeError::Denied(refusal.map_or_else(
        || format!("kubeconfig: the server name `{host}` does not resolve"),
        |e| e.0,
    )))
}
