//! The host side of the capability interfaces, one module each:
//! [`log`] and [`inventory`] are served here; [`engines`] routes `pricing`
//! and `scheduling` imports to whichever engine plugin is active;
//! [`kubernetes`] drives clusters with kube-rs; [`ssh`] runs commands and
//! transfers files on machines with russh; [`operations`] lets a plugin run
//! a request as a persisted operation with phases.

mod engines;
mod inventory;
pub mod kubernetes;
pub mod log;
pub mod operations;
pub mod ssh;
