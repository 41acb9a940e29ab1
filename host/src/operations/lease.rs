//! Leases. Several replicas may share one PostgreSQL store, so a running
//! operation belongs to the replica that began it (`owner`, a random id per
//! process, [`Operations::replica`]) until `lease_until` (unix
//! milliseconds, [`DEFAULT_LEASE`](super::DEFAULT_LEASE) ahead, `serve --operation-lease-ms`).
//! Every replica runs [`Operations::spawn_leases`]: every third of the lease
//! it renews its own running operations' leases, then marks `interrupted`,
//! never succeeded, every running operation of another replica whose lease
//! has passed (or that has none: rows from before leases), since the
//! replica running it stopped. A replica stopping gracefully marks its own
//! running operations `interrupted` at once ([`Operations::release`]). At
//! start-up ([`Operations::interrupt_running`]) a SQLite store, which one process owns, has every running operation
//! interrupted at once; a PostgreSQL store only those whose lease has
//! passed, the others belonging to live replicas. A replica's clock decides
//! when a lease has passed: replicas' clocks must agree to well within a
//! lease.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use serde_json::json;

use super::{event_in, millis, now_ms, OpError, Operations, INTERRUPTED, MIN_LEASE};
use crate::store::db::{params, Dialect};
use crate::store::records;

impl Operations {
    /// This replica's id (the `owner` of the operations it begins).
    pub fn replica(&self) -> &str {
        &self.replica
    }

    /// How long this replica's claim on its running operations lasts unless
    /// renewed.
    pub fn lease(&self) -> Duration {
        Duration::from_millis(self.lease_ms.load(Ordering::Relaxed))
    }

    /// Set the lease (at least 30 ms); operations begun or renewed from now
    /// on hold it.
    pub fn set_lease(&self, lease: Duration) {
        let ms = lease.max(MIN_LEASE).as_millis();
        self.lease_ms
            .store(u64::try_from(ms).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// At start-up: mark `interrupted` every running operation whose replica
    /// is gone. A SQLite store belongs to this one process, so that is every
    /// running operation; on PostgreSQL, those whose lease has passed (the
    /// others belong to live replicas; [`Self::sweep`] takes them if their
    /// replica stops). Answers how many were.
    pub async fn interrupt_running(&self) -> Result<usize, OpError> {
        match self.store.db().dialect() {
            Dialect::Sqlite => self.interrupt_where("", params![]).await,
            Dialect::Postgres => self.sweep().await,
        }
    }

    /// Extend the lease of this replica's running operations; answers how
    /// many.
    pub async fn renew(&self) -> Result<u64, OpError> {
        let until = now_ms().saturating_add(millis(self.lease()));
        let n = self
            .store
            .db()
            .execute(
                "UPDATE operations SET lease_until = ?1 WHERE owner = ?2 AND status = 'running'",
                params![until, self.replica.as_str()],
            )
            .await?;
        Ok(n)
    }

    /// Mark `interrupted` every running operation of another replica whose
    /// lease has passed (or that has none); answers how many were.
    pub async fn sweep(&self) -> Result<usize, OpError> {
        self.interrupt_where(
            " AND (lease_until IS NULL OR lease_until < ?1) AND (owner IS NULL OR owner <> ?2)",
            params![now_ms(), self.replica.as_str()],
        )
        .await
    }

    /// This replica is stopping: mark `interrupted` the operations it still
    /// runs now, rather than when their lease passes. Answers how many were.
    pub async fn release(&self) -> Result<usize, OpError> {
        self.interrupt_where(" AND owner = ?1", params![self.replica.as_str()])
            .await
    }

    /// Renew this replica's leases and sweep expired ones every third of
    /// the lease, for as long as the service lives (the handle aborts it
    /// sooner). Failures are logged and retried at the next tick.
    pub fn spawn_leases(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let ops: Weak<Self> = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                let Some(o) = ops.upgrade() else { return };
                let period = o.lease() / 3;
                if let Err(e) = o.renew().await {
                    tracing::error!(error = %e, "operations: cannot renew this replica's leases");
                }
                match o.sweep().await {
                    Ok(0) => {}
                    Ok(n) => tracing::warn!(
                        interrupted = n,
                        "operations whose replica stopped (lease passed) are now `interrupted`"
                    ),
                    Err(e) => {
                        tracing::error!(error = %e, "operations: cannot sweep expired leases")
                    }
                }
                drop(o);
                tokio::time::sleep(period).await;
            }
        })
    }

    /// Mark `interrupted` the running operations matching `filter` (SQL
    /// appended to `status = 'running'`, over `params` from `?1`), in one
    /// transaction.
    async fn interrupt_where(
        &self,
        filter: &str,
        filter_params: Vec<crate::store::db::Sql>,
    ) -> Result<usize, OpError> {
        let now = records::now();
        let mut tx = self.store.db().begin().await?;
        let ids: Vec<String> = tx
            .query(
                &format!(
                    "SELECT id FROM operations WHERE status = 'running'{filter}{}",
                    tx.dialect().for_update()
                ),
                filter_params,
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect::<Result<_, _>>()?;
        for id in &ids {
            tx.execute(
                "UPDATE operations SET status = 'interrupted', updated_at = ?2, finished_at = ?2,
                 error = ?3
                 WHERE id = ?1",
                params![id, &now, INTERRUPTED],
            )
            .await?;
            tx.execute(
                "UPDATE operation_phases SET status = 'interrupted', finished_at = ?2
                 WHERE operation_id = ?1 AND status = 'running'",
                params![id, &now],
            )
            .await?;
            event_in(
                &mut *tx,
                id,
                "finished",
                &json!({"status": "interrupted", "error": INTERRUPTED}),
            )
            .await?;
        }
        tx.commit().await?;
        for id in &ids {
            self.announce(id).await;
        }
        Ok(ids.len())
    }
}
