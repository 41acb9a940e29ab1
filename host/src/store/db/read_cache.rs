//! Answers of pure reads, kept while the database's stamp says nothing was
//! committed since they were read. One cache for both backends; what a
//! stamp is, and when it is taken, is each backend's: SQLite's WAL-index
//! header ([`super::sqlite`]), PostgreSQL's transaction snapshot
//! ([`super::postgres`]).
//!
//! A read is pure when its caller declares it so ([`super::Database::query_pure`]):
//! a function of the database's content alone, no clock, no random. Its
//! answer is handed out again only to a read whose stamp is the very stamp
//! it was read at, so a stamp must change with every commit that can change
//! a row. The backend puts an answer only when it knows the statement read
//! the content of that stamp (the `still` check of [`ReadCache::put`]).
//!
//! Bounded: at most [`MAX_ENTRIES`] answers and [`MAX_BYTES`] in all, none
//! empty (an unknown key id takes no room) and none over [`MAX_ANSWER`].
//! Everything is dropped at the first put of a new stamp.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::{DbRow, Sql};

/// Answers kept at most.
pub const MAX_ENTRIES: usize = 4096;
/// Bytes kept at most (statements, parameters and rows, as estimated).
pub const MAX_BYTES: usize = 4 << 20;
/// An answer larger than this is not kept.
pub const MAX_ANSWER: usize = 64 << 10;

/// A statement with its parameters, as [`key`] writes it.
pub type Key = Box<[u8]>;

/// What the reads found at one stamp.
struct Kept<S> {
    stamp: Option<S>,
    answers: HashMap<Key, Arc<Vec<DbRow>>, foldhash::fast::RandomState>,
    bytes: usize,
}

/// The answers of one database, by stamp of type `S`.
pub struct ReadCache<S> {
    kept: Mutex<Kept<S>>,
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

impl<S: Eq> Default for ReadCache<S> {
    fn default() -> Self {
        ReadCache {
            kept: Mutex::new(Kept {
                stamp: None,
                answers: HashMap::default(),
                bytes: 0,
            }),
            enabled: AtomicBool::new(true),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }
}

impl<S: Eq> ReadCache<S> {
    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// Off: nothing is kept or handed out, and what was kept is dropped.
    pub fn set_enabled(&self, on: bool) {
        self.enabled.store(on, Ordering::Relaxed);
        if !on {
            let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
            kept.answers.clear();
            kept.bytes = 0;
            kept.stamp = None;
        }
    }

    /// The answer kept for `key` at `stamp` (counted as a hit or a miss).
    pub fn get(&self, stamp: &S, key: &[u8]) -> Option<Vec<DbRow>> {
        let kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        let found = (kept.stamp.as_ref() == Some(stamp))
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

    /// Keep `rows`, read for `key` at `stamp`, unless the bounds say no or
    /// `still` (asked last, since it may cost a read of the stamp) says
    /// the statement may have read content of a later stamp.
    pub fn put(&self, stamp: S, key: Key, rows: &[DbRow], still: impl FnOnce(&S) -> bool) {
        if rows.is_empty() {
            return;
        }
        let size = key.len() + rows.iter().map(row_bytes).sum::<usize>();
        if size > MAX_ANSWER || !still(&stamp) {
            return;
        }
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        if kept.stamp.as_ref() != Some(&stamp) {
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

    pub fn figures(&self) -> CacheFigures {
        CacheFigures {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }

    /// Answers and bytes kept now (tests).
    #[cfg(test)]
    pub fn bytes(&self) -> (usize, usize) {
        let kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        (kept.answers.len(), kept.bytes)
    }
}

/// The key of a statement with its parameters: the SQL text, then each
/// parameter tagged with its kind and, for text and blobs, its length.
pub fn key(sql: &str, params: &[Sql]) -> Key {
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

    fn row(s: &str) -> Vec<DbRow> {
        vec![DbRow(vec![Sql::Text(s.into())])]
    }

    #[test]
    fn an_answer_is_handed_out_at_its_stamp_only() {
        let c = ReadCache::<u32>::default();
        let k = key("SELECT ?1", &["a".into()]);
        c.put(1, k.clone(), &row("x"), |_| true);
        assert_eq!(c.get(&1, &k), Some(row("x")));
        assert_eq!(c.get(&2, &k), None, "another stamp");
        assert_eq!(c.get(&1, &key("SELECT ?1", &["b".into()])), None);
        // A put at a later stamp drops what the earlier one kept.
        c.put(2, key("SELECT 2", &[]), &row("y"), |_| true);
        assert_eq!(c.get(&1, &k), None);
        assert_eq!(c.bytes().0, 1);
        // Nothing is kept when the backend cannot vouch for the stamp.
        c.put(2, k.clone(), &row("x"), |_| false);
        assert_eq!(c.get(&2, &k), None);
        assert_eq!(c.figures(), CacheFigures { hits: 1, misses: 4 });
    }

    #[test]
    fn parameters_of_another_kind_are_another_key() {
        assert_ne!(key("S", &[Sql::Integer(1)]), key("S", &[Sql::Real(1.0)]));
        assert_ne!(
            key("S", &["ab".into(), "c".into()]),
            key("S", &["a".into(), "bc".into()])
        );
        assert_ne!(key("S", &[Sql::Null]), key("S", &[]));
    }

    #[test]
    fn empty_and_large_answers_are_not_kept_and_the_total_is_bounded() {
        let c = ReadCache::<u32>::default();
        c.put(1, key("empty", &[]), &[], |_| true);
        c.put(1, key("big", &[]), &row(&"x".repeat(MAX_ANSWER)), |_| true);
        assert_eq!(c.bytes(), (0, 0));
        let pad = "p".repeat(2000);
        for i in 0..MAX_ENTRIES + 100 {
            c.put(1, key(&format!("{i}"), &[]), &row(&pad), |_| true);
        }
        let (entries, bytes) = c.bytes();
        assert!(
            entries <= MAX_ENTRIES && bytes <= MAX_BYTES,
            "{entries} {bytes}"
        );
        assert!(entries > 100, "answers were kept: {entries}");
    }

    #[test]
    fn turned_off_nothing_is_kept() {
        let c = ReadCache::<u32>::default();
        let k = key("SELECT 1", &[]);
        c.put(1, k.clone(), &row("x"), |_| true);
        c.set_enabled(false);
        assert!(!c.enabled());
        assert_eq!(c.bytes(), (0, 0));
        assert_eq!(c.get(&1, &k), None);
    }
}
