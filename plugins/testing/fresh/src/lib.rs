//! Test component: plugin `fresh`, which asks the host for a fresh instance
//! per request (`export_request_isolation!`). `GET /fresh/global` counts the
//! request in the instance's globals and answers the count: always 1 when
//! no instance is reused.

use computehub_sdk::prelude::*;
use serde_json::json;

struct Fresh;

/// What would survive between requests served by one instance.
static SERVED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl Plugin for Fresh {
    fn describe() -> PluginInfo {
        plugin_info(
            "fresh",
            "1.0.0",
            ErrorFormat::Plain,
            [route::get("/fresh/global", AuthScheme::Bearer)
                .summary("The requests this instance served, this one included")],
        )
    }

    fn handle(req: Request) -> Response {
        match (req.method, req.route.as_str()) {
            (Method::Get, "/fresh/global") => {
                let count = SERVED.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                response::json(
                    200,
                    &json!({ "count": count, "organisation": req.organisation() }),
                )
            }
            _ => response::error(404, "no such route"),
        }
    }
}

export_plugin!(Fresh);
export_request_isolation!();
