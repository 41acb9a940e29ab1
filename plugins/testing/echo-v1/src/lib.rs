//! Test component: plugin `echo` at version 1.0.0 (see the `echo` crate).

use computehub_sdk::{export_plugin, Plugin, PluginInfo, Request, Response};

const VERSION: &str = "1.0.0";

struct Echo;

impl Plugin for Echo {
    fn describe() -> PluginInfo {
        echo::describe(VERSION)
    }

    fn handle(req: Request) -> Response {
        echo::handle(VERSION, &req)
    }
}

export_plugin!(Echo);
