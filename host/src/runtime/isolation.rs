//! The isolation a plugin asks for, from its optional `instances` export
//! (the SDK's `export_request_isolation!`; called through
//! [`super::optional`], so plugins built before it load unchanged).
//! The stricter of the plugin's ask and the operator's `isolation` is in
//! force: a plugin can ask for a fresh instance per request, never for
//! more sharing than the operator allows.

use std::sync::Arc;

use wasmtime::component::{ComponentType, InstancePre, Lift};

use super::{HostServices, Isolation, PluginState};

const INSTANCES: &str = "computehub:platform/instances@0.1.0";

/// The WIT enum `instances.isolation`.
#[allow(dead_code)] // made only by `Lift`, from the plugin's answer
#[derive(ComponentType, Lift, Debug, Clone, Copy, PartialEq, Eq)]
#[component(enum)]
#[repr(u8)]
enum Asked {
    #[component(name = "organisation")]
    Organisation,
    #[component(name = "request")]
    Request,
}

impl From<Asked> for Isolation {
    fn from(a: Asked) -> Self {
        match a {
            Asked::Organisation => Isolation::Organisation,
            Asked::Request => Isolation::Request,
        }
    }
}

impl Isolation {
    /// The stricter of two: `request` over `organisation`.
    pub fn stricter(self, other: Isolation) -> Isolation {
        if self == Isolation::Request || other == Isolation::Request {
            Isolation::Request
        } else {
            Isolation::Organisation
        }
    }
}

/// What the plugin `pre` asks for: `None` when it does not export
/// `instances`. An export that fails to answer within a second asks for
/// `request` (logged): a plugin that says it cares is not shared on a
/// failure.
pub async fn asked(
    pre: &InstancePre<PluginState>,
    services: Arc<HostServices>,
    plugin: &str,
) -> Option<Isolation> {
    match super::optional::call::<Asked>(pre, services, plugin, INSTANCES, "preferred").await? {
        Ok(asked) => Some(asked.into()),
        Err(e) => {
            tracing::warn!(plugin, error = %e, "the plugin's `instances` export failed; giving it a fresh instance per request");
            Some(Isolation::Request)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_wins() {
        use Isolation::*;
        assert_eq!(Organisation.stricter(Organisation), Organisation);
        assert_eq!(Organisation.stricter(Request), Request);
        assert_eq!(Request.stricter(Organisation), Request);
    }
}
