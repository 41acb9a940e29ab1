//! Answers of read statements kept until the next commit to the file.
//!
//! Every request reads its API key, and a quote reads its widgets, through
//! a reader thread: a hand-off, a WAL read transaction (two `fcntl` locks on
//! the `-shm` file) and the rows copied out. Most of those reads find what
//! the same statement found a moment before. This cache keeps the answer
//! of a statement its caller declares pure (a function of the database's
//! content alone: no clock, no random) and hands it out again for as long
//! as nothing has been committed to the file since it was read, by this
//! process or any other (the CLI, a backup restore).
//!
//! "Nothing committed since" is read from the WAL index, the `-shm` file
//! every connection to a WAL database maps and that SQLite documents as part
//! of its file format (`walformat.html`, "The WAL-Index Header"). Its header
//! is rewritten by every commit before the commit returns (frame count,
//! salts and checksums change), and is kept in two copies that a reader
//! compares to detect a write in progress. The stamp of a read is those 48
//! bytes, taken with one `pread` before the statement runs; an answer is
//! handed out only while the stamp is unchanged. A commit that returned
//! before a request began therefore always misses the cache: a revoked key
//! is refused from the very next request, as without the cache.
//!
//! The file cannot be swapped under the open descriptor: this process's
//! writer connection holds the shared "DMS" lock on it for its life, and
//! SQLite truncates or deletes the file only under that lock held
//! exclusively. A header that cannot be read whole, that is not
//! initialised, or whose copies differ, reads as "no stamp", and the
//! statement runs as if there were no cache.
//!
//! Bounded: at most [`MAX_ENTRIES`] answers and [`MAX_BYTES`] in all, none
//! empty (an unknown key id takes no room) and none over [`MAX_ANSWER`].
//! Everything is dropped at the first put after a commit.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::store::db::{DbRow, Sql};

/// Bytes of one copy of the WAL-index header.
const HEADER: usize = 48;
/// `iVersion` of the WAL-index format SQLite writes (3.7.0 and later).
const WALINDEX_VERSION: u32 = 3_007_000;
/// Offset of `isInit` in the header.
const IS_INIT: usize = 12;

/// Answers kept at most.
pub(super) const MAX_ENTRIES: usize = 4096;
/// Bytes kept at most (statements, parameters and rows, as estimated).
pub(super) const MAX_BYTES: usize = 4 << 20;
/// An answer larger than this is not kept.
pub(super) const MAX_ANSWER: usize = 64 << 10;

/// The WAL-index header as one commit left it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) struct Stamp([u8; HEADER]);

type Key = Box<[u8]>;

/// What a read found at one stamp.
struct Kept {
    stamp: Option<Stamp>,
    answers: HashMap<Key, Arc<Vec<DbRow>>, foldhash::fast::RandomState>,
    bytes: usize,
}

/// The cache of one database file.
pub(super) struct ReadCache {
    shm: File,
    kept: Mutex<Kept>,
    enabled: AtomicBool,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// Answers served from the cache and read anew, since the start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheFigures {
    pub hits: u64,
    pub misses: u64,
}

impl ReadCache {
    /// The cache of the database at `path`, if its WAL index (made by the
    /// connection's first read) can be opened.
    pub(super) fn open(path: &str) -> Option<ReadCache> {
        let shm = File::open(format!("{path}-shm")).ok()?;
        Some(ReadCache {
            shm,
            kept: Mutex::new(Kept {
                stamp: None,
                answers: HashMap::default(),
                bytes: 0,
            }),
            enabled: AtomicBool::new(true),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        })
    }

    pub(super) fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// Off: nothing is kept or handed out, and what was kept is dropped.
    pub(super) fn set_enabled(&self, on: bool) {
        self.enabled.store(on, Ordering::Relaxed);
        if !on {
            let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
            kept.answers.clear();
            kept.bytes = 0;
            kept.stamp = None;
        }
    }

    /// The header as the last commit left it; `None` when it cannot be
    /// told (not initialised, or a commit writing it right now).
    pub(super) fn stamp(&self) -> Option<Stamp> {
        let mut both = [0u8; 2 * HEADER];
        let n = self.shm.read_at(&mut both, 0).ok()?;
        let (first, second) = both.split_at(HEADER);
        let version = u32::from_ne_bytes([both[0], both[1], both[2], both[3]]);
        (n == both.len() && first == second && both[IS_INIT] == 1 && version == WALINDEX_VERSION)
            .then(|| {
                let mut s = [0u8; HEADER];
                s.copy_from_slice(first);
                Stamp(s)
            })
    }

