//! SQLite's stamp for the read cache ([`crate::store::db::read_cache`]):
//! "nothing committed to the file since", read from the WAL index.
//!
//! Every request reads its API key, and a quote reads its widgets, through
//! a reader thread: a hand-off, a WAL read transaction (two `fcntl` locks on
//! the `-shm` file) and the rows copied out. Most of those reads find what
//! the same statement found a moment before, and the cache hands that out
//! again for as long as nothing has been committed to the file since it was
//! read, by this process or any other (the CLI, a backup restore).
//!
//! The WAL index is the `-shm` file every connection to a WAL database maps
//! and that SQLite documents as part of its file format (`walformat.html`,
//! "The WAL-Index Header"). Its header is rewritten by every commit before
//! the commit returns (frame count, salts and checksums change), and is
//! kept in two copies that a reader compares to detect a write in progress.
//! The stamp of a read is those 48 bytes, taken with one `pread` before the
//! statement runs, and taken again before its answer is kept; an answer is
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

use std::fs::File;
use std::os::unix::fs::FileExt;

/// Bytes of one copy of the WAL-index header.
const HEADER: usize = 48;
/// `iVersion` of the WAL-index format SQLite writes (3.7.0 and later).
const WALINDEX_VERSION: u32 = 3_007_000;
/// Offset of `isInit` in the header.
const IS_INIT: usize = 12;

/// The WAL-index header as one commit left it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) struct Stamp([u8; HEADER]);

/// The WAL index of one database file, open for its stamps.
pub(super) struct WalIndex {
    shm: File,
}

impl WalIndex {
    /// The WAL index of the database at `path`, if it (made by the
    /// connection's first read) can be opened.
    pub(super) fn open(path: &str) -> Option<WalIndex> {
        let shm = File::open(format!("{path}-shm")).ok()?;
        Some(WalIndex { shm })
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::db::read_cache::{CacheFigures, MAX_ANSWER};
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
        db.read_cache().unwrap()
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
        let index = &db.cache.as_ref().unwrap().index;
        assert_eq!(n(&db, "a").await, Some(1));
        let before = index.stamp().unwrap();
        // SQLite writes no page when nothing changes: the content, and so
        // the kept answer, is the same.
        db.execute("UPDATE t SET n = n", vec![]).await.unwrap();
        assert!(index.stamp().unwrap() == before);
        assert_eq!(n(&db, "a").await, Some(1));
        assert_eq!(figures(&db).hits, 1);
        // A change to another table is a commit too: nothing is kept past it.
        db.execute("UPDATE u SET n = 2", vec![]).await.unwrap();
        assert!(index.stamp().unwrap() != before);
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
    async fn empty_and_large_answers_are_not_kept() {
        let (_dir, db) = file_db().await;
        let answers = &db.cache.as_ref().unwrap().answers;
        // Empty: an unknown key id takes no room.
        for _ in 0..3 {
            assert_eq!(n(&db, "nope").await, None);
        }
        assert_eq!(figures(&db).hits, 0);
        assert_eq!(answers.bytes(), (0, 0));
        // Larger than one answer may be.
        let big = "x".repeat(MAX_ANSWER);
        db.execute("INSERT INTO t (id, n) VALUES (?1, 9)", vec![big.into()])
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
        assert_eq!(answers.bytes(), (0, 0));
    }

    #[test]
    fn a_header_is_a_stamp_only_whole_and_initialised() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.db");
        let path = path.to_str().unwrap();
        assert!(WalIndex::open(path).is_none(), "no file");
        let write = |copies: &[[u8; HEADER]]| {
            std::fs::write(format!("{path}-shm"), copies.concat()).unwrap();
        };
        write(&[[0; HEADER]]);
        let index = WalIndex::open(path).unwrap();
        assert!(index.stamp().is_none(), "short");
        let mut h = [7u8; HEADER];
        h[..4].copy_from_slice(&WALINDEX_VERSION.to_ne_bytes());
        h[IS_INIT] = 1;
        write(&[h, h]);
        let first = index.stamp().unwrap();
        let mut torn = h;
        torn[20] ^= 1;
        write(&[h, torn]);
        assert!(index.stamp().is_none(), "copies differ");
        write(&[torn, torn]);
        assert!(index.stamp().is_some_and(|s| s != first), "a commit");
        let mut uninit = h;
        uninit[IS_INIT] = 0;
        write(&[uninit, uninit]);
        assert!(index.stamp().is_none(), "not initialised");
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
        assert!(db.read_cache().is_none());
    }
}
