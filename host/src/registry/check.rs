//! A dry run of an upload ([`Registry::check`]): the version is compiled,
//! checked against its grant, described and its routes placed beside the
//! other plugins' exactly as [`Registry::install`] would, but nothing is
//! written (no wasm file, no activation, no collection created or migrated)
//! and nothing is published. The collections' migration is checked on a
//! scratch store ([`migration`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{persist, InstallError, PluginEntry, Registry, Role, Router, Source};
use crate::store::{CollectionDecl, SchemaError, SchemaMode, Sealer, Store};

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

/// Would `decls`, version `version` of `id`, migrate the stored schema? The
/// stored declarations of every plugin (no rows) are declared on an
/// in-memory store, then `decls` as an upload declares them: a version that
/// drops or changes what is stored is refused with the sentence the upload
/// would give. A refusal that depends on stored rows (a field made unique
/// while rows repeat it) shows only at the upload, which then changes
/// nothing either. A scratch store that cannot be built checks nothing.
pub(super) async fn migration(
    store: &Store,
    id: &str,
    version: &str,
    decls: &[CollectionDecl],
) -> Result<(), InstallError> {
    let stored = match stored_declarations(store).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(plugin = id, error = %e, "dry run: the stored declarations could not be read; migration not checked");
            return Ok(());
        }
    };
    let scratch = match Store::in_memory(Sealer::from_key(&[0u8; 32])).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(plugin = id, error = %e, "dry run: no scratch store; migration not checked");
            return Ok(());
        }
    };
    // Other plugins first (one may reference another's: a few passes).
    let mut pending: Vec<(&String, &Vec<CollectionDecl>)> =
        stored.iter().filter(|(p, _)| p.as_str() != id).collect();
    for _ in 0..3 {
        let mut failed = Vec::new();
        for (p, d) in pending {
            if scratch
                .declare(p, "stored", d, SchemaMode::Keep)
                .await
                .is_err()
            {
                failed.push((p, d));
            }
        }
        pending = failed;
        if pending.is_empty() {
            break;
        }
    }
    if let Some(own) = stored.get(id) {
        if let Err(e) = scratch.declare(id, "active", own, SchemaMode::Keep).await {
            tracing::warn!(plugin = id, error = %e, "dry run: the stored declarations do not load; migration not checked");
            return Ok(());
        }
    }
    match scratch
        .declare(id, version, decls, SchemaMode::Upgrade)
        .await
    {
        Ok(_) => Ok(()),
        Err(SchemaError::Refused(m)) => Err(InstallError::Refused(m)),
        Err(SchemaError::Store(e)) => {
            tracing::warn!(plugin = id, error = %e, "dry run: the scratch migration failed; not refused");
            Ok(())
        }
    }
}

/// Every plugin's stored declarations.
async fn stored_declarations(
    store: &Store,
) -> Result<BTreeMap<String, Vec<CollectionDecl>>, Box<dyn std::error::Error>> {
    let rows = store
        .db()
        .query(
            "SELECT plugin_id, definition FROM plugin_collections",
            crate::store::db::params![],
        )
        .await?;
    let mut out: BTreeMap<String, Vec<CollectionDecl>> = BTreeMap::new();
    for mut row in rows {
        let (plugin, json): (String, String) = (row.take(0)?, row.take(1)?);
        out.entry(plugin)
            .or_default()
            .push(serde_json::from_str(&json)?);
    }
    Ok(out)
}
