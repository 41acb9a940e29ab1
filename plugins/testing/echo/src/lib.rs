//! Shared code of the `echo-v1` and `echo-v2` test components.
//!
//! Both are plugin `echo`; only their version differs. The host's tests
//! hot-swap one for the other and check that requests in flight (held by
//! `/echo/sleep`) finish on the old version while new ones see the new one.
//! They import no capability at all (not even `log`), so they load under
//! any grant.

use std::time::{Duration, Instant};

use computehub_sdk::prelude::*;
use serde_json::json;

/// The plugin name both versions declare.
pub const NAME: &str = "echo";

/// `describe()` of echo at `version`.
pub fn describe(version: &str) -> PluginInfo {
    plugin_info(
        NAME,
        version,
        ErrorFormat::Plain,
        [
            route::get("/echo/version", AuthScheme::None).summary("The running version"),
            route::get("/echo/sleep", AuthScheme::None)
                .query_param("ms", false, "Milliseconds to busy-wait")
                .summary("Busy-waits `ms` milliseconds, then answers the version"),
        ],
    )
}

/// `handle()` of echo at `version`.
pub fn handle(version: &str, req: &Request) -> Response {
    match (req.method, req.route.as_str()) {
        (Method::Get, "/echo/version") => {
            response::json(200, &json!({ "plugin": NAME, "version": version }))
        }
        (Method::Get, "/echo/sleep") => {
            let ms = match req.params().and_then(|p| p.optional_u64("ms")) {
                Ok(ms) => ms.unwrap_or(0),
                Err(e) => return response::error(400, &e.to_string()),
            };
            let start = Instant::now();
            while start.elapsed() < Duration::from_millis(ms) {
                std::hint::spin_loop();
            }
            response::json(200, &json!({ "version": version, "slept": ms }))
        }
        (method, route) => {
            response::error(404, &format!("no handler for {} {route}", method.as_str()))
        }
    }
}
