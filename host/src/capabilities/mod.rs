//! The host side of the capability interfaces, one module each:
//! [`log`] and [`inventory`] are served here; [`engines`] routes `pricing`
//! and `scheduling` imports to whichever engine plugin is active;
//! [`kubernetes`] drives clusters with kube-rs; [`ssh`] runs commands and
//! transfers files on machines with russh; [`operations`] lets a plugin run
//! a request as a persisted operation with phases.
//!
//! Every call but `log` is a span named `<interface>.<function>` (target
//! `computehub::capability`, no arguments recorded): a child of the request's
//! span in exported traces ([`crate::telemetry`]), never on a log line.

mod engines;
mod inventory;
pub mod kubernetes;
pub mod log;
pub mod operations;
pub mod ssh;
