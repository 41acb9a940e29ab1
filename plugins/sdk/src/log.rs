//! Logging through the host's `log` capability.
//!
//! Lines land in the host's tracing output with the plugin id and the
//! request id attached. Using any of this makes the component import
//! `computehub:platform/log`, so the plugin's grant must include `log`.
//!
//! ```ignore
//! use computehub_sdk::log;
//! log::info!("device {id} created");
//! log::warn!("slow answer from {}", host; "elapsed_ms" => elapsed, "device" => id);
//! log::event(log::Level::Debug, "raw", &[("bytes", "12")]);
//! ```
//!
//! The macros take `format!` arguments, optionally followed by `;` and
//! `"key" => value` pairs (any `ToString` value) for structured fields.
//! Never log secrets: the host's log is not write-only.

pub use crate::bindings::computehub::platform::log::Level;

/// Writes one log line with structured fields.
pub fn event(level: Level, message: &str, fields: &[(&str, &str)]) {
    let fields: Vec<(String, String)> = fields
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    crate::bindings::computehub::platform::log::log(level, message, &fields);
}

#[doc(hidden)]
#[macro_export]
macro_rules! __computehub_log {
    ($level:expr, $fmt:literal $(, $arg:expr)* ; $($key:literal => $value:expr),+ $(,)?) => {
        $crate::log::event(
            $level,
            &::std::format!($fmt $(, $arg)*),
            &[$(($key, ::std::string::ToString::to_string(&$value).as_str())),+],
        )
    };
    ($level:expr, $($arg:tt)+) => {
        $crate::log::event($level, &::std::format!($($arg)+), &[])
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __computehub_trace {
    ($($arg:tt)+) => { $crate::__computehub_log!($crate::log::Level::Trace, $($arg)+) };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __computehub_debug {
    ($($arg:tt)+) => { $crate::__computehub_log!($crate::log::Level::Debug, $($arg)+) };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __computehub_info {
    ($($arg:tt)+) => { $crate::__computehub_log!($crate::log::Level::Info, $($arg)+) };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __computehub_warn {
    ($($arg:tt)+) => { $crate::__computehub_log!($crate::log::Level::Warn, $($arg)+) };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __computehub_error {
    ($($arg:tt)+) => { $crate::__computehub_log!($crate::log::Level::Error, $($arg)+) };
}

/// Logs at `trace`: `log::trace!("fmt", args; "key" => value)`.
pub use crate::__computehub_trace as trace;

/// Logs at `debug`: `log::debug!("fmt", args; "key" => value)`.
pub use crate::__computehub_debug as debug;

/// Logs at `info`: `log::info!("fmt", args; "key" => value)`.
pub use crate::__computehub_info as info;

/// Logs at `warn`: `log::warn!("fmt", args; "key" => value)`.
pub use crate::__computehub_warn as warn;

/// Logs at `error`: `log::error!("fmt", args; "key" => value)`.
pub use crate::__computehub_error as error;

/// Compile-time check of the macro forms (never called: the import only
/// exists inside a component).
#[cfg(test)]
#[allow(dead_code)]
fn macro_forms() {
    let id = "abc";
    let n = 3;
    info!("plain");
    info!("inline {id}");
    warn!("positional {} {}", id, n);
    error!("with fields {}", id; "id" => id, "n" => n);
    debug!("fields only"; "n" => n,);
    trace!("{n}");
}
