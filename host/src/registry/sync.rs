//! Replicas on one database follow each other's swaps, rollbacks and
//! grants. The replica that changes a plugin records it in the store and
//! announces it on [`CHANNEL`] (PostgreSQL `NOTIFY`); every replica (see
//! `server/replicas.rs`) then calls [`Registry::sync`], which compares what
//! the store says is active with what it serves and loads the difference,
//! published exactly as a local swap is (requests in flight finish on the
//! old version). A periodic sync covers notices lost with a connection.

use std::collections::{BTreeMap, BTreeSet};

use super::{persist, InstallError, Registry, Source};
use crate::config::PluginConfig;
use crate::store::SchemaMode;

/// The channel on which plugin changes are announced (payload: the id).
pub const CHANNEL: &str = "computehub_plugins";

impl Registry {
    /// Tell the other replicas that `id` changed (best effort: their
    /// periodic sync catches up if the notice is lost).
    pub(super) async fn announce(&self, id: &str) {
        if let Err(e) = self.store.db().notify(CHANNEL, id).await {
            tracing::warn!(plugin = %id, error = %e, "cannot announce a plugin change to the other replicas");
        }
    }

    /// Bring the versions and grants this replica serves to what the store
    /// records (another replica's swap, rollback or grant); answers how many
    /// plugins were reloaded.
    pub async fn sync(&self) -> Result<usize, InstallError> {
        let persist_err = |e: crate::store::StoreError| InstallError::Persist(e.to_string());
        let _guard = self.swap.lock().await;
        // Grants given through the admin API.
        let mut stored: BTreeMap<String, PluginConfig> = BTreeMap::new();
        for (id, json) in persist::grants(&self.store).await.map_err(persist_err)? {
            match serde_json::from_str::<PluginConfig>(&json) {
                Ok(g) => {
                    stored.insert(id, g);
                }
                Err(e) => {
                    tracing::error!(plugin = %id, error = %e, "a stored admin grant is unreadable; ignoring it")
                }
            }
        }
        let mut regranted = BTreeSet::new();
        {
            let mut held = self.admin_grants.write().unwrap_or_else(|p| p.into_inner());
            if *held != stored {
                for id in held.keys().chain(stored.keys()) {
                    let (a, b) = (held.get(id), stored.get(id));
                    let same = match (a, b) {
                        (Some(a), Some(b)) => !a.reloads_under(b),
                        (None, None) => true,
                        _ => false,
                    };
                    if !same && !self.config.from_file.contains(id) {
                        regranted.insert(id.clone());
                    }
                }
                *held = stored;
            }
        }
        self.refresh_policy().map_err(InstallError::Refused)?;
        // The versions the store records as active, else the defaults.
        let active: BTreeMap<String, persist::Activation> = persist::active(&self.store)
            .await
            .map_err(persist_err)?
            .into_iter()
            .map(|a| (a.plugin_id.clone(), a))
            .collect();
        let table = self.table();
        let defaults = self
            .defaults
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let ids: BTreeSet<&String> = defaults
            .keys()
            .chain(active.keys())
            .chain(table.plugins.keys())
            .collect();
        let mut entries = Vec::new();
        for id in ids {
            let current = table.plugins.get(id);
            let wanted = match active.get(id) {
                Some(a) => {
                    let changed = current.is_none_or(|c| c.sha256 != a.sha256);
                    if !changed && !regranted.contains(id) {
                        continue;
                    }
                    let wasm = persist::read_wasm(&self.store, &self.data_dir, &a.sha256)
                        .await
                        .map_err(|e| InstallError::Persist(e.to_string()))?;
                    (a.role, wasm, Source::Uploaded)
                }
                None => match defaults.get(id) {
                    Some((role, wasm, source)) => {
                        // Defaults never change while the process runs: an
                        // uploaded version served here was rolled back.
                        let changed = current.is_none_or(|c| c.source == Source::Uploaded);
                        if !changed && !regranted.contains(id) {
                            continue;
                        }
                        (*role, wasm.to_vec(), *source)
                    }
                    // Neither recorded nor a default: nothing to follow.
                    None => continue,
                },
            };
            let (role, wasm, source) = wanted;
            let entry = self
                .prepare(id, role, &wasm, source, Some(SchemaMode::Keep))
                .await?;
            tracing::info!(plugin = %id, version = %entry.version, "followed a change made through another replica");
            entries.push(entry);
        }
        let n = entries.len();
        if n > 0 {
            self.publish(entries)?;
        }
        Ok(n)
    }
}
