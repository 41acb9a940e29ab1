//! PostgreSQL's stamp for the read cache ([`crate::store::db::read_cache`]):
//! the transaction snapshot, `pg_current_snapshot()`.
//!
//! A snapshot names what a statement sees: every transaction below its
//! `xmin` is finished, none from its `xmax` on has, and its list names those
//! in between still running. Two equal snapshots see the same committed
//! transactions, so the same content; every commit or rollback of a
//! transaction that wrote (by this process, another replica, the CLI)
//! changes it. Read-only traffic does not: a read takes no transaction id.
//!
//! Unlike SQLite's WAL index, the snapshot is on the server: asking costs a
//! round trip, as much as the reads it would save. So a request takes one
//! snapshot ([`crate::store::db::scope`]), at its first pure read, and its
//! later pure reads use it again. It takes a new one when this process has
//! written since (counted after every write returns, so a request reads its
//! own writes), or when it is older than [`MAX_AGE`]. Any snapshot asked
//! for after the request began serves: at most one question is in flight
//! per database, and everyone who began before it was sent takes its
//! answer ([`Asker`]). A commit that returned before a request began is in
//! every snapshot the request takes: a revoked key is refused from the very
//! next request.
//!
//! A read the cache cannot answer runs its statement with a second
//! snapshot after it, pipelined on the same connection (one round trip);
//! the answer is kept only if that snapshot is still the request's, so the
//! statement read exactly the content of the stamp it is kept under.
//! Outside a request (background work) every read runs its statement.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use deadpool_postgres::Object;
use tokio::sync::watch;
use tokio_postgres::Statement;

use super::{discard_if_cut, rows_of, run_query, translate, Postgres};
use crate::store::db::read_cache::{self, ReadCache};
use crate::store::db::scope::{self, Seen};
use crate::store::db::AnswerBudget;
use crate::store::db::{DbRow, Sql};
use crate::store::StoreError;

/// How long a request reads from one snapshot at most.
pub(super) const MAX_AGE: Duration = Duration::from_millis(20);

/// What the cache of one database keeps, and what invalidates a request's
/// snapshot.
pub(super) struct Snapshots {
    pub(super) answers: ReadCache<Arc<str>>,
    asker: Asker,
    /// Snapshot questions sent.
    asked: AtomicU64,
    /// This process's writes to the database, counted after each returns.
    writes: Arc<AtomicU64>,
    /// Which database a request's snapshot is of.
    id: usize,
    /// The statement that asks for a snapshot ([`question_for`]).
    pub(super) question: &'static str,
}

impl Snapshots {
    pub(super) fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        Snapshots {
            answers: ReadCache::default(),
            asker: Asker::new(),
            asked: AtomicU64::new(0),
            writes: Arc::default(),
            id: NEXT.fetch_add(1, Ordering::Relaxed),
            question: question_for(u32::MAX),
        }
    }

    /// The counter a transaction bumps when its commit returns.
    pub(super) fn counter(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.writes)
    }

    /// A write (a statement, a batch, a commit) has returned.
    pub(super) fn wrote(&self) {
        self.writes.fetch_add(1, Ordering::Release);
    }
}

/// The question, by the server's `server_version_num`: PostgreSQL 13 named
/// it `pg_current_snapshot()`; before, `txid_current_snapshot()` answered
/// the same (`xmin:xmax:xip`), and it is deprecated since.
pub(super) fn question_for(server_version_num: u32) -> &'static str {
    if server_version_num >= 130_000 {
        "SELECT pg_current_snapshot()::text"
    } else {
        "SELECT txid_current_snapshot()::text"
    }
}

/// The snapshot a new statement on `client` sees, asked with `question`.
async fn snapshot(client: &Object, question: &str) -> Result<Arc<str>, StoreError> {
    let stmt = client.prepare_cached(question).await?;
    snapshot_of(client, &stmt).await
}

