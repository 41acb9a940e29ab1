//! The production plugins compiled by `build.rs` and embedded in the binary
//! as defaults: `(plugin id, role, wasm)`.

include!(concat!(env!("OUT_DIR"), "/builtin_plugins.rs"));
