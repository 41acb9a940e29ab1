//! `log`: plugin log lines into the host's tracing output, tagged with the
//! plugin id and request id. A plugin's own fields travel as one JSON
//! object (`plugin_fields`); with `--log-format json` the host's formatter
//! ([`PluginFieldsJson`]) writes them as a nested object, `fields.plugin`,
//! so they stay structured (keys and values as the plugin gave them), and
//! a plugin can never overwrite a host field such as `request_id`.
//!
//! The capability has no state: its per-call view is the call's context.

use std::fmt;

use serde_json::{Map, Value};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use wasmtime::component::{HasData, Linker};

use super::CallContext;
use crate::bindings::endpoint::computehub::platform::log::{self as wit, Host, Level};

/// Longest message or field value kept (a plugin cannot flood the log).
const MAX_LEN: usize = 4096;
/// Most fields kept per line.
const MAX_FIELDS: usize = 32;
/// The tracing field carrying a plugin's fields as JSON text.
const FIELD: &str = "plugin_fields";

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

/// A plugin's fields as one JSON object (the first of a repeated key wins).
fn fields_json(fields: &[(String, String)]) -> String {
    let mut map = Map::new();
    for (k, v) in fields.iter().take(MAX_FIELDS) {
        map.entry(clip(k).to_string())
            .or_insert_with(|| Value::String(clip(v).to_string()));
    }
    Value::Object(map).to_string()
}

/// One call's view of `log`.
pub struct LogView<'a> {
    ctx: &'a CallContext,
}

impl<'a> LogView<'a> {
    pub fn new(ctx: &'a CallContext) -> Self {
        LogView { ctx }
    }
}

/// The `HasData` projection of `log` (see [`add_to_linker`]).
struct LogData;

impl HasData for LogData {
    type Data<'a> = LogView<'a>;
}

/// Link `log`, each call served by the view `view` projects.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> LogView<'_>,
) -> wasmtime::Result<()> {
    wit::add_to_linker::<T, LogData>(linker, view)
}

impl Host for LogView<'_> {
    async fn log(&mut self, level: Level, message: String, fields: Vec<(String, String)>) {
        let plugin = &*self.ctx.plugin;
        let request_id = &*self.ctx.request_id;
        let plugin_fields = fields_json(&fields);
        // One line: a plugin's newline would start a line of its own.
        let message = crate::telemetry::one_line(clip(&message));
        match level {
            Level::Trace => tracing::trace!(plugin, request_id, plugin_fields, "{message}"),
            Level::Debug => tracing::debug!(plugin, request_id, plugin_fields, "{message}"),
            Level::Info => tracing::info!(plugin, request_id, plugin_fields, "{message}"),
            Level::Warn => tracing::warn!(plugin, request_id, plugin_fields, "{message}"),
            Level::Error => tracing::error!(plugin, request_id, plugin_fields, "{message}"),
        }
    }
}

/// A JSON event format that writes a plugin's fields (`plugin_fields`, JSON
/// text) as the object `fields.plugin` instead of a string; every other
/// line is the inner format's, unchanged.
pub struct PluginFieldsJson<F>(pub F);

impl<S, N, F> FormatEvent<S, N> for PluginFieldsJson<F>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> fmt::Result {
        if event.metadata().fields().field(FIELD).is_none() {
            return self.0.format_event(ctx, writer, event);
        }
        let mut line = String::new();
        self.0.format_event(ctx, Writer::new(&mut line), event)?;
        let structured = serde_json::from_str::<Value>(line.trim_end())
            .ok()
            .and_then(|mut v| {
                let fields = v.get_mut("fields")?.as_object_mut()?;
                let text = fields.remove(FIELD)?;
                let object = serde_json::from_str::<Value>(text.as_str()?).ok()?;
                fields.insert("plugin".into(), object);
                Some(v)
            });
        match structured {
            Some(v) => writeln!(writer, "{v}"),
            None => writer.write_str(&line),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_one_bounded_object() {
        let many: Vec<(String, String)> = (0..40)
            .map(|i| (format!("k{i}"), "v".repeat(5000)))
            .collect();
        let v: Value = serde_json::from_str(&fields_json(&many)).unwrap();
        let map = v.as_object().unwrap();
        assert_eq!(map.len(), MAX_FIELDS);
        assert_eq!(map["k0"].as_str().unwrap().len(), MAX_LEN);
        let dup = vec![
            ("request_id".to_string(), "a".to_string()),
            ("request_id".to_string(), "b".to_string()),
        ];
        assert_eq!(fields_json(&dup), r#"{"request_id":"a"}"#);
    }
}
