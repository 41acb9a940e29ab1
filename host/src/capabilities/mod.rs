//! The host side of the capability interfaces, one module each:
//! [`log`] and [`inventory`] are served here; [`engines`] routes `pricing`
//! and `scheduling` imports to whichever engine plugin is active. `ssh` and
//! `kubernetes` are not linked until their implementations exist.

mod engines;
mod inventory;
mod log;
