//! Load-time checks of a component's imports against its grant and of its
//! exports against its role's world.

use wasmtime::component::Component;
use wasmtime::Engine;

use super::{Capability, LoadError, Role};

const PACKAGE: &str = "computehub:platform/";
const VERSION: &str = "@0.1.0";

/// `computehub:platform/inventory@0.1.0` -> `inventory`
fn platform_interface(name: &str) -> Option<&str> {
    name.strip_prefix(PACKAGE)
        .map(|rest| rest.split('@').next().unwrap_or(rest))
}

/// The platform capabilities a component imports, in `Capability::ALL`
/// order: the `grants` its config entry needs (`plugin check` prints it).
pub fn imported(engine: &Engine, component: &Component) -> Vec<Capability> {
    let ty = component.component_type();
    let names: Vec<&str> = ty
        .imports(engine)
        .filter_map(|(name, _)| platform_interface(name))
        .collect();
    Capability::ALL
        .into_iter()
        .filter(|c| names.contains(&c.interface()))
        .collect()
}

pub fn check(
    engine: &Engine,
    component: &Component,
    id: &str,
    role: Role,
    granted: &[Capability],
) -> Result<(), LoadError> {
    let ty = component.component_type();
    for (name, _) in ty.imports(engine) {
        if name.starts_with("wasi:") {
            // Linked, but without authority: no preopens, sockets or env.
            continue;
        }
        let Some(iface) = platform_interface(name) else {
            return Err(LoadError::UnknownImport {
                plugin: id.to_string(),
                interface: name.to_string(),
            });
        };
        if iface == "types" {
            continue;
        }
        let Some(cap) = Capability::ALL.into_iter().find(|c| c.interface() == iface) else {
            return Err(LoadError::UnknownImport {
                plugin: id.to_string(),
                interface: name.to_string(),
            });
        };
        if !granted.contains(&cap) {
            return Err(LoadError::NotGranted {
                plugin: id.to_string(),
                interface: name.to_string(),
            });
        }
        if !cap.served() {
            return Err(LoadError::NotServed {
                plugin: id.to_string(),
                interface: name.to_string(),
            });
        }
        if role != Role::Endpoint && matches!(cap, Capability::Pricing | Capability::Scheduling) {
            // An engine calling an engine could recurse through the host.
            return Err(LoadError::NotGranted {
                plugin: id.to_string(),
                interface: name.to_string(),
            });
        }
    }
    let wanted = match role {
        Role::Endpoint => "handler",
        Role::Pricing => "pricing",
        Role::Scheduling => "scheduling",
    };
    let export = format!("{PACKAGE}{wanted}{VERSION}");
    if !ty.exports(engine).any(|(name, _)| name == export) {
        return Err(LoadError::WrongWorld {
            plugin: id.to_string(),
            interface: export,
            role: role.as_str(),
        });
    }
    Ok(())
}
