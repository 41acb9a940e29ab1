//! Guest SDK for computehub plugins.
//!
//! A plugin is a WebAssembly component (target `wasm32-wasip2`) that exports
//! the `computehub:platform/handler` interface of the `endpoint-plugin` world
//! (see `wit/` at the repository root). This crate generates the guest
//! bindings once and adds the helpers every plugin needs:
//!
//! - [`params`]: request parameters merged from the route, the query string
//!   and a form or JSON body, with typed extraction and field-naming errors;
//! - [`response`] and [`envelope`]: JSON responses and each API area's wire
//!   envelope (Alaya, IEF, pcapi, kboss with its `{total, rows}` pages);
//! - [`route`]: a builder for the routes returned by `describe()`, with their
//!   OpenAPI operation;
//! - [`declare`]: the collections a plugin owns and its error envelope,
//!   exported with [`export_declarations!`];
//! - [`export_request_isolation!`]: the plugin asks for a fresh instance per
//!   request (its `instances` export);
//! - [`log`]: logging through the host's `log` capability;
//! - [`inventory`]: the `inventory` capability plus value/row helpers;
//! - [`fields`]: parsing only the fields a plugin reads, reading one by path;
//! - [`kubectl`]: kubectl's columns (ages, pod READY/STATUS, node STATUS/ROLES);
//! - [`datetime`]: UTC timestamps in the documents' shapes;
//! - [`quantity`]: Kubernetes quantities in base units;
//! - [`placement`]: the fit rules scheduling engines apply;
//! - [`capacity`]: products and nodes for capacity checks;
//! - [`workload`]: resource instances rendered into Kubernetes manifests;
//! - [`names`]: the rules for names that reach a machine or a cluster (label
//!   syntax, node and host names, login names, display names), checked when
//!   a value is stored and again when it is used;
//! - [`error`]: [`ApiError`], one typed error for a handler's failure paths;
//! - [`pricing_engine`] and [`scheduling_engine`]: the bindings of the two
//!   engine worlds, for the components that implement pricing and placement;
//! - [`provision`]: Kubernetes installed on machines over SSH as persisted
//!   operations (control planes, workers, join commands);
//! - [`pricing_rules`]: a quote's exact decimal arithmetic and unit
//!   conversions, for pricing engines (the built-in one and third parties').
//!
//! The SDK also sets the guest's allocator (talc, with a static first heap:
//! `alloc.rs`), unless its default feature `allocator` is off (a plugin with
//! an allocator of its own).
//!
//! A plugin implements [`Plugin`] and exports itself with [`export_plugin!`]:
//!
//! ```ignore
//! use computehub_sdk::{export_plugin, response, route, AuthScheme, ErrorFormat};
//! use computehub_sdk::{Plugin, PluginInfo, Request, Response};
//!
//! struct Hello;
//!
//! impl Plugin for Hello {
//!     fn describe() -> PluginInfo {
//!         computehub_sdk::plugin_info("hello", "1.0.0", ErrorFormat::Plain, [
//!             route::get("/hello/{name}", AuthScheme::None).summary("Greet someone"),
//!         ])
//!     }
//!
//!     fn handle(req: Request) -> Response {
//!         match req.route.as_str() {
//!             "/hello/{name}" => {
//!                 let name = req.route_param("name").unwrap_or("world");
//!                 response::json(200, &serde_json::json!({ "message": format!("hello, {name}") }))
//!             }
//!             _ => response::error(404, "no such route"),
//!         }
//!     }
//! }
//!
//! export_plugin!(Hello);
//! ```
//!
//! # Capabilities and imports
//!
//! A component imports exactly the capability interfaces whose functions it
//! calls: the linker drops the others, whatever this crate re-exports. The
//! host refuses a component whose imports exceed the plugin's grant, so call
//! only what the operator grants you (a plugin that never logs and never
//! touches the inventory imports neither).

#[cfg(all(
    feature = "allocator",
    target_family = "wasm",
    not(target_feature = "atomics")
))]
mod alloc;
pub mod boards;
pub mod capacity;
pub mod datetime;
pub mod declare;
pub mod envelope;
pub mod error;
pub mod fields;
pub mod inventory;
pub mod kubectl;
pub mod log;
pub mod names;
pub mod params;
pub mod placement;
pub mod pricing_rules;
pub mod provision;
pub mod quantity;
#[cfg(any(
    test,
    all(
        feature = "allocator",
        target_family = "wasm",
        not(target_feature = "atomics")
    )
))]
mod recycling;
mod request;
pub mod response;
pub mod route;
pub mod workload;

