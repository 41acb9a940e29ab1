//! An engine's name and version, from its optional `identity` export (the
//! SDK's engines export it; called through [`super::optional`], so engines
//! built before `identity` load unchanged).

use std::sync::Arc;

use wasmtime::component::{ComponentType, InstancePre, Lift};

use super::{HostServices, PluginState};

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

/// A name or version worth showing: short, printable, no spaces (it goes
/// into log lines, metric labels and the admin API as it is).
pub(crate) fn shown(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_LEN && s.chars().all(|c| c.is_ascii_graphic())
}

/// `(name, version)` of the engine `pre`, when it exports `identity` and
/// answers sensibly within a second; `None` otherwise (logged).
pub async fn engine_identity(
    pre: &InstancePre<PluginState>,
    services: Arc<HostServices>,
    plugin: &str,
) -> Option<(String, String)> {
    match super::optional::call::<EngineInfo>(pre, services, plugin, IDENTITY, "describe").await? {
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

#[cfg(test)]
mod tests {
    #[test]
    fn a_name_or_version_is_short_and_printable() {
        for good in ["kboss", "1.0.0", "volume-discount", "0.1.0+sdk.3f2a"] {
            assert!(super::shown(good), "{good}");
        }
        let long = "x".repeat(65);
        for bad in [
            "",
            "1.0\n2026-12-07 INFO forged",
            "a b",
            "\u{1b}[2K",
            "版本",
            long.as_str(),
        ] {
            assert!(!super::shown(bad), "{bad:?}");
        }
    }
}
