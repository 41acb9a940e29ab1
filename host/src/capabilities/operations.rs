//! `operations`: the plugin side of [`crate::operations`]. Each request being
//! served has a [`Link`], registered by the server under its request id
//! before the call: `begin` records the operation id there and signals the
//! server (which answers `202` at once when the client asked for
//! `Prefer: respond-async`); `phase`, `output` and `finish` act on that
//! operation only, so a plugin can never touch another request's.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

use crate::operations::{OpError, Origin, PhaseStatus};
use crate::runtime::bindings::endpoint::computehub::platform::operations::{self as wit, Host};
use crate::runtime::PluginState;

/// The operation of one request, if it began one.
#[derive(Default)]
pub struct Link {
    started: Mutex<Option<oneshot::Sender<String>>>,
    id: Mutex<Option<String>>,
}

impl Link {
    /// The id of the operation the request began, if any.
    pub fn operation(&self) -> Option<String> {
        self.id.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// Links of the requests in flight, by request id.
#[derive(Default)]
pub struct Links {
    by_request: Mutex<HashMap<String, Arc<Link>>>,
}

impl Links {
    /// Register the link of a request; the receiver yields the operation id
    /// when the plugin begins one.
    pub fn register(&self, request_id: &str) -> (Arc<Link>, oneshot::Receiver<String>) {
        let (tx, rx) = oneshot::channel();
        let link = Arc::new(Link {
            started: Mutex::new(Some(tx)),
            id: Mutex::new(None),
        });
        self.by_request
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(request_id.to_string(), Arc::clone(&link));
        (link, rx)
    }

    pub fn remove(&self, request_id: &str) {
        self.by_request
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(request_id);
    }

    fn get(&self, request_id: &str) -> Option<Arc<Link>> {
        self.by_request
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(request_id)
            .cloned()
    }
}

impl From<OpError> for wit::Error {
    fn from(e: OpError) -> Self {
        match e {
            OpError::Invalid(m) | OpError::NotFound(m) => wit::Error::Invalid(m),
            OpError::Conflict(m) => wit::Error::Conflict(m),
            OpError::Internal(m) => {
                tracing::error!(error = %m, "operations: store failure");
                wit::Error::Internal("the store failed; see the server log".into())
            }
        }
    }
}

fn status(s: wit::PhaseStatus) -> PhaseStatus {
    match s {
        wit::PhaseStatus::Running => PhaseStatus::Running,
        wit::PhaseStatus::Succeeded => PhaseStatus::Succeeded,
        wit::PhaseStatus::Failed => PhaseStatus::Failed,
        wit::PhaseStatus::Skipped => PhaseStatus::Skipped,
    }
}

impl PluginState {
    fn link(&self) -> Result<Arc<Link>, wit::Error> {
        self.services
            .op_links
            .get(&self.ctx.request_id)
            .ok_or_else(|| {
                wit::Error::Invalid("operations exist only while serving a request".into())
            })
    }

    fn current_operation(&self) -> Result<String, wit::Error> {
        self.link()?
            .operation()
            .ok_or_else(|| wit::Error::Invalid("this request has not begun an operation".into()))
    }
}

impl Host for PluginState {
    #[tracing::instrument(target = "computehub::capability", name = "operations.begin", skip_all)]
    async fn begin(
        &mut self,
        kind: String,
        target: String,
        phases: Vec<String>,
    ) -> Result<String, wit::Error> {
        let org =
            self.ctx.organisation.clone().ok_or_else(|| {
                wit::Error::Invalid("operations need an authenticated route".into())
            })?;
        let link = self.link()?;
        if let Some(id) = link.operation() {
            return Err(wit::Error::Invalid(format!(
                "this request already began operation {id}"
            )));
        }
        let id = self
            .services
            .operations
            .begin(
                &Origin {
                    org: &org,
                    plugin: &self.ctx.plugin,
                    request_id: &self.ctx.request_id,
                },
                &kind,
                &target,
                &phases,
            )
            .await?;
        tracing::info!(operation = %id, kind, target, "operation started");
        *link.id.lock().unwrap_or_else(|p| p.into_inner()) = Some(id.clone());
        if let Some(tx) = link
            .started
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            let _ = tx.send(id.clone());
        }
        Ok(id)
    }

    #[tracing::instrument(target = "computehub::capability", name = "operations.phase", skip_all)]
    async fn phase(
        &mut self,
        name: String,
        s: wit::PhaseStatus,
        message: String,
    ) -> Result<(), wit::Error> {
        let id = self.current_operation()?;
        self.services
            .operations
            .phase(&id, &name, status(s), &message)
            .await?;
        Ok(())
    }

    #[tracing::instrument(
        target = "computehub::capability",
        name = "operations.output",
        skip_all
    )]
    async fn output(&mut self, phase: String, text: String) -> Result<(), wit::Error> {
        let id = self.current_operation()?;
        self.services.operations.output(&id, &phase, &text).await?;
        Ok(())
    }

    #[tracing::instrument(
        target = "computehub::capability",
        name = "operations.finish",
        skip_all
    )]
    async fn finish(&mut self, outcome: Result<String, String>) -> Result<(), wit::Error> {
        let id = self.current_operation()?;
        let outcome = match &outcome {
            Ok(r) => Ok(r.as_str()),
            Err(e) => Err(e.as_str()),
        };
        self.services.operations.finish(&id, outcome).await?;
        tracing::info!(operation = %id, ok = outcome.is_ok(), "operation finished");
        Ok(())
    }
}
