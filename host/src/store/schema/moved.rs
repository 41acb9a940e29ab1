//! The collections the host kept for the API areas before their plugins
//! owned them ([`MOVED`]), handed over when a store opens.

use rusqlite::{Connection, OptionalExtension};

use super::{qualified, CollectionDecl, FieldDecl};
use crate::store::collections::{FieldKind, Moved, MOVED};
use crate::store::{records, Sealer, StoreError};

/// The declaration of a collection the host kept before its area's plugin
/// owned it: the host's definition, references by the same names.
fn moved_decl(m: &Moved) -> CollectionDecl {
    let c = &m.collection;
    CollectionDecl {
        name: c.name.to_string(),
        fields: c
            .fields
            .iter()
            .map(|f| FieldDecl {
                name: f.name.to_string(),
                kind: f.kind,
                required: f.required,
                unique: f.unique,
                references: f.references.as_deref().map(str::to_string),
            })
            .collect(),
        unique_keys: m
            .unique_keys
            .iter()
            .map(|k| k.iter().map(|f| f.to_string()).collect())
            .collect(),
        indexes: Vec::new(),
    }
}

/// On a new PostgreSQL database: the collections SQLite stores hand over
/// ([`adopt_moved`]) are declared for their plugins at once, so both
/// databases hold the same schema before any plugin loads. Declared
/// already (a restart, another replica), they are left as they are.
pub(in crate::store) async fn declare_moved(store: &crate::store::Store) -> Result<(), StoreError> {
    let mut owners: Vec<&str> = MOVED.iter().map(|m| m.owner).collect();
    owners.sort_unstable();
    owners.dedup();
    for owner in owners {
        let decls: Vec<CollectionDecl> = MOVED
            .iter()
            .filter(|m| m.owner == owner)
            .map(moved_decl)
            .collect();
        store
            .declare(owner, "host", &decls, super::Mode::Keep)
            .await
            .map_err(|e| match e {
                super::SchemaError::Store(s) => s,
                super::SchemaError::Refused(m) => StoreError::Internal(m),
            })?;
    }
    Ok(())
}

/// Hands every collection of [`MOVED`] still under its bare name to its
/// plugin: the table renamed to `<owner>.<name>` (SQLite rewrites the
/// foreign keys that point at it), the definition recorded as the plugin's
/// declaration, and each sealed value sealed again under the new name (a
/// sealed value is bound to its collection, field and row). One
/// transaction: all or nothing. Runs on every open; a store handed over
/// already has nothing left to do.
pub(in crate::store) fn adopt_moved(
    conn: &mut Connection,
    sealer: &Sealer,
) -> Result<usize, StoreError> {
    let tx = conn.transaction()?;
    let mut adopted = 0;
    for m in MOVED {
        let name = m.collection.name.as_ref();
        let exists: Option<i64> = tx
            .query_row(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [name],
                |r| r.get(0),
            )
            .optional()?;
        if exists.is_none() {
            continue;
        }
        let table = qualified(m.owner, name);
        tx.execute_batch(&format!("ALTER TABLE \"{name}\" RENAME TO \"{table}\""))?;
        let json = serde_json::to_string(&moved_decl(m))
            .map_err(|e| StoreError::Internal(e.to_string()))?;
        tx.execute(
            "INSERT INTO plugin_collections (plugin_id, name, definition, updated_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (plugin_id, name) DO NOTHING",
            rusqlite::params![m.owner, name, json, records::now()],
        )?;
        for f in m
            .collection
            .fields
            .iter()
            .filter(|f| f.kind == FieldKind::Secret)
        {
            let sealed: Vec<(String, Vec<u8>)> = tx
                .prepare(&format!(
                    "SELECT id, \"{}\" FROM \"{table}\" WHERE \"{}\" IS NOT NULL",
                    f.name, f.name
                ))?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<_, _>>()?;
            for (id, blob) in sealed {
                let plain = sealer
                    .open(&blob, &format!("{name}/{}/{id}", f.name))
                    .map_err(|e| StoreError::Internal(format!("{name}.{}: {e}", f.name)))?;
                let resealed = sealer
                    .seal(&plain, &format!("{table}/{}/{id}", f.name))
                    .map_err(|e| StoreError::Internal(e.to_string()))?;
                tx.execute(
                    &format!("UPDATE \"{table}\" SET \"{}\" = ?1 WHERE id = ?2", f.name),
                    rusqlite::params![resealed, id],
                )?;
            }
        }
        adopted += 1;
    }
    tx.commit()?;
    Ok(adopted)
}
