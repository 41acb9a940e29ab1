//! The embedded backend: one SQLite connection (WAL, foreign keys on, a
//! statement cache) for writes, used by one statement or one transaction at
//! a time, and beside it, for a file, a few read-only connections on which
//! `SELECT`s outside a transaction run side by side (WAL lets readers run
//! beside the writer, each on the last committed state). A reader is a
//! thread of its own ([`readers`]); the writer's statements run on tokio's
//! blocking pool. None runs on an async worker.

use std::sync::Arc;

use async_trait::async_trait;
use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use rusqlite::Connection;
use std::sync::Mutex;

use tokio::sync::{OwnedRwLockWriteGuard, RwLock};

mod cache;
mod readers;
use cache::{Stamp, WalIndex};
use readers::{reader_count, Readers};

use super::read_cache::{self, CacheFigures, ReadCache};
use super::{is_select, AnswerBudget, Database, DbRow, Dialect, Executor, Sql, Transaction};
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
///
/// A `SELECT` on its own runs on one of the [`Readers`] instead (a file
/// only; `:memory:` is one connection's own database): it needs neither
/// the gate nor the writer's connection, sees what was committed before it
/// started, and never what an open transaction has written.
pub struct Sqlite {
    conn: Arc<Mutex<Connection>>,
    gate: Arc<RwLock<()>>,
    readers: Option<Readers>,
    /// Answers of pure reads until the next commit (a file only).
    cache: Option<Cached>,
    path: String,
}

/// The read cache of a file, and the WAL index its stamps are read from.
struct Cached {
    index: WalIndex,
    answers: ReadCache<Stamp>,
}

/// What every connection, writer or reader, is set to.
pub(super) fn tune(conn: &Connection) -> Result<(), StoreError> {
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
    Ok(())
}

impl Sqlite {
    /// A statement's rows within `budget`: on a reader when it is a
    /// `SELECT` (which SQLite then confirms writes nothing), else on the
    /// writer.
    async fn query_within(
        &self,
        sql: &str,
        params: Vec<Sql>,
        budget: AnswerBudget,
    ) -> Result<Vec<DbRow>, StoreError> {
        let mut params = params;
        if let Some(readers) = self.readers.as_ref().filter(|_| is_select(sql)) {
            match readers.query(sql, params, budget).await? {
                Ok(rows) => return Ok(rows),
                Err(back) => params = back,
            }
        }
        let sql = sql.to_string();
        self.statement(move |c| run_query(c, &sql, &params, budget))
            .await
    }

    /// Wraps an open connection, setting what every connection needs.
    pub fn new(conn: Connection) -> Result<Self, StoreError> {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        tune(&conn)?;
        let file = conn
            .path()
            .filter(|p| !p.is_empty() && *p != ":memory:")
            .map(str::to_string);
        let readers = file
            .as_ref()
            .map(|path| Readers::start(path, reader_count()))
            .transpose()?;
        let cache = match file.as_deref() {
            Some(path) => {
                // The first read makes the WAL index the cache reads its stamps from.
                conn.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))?;
                let cache = WalIndex::open(path).map(|index| Cached {
                    index,
                    answers: ReadCache::default(),
                });
                if cache.is_none() {
                    tracing::info!("the store's WAL index cannot be read: reads are not cached");
                }
                cache
            }
            None => None,
        };
        Ok(Sqlite {
            conn: Arc::new(Mutex::new(conn)),
            gate: Arc::new(RwLock::new(())),
            readers,
            cache,
            path: file.unwrap_or_else(|| ":memory:".into()),
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

fn run_query(
    conn: &Connection,
    sql: &str,
    params: &[Sql],
    budget: AnswerBudget,
) -> Result<Vec<DbRow>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    rows_of(&mut stmt, params, budget)
}

/// [`run_query`] of a statement that writes nothing; `None` for one that
/// would write.
pub(super) fn read_only_rows(
    conn: &Connection,
    sql: &str,
    params: &[Sql],
    budget: AnswerBudget,
) -> Result<Option<Vec<DbRow>>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    if !stmt.readonly() {
        return Ok(None);
    }
    rows_of(&mut stmt, params, budget).map(Some)
}

