//! The reads of one request. A backend whose stamp costs a round trip
//! (PostgreSQL's snapshot, [`super::postgres`]) takes it once, at the
//! request's first pure read, and its later pure reads use it again: the
//! request then reads the store as of that moment, as one snapshot would.
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
    static SCOPE: RefCell<Option<Seen>>;
}

/// A stamp a request took.
#[derive(Clone)]
pub(crate) struct Seen {
    /// Which database it is of ([`super::postgres`] numbers them).
    pub db: usize,
    pub stamp: Arc<str>,
    /// When it was asked for.
    pub at: Instant,
    /// The database's count of this process's writes before it was asked for.
    pub writes: u64,
}

/// Run `f`, one request, with a scope for the stamp of its reads.
pub async fn one_request<F: Future>(f: F) -> F::Output {
    SCOPE.scope(RefCell::new(None), f).await
}

/// `f`, a part of the current request run in a task of its own (a plugin
/// call that may outlive its client), with the request's stamp so far.
/// Outside a request, `f` has no scope either.
pub fn continued<F: Future>(f: F) -> impl Future<Output = F::Output> {
    let scope = seen().map(RefCell::new);
    async move {
        match scope {
            Some(s) => SCOPE.scope(s, f).await,
            None => f.await,
        }
    }
}

/// `None` outside a request; inside one, the stamp it took, if any.
pub(crate) fn seen() -> Option<Option<Seen>> {
    SCOPE.try_with(|s| s.borrow().clone()).ok()
}

/// Keep `seen` for the request's later reads (nothing outside a request).
pub(crate) fn remember(seen: Seen) {
    let _ = SCOPE.try_with(|s| *s.borrow_mut() = Some(seen));
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(seen().is_none(), "outside a request");
        remember(seen_at(1));
        assert!(seen().is_none(), "nothing kept outside a request");
        one_request(async {
            assert!(matches!(seen(), Some(None)));
            remember(seen_at(7));
            tokio::task::yield_now().await;
            assert_eq!(seen().unwrap().unwrap().db, 7);
            // Another request, even one begun inside this one, starts empty.
            tokio::spawn(one_request(async { assert!(matches!(seen(), Some(None))) }))
                .await
                .unwrap();
        })
        .await;
        one_request(async { assert!(matches!(seen(), Some(None))) }).await;
    }

    #[tokio::test]
    async fn a_continued_part_of_a_request_starts_from_its_stamp() {
        tokio::spawn(continued(async { assert!(seen().is_none()) }))
            .await
            .unwrap();
        one_request(async {
            remember(seen_at(3));
            tokio::spawn(continued(async {
                assert_eq!(seen().unwrap().unwrap().db, 3);
                remember(seen_at(4));
            }))
            .await
            .unwrap();
            // The task's own stamps stay its own.
            assert_eq!(seen().unwrap().unwrap().db, 3);
        })
        .await;
    }
}
