//! Calling an optional export of a component by name (an engine's
//! `identity`, a plugin's `instances`): looked up on the component rather
//! than through generated bindings, so components built before the export
//! existed load unchanged. One fresh instance, one call, a short deadline.

use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::{ComponentNamedList, InstancePre, Lift};

use super::call::{new_store, with_deadline, CallError};
use super::{CallContext, HostServices, PluginState};

/// The answer of `function` of `interface` (a full name such as
/// `computehub:platform/identity@0.1.0`), a function without parameters:
/// `None` when the component does not export it; `Some(Err)` when the call
/// failed or took longer than a second.
pub async fn call<R>(
    pre: &InstancePre<PluginState>,
    services: Arc<HostServices>,
    plugin: &str,
    interface: &str,
    function: &str,
) -> Option<Result<R, CallError>>
where
    (R,): ComponentNamedList + Lift + Send + Sync + 'static,
    R: Send,
{
    let component = pre.component();
    let iface = component.get_export_index(None, interface)?;
    let func = component.get_export_index(Some(&iface), function)?;
    let ctx = CallContext {
        plugin: plugin.into(),
        request_id: function.into(),
        organisation: None,
        operation: None,
    };
    let deadline = Duration::from_secs(1);
    let mut store = new_store(pre.engine(), ctx, services, deadline);
    let answer = with_deadline(deadline, async {
        let instance = pre.instantiate_async(&mut store).await?;
        let f = instance.get_typed_func::<(), (R,)>(&mut store, func)?;
        let (answer,) = f.call_async(&mut store, ()).await?;
        Ok(answer)
    })
    .await;
    store.data().flush_output();
    Some(answer)
}