/// [`snapshot`] with its statement prepared (queued when first polled).
async fn snapshot_of(client: &Object, stmt: &Statement) -> Result<Arc<str>, StoreError> {
    let row = client.query_one(stmt, &[]).await?;
    Ok(Arc::from(row.try_get::<_, &str>(0)?))
}

/// A snapshot as asked for.
#[derive(Clone)]
struct Asked {
    stamp: Arc<str>,
    /// Taken just before the question was sent.
    sent: Instant,
    /// This process's writes counted by then.
    writes: u64,
}

/// The last question's end: its snapshot, or why there is none (the
/// requests that waited for it fail with it, rather than each asking in
/// turn while the database is out of reach).
#[derive(Clone)]
enum Answer {
    Snapshot(Asked),
    Failed { sent: Instant, why: String },
}

/// The snapshot questions to one database: at most one in flight, and its
/// answer taken by every request that began before it was sent. Under load
/// one question serves many requests (as a consensus log's batched
/// read-index does); alone, a request asks and waits one round trip.
struct Asker {
    asking: Mutex<bool>,
    answers: watch::Sender<Option<Answer>>,
}

impl Asker {
    fn new() -> Self {
        Asker {
            asking: Mutex::new(false),
            answers: watch::Sender::new(None),
        }
    }

    fn asking(&self) -> std::sync::MutexGuard<'_, bool> {
        self.asking.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The question in flight: when it ends (answered, failed, or its request
/// dropped) the next may be sent, and those waiting look again.
struct Asking<'a>(&'a Asker);

impl Drop for Asking<'_> {
    fn drop(&mut self) {
        *self.0.asking() = false;
        self.0.answers.send_modify(|_| {});
    }
}

impl Postgres {
    /// A snapshot asked for after `start` and after this process's first
    /// `writes` writes returned: one in flight already, or a new question.
    async fn ask(&self, start: Instant, writes: u64) -> Result<Asked, StoreError> {
        let asker = &self.snapshots.asker;
        let mut answers = asker.answers.subscribe();
        loop {
            match answers.borrow_and_update().as_ref() {
                Some(Answer::Snapshot(a))
                    if a.sent >= start && a.writes >= writes && a.sent.elapsed() < MAX_AGE =>
                {
                    return Ok(a.clone());
                }
                Some(Answer::Failed { sent, why }) if *sent >= start => {
                    return Err(StoreError::Internal(why.clone()));
                }
                _ => {}
            }
            let lead = !std::mem::replace(&mut *asker.asking(), true);
            if lead {
                let _asking = Asking(asker);
                let sent = Instant::now();
                let writes = self.snapshots.writes.load(Ordering::Acquire);
                self.snapshots.asked.fetch_add(1, Ordering::Relaxed);
                let answer = match self.question().await {
                    Ok(stamp) => Answer::Snapshot(Asked {
                        stamp,
                        sent,
                        writes,
                    }),
                    Err(e) => Answer::Failed {
                        sent,
                        why: match e {
                            StoreError::Internal(why) => why,
                            other => other.to_string(),
                        },
                    },
                };
                asker.answers.send_replace(Some(answer.clone()));
                return match answer {
                    Answer::Snapshot(a) => Ok(a),
                    Answer::Failed { why, .. } => Err(StoreError::Internal(why)),
                };
            }
            // One is in flight: when it ends, its answer is this request's
            // if it was sent after the request began; else the next goes.
            if answers.changed().await.is_err() {
                return Err(StoreError::Internal("the snapshot asker is gone".into()));
            }
        }
    }

    /// One snapshot question, on a pooled connection.
    async fn question(&self) -> Result<Arc<str>, StoreError> {
        snapshot(&self.client().await?, self.snapshots.question).await
    }