/// The generated bindings of the `endpoint-plugin` world.
///
/// Everything useful is re-exported at the crate root or in a capability
/// module; this module is public for completeness and for the export macro.
#[allow(missing_docs, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "endpoint-plugin",
        path: "../../wit",
        pub_export_macro: true,
        default_bindings_module: "computehub_sdk::bindings",
        export_macro_name: "export_plugin",
    });
}

/// Bindings of the `pricing-engine` world: implement [`pricing_engine::Guest`]
/// (`quote`) and export it with [`export_pricing_engine!`].
///
/// An engine is pure computation over what it is given; it may import only
/// `log` (the [`log`] helpers work in engines too).
#[allow(missing_docs, clippy::all)]
pub mod pricing_engine {
    wit_bindgen::generate!({
        world: "pricing-engine",
        path: "../../wit",
        pub_export_macro: true,
        default_bindings_module: "computehub_sdk::pricing_engine",
        export_macro_name: "export_engine",
    });

    pub use self::exports::computehub::platform::pricing::*;
}

/// Bindings of the `scheduling-engine` world: implement
/// [`scheduling_engine::Guest`] (`fit`) and export it with
/// [`export_scheduling_engine!`].
#[allow(missing_docs, clippy::all)]
pub mod scheduling_engine {
    wit_bindgen::generate!({
        world: "scheduling-engine",
        path: "../../wit",
        pub_export_macro: true,
        default_bindings_module: "computehub_sdk::scheduling_engine",
        export_macro_name: "export_engine",
    });

    pub use self::exports::computehub::platform::scheduling::*;
}

/// Bindings of the `engine-identity` world: what every engine built with
/// [`export_pricing_engine!`] or [`export_scheduling_engine!`] exports
/// besides its role, its crate's name and version.
#[allow(missing_docs, clippy::all)]
pub mod engine_identity {
    wit_bindgen::generate!({
        world: "engine-identity",
        path: "../../wit",
        pub_export_macro: true,
        default_bindings_module: "computehub_sdk::engine_identity",
        export_macro_name: "export_identity",
    });

    pub use self::exports::computehub::platform::identity::*;
}

/// Bindings of the `endpoint-declarations` world: what an endpoint plugin
/// declares besides its routes (the collections it owns, its error
/// envelope). Build them with [`declare`] and export them with
/// [`export_declarations!`].
#[allow(missing_docs, clippy::all)]
pub mod declarations {
    wit_bindgen::generate!({
        world: "endpoint-declarations",
        path: "../../wit",
        pub_export_macro: true,
        default_bindings_module: "computehub_sdk::declarations",
        export_macro_name: "export_declarations",
    });

    pub use self::exports::computehub::platform::declarations::*;
}

/// Bindings of the `instance-isolation` world: a plugin (endpoint or
/// engine) asking for a fresh instance per request. Export it with
/// [`export_request_isolation!`].
#[allow(missing_docs, clippy::all)]
pub mod instances {
    wit_bindgen::generate!({
        world: "instance-isolation",
        path: "../../wit",
        pub_export_macro: true,
        default_bindings_module: "computehub_sdk::instances",
        export_macro_name: "export_instances",
    });

    pub use self::exports::computehub::platform::instances::*;
}

/// Asks the host for a fresh instance for every request, whatever the
/// operator's `isolation` (the stricter of the two is in force): for a
/// plugin that keeps in its globals what must not reach even the same
/// organisation's next request. Use it once, at the crate root, beside
/// `export_plugin!` or an engine's export macro:
/// `computehub_sdk::export_request_isolation!();`.
#[macro_export]
macro_rules! export_request_isolation {
    () => {
        struct __ComputehubRequestIsolation;
        impl $crate::instances::Guest for __ComputehubRequestIsolation {
            fn preferred() -> $crate::instances::Isolation {
                $crate::instances::Isolation::Request
            }
        }
        $crate::instances::export_instances!(__ComputehubRequestIsolation);
    };
}

