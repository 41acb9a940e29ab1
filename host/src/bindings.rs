//! Host-side bindings generated from `wit/` for the three plugin worlds.
//! They live at the crate's root, not in [`crate::runtime`], so the
//! capabilities (which implement the import traits) and the runtime (which
//! calls the exports) both depend on them and not on each other.
//!
//! Imports are async on the host (capabilities do I/O); exports are called
//! with `call_async` so epoch deadlines and host awaits compose.

pub mod endpoint {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "endpoint-plugin",
        imports: { default: async },
        exports: { default: async },
        additional_derives: [serde::Serialize, serde::Deserialize],
    });
}

pub mod pricing_engine {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "pricing-engine",
        imports: { default: async },
        exports: { default: async },
        additional_derives: [serde::Serialize, serde::Deserialize],
        with: {
            "computehub:platform/log": super::endpoint::computehub::platform::log,
        },
    });
}

pub mod scheduling_engine {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "scheduling-engine",
        imports: { default: async },
        exports: { default: async },
        additional_derives: [serde::Serialize, serde::Deserialize],
        with: {
            "computehub:platform/log": super::endpoint::computehub::platform::log,
        },
    });
}

pub use endpoint::computehub::platform::types as wit_types;

/// The optional `declarations` export of endpoint plugins (their collections
/// and error envelope); see [`crate::runtime::declarations`].
pub mod declarations {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "endpoint-declarations",
        exports: { default: async },
    });

    pub use self::exports::computehub::platform::declarations::*;
}
