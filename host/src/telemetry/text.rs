//! The log line, written faster than `tracing-subscriber`'s defaults and
//! byte for byte the same (its tests compare the two).
//!
//! Every request has its fields (id, client, route, trace, caller; see
//! [`super::request`]) and a `served` line. [`Line`] is the text format
//! with the request written as its outermost span, [`RequestJson`] the JSON
//! one with the request as its `span` object. With the defaults, fields and
//! the timestamp were about half of what the log cost a request (stop 28:
//! 6.3% and 0.7% of a warm echo request's CPU): they write each field
//! through nested `write!`s, with terminal styles around the name even when
//! they are off, and grow a span's `String` a few bytes at a time. Here:
//!
//! - [`PlainFields`] writes `name=value` with `push_str`, quotes a string
//!   value itself when nothing in it needs escaping, and hands the span's
//!   fields to `tracing-subscriber` in one piece (one allocation);
//! - [`Timestamp`] formats the date and time once a second per thread and
//!   only the microseconds per line.
//!
//! What is rare (an error value, a message with control characters) is
//! written by `tracing-subscriber`'s own [`DefaultVisitor`], so the output
//! cannot drift from it. Terminal colours, when on, stay on the level; the
//! field names are not set in italics.

use std::cell::RefCell;
use std::fmt::{self, Write as _};

use nu_ansi_term::{Color, Style};
use tracing::field::{Field, Visit};
use tracing::{span, Event, Level, Subscriber};
use tracing_log::NormalizeEvent;
use tracing_subscriber::field::{RecordFields, VisitOutput};
use tracing_subscriber::fmt::format::{DefaultVisitor, Writer};
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// Fields as `tracing-subscriber`'s `DefaultFields` writes them, faster.
#[derive(Clone, Copy, Debug, Default)]
pub struct PlainFields;

thread_local! {
    /// Where a set of fields is formatted before it is handed over whole.
    static SCRATCH: RefCell<String> = const { RefCell::new(String::new()) };
}

impl<'w> FormatFields<'w> for PlainFields {
    fn format_fields<R: RecordFields>(&self, mut writer: Writer<'w>, fields: R) -> fmt::Result {
        let sanitize = writer.sanitizes_ansi_escapes();
        formatted(sanitize, &fields, |text| writer.write_str(text))
    }

    /// Fields recorded on a span later (its route, its caller). The span's
    /// text was allocated to fit: the first addition makes room for the
    /// next few too, instead of a `realloc` per addition.
    fn add_fields(
        &self,
        current: &'w mut FormattedFields<Self>,
        fields: &span::Record<'_>,
    ) -> fmt::Result {
        let sanitize = current.as_writer().sanitizes_ansi_escapes();
        let text = &mut current.fields;
        formatted(sanitize, fields, |added| {
            if added.is_empty() {
                return Ok(());
            }
            if !text.is_empty() {
                if text.capacity() - text.len() < added.len() + 1 {
                    text.reserve(added.len() + 1 + ADD_ROOM);
                }
                text.push(' ');
            }
            text.push_str(added);
            Ok(())
        })
    }
}

/// `fields` formatted, handed to `then` in one piece.
fn formatted<R: RecordFields>(
    sanitize: bool,
    fields: &R,
    then: impl FnOnce(&str) -> fmt::Result,
) -> fmt::Result {
    let mut then = Some(then);
    let scratch = SCRATCH.try_with(|s| {
        // Busy only when a field's own formatting logs (re-entry).
        let mut buf = s.try_borrow_mut().ok()?;
        buf.clear();
        let then = then.take()?;
        Some(format_into(&mut buf, sanitize, fields).and_then(|()| then(&buf)))
    });
    match (scratch, then) {
        (Ok(Some(result)), _) => result,
        (_, Some(then)) => {
            let mut buf = String::new();
            format_into(&mut buf, sanitize, fields)?;
            then(&buf)
        }
        (_, None) => Ok(()),
    }
}

/// Room made for later additions to a span's fields (a request span's
/// organisation, key id and scheme come after its route).
const ADD_ROOM: usize = 96;