/// Exports a type implementing [`declarations::Guest`] (`collections()` and
/// `error_envelope()`) beside the plugin's handler:
/// `computehub_sdk::export_declarations!(MyPlugin);`.
#[macro_export]
macro_rules! export_declarations {
    ($t:ident) => {
        $crate::declarations::export_declarations!($t);
    };
}

/// The `identity` export of an engine: its crate's name and version (the
/// macro expands in the engine's crate, so `CARGO_PKG_*` are the engine's).
#[doc(hidden)]
#[macro_export]
macro_rules! __export_engine_identity {
    ($t:ident) => {
        impl $crate::engine_identity::Guest for $t {
            fn describe() -> $crate::engine_identity::EngineInfo {
                $crate::engine_identity::EngineInfo {
                    name: env!("CARGO_PKG_NAME").into(),
                    version: env!("CARGO_PKG_VERSION").into(),
                }
            }
        }
        $crate::engine_identity::export_identity!($t);
    };
}

/// Exports a type implementing [`pricing_engine::Guest`] as the component's
/// `pricing` export: `computehub_sdk::export_pricing_engine!(MyEngine);`.
/// The engine also names itself (`identity`): the crate's name and version,
/// which the host shows in `/admin/plugins`.
#[macro_export]
macro_rules! export_pricing_engine {
    ($t:ident) => {
        $crate::pricing_engine::export_engine!($t);
        $crate::__export_engine_identity!($t);
    };
}

/// Exports a type implementing [`scheduling_engine::Guest`] as the
/// component's `scheduling` export, naming the engine as
/// [`export_pricing_engine!`] does.
#[macro_export]
macro_rules! export_scheduling_engine {
    ($t:ident) => {
        $crate::scheduling_engine::export_engine!($t);
        $crate::__export_engine_identity!($t);
    };
}

/// Exports a type implementing [`Plugin`] as the component's `handler`.
///
/// Use it once per plugin crate, at the crate root, with a plain type name:
/// `computehub_sdk::export_plugin!(MyPlugin);`. The plugin crate must depend
/// on this crate under its own name, `computehub_sdk`.
pub use bindings::export_plugin;

pub use bindings::computehub::platform::types::{
    AuthScheme, ErrorFormat, Method, PluginInfo, Principal, Request, Response, Route,
};
/// The trait a plugin implements: `describe()` and `handle(request)`.
pub use bindings::exports::computehub::platform::handler::Guest as Plugin;

/// Remote commands over SSH (capability `ssh`).
pub use bindings::computehub::platform::ssh;

/// Persisted long operations with phases (capability `operations`).
pub use bindings::computehub::platform::operations;

/// Kubernetes clusters (capability `kubernetes`).
pub use bindings::computehub::platform::kubernetes;

/// Prices from the active pricing engine (capability `pricing`).
pub use bindings::computehub::platform::pricing;

/// Placement from the active scheduling engine (capability `scheduling`).
pub use bindings::computehub::platform::scheduling;

pub use error::ApiError;
pub use params::{ParamError, Params};

/// What the SDK's macros name (`object!`), so a plugin needs no
/// dependency of its own on it.
#[doc(hidden)]
pub use serde_json as __serde_json;

/// Builds the [`PluginInfo`] that `describe()` returns.
///
/// `routes` takes [`route::RouteBuilder`]s (or ready [`Route`]s).
pub fn plugin_info<R: Into<Route>>(
    name: &str,
    version: &str,
    error_format: ErrorFormat,
    routes: impl IntoIterator<Item = R>,
) -> PluginInfo {
    PluginInfo {
        name: name.to_owned(),
        version: version.to_owned(),
        error_format,
        routes: routes.into_iter().map(Into::into).collect(),
    }
}

/// The usual imports of a plugin crate.
pub mod prelude {
    pub use crate::declare::{self, collection};
    pub use crate::envelope::{alaya, ief, kboss, pcapi};
    pub use crate::error::ApiError;
    pub use crate::params::{ParamError, Params};
    pub use crate::response;
    pub use crate::route::{self, RouteBuilder};
    pub use crate::{export_declarations, export_plugin, export_request_isolation, plugin_info};
    pub use crate::{
        AuthScheme, ErrorFormat, Method, Plugin, PluginInfo, Principal, Request, Response, Route,
    };
}
