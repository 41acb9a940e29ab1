//! `hello`: the smallest useful computehub plugin.
//!
//! - `GET /hello/{name}` (no auth) answers `{"message": "hello, <name>"}`;
//! - `GET /hello` (Bearer API key) greets the caller's organisation.
//!
//! It calls no capability, so the component imports none and loads under
//! any grant. Build with `cargo build --release --target wasm32-wasip2`.

use computehub_sdk::prelude::*;
use serde_json::json;

struct Hello;

impl Plugin for Hello {
    fn describe() -> PluginInfo {
        plugin_info(
            "hello",
            env!("CARGO_PKG_VERSION"),
            ErrorFormat::Plain,
            [
                route::get("/hello/{name}", AuthScheme::None)
                    .summary("Greet someone by name")
                    .tag("hello")
                    .response(200, "The greeting", None),
                route::get("/hello", AuthScheme::Bearer)
                    .summary("Greet the caller's organisation")
                    .tag("hello")
                    .response(200, "The greeting", None),
            ],
        )
    }

    fn handle(req: Request) -> Response {
        match (req.method, req.route.as_str()) {
            (Method::Get, "/hello/{name}") => {
                let name = req.route_param("name").unwrap_or("world");
                greet(name)
            }
            (Method::Get, "/hello") => match req.organisation() {
                Some(org) => greet(org),
                None => response::error(401, "authentication required"),
            },
            _ => response::error(404, "no such route"),
        }
    }
}

fn greet(name: &str) -> Response {
    response::json(200, &json!({ "message": format!("hello, {name}") }))
}

export_plugin!(Hello);
