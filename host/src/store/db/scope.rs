//! The reads of one request. A backend whose stamp costs a round trip
//! (PostgreSQL's snapshot, [`super::postgres`]) takes it once, at the
//! request's first pure read, and its later pure reads use it again: the
//! request then reads the store as of that moment or later, never earlier.
//! `server::handle` runs a request in one when the store's backend asks for
//! it (`Database::reads_per_request`; SQLite reads its stamp per read).
//! Outside [`one_request`] (background work, the CLI) there is no scope,
//! and every read runs its statement.
//!
//! The stamp is kept in a tokio task-local: the request's future, the
//! plugin calls it makes (their host calls run inside its poll, on the
//! call's fiber) and nothing else.

use std::cell::RefCell;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

tokio::task_local! {
    /// `None` in a part of work begun outside a request ([`continued`]).
    static SCOPE: RefCell<Option<Request>>;
}

/// What the scope of one request holds.
#[derive(Clone)]
pub(crate) struct Request {
    /// When the request began: a stamp asked for after it is one it may
    /// read at (it holds every commit that returned before).
    pub start: Instant,
    /// The stamp it took, if any.
    pub seen: Option<Seen>,
}

impl Request {
    fn new() -> Self {
        Request {
            start: Instant::now(),
            seen: None,
        }
    }
}

/// A stamp a request took.
#[derive(Clone)]
pub(crate) struct Seen {
    /// Which database it is of ([`super::postgres`] numbers them).
    pub db: usize,
    pub stamp: Arc<str>,
    /// When it was asked for (before the question was sent).
    pub at: Instant,
    /// The database's count of this process's writes before it was asked for.
    pub writes: u64,
}

/// Run `f`, one request, with a scope for the stamp of its reads.
///
/// Not an `async fn`, nor is [`continued`]: one that took `f` and awaited
/// it in a scope would hold `f` twice (as its argument and inside the
/// scope's future), doubling the memory every request in flight holds
/// (its future was 5.6 KB in release with this, about 9.9 KB without).
pub fn one_request<F: Future>(f: F) -> impl Future<Output = F::Output> {
    SCOPE.scope(RefCell::new(Some(Request::new())), f)
}

/// `f`, a part of the current request run in a task of its own (a plugin
/// call that may outlive its client), with the request's stamp so far.
/// Outside a request, `f` has no scope either.
pub fn continued<F: Future>(f: F) -> impl Future<Output = F::Output> {
    SCOPE.scope(RefCell::new(current()), f)
}

/// The current request's scope; `None` outside a request.
pub(crate) fn current() -> Option<Request> {
    SCOPE.try_with(|s| s.borrow().clone()).ok().flatten()
}

/// Keep `seen` for the request's later reads (nothing outside a request).
pub(crate) fn remember(seen: Seen) {
    let _ = SCOPE.try_with(|s| {
        if let Some(request) = s.borrow_mut().as_mut() {
            request.seen = Some(seen);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The database of the stamp the current request took.
    fn db() -> Option<usize> {
        current().and_then(|r| r.seen).map(|s| s.db)
    }

    fn seen_at(db: usize) -> Seen {
        Seen {
            db,
            stamp: "1:1:".into(),
            at: Instant::now(),
            writes: 0,
        }
    }

    #[tokio::test]
    async fn a_stamp_lives_in_its_request_only() {
        assert!(current().is_none(), "outside a request");
        remember(seen_at(1));
        assert!(current().is_none(), "nothing kept outside a request");
        let before = Instant::now();
        one_request(async {
            let start = current().unwrap().start;
            assert!(start >= before);
            assert!(current().unwrap().seen.is_none());
            remember(seen_at(7));
            tokio::task::yield_now().await;
            assert_eq!(db(), Some(7));
            assert_eq!(current().unwrap().start, start);
            // Another request, even one begun inside this one, starts empty.
            tokio::spawn(one_request(async move {
                assert!(current().unwrap().start > start);
                assert_eq!(db(), None);
            }))
            .await
            .unwrap();
        })
        .await;
        one_request(async { assert_eq!(db(), None) }).await;
    }

    #[tokio::test]
    async fn a_continued_part_of_a_request_starts_from_its_stamp() {
        tokio::spawn(continued(async { assert!(current().is_none()) }))
            .await
            .unwrap();
        one_request(async {
            let start = current().unwrap().start;
            remember(seen_at(3));
            tokio::spawn(continued(async move {
                assert_eq!(db(), Some(3));
                assert_eq!(current().unwrap().start, start);
                remember(seen_at(4));
            }))
            .await
            .unwrap();
            // The task's own stamps stay its own.
            assert_eq!(db(), Some(3));
        })
        .await;
    }
}
