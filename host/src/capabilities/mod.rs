//! The host side of the capability interfaces, one module each:
//! [`log`] and [`inventory`] are served here; [`engines`] routes `pricing`
//! and `scheduling` imports to whichever engine plugin is active;
//! [`kubernetes`] drives clusters with kube-rs. `ssh` is not linked until its
//! implementation exists.

mod engines;
mod inventory;
pub mod kubernetes;
mod log;
