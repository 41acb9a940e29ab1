//! Host keys pinned on first use, per organisation and target (`device:<id>`
//! for an inventory device, `<ip>:<port>` for an explicit target), in the
//! store's `ssh_host_keys` table. A later connection whose server presents
//! another key is refused.

use crate::store::db::params;
use crate::store::{records, Store, StoreError};

/// A pinned key: its OpenSSH public form and SHA-256 fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    pub public_key: String,
    pub fingerprint: String,
}

pub async fn get(store: &Store, org: &str, target: &str) -> Result<Option<Pin>, StoreError> {
    store
        .db()
        .query_opt(
            "SELECT public_key, fingerprint FROM ssh_host_keys WHERE org_id = ?1 AND target = ?2",
            params![org, target],
        )
        .await?
        .map(|mut r| {
            Ok(Pin {
                public_key: r.take(0)?,
                fingerprint: r.take(1)?,
            })
        })
        .transpose()
}

/// Pin `pin` for the target unless a key is pinned already; answers the key
/// pinned afterwards (the existing one if another connection won the race).
pub async fn pin(store: &Store, org: &str, target: &str, pin: &Pin) -> Result<Pin, StoreError> {
    store.ensure_organisation(org).await?;
    store
        .db()
        .execute(
            "INSERT INTO ssh_host_keys (org_id, target, public_key, fingerprint, pinned_at)
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (org_id, target) DO NOTHING",
            params![
                org,
                target,
                &pin.public_key,
                &pin.fingerprint,
                records::now()
            ],
        )
        .await?;
    get(store, org, target)
        .await?
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
pub async fn list(store: &Store, org: Option<&str>) -> Result<Vec<Pinned>, StoreError> {
    const COLUMNS: &str =
        "SELECT org_id, target, fingerprint, public_key, pinned_at FROM ssh_host_keys";
    let rows = match org {
        Some(org) => {
            store
                .db()
                .query(
                    &format!("{COLUMNS} WHERE org_id = ?1 ORDER BY org_id, target"),
                    params![org],
                )
                .await?
        }
        None => {
            store
                .db()
                .query(&format!("{COLUMNS} ORDER BY org_id, target"), params![])
                .await?
        }
    };
    rows.into_iter()
        .map(|mut r| {
            Ok(Pinned {
                org: r.take(0)?,
                target: r.take(1)?,
                fingerprint: r.take(2)?,
                public_key: r.take(3)?,
                pinned_at: r.take(4)?,
            })
        })
        .collect()
}

/// Forget the pinned key of a target (a machine that was reinstalled).
pub async fn forget(store: &Store, org: &str, target: &str) -> Result<bool, StoreError> {
    let n = store
        .db()
        .execute(
            "DELETE FROM ssh_host_keys WHERE org_id = ?1 AND target = ?2",
            params![org, target],
        )
        .await?;
    Ok(n > 0)
}
