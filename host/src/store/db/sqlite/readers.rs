//! Read-only connections to the database file, each owned by a thread of
//! its own that takes `SELECT`s from one queue.
//!
//! Every request reads (its API key at least), so a read's thread hop is on
//! the hot path. Through tokio's blocking pool each hop woke a parked
//! thread and parked it again; here a reader that finds the queue non-empty
//! goes on to the next statement without sleeping, so under load a hop
//! costs a queue push and the caller's wake-up, not two context switches.
//! No statement runs on an async worker (#20).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use rusqlite::Connection;
use tokio::sync::{oneshot, Semaphore};

use super::{read_only_rows, tune};
use crate::store::db::{AnswerBudget, DbRow, Sql};
use crate::store::StoreError;

/// What a reader answers: the rows, or the parameters back when the
/// statement would write (it goes to the writer then).
type Answer = Result<Result<Vec<DbRow>, Vec<Sql>>, StoreError>;

/// One statement for a reader.
struct Job {
    sql: String,
    params: Vec<Sql>,
    budget: AnswerBudget,
    reply: oneshot::Sender<Answer>,
    /// Held until the statement has run: it bounds the queue.
    _permit: tokio::sync::OwnedSemaphorePermit,
}

/// The reader threads of one database file. Dropping this ends them (when
/// the statements queued before have run).
pub(super) struct Readers {
    jobs: crossbeam_channel::Sender<Job>,
    /// Statements queued or running at most: a caller beyond waits on the
    /// async side, so the queue never grows without bound.
    permits: Arc<Semaphore>,
}

/// Reader threads: reads beyond the cores would only queue.
pub(super) fn reader_count() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 8))
}

/// Statements queued or running per reader at most.
pub(super) const QUEUE_PER_READER: usize = 32;

impl Readers {
    /// Starts `threads` readers of the file at `path`; each opens its
    /// connection on its first statement.
    pub(super) fn start(path: &str, threads: usize) -> Result<Readers, StoreError> {
        let (jobs, queue) = crossbeam_channel::unbounded::<Job>();
        for i in 0..threads {
            let (queue, path) = (queue.clone(), path.to_string());
            std::thread::Builder::new()
                .name(format!("sqlite-reader-{i}"))
                .spawn(move || serve(&path, &queue))
                .map_err(|e| StoreError::Internal(format!("no reader thread: {e}")))?;
        }
        Ok(Readers {
            jobs,
            permits: Arc::new(Semaphore::new(threads * QUEUE_PER_READER)),
        })
    }

    /// Runs `sql` on a reader; `Err(params)` back when it would write.
    pub(super) async fn query(&self, sql: &str, params: Vec<Sql>, budget: AnswerBudget) -> Answer {
        let closed = || StoreError::Internal("the store's readers are closed".into());
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| closed())?;
        let (reply, answer) = oneshot::channel();
        let job = Job {
            sql: sql.to_string(),
            params,
            budget,
            reply,
            _permit: permit,
        };
        self.jobs.send(job).map_err(|_| closed())?;
        answer.await.map_err(|_| closed())?
    }
}

/// A reader thread: statements from `queue` until every sender is gone.
fn serve(path: &str, queue: &crossbeam_channel::Receiver<Job>) {
    let mut conn: Option<Connection> = None;
    loop {
        // Before waiting: give back freed memory if asked (memory.rs; one
        // atomic load otherwise).
        crate::memory::on_idle();
        let Ok(job) = queue.recv() else { return };
        let Job {
            sql,
            params,
            budget,
            reply,
            _permit,
        } = job;
        // A panic in SQLite's wrapper costs this statement (its caller gets
        // an error) and the connection, never the thread.
        let ran = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let c = match conn.take() {
                Some(c) => c,
                None => open(path)?,
            };
            let out = read_only_rows(&c, &sql, &params, budget);
            // A connection whose statement failed is still usable: SQLite
            // ended that statement's read.
            conn = Some(c);
            Ok(match out? {
                Some(rows) => Ok(rows),
                None => Err(params),
            })
        }));
        let answer = ran.unwrap_or_else(|_| {
            tracing::error!("a store reader failed; its connection is reopened");
            Err(StoreError::Internal("a store read failed".into()))
        });
        // The caller may have gone (a cancelled request): nothing to do.
        let _ = reply.send(answer);
    }
}

fn open(path: &str) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE
            | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX
            | rusqlite::OpenFlags::SQLITE_OPEN_URI,
    )?;
    // Refuses any write, should one come this way.
    conn.pragma_update(None, "query_only", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    tune(&conn)?;
    Ok(conn)
}
