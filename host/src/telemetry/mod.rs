//! Logs and traces: the tracing subscriber (text or JSON lines on stderr),
//! each line inside a request carrying the request's fields ([`request`]),
//! W3C trace context for every request ([`context`], [`traceparent`]),
//! its propagation into outgoing HTTP requests ([`outgoing`]), and, when
//! configured, OTLP/HTTP export of the spans ([`otlp`]).
//!
//! Spans exported: each request (a server span under [`REQUEST_TARGET`],
//! joined to the caller's trace) and each capability call a plugin makes during it (inventory,
//! kubernetes, ssh, operations, pricing, scheduling), under the target
//! [`CAPABILITY_TARGET`]. Capability spans never reach the log lines, so a
//! line's `span` stays the request's. Events are not exported: the log
//! lines already carry them.

mod context;
pub mod otlp;
pub mod outgoing;
pub mod request;
pub mod text;
pub mod traceparent;
pub mod writer;

use std::sync::atomic::{AtomicBool, Ordering};

use tracing_subscriber::filter::{filter_fn, FilterExt};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

pub use context::{current, finish_request, server_span, Propagation};
pub use request::{RequestLog, REQUEST_TARGET};
pub use traceparent::TraceParent;
pub use writer::dropped_lines;

/// The target of the capability-call spans (written as a literal in each
/// `#[tracing::instrument]`, which takes no constant).
pub const CAPABILITY_TARGET: &str = "computehub::capability";

static EXPORTING: AtomicBool = AtomicBool::new(false);

/// Whether spans are exported (an OTLP endpoint is configured).
pub fn exporting() -> bool {
    EXPORTING.load(Ordering::Relaxed)
}

/// `s` on one line: its control characters (a newline, a carriage return,
/// an escape) written as escapes (`\n`, `\u{1b}`), everything else as it
/// is. Text a plugin chose goes through it before it reaches a log line,
/// so a plugin cannot start a line of its own in the host's log (a forged
/// `plugin swapped` line, say) or move the terminal's cursor.
pub fn one_line(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod one_line_tests {
    #[test]
    fn control_characters_are_escaped_and_nothing_else() {
        assert_eq!(super::one_line("算力 ok"), "算力 ok");
        assert_eq!(
            super::one_line("a\n2026-12-07T00:00:00Z  INFO forged\r\u{1b}[2K"),
            "a\\n2026-12-07T00:00:00Z  INFO forged\\r\\u{1b}[2K"
        );
    }
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

/// Why logging and tracing could not start.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error(transparent)]
    Otlp(#[from] otlp::OtlpError),
    #[error("cannot start the log writer thread")]
    Writer(#[source] std::io::Error),
}

/// Where log lines go ([`writer`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// Each line written to stderr as it comes (the one-shot commands).
    Stderr,
    /// Lines buffered and written to stderr by a thread of their own (the
    /// server: no request waits on the log's `write(2)`).
    Buffered,
}

/// Holds the exporter and the log writer: dropping it sends the spans
/// still buffered, stops the exporter, then writes the log lines still
/// buffered. Keep it until the server has stopped (outside the runtime:
/// the export is a blocking request).
#[must_use]
pub struct Guard {
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
    /// Dropped after `drop` below ran: the exporter's last words are
    /// written too.
    _log: Option<writer::Flusher>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            EXPORTING.store(false, Ordering::Relaxed);
            if provider.shutdown().is_err() {
                eprintln!("the last spans could not be exported");
            }
        }
    }
}

/// The text log lines' layer, as the server writes them ([`text`]: the
/// default format, with the request's fields, its fields and timestamp
/// written faster). Public for the benchmarks, which log as the server
/// does.
pub fn text_layer<S, W>(
    writer: W,
    ansi: bool,
) -> tracing_subscriber::fmt::Layer<S, text::PlainFields, text::Line, W>
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(ansi)
        .fmt_fields(text::PlainFields)
        .event_format(text::Line)
}

/// Whether a line may be written for `m`: the request's and the capability
/// calls' spans are for traces only, so a line's spans are never theirs
/// (the request's fields come from [`request`]).
pub fn on_lines(m: &tracing::Metadata<'_>) -> bool {
    m.target() != CAPABILITY_TARGET && m.target() != REQUEST_TARGET
}

/// Install the global subscriber: log lines filtered by `filter` in
/// `format` to `output`, and, with `export`, the OpenTelemetry layer
/// exporting this crate's spans. An already installed subscriber (tests)
/// is kept.
pub fn init(
    format: Format,
    output: Output,
    filter: EnvFilter,
    export: Option<otlp::Endpoint>,
) -> Result<Guard, TelemetryError> {
    let provider = export.map(|e| otlp::provider(&e)).transpose()?;
    let (writer, flusher) = match output {
        Output::Stderr => (writer::LogWriter::stderr(), None),
        Output::Buffered => {
            let (w, f) =
                writer::LogWriter::buffered(std::io::stderr()).map_err(TelemetryError::Writer)?;
            (w, Some(f))
        }
    };
    let lines = filter.and(filter_fn(on_lines));
    let fmt = match format {
        Format::Json => {
            // A plugin's own log fields become an object, not a string.
            let json = |span| {
                tracing_subscriber::fmt::format()
                    .json()
                    .with_current_span(span)
                    .with_span_list(false)
                    .with_timer(text::Timestamp)
            };
            let format = text::RequestJson {
                with: json(true),
                without: json(false),
            };
            tracing_subscriber::fmt::layer()
                .with_writer(writer)
                .json()
                .event_format(crate::capabilities::log::PluginFieldsJson(format))
                .with_filter(lines)
                .boxed()
        }
        Format::Text => {
            let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
            text_layer(writer, ansi).with_filter(lines).boxed()
        }
    };
    let otel = provider.as_ref().map(|p| {
        use opentelemetry::trace::TracerProvider as _;
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer("computehub"))
            .with_location(false)
            .with_threads(false)
            .with_tracked_inactivity(false)
            .with_target(false)
            .with_filter(filter_fn(|m| {
                m.is_span() && m.target().starts_with("computehub")
            }))
    });
    let installed = tracing_subscriber::registry()
        .with(fmt)
        .with(otel)
        .with(Propagation::layer())
        .try_init()
        .is_ok();
    if installed && provider.is_some() {
        EXPORTING.store(true, Ordering::Relaxed);
    }
    Ok(Guard {
        provider,
        _log: flusher,
    })
}
