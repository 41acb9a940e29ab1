//! Grants: the one in force for a plugin (the operator's file over admin
//! grants over built-in defaults), grants given through the admin API
//! (validated, persisted, in force at once), and their publication to the
//! capabilities' policy.

use std::collections::BTreeMap;

use super::{persist, InstallError, Registry, Source};
use crate::config::{Config, PluginConfig};
use crate::store::SchemaMode;

/// Where a plugin's grant comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantSource {
    /// The operator's config file (it wins).
    File,
    /// `PUT /admin/plugins/{id}/grants`.
    Admin,
    /// The built-in defaults of a built-in plugin.
    Builtin,
    /// Not named anywhere: `log` only.
    Default,
}

impl GrantSource {
    pub fn as_str(self) -> &'static str {
        match self {
            GrantSource::File => "config-file",
            GrantSource::Admin => "admin",
            GrantSource::Builtin => "built-in",
            GrantSource::Default => "default",
        }
    }
}

impl Registry {
    /// The configuration in force: the operator's file over admin grants
    /// over built-in defaults.
    pub fn effective_config(&self) -> Config {
        let granted = self.admin_grants.read().unwrap_or_else(|p| p.into_inner());
        self.config.with_admin_grants(&granted)
    }

    /// The grant in force for `id` and where it comes from.
    pub fn grant_of(&self, id: &str) -> (Option<PluginConfig>, GrantSource) {
        if self.config.from_file.contains(id) {
            return (self.config.plugins.get(id).cloned(), GrantSource::File);
        }
        let granted = self.admin_grants.read().unwrap_or_else(|p| p.into_inner());
        if let Some(g) = granted.get(id) {
            return (Some(g.clone()), GrantSource::Admin);
        }
        match self.config.plugins.get(id) {
            Some(p) => (Some(p.clone()), GrantSource::Builtin),
            None => (None, GrantSource::Default),
        }
    }

    /// Publish the egress and storage grants in force to the capabilities.
    pub(super) fn refresh_policy(&self) -> Result<(), String> {
        let grants = self
            .effective_config()
            .policy_grants()
            .map_err(|e| e.to_string())?;
        self.runtime.capabilities().policy.set_grants(grants);
        Ok(())
    }

    /// Load the grants given through the admin API and put every grant in
    /// force (at boot).
    pub(super) async fn load_admin_grants(&self) -> anyhow::Result<()> {
        let mut loaded = BTreeMap::new();
        for (id, json) in persist::grants(&self.store).await? {
            match serde_json::from_str::<PluginConfig>(&json) {
                Ok(g) => {
                    loaded.insert(id, g);
                }
                Err(e) => {
                    tracing::error!(plugin = %id, error = %e, "a stored admin grant is unreadable; ignoring it")
                }
            }
        }
        *self.admin_grants.write().unwrap_or_else(|p| p.into_inner()) = loaded;
        self.refresh_policy().map_err(anyhow::Error::msg)
    }

    /// Grant `id` what `grant` names, through the admin API: validated,
    /// persisted, in force at once (egress and storage for the next call;
    /// a changed import grant, role or isolation reloads the active version
    /// with it). Refused when the operator's config file names the plugin.
    /// Returns whether the active version was reloaded.
    pub async fn set_grant(&self, id: &str, grant: PluginConfig) -> Result<bool, InstallError> {
        persist::validate_id(id).map_err(InstallError::Refused)?;
        if self.config.from_file.contains(id) {
            return Err(InstallError::ConfigWins(id.to_string()));
        }
        let mut one = BTreeMap::new();
        one.insert(id.to_string(), grant.clone());
        self.config
            .with_admin_grants(&one)
            .policy_grants()
            .map_err(|e| InstallError::Refused(e.to_string()))?;
        let _guard = self.swap.lock().await;
        // What the plugin's stored collections refer to stays readable
        // (checked here too: a grant that reloads nothing prepares nothing).
        super::references::check_grant(id, &grant, &self.store).map_err(InstallError::Refused)?;
        let before = self.grant_of(id).0;
        let reload = before.as_ref().is_none_or(|b| b.reloads_under(&grant));
        let previous = self
            .admin_grants
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_string(), grant.clone());
        let restore = || {
            let mut g = self.admin_grants.write().unwrap_or_else(|p| p.into_inner());
            match &previous {
                Some(p) => g.insert(id.to_string(), p.clone()),
                None => g.remove(id),
            };
        };
        // The active version under the new grant, prepared before anything is
        // kept: a grant its component cannot load under is refused whole.
        let mut entry = None;
        if let Some(active) = self.table().plugins.get(id).cloned().filter(|_| reload) {
            let wasm = match active.source {
                Source::Uploaded => persist::read_wasm(&self.store, &self.data_dir, &active.sha256)
                    .await
                    .ok(),
                _ => None,
            }
            .or_else(|| self.default_of(id).map(|(_, w, _)| w.to_vec()));
            if let Some(wasm) = wasm {
                match self
                    .prepare(
                        id,
                        active.role,
                        &wasm,
                        active.source,
                        Some(SchemaMode::Keep),
                    )
                    .await
                {
                    Ok(e) => entry = Some(e),
                    Err(e) => {
                        restore();
                        return Err(e);
                    }
                }
            }
        }
        let saved = match serde_json::to_string(&grant) {
            Ok(json) => persist::save_grant(&self.store, id, &json)
                .await
                .map_err(|e| InstallError::Persist(e.to_string())),
            Err(e) => Err(InstallError::Persist(e.to_string())),
        };
        if let Err(e) = saved {
            restore();
            return Err(e);
        }
        self.refresh_policy().map_err(InstallError::Refused)?;
        tracing::info!(plugin = %id, reload = entry.is_some(), "grant changed through the admin API");
        self.announce(id).await;
        match entry {
            Some(e) => {
                self.publish(vec![e])?;
                Ok(true)
            }
            None => Ok(false),
        }
    }
}
