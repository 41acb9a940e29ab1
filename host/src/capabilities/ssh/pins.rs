//! Host keys pinned on first use, per organisation and target (`device:<id>`
//! for an inventory device, `<ip>:<port>` for an explicit target), in the
//! store's `ssh_host_keys` table. A later connection whose server presents
//! another key is refused.

use rusqlite::OptionalExtension;

use crate::store::{records, Store, StoreError};

/// A pinned key: its OpenSSH public form and SHA-256 fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    pub public_key: String,
    pub fingerprint: String,
}

pub fn get(store: &Store, org: &str, target: &str) -> Result<Option<Pin>, StoreError> {
    let conn = store.conn();
    Ok(conn
        .query_row(
            "SELECT public_key, fingerprint FROM ssh_host_keys WHERE org_id = ?1 AND target = ?2",
            rusqlite::params![org, target],
            |r| {
                Ok(Pin {
                    public_key: r.get(0)?,
                    fingerprint: r.get(1)?,
                })
            },
        )
        .optional()?)
}

/// Pin `pin` for the target unless a key is pinned already; answers the key
/// pinned afterwards (the existing one if another connection won the race).
pub fn pin(store: &Store, org: &str, target: &str, pin: &Pin) -> Result<Pin, StoreError> {
    store.ensure_organisation(org)?;
    {
        let conn = store.conn();
        conn.execute(
            "INSERT INTO ssh_host_keys (org_id, target, public_key, fingerprint, pinned_at)
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (org_id, target) DO NOTHING",
            rusqlite::params![org, target, pin.public_key, pin.fingerprint, records::now()],
        )?;
    }
    get(store, org, target)?
        .ok_or_else(|| StoreError::Internal(format!("host key pin of {target} vanished")))
}

/// A pin as the admin API lists it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Pinned {
    pub org: String,
    pub target: String,
    pub fingerprint: String,
    pub public_key: String,
    pub pinned_at: String,
}

/// The pins of one organisation, or of all, by organisation and target.
pub fn list(store: &Store, org: Option<&str>) -> Result<Vec<Pinned>, StoreError> {
    let conn = store.conn();
    let mut stmt = conn.prepare(
        "SELECT org_id, target, fingerprint, public_key, pinned_at FROM ssh_host_keys
         WHERE ?1 IS NULL OR org_id = ?1 ORDER BY org_id, target",
    )?;
    let rows = stmt.query_map([org], |r| {
        Ok(Pinned {
            org: r.get(0)?,
            target: r.get(1)?,
            fingerprint: r.get(2)?,
            public_key: r.get(3)?,
            pinned_at: r.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Forget the pinned key of a target (a machine that was reinstalled).
pub fn forget(store: &Store, org: &str, target: &str) -> Result<bool, StoreError> {
    let n = store.conn().execute(
        "DELETE FROM ssh_host_keys WHERE org_id = ?1 AND target = ?2",
        rusqlite::params![org, target],
    )?;
    Ok(n > 0)
}
