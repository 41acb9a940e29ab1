//! `log`: plugin log lines into the host's tracing output, tagged with the
//! plugin id and request id.

use crate::runtime::bindings::endpoint::computehub::platform::log::{Host, Level};
use crate::runtime::PluginState;

/// Longest message or field value kept (a plugin cannot flood the log).
const MAX_LEN: usize = 4096;

fn clip(s: &str) -> &str {
    if s.len() <= MAX_LEN {
        return s;
    }
    let mut end = MAX_LEN;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

impl Host for PluginState {
    async fn log(&mut self, level: Level, message: String, fields: Vec<(String, String)>) {
        let plugin = &*self.ctx.plugin;
        let request_id = &*self.ctx.request_id;
        let fields = fields
            .iter()
            .take(32)
            .map(|(k, v)| format!("{}={}", clip(k), clip(v)))
            .collect::<Vec<_>>()
            .join(" ");
        let message = clip(&message);
        match level {
            Level::Trace => tracing::trace!(plugin, request_id, fields, "{message}"),
            Level::Debug => tracing::debug!(plugin, request_id, fields, "{message}"),
            Level::Info => tracing::info!(plugin, request_id, fields, "{message}"),
            Level::Warn => tracing::warn!(plugin, request_id, fields, "{message}"),
            Level::Error => tracing::error!(plugin, request_id, fields, "{message}"),
        }
    }
}
