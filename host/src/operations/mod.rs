//! Operations: long jobs (installing a cluster master takes minutes)
//! persisted in the store with their phases, the tail of each phase's
//! output, the final result or error, and an event log that `GET
//! /operations/{id}/events` streams ([`http`]).
//!
//! A plugin starts one operation per request through the `operations`
//! capability (`begin(kind, target, phases)`), moves its phases, records
//! output and finishes it. At most one operation runs per target (a partial
//! unique index in the store: the per-host lock). The host ties the
//! operation to the plugin call: a call that ends without finishing it (a
//! trap, the deadline, an answer without `finish`) fails it.
//!
//! A running operation belongs to the replica that began it until its
//! lease passes ([`lease`]).
//!
//! Everything persisted passes through [`scrub::scrub`].

pub mod http;
mod lease;
pub mod list;
pub mod scrub;
mod views;

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use crate::store::db::{params, Dialect, Executor};
use serde::Serialize;
use serde_json::{json, Value};

use crate::store::{ids, records, Store, StoreError};

/// The channel on which a committed change of an operation is announced to
/// the other replicas (payload: its id).
pub const CHANNEL: &str = "computehub_operations";
/// Bytes of output kept per phase (the tail).
pub const OUTPUT_TAIL: usize = 8 * 1024;
/// Largest result a plugin may record.
const MAX_RESULT: usize = 64 * 1024;
/// Most phases of one operation.
const MAX_PHASES: usize = 32;
/// How long a replica's claim on a running operation lasts unless renewed.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(15);
/// The shortest lease (renewed every third of it).
const MIN_LEASE: Duration = Duration::from_millis(30);
/// How often an event stream re-reads the store when other replicas may
/// write it (PostgreSQL), since their writes never wake this process.
pub const POLL: Duration = Duration::from_secs(1);
/// The error of an operation whose replica stopped while it ran.
const INTERRUPTED: &str =
    "the server (replica) running the operation stopped while it ran; it did not complete";

/// Errors at the operations boundary; messages are safe to show.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    NotFound(String),
    #[error("the store failed: {0}")]
    Internal(String),
}

impl From<StoreError> for OpError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) => OpError::NotFound(m),
            StoreError::Conflict(m) => OpError::Conflict(m),
            StoreError::Invalid(m) => OpError::Invalid(m),
            StoreError::Internal(m) => OpError::Internal(m),
        }
    }
}

/// A phase's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhaseStatus {
    Pending,
    Running,
    Succeeded,
    Failed,
    Skipped,
    Interrupted,
}

impl PhaseStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PhaseStatus::Pending => "pending",
            PhaseStatus::Running => "running",
            PhaseStatus::Succeeded => "succeeded",
            PhaseStatus::Failed => "failed",
            PhaseStatus::Skipped => "skipped",
            PhaseStatus::Interrupted => "interrupted",
        }
    }
}

/// Who starts an operation.
pub struct Origin<'a> {
    pub org: &'a str,
    pub plugin: &'a str,
    pub request_id: &'a str,
}

#[derive(Debug, Serialize)]
pub struct PhaseView {
    pub name: String,
    pub status: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub message: Option<String>,
    /// The last [`OUTPUT_TAIL`] bytes the phase's steps printed.
    pub output: String,
}

#[derive(Debug, Serialize)]
pub struct OperationView {
    pub id: String,
    pub kind: String,
    pub target: String,
    pub plugin: String,
    pub status: String,
    pub created_at: String,
    pub updated_at: String,
    pub finished_at: Option<String>,
    pub phases: Vec<PhaseView>,
    pub result: Option<Value>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub seq: i64,
    pub at: String,
    pub event: String,
    pub data: Value,
}

/// The service: the store, a signal woken on every change, and this
/// replica's id and lease.
pub struct Operations {
    store: Arc<Store>,
    changed: tokio::sync::Notify,
    /// This process's id, recorded as `owner` of the operations it begins.
    replica: String,
    /// The lease, in milliseconds.
    lease_ms: AtomicU64,
}

