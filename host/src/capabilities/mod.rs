//! The host side of the capability interfaces, one module each, on Spin's
//! `factor-*` model: a module owns its state (built once per server), its
//! per-call grant checks, the bindgen `Host` traits implemented on its own
//! per-call view (its state and the call's [`CallContext`], projected out of
//! the store's data with wasmtime's `HasData`), and its `add_to_linker`.
//!
//! - [`log`]: plugin log lines into the host's log (no state);
//! - [`inventory`]: the store's records, scoped to the caller's
//!   organisation, checked against the plugin's storage grant;
//! - [`kubernetes`]: clusters with kube-rs (clients per cluster);
//! - [`ssh`]: commands and file transfers on machines with russh (pooled
//!   connections, pinned host keys);
//! - [`operations`]: a request run as a persisted operation with phases;
//! - [`engines`]: `pricing` and `scheduling` imports routed to whichever
//!   engine plugin is active, through [`engines::EngineRunner`], which the
//!   runtime implements (so this module never names the runtime).
//!
//! The dependency runs one way: `runtime` links these modules into its
//! linker through [`add_to_linker`] and implements [`HasCapabilities`] and
//! [`engines::EngineRunner`] for its store state; nothing here imports
//! `runtime`. The bindings both use are [`crate::bindings`].
//!
//! Every call but `log` is a span named `<interface>.<function>` (target
//! `computehub::capability`, no arguments recorded): a child of the request's
//! span in exported traces ([`crate::telemetry`]), never on a log line.

pub mod engines;
pub mod inventory;
pub mod kubernetes;
pub mod log;
pub mod operations;
pub mod ssh;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use wasmtime::component::Linker;

use crate::policy::Policy;
use crate::store::Store;

/// A capability interface a plugin may be granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Capability {
    Log,
    Inventory,
    Ssh,
    Operations,
    Kubernetes,
    Pricing,
    Scheduling,
}

impl Capability {
    pub const ALL: [Capability; 7] = [
        Capability::Log,
        Capability::Inventory,
        Capability::Ssh,
        Capability::Operations,
        Capability::Kubernetes,
        Capability::Pricing,
        Capability::Scheduling,
    ];

    pub fn interface(self) -> &'static str {
        match self {
            Capability::Log => "log",
            Capability::Inventory => "inventory",
            Capability::Ssh => "ssh",
            Capability::Operations => "operations",
            Capability::Kubernetes => "kubernetes",
            Capability::Pricing => "pricing",
            Capability::Scheduling => "scheduling",
        }
    }

    /// Whether this host serves the interface yet (links it in
    /// [`add_to_linker`]). A grant of an unserved capability is refused at
    /// load rather than linked to a pretend version.
    pub fn served(self) -> bool {
        matches!(
            self,
            Capability::Log
                | Capability::Inventory
                | Capability::Ssh
                | Capability::Operations
                | Capability::Kubernetes
                | Capability::Pricing
                | Capability::Scheduling
        )
    }
}

/// Who is calling and on whose behalf: the input of every capability call
/// besides its arguments.
#[derive(Debug, Clone)]
pub struct CallContext {
    pub plugin: Arc<str>,
    pub request_id: Arc<str>,
    /// The authenticated organisation; inventory calls are scoped to it.
    pub organisation: Option<String>,
    /// The operation link of a request run in the background (only for a
    /// plugin granted `operations`): held here, never looked up by the
    /// request id, which a caller may choose (`X-Request-Id`) and repeat.
    pub operation: Option<Arc<operations::Link>>,
}

/// The state of every capability the host serves, built once per server and
/// shared by every call.
pub struct Capabilities {
    pub inventory: inventory::Inventory,
    pub kubernetes: kubernetes::Kubernetes,
    pub ssh: ssh::Ssh,
    pub operations: operations::OperationsCap,
    /// What each plugin may reach beyond its sandbox (egress, storage): the
    /// grants the registry publishes and inventory, kubernetes and ssh
    /// consult.
    pub policy: Arc<Policy>,
}

impl Capabilities {
    /// The capabilities over `store`, every plugin's grant empty until the
    /// registry publishes the grants in force into [`Self::policy`].
    pub fn new(store: Arc<Store>) -> Self {
        let policy = Arc::new(Policy::default());
        let records = Arc::new(crate::operations::Operations::new(Arc::clone(&store)));
        Capabilities {
            inventory: inventory::Inventory::new(Arc::clone(&store), Arc::clone(&policy)),
            kubernetes: kubernetes::Kubernetes::new(Arc::clone(&store), Arc::clone(&policy)),
            ssh: ssh::Ssh::new(store, Arc::clone(&policy)),
            operations: operations::OperationsCap::new(records),
            policy,
        }
    }
}

/// What a store's data gives the capabilities: their states, the call's
/// context and the way to the active engines.
pub trait HasCapabilities: Send + 'static {
    fn capabilities(&self) -> &Capabilities;
    fn call_context(&self) -> &CallContext;
    fn engine_runner(&self) -> &dyn engines::EngineRunner;
}

/// Link every capability this host serves. A capability the host did not
/// serve would not be linked, so nothing could call a pretend version.
pub fn add_to_linker<T: HasCapabilities>(linker: &mut Linker<T>) -> wasmtime::Result<()> {
    log::add_to_linker(linker, |s: &mut T| log::LogView::new(s.call_context()))?;
    inventory::add_to_linker(linker, |s: &mut T| {
        let s = &*s;
        inventory::InventoryView::new(&s.capabilities().inventory, s.call_context())
    })?;
    engines::add_to_linker(linker, |s: &mut T| {
        let s = &*s;
        engines::EnginesView::new(s.engine_runner(), s.call_context())
    })?;
    kubernetes::add_to_linker(linker, |s: &mut T| {
        let s = &*s;
        kubernetes::KubernetesView::new(&s.capabilities().kubernetes, s.call_context())
    })?;
    ssh::add_to_linker(linker, |s: &mut T| {
        let s = &*s;
        ssh::SshView::new(&s.capabilities().ssh, s.call_context())
    })?;
    operations::add_to_linker(linker, |s: &mut T| {
        let s = &*s;
        operations::OperationsView::new(&s.capabilities().operations, s.call_context())
    })?;
    Ok(())
}