/// The statement's rows, stepped no further than `budget` allows.
fn rows_of(
    stmt: &mut rusqlite::Statement<'_>,
    params: &[Sql],
    mut budget: AnswerBudget,
) -> Result<Vec<DbRow>, StoreError> {
    let n = stmt.column_count();
    let mut rows = stmt.query(rusqlite::params_from_iter(params.iter()))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        let mut values = Vec::with_capacity(n);
        for i in 0..n {
            values.push(from_value(r.get::<_, Value>(i)?));
        }
        let row = DbRow(values);
        budget.take(&row)?;
        out.push(row);
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
        self.query_within(sql, params, AnswerBudget::none()).await
    }

    async fn query_pure(&self, sql: &str, params: Vec<Sql>) -> Result<Vec<DbRow>, StoreError> {
        let Some((cache, stamp)) = self
            .cache
            .as_ref()
            .filter(|c| c.answers.enabled())
            .and_then(|c| c.index.stamp().map(|s| (c, s)))
        else {
            return self.query_within(sql, params, AnswerBudget::page()).await;
        };
        let key = read_cache::key(sql, &params);
        if let Some(rows) = cache.answers.get(&stamp, &key) {
            return Ok(rows);
        }
        let rows = self.query_within(sql, params, AnswerBudget::page()).await?;
        // Kept only if no commit came since the stamp was taken: the
        // statement then read exactly that content.
        cache
            .answers
            .put(stamp, key, &rows, |s| cache.index.stamp() == Some(*s));
        Ok(rows)
    }

    fn read_cache(&self) -> Option<CacheFigures> {
        self.cache.as_ref().map(|c| c.answers.figures())
    }

    fn set_read_cache(&self, on: bool) {
        if let Some(c) = &self.cache {
            c.answers.set_enabled(on);
        }
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
        self.run(move |c| run_query(c, &sql, &params, AnswerBudget::none()))
            .await
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

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(super) async fn file_db() -> (tempfile::TempDir, Sqlite) {
        let dir = tempfile::tempdir().unwrap();
        let db = Sqlite::new(Connection::open(dir.path().join("t.db")).unwrap()).unwrap();
        db.batch("CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER)")
            .await
            .unwrap();
        (dir, db)
    }

    async fn count(db: &Sqlite) -> i64 {
        db.query_opt("SELECT COUNT(*) FROM t", vec![])
            .await
            .unwrap()
            .unwrap()
            .get(0)
            .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_file_reads_on_readers_what_was_committed_and_never_an_open_transaction() {
        let (_dir, db) = file_db().await;
        assert!(db.readers.is_some());
        db.execute("INSERT INTO t (id, n) VALUES ('a', 1)", vec![])
            .await
            .unwrap();
        assert_eq!(count(&db).await, 1, "a committed write is read at once");
        let mut tx = db.begin().await.unwrap();
        tx.execute("INSERT INTO t (id, n) VALUES ('b', 2)", vec![])
            .await
            .unwrap();
        // A read on its own does not wait for the transaction, nor see it.
        assert_eq!(count(&db).await, 1);
        let inside = tx
            .query_opt("SELECT COUNT(*) FROM t", vec![])
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            inside.get::<i64>(0).unwrap(),
            2,
            "the transaction sees its own"
        );
        tx.commit().await.unwrap();
        assert_eq!(count(&db).await, 2);
        // Many reads at once, more than the readers' queue holds: the rest
        // wait for room and are all answered.
        let db = Arc::new(db);
        let reads: Vec<_> = (0..reader_count() * readers::QUEUE_PER_READER + 50)
            .map(|_| {
                let db = Arc::clone(&db);
                tokio::spawn(async move { count(&db).await })
            })
            .collect();
        for r in reads {
            assert_eq!(r.await.unwrap(), 2);
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_query_that_writes_goes_to_the_writer() {
        let (_dir, db) = file_db().await;
        let rows = db
            .query("INSERT INTO t (id, n) VALUES ('a', 7) RETURNING n", vec![])
            .await
            .unwrap();
        assert_eq!(rows[0].get::<i64>(0).unwrap(), 7);
        // A `SELECT` spelled in lower case with leading space, and errors
        // of a reader's statement reach the caller.
        assert_eq!(count(&db).await, 1);
        let rows = db.query("  select n from t", vec![]).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert!(db.query("SELECT nope FROM t", vec![]).await.is_err());
        assert_eq!(count(&db).await, 1, "the reader is still usable");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn memory_has_no_readers() {
        let db = Sqlite::new(Connection::open_in_memory().unwrap()).unwrap();
        assert!(db.readers.is_none());
        db.batch("CREATE TABLE t (id TEXT PRIMARY KEY, n INTEGER)")
            .await
            .unwrap();
        db.execute("INSERT INTO t (id, n) VALUES ('a', 1)", vec![])
            .await
            .unwrap();
        assert_eq!(count(&db).await, 1);
    }
}
