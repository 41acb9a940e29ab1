//! End-to-end tests: the real binary, real plugins, real SQLite.

mod common;

mod auth;
mod inventory;
mod isolation;
mod ops;
mod routing;
mod swap;