fn check_name(what: &str, v: &str, max: usize) -> Result<(), OpError> {
    let ok = !v.is_empty()
        && v.len() <= max
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '/'));
    if ok {
        Ok(())
    } else {
        Err(OpError::Invalid(format!(
            "{what} `{}` must be 1-{max} characters of letters, digits, `- _ . : /`",
            v.escape_debug()
        )))
    }
}

fn tail(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut start = text.len() - max;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// Unix milliseconds now.
fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Operations {
    /// The service over `store`, as a new replica (a random id) holding
    /// [`DEFAULT_LEASE`]s.
    pub fn new(store: Arc<Store>) -> Self {
        Self::with_replica(store, format!("rep-{}", ids::random_id(16)))
    }

    /// The service as replica `replica` (tests: two replicas in one process).
    pub fn with_replica(store: Arc<Store>, replica: String) -> Self {
        Operations {
            store,
            changed: tokio::sync::Notify::new(),
            replica,
            lease_ms: AtomicU64::new(DEFAULT_LEASE.as_millis() as u64),
        }
    }

    /// Wake every event stream waiting for a change (a change another
    /// replica made, e.g. announced by PostgreSQL `NOTIFY`).
    pub fn wake(&self) {
        self.changed.notify_waiters();
    }

    /// A change to operation `id` was committed: wake this replica's event
    /// streams, and announce it to the other replicas on [`CHANNEL`]
    /// (nothing to tell on SQLite; a lost notice is covered by their
    /// once-a-second re-read).
    async fn announce(&self, id: &str) {
        self.changed.notify_waiters();
        if let Err(e) = self.store.db().notify(CHANNEL, id).await {
            tracing::warn!(operation = %id, error = %e, "cannot announce an operation's change to the other replicas");
        }
    }

    /// How often an event stream must re-read the store besides being woken:
    /// on PostgreSQL other replicas write without waking this process.
    pub fn poll_interval(&self) -> Option<Duration> {
        match self.store.db().dialect() {
            Dialect::Sqlite => None,
            Dialect::Postgres => Some(POLL),
        }
    }

    /// Start an operation, taking the lock of `target`.
    pub async fn begin(
        &self,
        origin: &Origin<'_>,
        kind: &str,
        target: &str,
        phases: &[String],
    ) -> Result<String, OpError> {
        check_name("kind", kind, 64)?;
        check_name("target", target, 256)?;
        if phases.is_empty() || phases.len() > MAX_PHASES {
            return Err(OpError::Invalid(format!(
                "an operation has 1 to {MAX_PHASES} phases"
            )));
        }
        for (i, p) in phases.iter().enumerate() {
            check_name("phase", p, 64)?;
            if phases[..i].contains(p) {
                return Err(OpError::Invalid(format!("phase `{p}` is listed twice")));
            }
        }
        self.store.ensure_organisation(origin.org).await?;
        let id = format!("op-{}", ids::random_id(20));
        let now = records::now();
        let lease_until = now_ms().saturating_add(millis(self.lease()));
        let mut tx = self.store.db().begin().await?;
        let inserted = tx
            .execute(
                "INSERT INTO operations (id, org_id, plugin, request_id, kind, target, status, created_at, updated_at, owner, lease_until)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'running', ?7, ?7, ?8, ?9)",
                params![&id, origin.org, origin.plugin, origin.request_id, kind, target, &now, self.replica.as_str(), lease_until],
            )
            .await;
        if let Err(e) = inserted {
            // A failed statement ends a PostgreSQL transaction: read the
            // lock's holder outside it.
            drop(tx);
            return Err(match e {
                StoreError::Conflict(_) => {
                    let holder: Option<(String, String, String)> = self
                        .store
                        .db()
                        .query_opt(
                            "SELECT id, org_id, kind FROM operations WHERE target = ?1 AND status = 'running'",
                            params![target],
                        )
                        .await?
                        .map(|mut r| -> Result<_, StoreError> {
                            Ok((r.take(0)?, r.take(1)?, r.take(2)?))
                        })
                        .transpose()?;
                    let who = match holder {
                        Some((hid, horg, hkind)) if horg == origin.org => {
                            format!(" ({hkind} {hid})")
                        }
                        _ => String::new(),
                    };
                    OpError::Conflict(format!(
                        "{target} is locked: another operation{who} is running on it"
                    ))
                }
                other => other.into(),
            });
        }
        for (i, p) in phases.iter().enumerate() {
            tx.execute(
                "INSERT INTO operation_phases (operation_id, idx, name, status) VALUES (?1, ?2, ?3, 'pending')",
                params![&id, i, p],
            )
            .await?;
        }
        event_in(
            &mut *tx,
            &id,
            "started",
            &json!({"kind": kind, "target": target, "phases": phases}),
        )
        .await?;
        tx.commit().await?;
        self.announce(&id).await;
        Ok(id)
    }

    /// Checks that `id` is running, locking its row for the transaction
    /// (so its events are numbered one writer at a time).
    async fn running(&self, tx: &mut dyn Executor, id: &str) -> Result<(), OpError> {
        let sql = format!(
            "SELECT status FROM operations WHERE id = ?1{}",
            tx.dialect().for_update()
        );
        let status: Option<String> = tx
            .query_opt(&sql, params![id])
            .await?
            .map(|r| r.get(0))
            .transpose()?;
        match status.as_deref() {
            Some("running") => Ok(()),
            Some(s) => Err(OpError::Invalid(format!("operation {id} is already {s}"))),
            None => Err(OpError::NotFound(format!("no operation {id}"))),
        }
    }

    /// Move a phase to `status`, with an optional message.
    pub async fn phase(
        &self,
        id: &str,
        name: &str,
        status: PhaseStatus,
        message: &str,
    ) -> Result<(), OpError> {
        let now = records::now();
        let message = scrub::scrub(tail(message, 2048));
        let mut tx = self.store.db().begin().await?;
        self.running(&mut *tx, id).await?;
        let (started, finished) = match status {
            PhaseStatus::Running => (Some(now.as_str()), None),
            PhaseStatus::Pending => (None, None),
            _ => (None, Some(now.as_str())),
        };
        let n = tx
            .execute(
                "UPDATE operation_phases SET status = ?3,
                   started_at = COALESCE(?4, started_at, ?5),
                   finished_at = ?5,
                   message = CASE WHEN ?6 = '' THEN message ELSE ?6 END
                 WHERE operation_id = ?1 AND name = ?2",
                params![id, name, status.as_str(), started, finished, &message],
            )
            .await?;
        if n == 0 {
            return Err(OpError::Invalid(format!(
                "operation {id} has no phase `{name}`"
            )));
        }
        tx.execute(
            "UPDATE operations SET updated_at = ?2 WHERE id = ?1",
            params![id, &now],
        )
        .await?;
        let mut data = json!({"phase": name, "status": status.as_str()});
        if !message.is_empty() {
            data["message"] = json!(message);
        }
        event_in(&mut *tx, id, "phase", &data).await?;
        tx.commit().await?;
        self.announce(id).await;
        Ok(())
    }

    /// Append step output to a phase (the last [`OUTPUT_TAIL`] bytes are kept).
    pub async fn output(&self, id: &str, name: &str, text: &str) -> Result<(), OpError> {
        let chunk = scrub::scrub(tail(text, OUTPUT_TAIL));
        let mut tx = self.store.db().begin().await?;
        self.running(&mut *tx, id).await?;
        let current: Option<String> = tx
            .query_opt(
                "SELECT output FROM operation_phases WHERE operation_id = ?1 AND name = ?2",
                params![id, name],
            )
            .await?
            .map(|r| r.get(0))
            .transpose()?;
        let Some(current) = current else {
            return Err(OpError::Invalid(format!(
                "operation {id} has no phase `{name}`"
            )));
        };
        let mut joined = current;
        if !joined.is_empty() && !joined.ends_with('\n') {
            joined.push('\n');
        }
        joined.push_str(&chunk);
        let kept = tail(&joined, OUTPUT_TAIL).to_string();
        tx.execute(
            "UPDATE operation_phases SET output = ?3 WHERE operation_id = ?1 AND name = ?2",
            params![id, name, kept],
        )
        .await?;
        event_in(
            &mut *tx,
            id,
            "output",
            &json!({"phase": name, "text": tail(&chunk, 2048)}),
        )
        .await?;
        tx.commit().await?;
        self.announce(id).await;
        Ok(())
    }

    /// End a running operation: `Ok(result JSON)` or `Err(message)`.
    pub async fn finish(&self, id: &str, outcome: Result<&str, &str>) -> Result<(), OpError> {
        let now = records::now();
        let (status, result, error) = match outcome {
            Ok(text) => {
                if text.len() > MAX_RESULT {
                    return Err(OpError::Invalid(format!(
                        "a result is at most {} KiB",
                        MAX_RESULT >> 10
                    )));
                }
                let v: Value = if text.trim().is_empty() {
                    Value::Null
                } else {
                    serde_json::from_str(text)
                        .map_err(|e| OpError::Invalid(format!("the result is not JSON: {e}")))?
                };
                ("succeeded", Some(scrub::scrub(&v.to_string())), None)
            }
            Err(m) => ("failed", None, Some(scrub::scrub(tail(m, 4096)))),
        };
        let mut tx = self.store.db().begin().await?;
        self.running(&mut *tx, id).await?;
        tx.execute(
            "UPDATE operations SET status = ?2, result = ?3, error = ?4, updated_at = ?5, finished_at = ?5
             WHERE id = ?1",
            params![id, status, result, error.clone(), &now],
        )
        .await?;
        let phase_end = if status == "succeeded" {
            "succeeded"
        } else {
            "failed"
        };
        tx.execute(
            "UPDATE operation_phases SET status = ?2, finished_at = ?3
             WHERE operation_id = ?1 AND status = 'running'",
            params![id, phase_end, &now],
        )
        .await?;
        let mut data = json!({"status": status});
        if let Some(e) = &error {
            data["error"] = json!(e);
        }
        event_in(&mut *tx, id, "finished", &data).await?;
        tx.commit().await?;
        self.announce(id).await;
        Ok(())
    }

    /// Fail the operation if it is still running (its call ended without
    /// finishing it).
    pub async fn abandon(&self, id: &str, why: &str) {
        match self.finish(id, Err(why)).await {
            Ok(()) => {
                tracing::warn!(operation = %id, why, "operation failed: its call ended without finishing it")
            }
            Err(OpError::Invalid(_)) => {}
            Err(e) => {
                tracing::error!(operation = %id, error = %e, "cannot fail an abandoned operation")
            }
        }
    }

    /// A future that resolves on the next change; create it before reading
    /// so no change is missed.
    pub fn changed(&self) -> tokio::sync::futures::Notified<'_> {
        self.changed.notified()
    }
}

async fn event_in(
    tx: &mut dyn Executor,
    id: &str,
    event: &str,
    data: &Value,
) -> Result<(), OpError> {
    let seq: i64 = tx
        .query_opt(
            "SELECT COALESCE(MAX(seq), 0) + 1 FROM operation_events WHERE operation_id = ?1",
            params![id],
        )
        .await?
        .map(|r| r.get(0))
        .transpose()?
        .unwrap_or(1);
    tx.execute(
        "INSERT INTO operation_events (operation_id, seq, at, event, data) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![id, seq, records::now(), event, data.to_string()],
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests;
