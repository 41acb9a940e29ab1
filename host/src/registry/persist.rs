//! Persistence of plugin versions, all in the store so that every replica on
//! one database shares them: the wasm by SHA-256 in `plugin_wasm`,
//! activations in `plugin_activations`, grants given through the admin API
//! in `plugin_grants`.

use std::path::Path;

use crate::runtime::Role;
use crate::store::db::{params, DbRow};
use crate::store::{records::now, Store, StoreError};

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

fn legacy_wasm_path(data_dir: &Path, sha256: &str) -> std::path::PathBuf {
    data_dir.join("plugins").join(format!("{sha256}.wasm"))
}

/// Keeps the wasm of an activated version in the store (once per SHA-256),
/// where every replica on the database finds it.
pub async fn write_wasm(store: &Store, sha256: &str, wasm: &[u8]) -> Result<(), StoreError> {
    store
        .db()
        .execute(
            "INSERT INTO plugin_wasm (sha256, wasm, stored_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (sha256) DO NOTHING",
            params![sha256, wasm, now()],
        )
        .await?;
    Ok(())
}

/// Why the wasm of a recorded version cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum WasmError {
    #[error("the wasm of version {0} is not in the store")]
    Missing(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The wasm of the version `sha256`, from the store; a data dir from before
/// the store held it keeps it in `plugins/<sha256>.wasm`, which moves into
/// the store here.
pub async fn read_wasm(store: &Store, data_dir: &Path, sha256: &str) -> Result<Vec<u8>, WasmError> {
    let row = store
        .db()
        .query_opt(
            "SELECT wasm FROM plugin_wasm WHERE sha256 = ?1",
            params![sha256],
        )
        .await?;
    if let Some(row) = row {
        return Ok(row.get(0)?);
    }
    // The name comes from a stored row: only a SHA-256 ever names a file.
    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(WasmError::Missing(sha256.to_string()));
    }
    let legacy = legacy_wasm_path(data_dir, sha256);
    let wasm = std::fs::read(&legacy).map_err(|_| WasmError::Missing(sha256.to_string()))?;
    if crate::runtime::cache::sha256_hex(&wasm) != sha256 {
        return Err(WasmError::Missing(sha256.to_string()));
    }
    write_wasm(store, sha256, &wasm).await?;
    if std::fs::remove_file(&legacy).is_err() {
        tracing::warn!(path = %legacy.display(), "cannot remove a plugin file moved into the store");
    }
    Ok(wasm)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::cache::sha256_hex;
    use crate::store::Sealer;

    #[tokio::test]
    async fn wasm_lives_in_the_store_and_a_legacy_file_moves_in() {
        let store = Store::in_memory(Sealer::from_key(&[5; 32])).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (b"\0asm one".to_vec(), b"\0asm two".to_vec());
        write_wasm(&store, &sha256_hex(&a), &a).await.unwrap();
        // Twice is a no-op.
        write_wasm(&store, &sha256_hex(&a), &a).await.unwrap();
        assert_eq!(
            read_wasm(&store, dir.path(), &sha256_hex(&a))
                .await
                .unwrap(),
            a
        );
        // A version a data dir from before kept as a file moves in.
        std::fs::create_dir_all(dir.path().join("plugins")).unwrap();
        let legacy = legacy_wasm_path(dir.path(), &sha256_hex(&b));
        std::fs::write(&legacy, &b).unwrap();
        assert_eq!(
            read_wasm(&store, dir.path(), &sha256_hex(&b))
                .await
                .unwrap(),
            b
        );
        assert!(!legacy.exists());
        assert_eq!(
            read_wasm(&store, dir.path(), &sha256_hex(&b))
                .await
                .unwrap(),
            b
        );
        // A file whose content is not what its name says is not taken.
        let forged = legacy_wasm_path(dir.path(), &sha256_hex(b"other"));
        std::fs::write(&forged, &a).unwrap();
        assert!(matches!(
            read_wasm(&store, dir.path(), &sha256_hex(b"other")).await,
            Err(WasmError::Missing(_))
        ));
        // A name that is not a SHA-256 never reaches the file system.
        std::fs::write(dir.path().join("seal.wasm"), &a).unwrap();
        assert!(matches!(
            read_wasm(&store, dir.path(), "../seal").await,
            Err(WasmError::Missing(_))
        ));
        assert!(dir.path().join("seal.wasm").exists());
        let n: i64 = store
            .db()
            .query_opt("SELECT COUNT(*) FROM plugin_wasm", params![])
            .await
            .unwrap()
            .unwrap()
            .get(0)
            .unwrap();
        assert_eq!(n, 2);
    }
}
