//! An engine's name and version, from its optional `identity` export (the
//! SDK's engines export it). Looked up by name rather than through the
//! generated bindings, so engines built before `identity` load unchanged.

use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::{ComponentType, InstancePre, Lift};

use super::call::{new_store, with_deadline};
use super::{CallContext, HostServices, PluginState};

const IDENTITY: &str = "computehub:platform/identity@0.1.0";
/// Longest name and version shown.
const MAX_LEN: usize = 64;

/// The WIT record `identity.engine-info`.
#[derive(ComponentType, Lift)]
#[component(record)]
struct EngineInfo {
    name: String,
    version: String,
}

/// A name or version worth showing: short, printable, no spaces.
fn shown(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_LEN && s.chars().all(|c| c.is_ascii_graphic())
}

/// `(name, version)` of the engine `pre`, when it exports `identity` and
/// answers sensibly within a second; `None` otherwise (logged).
pub async fn engine_identity(
    pre: &InstancePre<PluginState>,
    services: Arc<HostServices>,
    plugin: &str,
) -> Option<(String, String)> {
    let component = pre.component();
    let iface = component.get_export_index(None, IDENTITY)?;
    let describe = component.get_export_index(Some(&iface), "describe")?;
    let ctx = CallContext {
        plugin: plugin.into(),
        request_id: "identity".into(),
        organisation: None,
    };
    let deadline = Duration::from_secs(1);
    let mut store = new_store(pre.engine(), ctx, services, deadline);
    let answer = with_deadline(deadline, async {
        let instance = pre.instantiate_async(&mut store).await?;
        let f = instance.get_typed_func::<(), (EngineInfo,)>(&mut store, describe)?;
        let (info,) = f.call_async(&mut store, ()).await?;
        Ok(info)
    })
    .await;
    store.data().flush_output();
    match answer {
        Ok(info) if shown(&info.name) && shown(&info.version) => Some((info.name, info.version)),
        Ok(_) => {
            tracing::warn!(
                plugin,
                "the engine's identity is not printable; showing its id"
            );
            None
        }
        Err(e) => {
            tracing::warn!(plugin, error = %e, "the engine's identity export failed; showing its id");
            None
        }
    }
}
