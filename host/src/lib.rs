//! computehub: a compute-center cloud server that serves its management APIs
//! through sandboxed WebAssembly component plugins.
//!
//! - [`server`]: hyper, the router, authentication, admin and ops endpoints;
//! - [`runtime`]: the wasmtime plugin runtime (engine, cache, grants, calls);
//! - [`bindings`]: the host-side bindings generated from `wit/`;
//! - [`capabilities`]: the host side of the WIT capability interfaces, each
//!   module owning its state, its grant checks and its per-call view;
//! - [`registry`]: the active plugin versions and atomic hot swap;
//! - [`store`]: the embedded SQLite system of record;
//! - [`operations`]: long jobs persisted with their phases, served at
//!   `/operations/{id}` (and its event stream);
//! - [`telemetry`]: log lines, W3C trace context and OTLP trace export;
//! - [`auth`]: API keys, AK/SK request signing and the admin token;
//! - [`clusters`]: operator registration of existing clusters;
//! - [`memory`]: the allocator, and freed memory given back after a burst;
//! - [`console`]: the browser console, its users and sessions.

pub mod auth;
pub mod bindings;
pub mod builtin;
pub mod capabilities;
pub mod cli;
pub mod clusters;
pub mod config;
pub mod console;
pub mod demo;
pub mod envelope;
pub mod memory;
pub mod operations;
pub mod policy;
pub mod registry;
pub mod runtime;
pub mod server;
pub mod store;
pub mod telemetry;
