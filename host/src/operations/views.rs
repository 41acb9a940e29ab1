//! What an organisation reads of its operations: one operation with its
//! phases ([`Operations::get`]) and its events after a sequence number
//! ([`Operations::events_since`], what the event stream polls).

use serde_json::Value;

use super::{Event, OpError, OperationView, Operations, PhaseView};
use crate::store::db::params;
use crate::store::StoreError;

impl Operations {
    /// The operation as its organisation sees it.
    pub async fn get(&self, org: &str, id: &str) -> Result<Option<OperationView>, OpError> {
        let db = self.store.db();
        let op = db
            .query_opt(
                "SELECT id, kind, target, plugin, status, created_at, updated_at, finished_at, result, error
                 FROM operations WHERE id = ?1 AND org_id = ?2",
                params![id, org],
            )
            .await?
            .map(|mut r| -> Result<_, StoreError> {
                Ok(OperationView {
                    id: r.take(0)?,
                    kind: r.take(1)?,
                    target: r.take(2)?,
                    plugin: r.take(3)?,
                    status: r.take(4)?,
                    created_at: r.take(5)?,
                    updated_at: r.take(6)?,
                    finished_at: r.take(7)?,
                    result: r
                        .take::<Option<String>>(8)?
                        .and_then(|t| serde_json::from_str(&t).ok()),
                    error: r.take(9)?,
                    phases: Vec::new(),
                })
            })
            .transpose()?;
        let Some(mut op) = op else { return Ok(None) };
        op.phases = db
            .query(
                "SELECT name, status, started_at, finished_at, message, output
                 FROM operation_phases WHERE operation_id = ?1 ORDER BY idx",
                params![id],
            )
            .await?
            .into_iter()
            .map(|mut r| -> Result<_, StoreError> {
                Ok(PhaseView {
                    name: r.take(0)?,
                    status: r.take(1)?,
                    started_at: r.take(2)?,
                    finished_at: r.take(3)?,
                    message: r.take(4)?,
                    output: r.take(5)?,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Some(op))
    }

    /// Events after `seq`, and whether the operation has ended. `None` when
    /// the organisation has no such operation.
    pub async fn events_since(
        &self,
        org: &str,
        id: &str,
        seq: i64,
    ) -> Result<Option<(Vec<Event>, bool)>, OpError> {
        let db = self.store.db();
        let status: Option<String> = db
            .query_opt(
                "SELECT status FROM operations WHERE id = ?1 AND org_id = ?2",
                params![id, org],
            )
            .await?
            .map(|r| r.get(0))
            .transpose()?;
        let Some(status) = status else {
            return Ok(None);
        };
        let events = db
            .query(
                "SELECT seq, at, event, data FROM operation_events
                 WHERE operation_id = ?1 AND seq > ?2 ORDER BY seq",
                params![id, seq],
            )
            .await?
            .into_iter()
            .map(|mut r| -> Result<_, StoreError> {
                Ok(Event {
                    seq: r.take(0)?,
                    at: r.take(1)?,
                    event: r.take(2)?,
                    data: serde_json::from_str(&r.take::<String>(3)?).unwrap_or(Value::Null),
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Some((events, status != "running")))
    }
}
