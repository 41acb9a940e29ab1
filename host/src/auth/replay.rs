//! Replay protection for AK/SK-signed writes, kept in the store's
//! `request_signatures` table (migration 11) so that every replica on one
//! database refuses a signature any of them accepted, and a restart forgets
//! nothing.
//!
//! A signature is recorded with `INSERT .. ON CONFLICT DO NOTHING`: the row
//! inserted means first use, no row means a replay, decided by the database
//! itself (the primary key), so two replicas receiving the same request at
//! once accept it once. A row expires when its request's `X-Sdk-Date` leaves
//! the clock window ([`super::aksk::MAX_SKEW`]); from then on the clock check
//! refuses the request anyway. Expired rows are deleted now and then from
//! the request path ([`purge_now_and_then`]: at most once a minute per
//! process, awaited by the request that happens to trigger it).

use std::sync::atomic::{AtomicI64, Ordering};

use super::AuthError;
use crate::store::db::params;
use crate::store::Store;

/// Seconds between two purges of one process, at least.
const PURGE_EVERY: i64 = 60;
/// A row is purged this many seconds after it expired, so that a replica
/// whose clock is ahead does not forget what one behind still accepts.
const PURGE_MARGIN: i64 = 60;

/// The unix time of this process's last purge (0: none yet).
static LAST_PURGE: AtomicI64 = AtomicI64::new(0);

/// Record `signature` (kept until `expires_at_unix`); true the first time,
/// false when the store already holds it (a replay).
pub async fn first_use(
    store: &Store,
    signature: &str,
    expires_at_unix: i64,
) -> Result<bool, AuthError> {
    let inserted = store
        .db()
        .execute(
            "INSERT INTO request_signatures (signature, expires_at) VALUES (?1, ?2) \
             ON CONFLICT (signature) DO NOTHING",
            params![signature, expires_at_unix],
        )
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "recording a request signature failed");
            AuthError::Store
        })?;
    Ok(inserted == 1)
}

/// Delete the signatures that expired before `now_unix`; how many.
pub async fn purge_expired(store: &Store, now_unix: i64) -> Result<u64, AuthError> {
    store
        .db()
        .execute(
            "DELETE FROM request_signatures WHERE expires_at < ?1",
            params![now_unix],
        )
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "purging expired request signatures failed");
            AuthError::Store
        })
}

/// [`purge_expired`] (with [`PURGE_MARGIN`]) when this process last did it
/// [`PURGE_EVERY`] seconds ago or more; a failure is logged, not returned.
pub async fn purge_now_and_then(store: &Store, now_unix: i64) {
    let last = LAST_PURGE.load(Ordering::Relaxed);
    if now_unix - last < PURGE_EVERY {
        return;
    }
    // One caller wins the slot; the others go on at once.
    if LAST_PURGE
        .compare_exchange(last, now_unix, Ordering::Relaxed, Ordering::Relaxed)
        .is_err()
    {
        return;
    }
    if let Ok(n) = purge_expired(store, now_unix - PURGE_MARGIN).await {
        if n > 0 {
            tracing::debug!(purged = n, "expired request signatures deleted");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::seal::Sealer;

    async fn sqlite() -> Store {
        Store::in_memory(Sealer::from_key(&[3u8; 32]))
            .await
            .unwrap()
    }

    async fn postgres() -> Store {
        Store::open_postgres(&pgtest::database(), 2, Sealer::from_key(&[3u8; 32]), "test")
            .await
            .unwrap()
    }

    async fn count(store: &Store) -> i64 {
        store
            .db()
            .query_opt("SELECT COUNT(*) FROM request_signatures", params![])
            .await
            .unwrap()
            .unwrap()
            .get(0)
            .unwrap()
    }

    async fn first_use_then_replay(store: Store) {
        let now = chrono::Utc::now().timestamp();
        assert!(first_use(&store, "AK1:ab12", now + 900).await.unwrap());
        assert!(!first_use(&store, "AK1:ab12", now + 900).await.unwrap());
        // Another expiry does not make the same signature new.
        assert!(!first_use(&store, "AK1:ab12", now + 5).await.unwrap());
        assert!(first_use(&store, "AK2:ab12", now + 900).await.unwrap());
        assert_eq!(count(&store).await, 2);
    }

    async fn purge_removes_only_expired(store: Store) {
        let now = 1_700_000_000;
        assert!(first_use(&store, "old", now - 1).await.unwrap());
        assert!(first_use(&store, "edge", now).await.unwrap());
        assert!(first_use(&store, "new", now + 900).await.unwrap());
        assert_eq!(purge_expired(&store, now).await.unwrap(), 1);
        assert_eq!(count(&store).await, 2);
        // What stays is still refused; what was purged is new again (its
        // request would now fail the clock check).
        assert!(!first_use(&store, "edge", now).await.unwrap());
        assert!(!first_use(&store, "new", now + 900).await.unwrap());
        assert!(first_use(&store, "old", now - 1).await.unwrap());
        assert_eq!(purge_expired(&store, now + 901).await.unwrap(), 3);
        assert_eq!(count(&store).await, 0);
    }

    /// Two stores on one PostgreSQL database stand for two replicas.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn replicas_share_what_they_saw() {
        let url = pgtest::database();
        let open = || Store::open_postgres(&url, 2, Sealer::from_key(&[3u8; 32]), "test");
        let (a, b) = (open().await.unwrap(), open().await.unwrap());
        let later = chrono::Utc::now().timestamp() + 900;
        assert!(first_use(&a, "AK1:cd34", later).await.unwrap());
        assert!(!first_use(&b, "AK1:cd34", later).await.unwrap());
        // The same new signature at once on both: accepted once.
        let (x, y) = tokio::join!(
            first_use(&a, "AK1:ef56", later),
            first_use(&b, "AK1:ef56", later)
        );
        assert!(x.unwrap() ^ y.unwrap());
    }

    mod on_sqlite {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn first_use_then_replay() {
            super::first_use_then_replay(super::sqlite().await).await
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn purge_removes_only_expired() {
            super::purge_removes_only_expired(super::sqlite().await).await
        }
    }

    mod on_postgres {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn first_use_then_replay() {
            super::first_use_then_replay(super::postgres().await).await
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn purge_removes_only_expired() {
            super::purge_removes_only_expired(super::postgres().await).await
        }
    }
}
