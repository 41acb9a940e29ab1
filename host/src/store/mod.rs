//! The embedded system of record: one SQLite file in the data dir.
//!
//! The host owns the schema (versioned migrations in [`migrations`]) and the
//! rules plugins cannot bypass: every collection row belongs to an
//! organisation and every call is scoped to one ([`records`]); secret fields
//! are sealed with an AEAD key kept beside the database ([`seal`]) and only
//! ever leave the store redacted, except through [`Store::reveal`], which the
//! host's own capabilities use.

pub mod collections;
pub mod ids;
pub mod migrations;
mod query;
pub mod records;
pub mod seal;
#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::Connection;

pub use records::{Comparison, Condition, Order, Page, Query, Row, Value, Write};
pub use seal::Sealer;

/// Errors at the store's boundary. Messages of `NotFound`, `Conflict` and
/// `Invalid` are safe to show to the caller; `Internal` details go to the log.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    #[error("store failure: {0}")]
    Internal(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        if let rusqlite::Error::SqliteFailure(code, msg) = &e {
            if code.code == rusqlite::ErrorCode::ConstraintViolation {
                let msg = msg.clone().unwrap_or_default();
                if msg.contains("UNIQUE") {
                    return StoreError::Conflict(unique_message(&msg));
                }
                if msg.contains("FOREIGN KEY") {
                    return StoreError::Conflict(
                        "the record is referenced by other records".into(),
                    );
                }
            }
        }
        StoreError::Internal(e.to_string())
    }
}

/// "UNIQUE constraint failed: devices.org_id, devices.name" -> "`name` already exists".
fn unique_message(msg: &str) -> String {
    let field = msg
        .rsplit(',')
        .next()
        .and_then(|s| s.trim().rsplit('.').next())
        .unwrap_or("value");
    format!("a record with this `{field}` already exists")
}

/// The store: a connection to the SQLite file and the sealing key.
pub struct Store {
    conn: Mutex<Connection>,
    sealer: Sealer,
}

impl Store {
    /// Open (creating if needed) `computehub.db` and the seal key in `data_dir`,
    /// and bring the schema up to date.
    pub fn open(data_dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(data_dir)?;
        let conn = Connection::open(data_dir.join("computehub.db"))?;
        let sealer = Sealer::load_or_create(&data_dir.join("seal.key"))?;
        Self::with_connection(conn, sealer)
    }

    /// A store over an existing connection (tests use an in-memory one).
    pub fn with_connection(mut conn: Connection, sealer: Sealer) -> anyhow::Result<Self> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // Statements are cached per SQL text (values are bound), so a
        // repeated request parses no SQL.
        conn.set_prepared_statement_cache_capacity(256);
        // Without the query planner stability guarantee SQLite marks a
        // statement for re-preparation whenever a parameter the planner
        // looked at is bound again, and it looks at most of ours: every
        // cached statement was parsed and planned anew on every call (about
        // a tenth of a quote's CPU). Our queries are equalities on indexed
        // columns, whose best plan does not depend on the values.
        conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )?;
        migrations::migrate(&mut conn)?;
        Ok(Store {
            conn: Mutex::new(conn),
            sealer,
        })
    }

    /// The connection, for the host's own tables (keys, plugin versions).
    pub fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent
        // (transactions roll back on drop), so a poisoned lock is still usable.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn sealer(&self) -> &Sealer {
        &self.sealer
    }

    /// Create the organisation if it does not exist yet.
    pub fn ensure_organisation(&self, org: &str) -> Result<(), StoreError> {
        ids::validate_org(org).map_err(StoreError::Invalid)?;
        self.conn().execute(
            "INSERT INTO organisations (id, created_at) VALUES (?1, ?2) ON CONFLICT(id) DO NOTHING",
            rusqlite::params![org, records::now()],
        )?;
        Ok(())
    }

    /// Open a sealed field for the host's own use (SSH passwords,
    /// kubeconfigs). Never exposed to plugins.
    pub fn reveal(
        &self,
        org: &str,
        collection: &str,
        id: &str,
        field: &str,
    ) -> Result<Option<String>, StoreError> {
        records::reveal(self, org, collection, id, field)
    }
}
