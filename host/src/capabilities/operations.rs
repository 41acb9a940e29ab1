//! `operations`: the plugin side of [`crate::operations`]. Each request run
//! in the background has a [`Link`], made by the server before the call and
//! carried in the call's context (never found by the request id, which the
//! caller may choose and repeat): `begin` records the operation id there and signals the
//! server (which answers `202` at once when the client asked for
//! `Prefer: respond-async`); `phase`, `output` and `finish` act on that
//! operation only, so a plugin can never touch another request's.
//!
//! The capability's state is [`OperationsCap`] (the persisted operations);
//! a call is served by an
//! [`OperationsView`] of it and the call's context.

use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;
use wasmtime::component::{HasData, Linker};

use super::CallContext;
use crate::bindings::endpoint::computehub::platform::operations::{self as wit, Host};
use crate::operations::{OpError, Operations, Origin, PhaseStatus};

/// The capability's state: where operations are persisted.
pub struct OperationsCap {
    records: Arc<Operations>,
}

impl OperationsCap {
    pub fn new(records: Arc<Operations>) -> Self {
        OperationsCap { records }
    }

    /// The persisted operations (`/operations/{id}`, abandoning one a
    /// call left unfinished, marking those of a previous process).
    pub fn records(&self) -> &Arc<Operations> {
        &self.records
    }
}

/// One call's view of `operations`: the state and who is calling.
pub struct OperationsView<'a> {
    state: &'a OperationsCap,
    ctx: &'a CallContext,
}

impl<'a> OperationsView<'a> {
    pub fn new(state: &'a OperationsCap, ctx: &'a CallContext) -> Self {
        OperationsView { state, ctx }
    }
}

/// The `HasData` projection of `operations` (see [`add_to_linker`]).
struct OperationsData;

impl HasData for OperationsData {
    type Data<'a> = OperationsView<'a>;
}

/// Link `operations`, each call served by the view `view` projects.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> OperationsView<'_>,
) -> wasmtime::Result<()> {
    wit::add_to_linker::<T, OperationsData>(linker, view)
}

/// The operation of one request, if it began one.
#[derive(Debug, Default)]
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

impl Link {
    /// The link of a request; the receiver yields the operation id when the
    /// plugin begins one.
    pub fn new() -> (Arc<Link>, oneshot::Receiver<String>) {
        let (tx, rx) = oneshot::channel();
        let link = Arc::new(Link {
            started: Mutex::new(Some(tx)),
            id: Mutex::new(None),
        });
        (link, rx)
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

impl OperationsView<'_> {
    fn link(&self) -> Result<Arc<Link>, wit::Error> {
        self.ctx.operation.clone().ok_or_else(|| {
            wit::Error::Invalid("operations exist only while serving a request".into())
        })
    }

    fn current_operation(&self) -> Result<String, wit::Error> {
        self.link()?
            .operation()
            .ok_or_else(|| wit::Error::Invalid("this request has not begun an operation".into()))
    }
}

impl Host for OperationsView<'_> {
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
            .state
            .records
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
        self.state
            .records
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
        self.state.records.output(&id, &phase, &text).await?;
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
        self.state.records.finish(&id, outcome).await?;
        tracing::info!(operation = %id, ok = outcome.is_ok(), "operation finished");
        Ok(())
    }
}
