//! End-to-end tests: the real binary, real plugins, real SQLite.

mod common;

mod auth;
mod inventory;
mod isolation;
mod kb;
mod kboss_centers;
mod ops;
mod pcapi;
mod routing;
mod scheduling;
mod swap;