    /// [`crate::store::db::Database::query_pure`] with the cache.
    pub(super) async fn query_cached(
        &self,
        sql: &str,
        params: Vec<Sql>,
    ) -> Result<Vec<DbRow>, StoreError> {
        let snaps = &self.snapshots;
        let request = match scope::current() {
            Some(r) if snaps.answers.enabled() => r,
            _ => {
                let c = self.client().await?;
                let mut budget = AnswerBudget::page();
                let rows = run_query(&c, sql, &params, &mut budget).await;
                discard_if_cut(c, &budget);
                return rows;
            }
        };
        let writes = snaps.writes.load(Ordering::Acquire);
        let key = read_cache::key(sql, &params);
        let stamp = match request.seen {
            Some(s) if s.db == snaps.id && s.writes == writes && s.at.elapsed() < MAX_AGE => {
                s.stamp
            }
            _ => {
                let asked = self.ask(request.start, writes).await?;
                scope::remember(Seen {
                    db: snaps.id,
                    stamp: Arc::clone(&asked.stamp),
                    at: asked.sent,
                    writes: asked.writes,
                });
                asked.stamp
            }
        };
        if let Some(rows) = snaps.answers.get(&stamp, &key) {
            return Ok(rows);
        }
        // The statement, then a snapshot, in one round trip: both prepared
        // first, so they are queued in that order.
        let c = self.client().await?;
        let stmt = c.prepare_cached(&translate(sql)).await?;
        let snap = c.prepare_cached(snaps.question).await?;
        let at = Instant::now();
        let mut budget = AnswerBudget::page();
        let read = tokio::try_join!(
            rows_of(&c, &stmt, &params, &mut budget),
            snapshot_of(&c, &snap)
        );
        let (rows, after) = match read {
            Ok(read) => read,
            Err(e) => {
                discard_if_cut(c, &budget);
                return Err(e);
            }
        };
        if after != stamp {
            // The statement may have read commits after the stamp: the
            // request's later reads must not read from before them.
            scope::remember(Seen {
                db: snaps.id,
                stamp: Arc::clone(&after),
                at,
                writes,
            });
        }
        snaps.answers.put(stamp, key, &rows, |s| *s == after);
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::db::read_cache::CacheFigures;
    use crate::store::db::{params, Database};
    use scope::one_request;

    /// A database on the tests' PostgreSQL with one row, `a` = 1, and its URL.
    async fn open() -> (Postgres, String) {
        let url = pgtest::database();
        let db = Postgres::connect(&url, 4).await.unwrap();
        db.batch("CREATE TABLE t (id TEXT PRIMARY KEY, n BIGINT)")
            .await
            .unwrap();
        db.execute("INSERT INTO t (id, n) VALUES ('a', 1)", params![])
            .await
            .unwrap();
        (db, url)
    }

    async fn n(db: &Postgres, id: &str) -> Option<i64> {
        db.query_pure_opt("SELECT n FROM t WHERE id = ?1", params![id])
            .await
            .unwrap()
            .map(|r| r.get(0).unwrap())
    }

    fn figures(db: &Postgres) -> CacheFigures {
        db.read_cache().unwrap()
    }

    /// Two reads of `a` in one request until the second is a hit: other
    /// tests write to other databases of the same server, and every commit
    /// anywhere on it is a new snapshot. Some pair must hit.
    async fn hit_twice(db: &Postgres) {
        for _ in 0..200 {
            let before = figures(db).hits;
            one_request(async {
                assert_eq!(n(db, "a").await, Some(1));
                assert_eq!(n(db, "a").await, Some(1));
            })
            .await;
            if figures(db).hits > before {
                return;
            }
        }
        panic!("no read was answered from the cache: {:?}", figures(db));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_request_reads_again_what_its_snapshot_saw() {
        let (db, _) = open().await;
        hit_twice(&db).await;
        // Outside a request every read runs its statement.
        let before = figures(&db);
        assert_eq!(n(&db, "a").await, Some(1));
        assert_eq!(n(&db, "a").await, Some(1));
        assert_eq!(figures(&db), before);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_request_reads_its_own_writes() {
        let (db, _) = open().await;
        hit_twice(&db).await;
        one_request(async {
            assert_eq!(n(&db, "a").await, Some(1));
            db.execute("UPDATE t SET n = 2 WHERE id = 'a'", params![])
                .await
                .unwrap();
            assert_eq!(n(&db, "a").await, Some(2));
            let mut tx = db.begin().await.unwrap();
            tx.execute("UPDATE t SET n = 3 WHERE id = 'a'", params![])
                .await
                .unwrap();
            assert_eq!(n(&db, "a").await, Some(2), "not committed yet");
            tx.commit().await.unwrap();
            assert_eq!(n(&db, "a").await, Some(3));
            db.query(
                "INSERT INTO t (id, n) VALUES ('b', 4) RETURNING id",
                params![],
            )
            .await
            .unwrap();
            assert_eq!(n(&db, "b").await, Some(4));
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn another_replicas_commit_is_read_by_the_next_request() {
        let (db, url) = open().await;
        let other = Postgres::connect(&url, 1).await.unwrap();
        for round in 2..6i64 {
            hit_twice(&db).await;
            // Another replica (the CLI, a restore) commits...
            other
                .execute("UPDATE t SET n = ?1 WHERE id = 'a'", params![round])
                .await
                .unwrap();
            // ...and the next request reads it, though its own process
            // wrote nothing.
            one_request(async { assert_eq!(n(&db, "a").await, Some(round)) }).await;
            other
                .execute("UPDATE t SET n = 1 WHERE id = 'a'", params![])
                .await
                .unwrap();
            one_request(async { assert_eq!(n(&db, "a").await, Some(1)) }).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_long_request_takes_a_new_snapshot() {
        let (db, url) = open().await;
        let other = Postgres::connect(&url, 1).await.unwrap();
        one_request(async {
            assert_eq!(n(&db, "a").await, Some(1));
            other
                .execute("UPDATE t SET n = 7 WHERE id = 'a'", params![])
                .await
                .unwrap();
            tokio::time::sleep(MAX_AGE + Duration::from_millis(5)).await;
            assert_eq!(n(&db, "a").await, Some(7));
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_snapshot_of_another_database_is_not_used() {
        let (db, _) = open().await;
        let (second, _) = open().await;
        second
            .execute("UPDATE t SET n = 9 WHERE id = 'a'", params![])
            .await
            .unwrap();
        hit_twice(&db).await;
        one_request(async {
            assert_eq!(n(&db, "a").await, Some(1));
            assert_eq!(n(&second, "a").await, Some(9));
            assert_eq!(n(&db, "a").await, Some(1));
        })
        .await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_requests_share_questions_and_never_read_the_past() {
        use std::sync::atomic::{AtomicBool, AtomicI64};
        let (db, url) = open().await;
        let db = Arc::new(db);
        let other = Postgres::connect(&url, 1).await.unwrap();
        // What another replica has committed, and said so, so far.
        let committed = Arc::new(AtomicI64::new(1));
        let stop = Arc::new(AtomicBool::new(false));
        let writer = tokio::spawn({
            let (committed, stop) = (Arc::clone(&committed), Arc::clone(&stop));
            async move {
                let mut i = 1i64;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    other
                        .execute("UPDATE t SET n = ?1 WHERE id = 'a'", params![i])
                        .await
                        .unwrap();
                    committed.store(i, Ordering::Release);
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
        });
        let (requests, rounds) = (16u64, 40u64);
        let readers: Vec<_> = (0..requests)
            .map(|_| {
                let (db, committed) = (Arc::clone(&db), Arc::clone(&committed));
                tokio::spawn(async move {
                    for _ in 0..rounds {
                        // What was committed before the request began (its
                        // start is taken when `one_request` is called: a
                        // commit said after that may be missing from it).
                        let floor = committed.load(Ordering::Acquire);
                        one_request(async {
                            let first = n(&db, "a").await.unwrap();
                            assert!(first >= floor, "read {first}, {floor} was committed before");
                            let again = n(&db, "a").await.unwrap();
                            assert!(again >= first, "one request went back in time");
                        })
                        .await;
                    }
                })
            })
            .collect();
        for r in readers {
            r.await.unwrap();
        }
        stop.store(true, Ordering::Relaxed);
        writer.await.unwrap();
        let asked = db.snapshots.asked.load(Ordering::Relaxed);
        assert!(
            asked < requests * rounds,
            "{asked} questions for {} requests",
            requests * rounds
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_question_whose_request_went_away_lets_the_next_one_go() {
        use std::future::Future;
        let (db, _) = open().await;
        // A request's question in flight (polled once), then dropped, as
        // when its client goes away. On a loaded machine this thread can be
        // descheduled inside the poll long enough for the answer to arrive
        // (then the poll is ready and nothing is in flight): only setting
        // that up is tried again.
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let mut in_flight = None;
        for _ in 0..50 {
            let mut first = Box::pin(db.ask(Instant::now(), 0));
            if first.as_mut().poll(&mut cx).is_pending() {
                in_flight = Some(first);
                break;
            }
        }
        let first = in_flight.expect("a question stays in flight past one poll");
        assert!(*db.snapshots.asker.asking(), "the question is in flight");
        drop(first);
        assert!(!*db.snapshots.asker.asking(), "nothing is left asking");
        let next = tokio::time::timeout(Duration::from_secs(5), db.ask(Instant::now(), 0)).await;
        assert!(
            next.unwrap().is_ok(),
            "the next request asks and is answered"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_requests_waiting_for_a_failed_question_fail_with_it() {
        let (_, url) = open().await;
        let proxy = pgtest::proxy::Proxy::start(pgtest::server().port).await;
        let db = Arc::new(Postgres::connect(&proxy.url(&url), 4).await.unwrap());
        proxy.stop().await;
        // Eight requests begun before any question: the first asks, the
        // database is out of reach, and the rest take that answer instead
        // of each asking in turn.
        let start = Instant::now();
        let asks: Vec<_> = (0..8)
            .map(|_| {
                let db = Arc::clone(&db);
                tokio::spawn(async move { db.ask(start, 0).await.is_err() })
            })
            .collect();
        for a in asks {
            let failed = tokio::time::timeout(Duration::from_secs(10), a).await;
            assert!(
                failed.unwrap().unwrap(),
                "a request was answered without a database"
            );
        }
        assert_eq!(db.snapshots.asked.load(Ordering::Relaxed), 1);
        assert!(!*db.snapshots.asker.asking());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_question_suits_the_servers_version() {
        assert_eq!(
            question_for(120_018),
            "SELECT txid_current_snapshot()::text"
        );
        assert_eq!(question_for(130_000), "SELECT pg_current_snapshot()::text");
        // Both answer in one form on this server, and the one chosen for it
        // is the current name.
        let (db, _) = open().await;
        assert_eq!(db.snapshots.question, question_for(130_000));
        let c = db.client().await.unwrap();
        for q in [question_for(120_018), question_for(130_000)] {
            let s = snapshot(&c, q).await.unwrap();
            let parts: Vec<&str> = s.split(':').collect();
            assert_eq!(parts.len(), 3, "{s}");
            assert!(
                parts[0].parse::<u64>().is_ok() && parts[1].parse::<u64>().is_ok(),
                "{s}"
            );
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn turned_off_every_read_runs() {
        let (db, _) = open().await;
        db.set_read_cache(false);
        let before = figures(&db);
        one_request(async {
            for _ in 0..3 {
                assert_eq!(n(&db, "a").await, Some(1));
            }
        })
        .await;
        assert_eq!(figures(&db), before);
        db.set_read_cache(true);
        hit_twice(&db).await;
    }
}