fn format_into<R: RecordFields>(buf: &mut String, sanitize: bool, fields: &R) -> fmt::Result {
    let mut visitor = Visitor {
        buf,
        empty: true,
        sanitize,
        result: Ok(()),
    };
    fields.record(&mut visitor);
    visitor.finish()
}

/// Writes `name=value` pairs, space-separated, the message bare.
struct Visitor<'a> {
    buf: &'a mut String,
    empty: bool,
    sanitize: bool,
    result: fmt::Result,
}

impl Visitor<'_> {
    /// The separator before a field, and its `name=` unless it is the
    /// message. `None` for a field that is not written.
    fn start(&mut self, field: &Field) -> Option<bool> {
        if self.result.is_err() {
            return None;
        }
        let name = field.name();
        // Log records' metadata (`log.target`, ...): written elsewhere.
        if name.starts_with("log.") {
            return None;
        }
        if self.empty {
            self.empty = false;
        } else {
            self.buf.push(' ');
        }
        if name == "message" {
            return Some(true);
        }
        self.buf.push_str(name.strip_prefix("r#").unwrap_or(name));
        self.buf.push('=');
        Some(false)
    }

    /// What the default visitor writes for this one field, in its place.
    fn default_for(&mut self, record: impl FnOnce(&mut DefaultVisitor<'_>)) {
        let writer = Writer::new(&mut *self.buf);
        let mut visitor = DefaultVisitor::new(writer, self.empty);
        record(&mut visitor);
        self.empty = false;
        if let Err(e) = visitor.finish() {
            self.result = Err(e);
        }
    }
}

/// A string written as `{:?}` would, when that is just the string in
/// quotes: printable ASCII without a quote or a backslash.
fn plain_ascii(s: &str) -> bool {
    s.bytes()
        .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
}

/// `s` as `{:?}` writes it, without the formatting machinery when that is
/// just the string in quotes.
pub(super) fn quoted(w: &mut impl fmt::Write, s: &str) -> fmt::Result {
    if plain_ascii(s) {
        w.write_char('"')?;
        w.write_str(s)?;
        w.write_char('"')
    } else {
        write!(w, "{s:?}")
    }
}

/// Whether a message holds what the default visitor escapes: ESC, BEL,
/// BS, FF, DEL and the C1 controls (U+0080-U+009F, `C2 80`-`C2 9F` in
/// UTF-8).
fn needs_escape(s: &str) -> bool {
    let b = s.as_bytes();
    b.iter().enumerate().any(|(i, &c)| {
        matches!(c, 0x1b | 0x07 | 0x08 | 0x0c | 0x7f)
            || (c == 0xc2 && b.get(i + 1).is_some_and(|n| (0x80..=0x9f).contains(n)))
    })
}

