//! Persistence of plugin versions: wasm files in `<data dir>/plugins/` named
//! by SHA-256, activations in the `plugin_activations` table, grants given
//! through the admin API in `plugin_grants`.

use std::path::Path;

use crate::runtime::Role;
use crate::store::db::{params, DbRow};
use crate::store::{self, records::now, Store, StoreError};

pub struct Activation {
    pub seq: i64,
    pub plugin_id: String,
    pub role: Role,
    pub sha256: String,
}

/// Plugin ids: 1-64 of `[a-z0-9-]`, starting with a letter.
pub fn validate_id(id: &str) -> Result<(), String> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "plugin id `{id}` must be 1-64 characters of a-z, 0-9 and `-`, starting with a letter"
        ))
    }
}

fn wasm_path(data_dir: &Path, sha256: &str) -> std::path::PathBuf {
    data_dir.join("plugins").join(format!("{sha256}.wasm"))
}

/// Keeps a copy of an activated version, mode 0600 in a 0700 `plugins/`
/// (like everything in the data dir; see [`crate::store::secure_data_dir`]).
pub fn write_wasm(data_dir: &Path, sha256: &str, wasm: &[u8]) -> std::io::Result<()> {
    let path = wasm_path(data_dir, sha256);
    if path.exists() {
        store::private_file(&path);
        return Ok(());
    }
    store::private_dir(&data_dir.join("plugins"))?;
    let tmp = path.with_extension("tmp");
    store::write_private_file(&tmp, wasm)?;
    std::fs::rename(tmp, path)
}

pub fn read_wasm(data_dir: &Path, sha256: &str) -> std::io::Result<Vec<u8>> {
    let path = wasm_path(data_dir, sha256);
    store::private_file(&path);
    std::fs::read(path)
}

/// `<id>.wasm` files of an operator's plugins directory.
pub fn read_plugins_dir(dir: &Path) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)
        .map_err(|e| anyhow::anyhow!("cannot read plugins dir {}: {e}", dir.display()))?
    {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("wasm") {
            continue;
        }
        let Some(id) = path
            .file_stem()
            .and_then(|s| s.to_str())
            .map(|s| s.replace('_', "-"))
        else {
            continue;
        };
        validate_id(&id).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        out.push((id, std::fs::read(&path)?));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

pub async fn record_activation(
    store: &Store,
    id: &str,
    role: Role,
    sha256: &str,
    version: &str,
) -> Result<(), StoreError> {
    store
        .db()
        .execute(
            "INSERT INTO plugin_activations (plugin_id, role, sha256, version, activated_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id, role.as_str(), sha256, version, now()],
        )
        .await?;
    Ok(())
}

pub async fn retire(store: &Store, seq: i64) -> Result<(), StoreError> {
    store
        .db()
        .execute(
            "UPDATE plugin_activations SET retired_at = ?1 WHERE seq = ?2",
            params![now(), seq],
        )
        .await?;
    Ok(())
}

fn read(mut r: DbRow) -> Result<Activation, StoreError> {
    let role: String = r.take(2)?;
    Ok(Activation {
        seq: r.take(0)?,
        plugin_id: r.take(1)?,
        role: Role::parse(&role).unwrap_or(Role::Endpoint),
        sha256: r.take(3)?,
    })
}

/// Live activations of `id`, newest first.
pub async fn history(store: &Store, id: &str) -> Result<Vec<Activation>, StoreError> {
    store
        .db()
        .query(
            "SELECT seq, plugin_id, role, sha256 FROM plugin_activations
             WHERE plugin_id = ?1 AND retired_at IS NULL ORDER BY seq DESC",
            params![id],
        )
        .await?
        .into_iter()
        .map(read)
        .collect()
}

/// The current activation of every plugin that has one.
pub async fn active(store: &Store) -> Result<Vec<Activation>, StoreError> {
    store
        .db()
        .query(
            "SELECT seq, plugin_id, role, sha256 FROM plugin_activations a
             WHERE retired_at IS NULL AND seq = (
                 SELECT MAX(seq) FROM plugin_activations b
                 WHERE b.plugin_id = a.plugin_id AND b.retired_at IS NULL)
             ORDER BY plugin_id",
            params![],
        )
        .await?
        .into_iter()
        .map(read)
        .collect()
}

/// Record the grant of `id` given through the admin API (JSON of its config
/// entry), replacing any earlier one.
pub async fn save_grant(store: &Store, id: &str, grant_json: &str) -> Result<(), StoreError> {
    store
        .db()
        .execute(
            "INSERT INTO plugin_grants (plugin_id, grant_json, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT(plugin_id) DO UPDATE SET grant_json = excluded.grant_json, updated_at = excluded.updated_at",
            params![id, grant_json, now()],
        )
        .await?;
    Ok(())
}

/// Every grant given through the admin API: (plugin id, JSON).
pub async fn grants(store: &Store) -> Result<Vec<(String, String)>, StoreError> {
    store
        .db()
        .query(
            "SELECT plugin_id, grant_json FROM plugin_grants ORDER BY plugin_id",
            params![],
        )
        .await?
        .into_iter()
        .map(|mut r| Ok((r.take(0)?, r.take(1)?)))
        .collect()
}
