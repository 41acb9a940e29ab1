//! A dry run of an upload ([`Registry::check`]): the version is compiled,
//! checked against its grant, described and its routes placed beside the
//! other plugins' exactly as [`Registry::install`] would, but nothing is
//! written (no wasm file, no activation, no collection created or migrated)
//! and nothing is published.

use std::sync::Arc;

use super::{persist, InstallError, PluginEntry, Registry, Role, Router, Source};

/// What a dry run found: the version that would go live, and the one it
/// would replace.
pub struct Checked {
    pub entry: Arc<PluginEntry>,
    pub active: Option<Arc<PluginEntry>>,
}

impl Registry {
    /// Would `wasm` install as `id` with `role`? The refusal is the one
    /// `install` would give.
    pub async fn check(&self, id: &str, role: Role, wasm: &[u8]) -> Result<Checked, InstallError> {
        persist::validate_id(id).map_err(InstallError::Refused)?;
        let entry = Arc::new(self.prepare(id, role, wasm, Source::Uploaded, None).await?);
        let current = self.table();
        if entry.role != Role::Endpoint {
            if let Some(other) = current
                .plugins
                .values()
                .find(|p| p.role == entry.role && p.id != entry.id)
            {
                return Err(InstallError::Refused(format!(
                    "plugin `{}` would be a second {} engine beside `{}`; upload it as `{}` to replace that one",
                    entry.id,
                    entry.role.as_str(),
                    other.id,
                    other.id
                )));
            }
        }
        let mut plugins = current.plugins.clone();
        plugins.insert(entry.id.clone(), Arc::clone(&entry));
        Router::build(plugins.values().filter(|p| p.role == Role::Endpoint))
            .map_err(InstallError::Collision)?;
        Ok(Checked {
            active: current.plugins.get(id).cloned(),
            entry,
        })
    }
}
