//! The embedded backend: one SQLite connection (WAL, foreign keys on, a
//! statement cache), used by one statement or one transaction at a time.
//! Every statement runs on tokio's blocking pool, never on an async worker.

use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use rusqlite::Connection;
use std::sync::Mutex;

use tokio::sync::{OwnedRwLockWriteGuard, RwLock};

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
///
/// One connection. A statement on its own takes the gate shared and the
/// connection only while it runs, on the blocking pool: many wait for the
/// pool at once and none holds the connection across a thread hop. A
/// transaction takes the gate exclusively for its whole life, so no other
/// statement lands inside it.
pub struct Sqlite {
    conn: Arc<Mutex<Connection>>,
    gate: Arc<RwLock<()>>,
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
            gate: Arc::new(RwLock::new(())),
            path,
        })
    }

    /// The connection alone, for what only SQLite has (online backup, the
    /// schema's history). Runs `f` on the blocking pool.
    pub async fn with_conn<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&mut Connection) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        let _exclusive = Arc::clone(&self.gate).write_owned().await;
        run(&self.conn, f).await
    }

    /// Runs one statement on its own.
    async fn statement<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&mut Connection) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        let _shared = self.gate.read().await;
        run(&self.conn, f).await
    }
}

/// Runs `f` with the connection on the blocking pool. A transaction left
/// open by a caller that was cancelled mid-way is rolled back first.
async fn run<R, F>(conn: &Arc<Mutex<Connection>>, f: F) -> Result<R, StoreError>
where
    F: FnOnce(&mut Connection) -> Result<R, StoreError> + Send + 'static,
    R: Send + 'static,
{
    let conn = Arc::clone(conn);
    tokio::task::spawn_blocking(move || {
        // A panic while holding the lock cannot leave SQLite inconsistent
        // (the statement or transaction is rolled back), so a poisoned lock
        // is still usable.
        let mut guard = conn.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    })
    .await
    .map_err(|e| StoreError::Internal(format!("a store task failed: {e}")))?
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
        self.statement(move |c| run_execute(c, &sql, &params)).await
    }

    async fn query(&self, sql: &str, params: Vec<Sql>) -> Result<Vec<DbRow>, StoreError> {
        let sql = sql.to_string();
        self.statement(move |c| run_query(c, &sql, &params)).await
    }

    async fn batch(&self, sql: &str) -> Result<(), StoreError> {
        let sql = sql.to_string();
        self.statement(move |c| Ok(c.execute_batch(&sql)?)).await
    }

    async fn begin(&self) -> Result<Box<dyn Transaction>, StoreError> {
        let gate = Arc::clone(&self.gate).write_owned().await;
        run(&self.conn, |c| {
            if !c.is_autocommit() {
                tracing::warn!("rolling back a transaction its caller abandoned");
                c.execute_batch("ROLLBACK")?;
            }
            Ok(c.execute_batch("BEGIN IMMEDIATE")?)
        })
        .await?;
        Ok(Box::new(SqliteTx {
            conn: Arc::clone(&self.conn),
            gate: Some(gate),
        }))
    }
}

/// A transaction: the gate held exclusively until commit or drop.
struct SqliteTx {
    conn: Arc<Mutex<Connection>>,
    gate: Option<OwnedRwLockWriteGuard<()>>,
}

impl SqliteTx {
    async fn run<R, F>(&mut self, f: F) -> Result<R, StoreError>
    where
        F: FnOnce(&mut Connection) -> Result<R, StoreError> + Send + 'static,
        R: Send + 'static,
    {
        if self.gate.is_none() {
            return Err(StoreError::Internal("the transaction has ended".into()));
        }
        run(&self.conn, f).await
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
        let r = self.run(|c| Ok(c.execute_batch("COMMIT")?)).await;
        // Committed, or failed and rolled back by the next `begin`: either
        // way the gate opens now.
        self.gate = None;
        r
    }
}

impl Drop for SqliteTx {
    fn drop(&mut self) {
        // Not committed: roll back off the async worker, the gate held until
        // that is done. Were that not possible, the next `begin` rolls back.
        let Some(gate) = self.gate.take() else {
            return;
        };
        let conn = Arc::clone(&self.conn);
        let rollback = move || {
            let guard = conn.lock().unwrap_or_else(|p| p.into_inner());
            if !guard.is_autocommit() {
                let _ = guard.execute_batch("ROLLBACK");
            }
            drop(gate);
        };
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn_blocking(rollback);
        } else {
            rollback();
        }
    }
}
