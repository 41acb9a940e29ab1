//! The embedded backend: one SQLite connection (WAL, foreign keys on, a
//! statement cache), used by one statement or one transaction at a time.
//! Every statement runs on tokio's blocking pool, never on an async worker.

use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use rusqlite::Connection;
use tokio::sync::{Mutex, OwnedMutexGuard};

use super::{Database, DbRow, Dialect, Executor, Sql, Transaction};
use crate::store::StoreError;

impl rusqlite::ToSql for Sql {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Sql::Null => ValueRef::Null,
            Sql::Integer(i) => ValueRef::Integer(*i),
            Sql::Real(r) => ValueRef::Real(*r),
            Sql::Text(s) => ValueRef::Text(s.as_bytes()),
            Sql::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

fn from_value(v: Value) -> Sql {
    match v {
        Value::Null => Sql::Null,
        Value::Integer(i) => Sql::Integer(i),
        Value::Real(r) => Sql::Real(r),
        Value::Text(s) => Sql::Text(s),
        Value::Blob(b) => Sql::Blob(b),
    }
}

/// The SQLite database of a data dir (or an in-memory one in tests).
pub struct Sqlite {
    conn: Arc<Mutex<Connection>>,
    path: String,
}

impl Sqlite {
    /// Wraps an open connection, setting what every connection needs.
    pub fn new(conn: Connection) -> Result<Self, StoreError> {
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
        let path = conn
            .path()
            .filter(|p| !p.is_empty())
            .unwrap_or(":memory:")
            .to_string();
        Ok(Sqlite {
            conn: Arc::new(Mutex::new(conn)),
            path,
        })
    }

    /// The connection, for what only SQLite has (online backup, the
    /// schema's history). Runs `f` on the blocking pool.
    pub async fn with_conn<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&mut Connection) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        let guard = self.lock().await;
        blocking(guard, f).await.1
    }

    /// The connection, ready for a statement: a transaction a cancelled
    /// caller left open is rolled back first.
    async fn lock(&self) -> OwnedMutexGuard<Connection> {
        let guard = Arc::clone(&self.conn).lock_owned().await;
        if !guard.is_autocommit() {
            tracing::warn!("rolling back a transaction its caller abandoned");
            let _ = guard.execute_batch("ROLLBACK");
        }
        guard
    }
}

/// Runs `f` with the connection on the blocking pool and hands the
/// connection back.
async fn blocking<R, F>(
    mut guard: OwnedMutexGuard<Connection>,
    f: F,
) -> (Option<OwnedMutexGuard<Connection>>, Result<R, StoreError>)
where
    F: FnOnce(&mut Connection) -> Result<R, StoreError> + Send + 'static,
    R: Send + 'static,
{
    match tokio::task::spawn_blocking(move || {
        let r = f(&mut guard);
        (guard, r)
    })
    .await
    {
        Ok((guard, r)) => (Some(guard), r),
        Err(e) => (
            None,
            Err(StoreError::Internal(format!("a store task failed: {e}"))),
        ),
    }
}

fn run_execute(conn: &Connection, sql: &str, params: &[Sql]) -> Result<u64, StoreError> {
    let n = conn
        .prepare_cached(sql)?
        .execute(rusqlite::params_from_iter(params.iter()))?;
    Ok(n as u64)
}

fn run_query(conn: &Connection, sql: &str, params: &[Sql]) -> Result<Vec<DbRow>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let n = stmt.column_count();
    let mut rows = stmt.query(rusqlite::params_from_iter(params.iter()))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let mut values = Vec::with_capacity(n);
        for i in 0..n {
            values.push(from_value(r.get::<_, Value>(i)?));
        }
        out.push(DbRow(values));
    }
    Ok(out)
}

#[async_trait]
impl Database for Sqlite {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn describe(&self) -> String {
        format!("SQLite {}", self.path)
    }

    async fn execute(&self, sql: &str, params: Vec<Sql>) -> Result<u64, StoreError> {
        let sql = sql.to_string();
        self.with_conn(move |c| run_execute(c, &sql, &params)).await
    }

    async fn query(&self, sql: &str, params: Vec<Sql>) -> Result<Vec<DbRow>, StoreError> {
        let sql = sql.to_string();
        self.with_conn(move |c| run_query(c, &sql, &params)).await
    }

    async fn batch(&self, sql: &str) -> Result<(), StoreError> {
        let sql = sql.to_string();
        self.with_conn(move |c| Ok(c.execute_batch(&sql)?)).await
    }

    async fn begin(&self) -> Result<Box<dyn Transaction>, StoreError> {
        let guard = self.lock().await;
        let (guard, r) = blocking(guard, |c| Ok(c.execute_batch("BEGIN IMMEDIATE")?)).await;
        r?;
        Ok(Box::new(SqliteTx { conn: guard }))
    }
}

/// A transaction holding the connection until commit or drop.
struct SqliteTx {
    conn: Option<OwnedMutexGuard<Connection>>,
}

impl SqliteTx {
    async fn run<R, F>(&mut self, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&mut Connection) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        let guard = self
            .conn
            .take()
            .ok_or_else(|| StoreError::Internal("the transaction has ended".into()))?;
        let (guard, r) = blocking(guard, f).await;
        self.conn = guard;
        r
    }
}

#[async_trait]
impl Executor for SqliteTx {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }
    async fn execute(&mut self, sql: &str, params: Vec<Sql>) -> Result<u64, StoreError> {
        let sql = sql.to_string();
        self.run(move |c| run_execute(c, &sql, &params)).await
    }
    async fn query(&mut self, sql: &str, params: Vec<Sql>) -> Result<Vec<DbRow>, StoreError> {
        let sql = sql.to_string();
        self.run(move |c| run_query(c, &sql, &params)).await
    }
    async fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        let sql = sql.to_string();
        self.run(move |c| Ok(c.execute_batch(&sql)?)).await
    }
}

#[async_trait]
impl Transaction for SqliteTx {
    async fn commit(mut self: Box<Self>) -> Result<(), StoreError> {
        self.run(|c| Ok(c.execute_batch("COMMIT")?)).await
    }
}

impl Drop for SqliteTx {
    fn drop(&mut self) {
        // Not committed: roll back off the async worker. Were that not
        // possible, the next user of the connection rolls back first
        // (`Sqlite::lock`).
        if let Some(guard) = self.conn.take() {
            if guard.is_autocommit() {
                return;
            }
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn_blocking(move || {
                    let _ = guard.execute_batch("ROLLBACK");
                });
            } else {
                let _ = guard.execute_batch("ROLLBACK");
            }
        }
    }
}