    /// The answer kept for `sql` with `params` at `stamp`.
    pub(super) fn get(&self, stamp: Stamp, key: &[u8]) -> Option<Vec<DbRow>> {
        let kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        let found = (kept.stamp == Some(stamp))
            .then(|| kept.answers.get(key).cloned())
            .flatten();
        drop(kept);
        match found {
            Some(rows) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                Some(rows.as_ref().clone())
            }
            None => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// Keep `rows`, read after `stamp` was taken, unless a commit came
    /// since (the stamp is taken again) or the bounds say no.
    pub(super) fn put(&self, stamp: Stamp, key: Key, rows: &[DbRow]) {
        if rows.is_empty() || self.stamp() != Some(stamp) {
            return;
        }
        let size = key.len() + rows.iter().map(row_bytes).sum::<usize>();
        if size > MAX_ANSWER {
            return;
        }
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        if kept.stamp != Some(stamp) {
            kept.answers.clear();
            kept.bytes = 0;
            kept.stamp = Some(stamp);
        }
        if kept.answers.len() >= MAX_ENTRIES || kept.bytes + size > MAX_BYTES {
            return;
        }
        if kept.answers.insert(key, Arc::new(rows.to_vec())).is_none() {
            kept.bytes += size;
        }
    }

    pub(super) fn figures(&self) -> CacheFigures {
        CacheFigures {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }

    /// Bytes kept now (tests).
    #[cfg(test)]
    pub(super) fn bytes(&self) -> (usize, usize) {
        let kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        (kept.answers.len(), kept.bytes)
    }
}

/// The key of a statement with its parameters: the SQL text, then each
/// parameter tagged with its kind and, for text and blobs, its length.
pub(super) fn key(sql: &str, params: &[Sql]) -> Key {
    let mut k = Vec::with_capacity(sql.len() + 16 * params.len());
    k.extend_from_slice(sql.as_bytes());
    for p in params {
        match p {
            Sql::Null => k.push(0),
            Sql::Integer(i) => {
                k.push(1);
                k.extend_from_slice(&i.to_le_bytes());
            }
            Sql::Real(r) => {
                k.push(2);
                k.extend_from_slice(&r.to_bits().to_le_bytes());
            }
            Sql::Text(s) => {
                k.push(3);
                k.extend_from_slice(&(s.len() as u64).to_le_bytes());
                k.extend_from_slice(s.as_bytes());
            }
            Sql::Blob(b) => {
                k.push(4);
                k.extend_from_slice(&(b.len() as u64).to_le_bytes());
                k.extend_from_slice(b);
            }
        }
    }
    k.into_boxed_slice()
}

fn row_bytes(r: &DbRow) -> usize {
    r.0.iter()
        .map(|v| {
            std::mem::size_of::<Sql>()
                + match v {
                    Sql::Text(s) => s.len(),
                    Sql::Blob(b) => b.len(),
                    _ => 0,
                }
        })
        .sum::<usize>()
        + std::mem::size_of::<DbRow>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::db::sqlite::Sqlite;
    use crate::store::db::Database;
    use rusqlite::Connection;

    /// The file database of `sqlite`'s tests with one row, `a` = 1.
    async fn file_db() -> (tempfile::TempDir, Sqlite) {
        let (dir, db) = crate::store::db::sqlite::tests::file_db().await;
        db.execute("INSERT INTO t (id, n) VALUES ('a', 1)", vec![])
            .await
            .unwrap();
        (dir, db)
    }

    async fn n(db: &Sqlite, id: &str) -> Option<i64> {
        db.query_pure_opt("SELECT n FROM t WHERE id = ?1", vec![id.into()])
            .await
            .unwrap()
            .map(|r| r.get(0).unwrap())
    }

    fn figures(db: &Sqlite) -> CacheFigures {
        db.cache_figures().unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_answer_is_kept_until_the_next_commit() {
        let (_dir, db) = file_db().await;
        assert_eq!(n(&db, "a").await, Some(1));
        assert_eq!(n(&db, "a").await, Some(1));
        assert_eq!(figures(&db), CacheFigures { hits: 1, misses: 1 });
        // Other parameters are another answer.
        assert_eq!(n(&db, "b").await, None);
        assert_eq!(figures(&db).hits, 1);
        db.execute("UPDATE t SET n = 2 WHERE id = 'a'", vec![])
            .await
            .unwrap();
        assert_eq!(n(&db, "a").await, Some(2), "a commit is read at once");
        assert_eq!(n(&db, "a").await, Some(2));
        assert_eq!(figures(&db), CacheFigures { hits: 2, misses: 3 });
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_stamp_moves_with_the_content_of_any_table() {
        let (_dir, db) = file_db().await;
        db.batch("CREATE TABLE u (n INTEGER)").await.unwrap();
        db.execute("INSERT INTO u (n) VALUES (1)", vec![])
            .await
            .unwrap();
        let cache = db.cache.as_ref().unwrap();
        assert_eq!(n(&db, "a").await, Some(1));
        let before = cache.stamp().unwrap();
        // SQLite writes no page when nothing changes: the content, and so
        // the kept answer, is the same.
        db.execute("UPDATE t SET n = n", vec![]).await.unwrap();
        assert!(cache.stamp().unwrap() == before);
        assert_eq!(n(&db, "a").await, Some(1));
        assert_eq!(figures(&db).hits, 1);
        // A change to another table is a commit too: nothing is kept past it.
        db.execute("UPDATE u SET n = 2", vec![]).await.unwrap();
        assert!(cache.stamp().unwrap() != before);
        assert_eq!(n(&db, "a").await, Some(1));
        assert_eq!(figures(&db).hits, 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_commit_on_another_connection_is_read_at_once() {
        let (dir, db) = file_db().await;
        assert_eq!(n(&db, "a").await, Some(1));
        assert_eq!(n(&db, "a").await, Some(1));
        // What the CLI does while the server runs: its own connection.
        let other = Connection::open(dir.path().join("t.db")).unwrap();
        other
            .execute("UPDATE t SET n = 5 WHERE id = 'a'", [])
            .unwrap();
        assert_eq!(n(&db, "a").await, Some(5));
        other.execute("DELETE FROM t WHERE id = 'a'", []).unwrap();
        assert_eq!(n(&db, "a").await, None);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_open_transaction_is_not_read_and_its_commit_is() {
        let (_dir, db) = file_db().await;
        assert_eq!(n(&db, "a").await, Some(1));
        let mut tx = db.begin().await.unwrap();
        tx.execute("UPDATE t SET n = 3 WHERE id = 'a'", vec![])
            .await
            .unwrap();
        assert_eq!(n(&db, "a").await, Some(1));
        tx.commit().await.unwrap();
        assert_eq!(n(&db, "a").await, Some(3));
        let mut tx = db.begin().await.unwrap();
        tx.execute("UPDATE t SET n = 4 WHERE id = 'a'", vec![])
            .await
            .unwrap();
        drop(tx); // rolled back
        assert_eq!(n(&db, "a").await, Some(3));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn empty_and_large_answers_are_not_kept_and_the_total_is_bounded() {
        let (_dir, db) = file_db().await;
        let cache = db.cache.as_ref().unwrap();
        // Empty: an unknown key id takes no room.
        for _ in 0..3 {
            assert_eq!(n(&db, "nope").await, None);
        }
        assert_eq!(figures(&db).hits, 0);
        assert_eq!(cache.bytes(), (0, 0));
        // Larger than one answer may be.
        let big = "x".repeat(MAX_ANSWER);
        db.execute(
            "INSERT INTO t (id, n) VALUES (?1, 9)",
            vec![big.clone().into()],
        )
        .await
        .unwrap();
        for _ in 0..2 {
            let rows = db
                .query_pure("SELECT id FROM t WHERE n = 9", vec![])
                .await
                .unwrap();
            assert_eq!(rows.len(), 1);
        }
        assert_eq!(figures(&db).hits, 0);
        // Many distinct answers: never more than the bounds.
        let sql = "SELECT n, ?1 FROM t WHERE id = 'a'";
        let pad = "p".repeat(2000);
        for i in 0..MAX_ENTRIES + 100 {
            db.query_pure(sql, vec![format!("{i}{pad}").into()])
                .await
                .unwrap();
        }
        let (entries, bytes) = cache.bytes();
        assert!(
            entries <= MAX_ENTRIES && bytes <= MAX_BYTES,
            "{entries} {bytes}"
        );
        assert!(entries > 100, "answers were kept: {entries}");
    }

    #[test]
    fn a_header_is_a_stamp_only_whole_and_initialised() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.db");
        let path = path.to_str().unwrap();
        assert!(ReadCache::open(path).is_none(), "no file");
        let write = |copies: &[[u8; HEADER]]| {
            std::fs::write(format!("{path}-shm"), copies.concat()).unwrap();
        };
        write(&[[0; HEADER]]);
        let cache = ReadCache::open(path).unwrap();
        assert!(cache.stamp().is_none(), "short");
        let mut h = [7u8; HEADER];
        h[..4].copy_from_slice(&WALINDEX_VERSION.to_ne_bytes());
        h[IS_INIT] = 1;
        write(&[h, h]);
        let first = cache.stamp().unwrap();
        let mut torn = h;
        torn[20] ^= 1;
        write(&[h, torn]);
        assert!(cache.stamp().is_none(), "copies differ");
        write(&[torn, torn]);
        assert!(cache.stamp().is_some_and(|s| s != first), "a commit");
        let mut uninit = h;
        uninit[IS_INIT] = 0;
        write(&[uninit, uninit]);
        assert!(cache.stamp().is_none(), "not initialised");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn turned_off_every_read_runs() {
        let (_dir, db) = file_db().await;
        assert_eq!(n(&db, "a").await, Some(1));
        db.set_read_cache(false);
        for _ in 0..3 {
            assert_eq!(n(&db, "a").await, Some(1));
        }
        assert_eq!(figures(&db), CacheFigures { hits: 0, misses: 1 });
        db.set_read_cache(true);
        assert_eq!(n(&db, "a").await, Some(1));
        assert_eq!(n(&db, "a").await, Some(1));
        assert_eq!(figures(&db), CacheFigures { hits: 1, misses: 2 });
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn memory_has_no_cache() {
        let db = Sqlite::new(Connection::open_in_memory().unwrap()).unwrap();
        assert!(db.cache_figures().is_none());
    }
}