impl Visit for Visitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        let message = field.name() == "message";
        // The message's control characters are escaped: the default
        // visitor's rules.
        if message && self.sanitize && needs_escape(value) {
            return self.default_for(|v| v.record_str(field, value));
        }
        match self.start(field) {
            None => {}
            Some(true) => self.buf.push_str(value),
            Some(false) => self.result = quoted(self.buf, value),
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if self.start(field).is_some() {
            self.buf.push_str(itoa::Buffer::new().format(value));
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if self.start(field).is_some() {
            self.buf.push_str(itoa::Buffer::new().format(value));
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        if self.start(field).is_some() {
            self.buf.push_str(if value { "true" } else { "false" });
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if self.result.is_ok() {
            self.default_for(|v| v.record_error(field, value));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let (empty, before) = (self.empty, self.buf.len());
        match self.start(field) {
            None => {}
            Some(true) if self.sanitize => {
                self.result = write!(self.buf, "{value:?}");
                // A message with characters to escape: written again, as
                // the default visitor writes it.
                if needs_escape(&self.buf[before..]) {
                    self.buf.truncate(before);
                    self.empty = empty;
                    self.default_for(|v| v.record_debug(field, value));
                }
            }
            Some(_) => self.result = write!(self.buf, "{value:?}"),
        }
    }
}

impl VisitOutput<fmt::Result> for Visitor<'_> {
    fn finish(self) -> fmt::Result {
        self.result
    }
}

/// The text line: `tracing-subscriber`'s `Full` format (timestamp, level,
/// spans, target, fields), byte for byte, with the request running on
/// this task ([`super::request`]) written as its outermost span.
#[derive(Clone, Copy, Debug, Default)]
pub struct Line;

impl<S, N> FormatEvent<S, N> for Line
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        // A `log` record's own target and level, not the bridge's.
        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        let ansi = writer.has_ansi_escapes();
        // Without ANSI every style is plain, and a plain style writes
        // nothing around its text.
        let style = |s: Style| if ansi { s } else { Style::new() };
        let (dimmed, bold) = (style(Style::new().dimmed()), style(Style::new().bold()));
        write!(writer, "{}", dimmed.prefix())?;
        if Timestamp.format_time(&mut writer).is_err() {
            writer.write_str("<unknown time>")?;
        }
        write!(writer, "{} ", dimmed.suffix())?;
        let (level, color) = match *meta.level() {
            Level::TRACE => ("TRACE", Color::Purple),
            Level::DEBUG => ("DEBUG", Color::Blue),
            Level::INFO => (" INFO", Color::Green),
            Level::WARN => (" WARN", Color::Yellow),
            Level::ERROR => ("ERROR", Color::Red),
        };
        write!(writer, "{} ", style(color.normal()).paint(level))?;
        let mut seen = super::request::with(|r| r.write_text(&mut writer, bold, dimmed))
            .transpose()?
            .is_some();
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                write!(writer, "{}", bold.paint(span.metadata().name()))?;
                seen = true;
                let ext = span.extensions();
                if let Some(fields) = ext.get::<FormattedFields<N>>() {
                    if !fields.is_empty() {
                        write!(writer, "{}{}{}", bold.paint("{"), fields, bold.paint("}"))?;
                    }
                }
                write!(writer, "{}", dimmed.paint(":"))?;
            }
        }
        if seen {
            writer.write_char(' ')?;
        }
        write!(
            writer,
            "{}{} ",
            dimmed.paint(meta.target()),
            dimmed.paint(":")
        )?;
        ctx.format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// The JSON line: outside a request `tracing-subscriber`'s (`with`, its
/// current span written); inside one, the same without its span
/// (`without`) and the request running on this task as the `span` object,
/// where the request's span was.
#[derive(Clone, Debug)]
pub struct RequestJson<F> {
    pub with: F,
    pub without: F,
}

impl<S, N, F> FormatEvent<S, N> for RequestJson<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let Some(span) = super::request::with(|r| r.json()) else {
            return self.with.format_event(ctx, writer, event);
        };
        let mut line = String::new();
        self.without
            .format_event(ctx, Writer::new(&mut line), event)?;
        match line.trim_end().strip_suffix('}') {
            Some(open) => writeln!(writer, "{open},\"span\":{span}}}"),
            None => writer.write_str(&line),
        }
    }
}

/// RFC 3339 UTC with microseconds, as `tracing-subscriber`'s `SystemTime`
/// writes it (`2026-12-04T21:00:00.123456Z`), its date and time of day
/// formatted once a second per thread.
#[derive(Clone, Copy, Debug, Default)]
pub struct Timestamp;

thread_local! {
    /// The second last formatted, and its text up to the `.`.
    static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
}

impl FormatTime for Timestamp {
    fn format_time(&self, w: &mut Writer<'_>) -> fmt::Result {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let (secs, micros) = (now.as_secs(), now.subsec_micros());
        let cached = SECOND.try_with(|c| {
            let mut c = c.try_borrow_mut().ok()?;
            if c.0 != secs {
                c.1 = second_text(secs)?;
                c.0 = secs;
            }
            Some(w.write_str(&c.1))
        });
        match cached {
            Ok(Some(written)) => written?,
            _ => w.write_str(&second_text(secs).unwrap_or_default())?,
        }
        write!(w, ".{micros:06}Z")
    }
}

/// `YYYY-MM-DDTHH:MM:SS` of a Unix time.
fn second_text(secs: u64) -> Option<String> {
    let t = chrono::DateTime::from_timestamp(i64::try_from(secs).ok()?, 0)?;
    Some(t.format("%Y-%m-%dT%H:%M:%S").to_string())
}

#[cfg(test)]
mod tests;
