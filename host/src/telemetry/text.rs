//! The text log line, written faster than `tracing-subscriber`'s defaults
//! and byte for byte the same (its tests compare the two).
//!
//! Every request makes a span (its id, client, route, caller) and a `served`
//! line; with the defaults their fields and the timestamp were about half of
//! what the log costs a request (stop 28: 6.3% and 0.7% of a warm echo
//! request's CPU). The defaults write each field through nested `write!`s,
//! with terminal styles around the name even when they are off, and grow a
//! span's `String` a few bytes at a time. Here:
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

use tracing::field::{Field, Visit};
use tracing::span;
use tracing_subscriber::field::{RecordFields, VisitOutput};
use tracing_subscriber::fmt::format::{DefaultVisitor, Writer};
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::fmt::{FormatFields, FormattedFields};

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
            Some(false) if plain_ascii(value) => {
                self.buf.push('"');
                self.buf.push_str(value);
                self.buf.push('"');
            }
            Some(false) => self.result = write!(self.buf, "{value:?}"),
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
mod tests {
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::fmt::format::DefaultFields;
    use tracing_subscriber::fmt::MakeWriter;
    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    /// Lines written, shared with the test.
    #[derive(Clone, Default)]
    struct Lines(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| std::io::ErrorKind::Other)?
                .extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Lines {
        type Writer = Lines;
        fn make_writer(&'a self) -> Lines {
            self.clone()
        }
    }

    impl Lines {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().map(|l| l.clone()).unwrap_or_default())
                .unwrap_or_default()
        }
    }

    #[derive(Debug, thiserror::Error)]
    #[error("outer failure")]
    struct Outer(#[source] std::io::Error);

    /// Spans and events of every kind of field, as the server logs them.
    fn emit() {
        let span = tracing::info_span!(
            "request",
            id = %"abc123",
            client = %std::net::IpAddr::from([127, 0, 0, 1]),
            org = tracing::field::Empty,
            route = tracing::field::Empty,
            trace_id = Some("0af7651916cd43dd8448eb211c80319c"),
            r#type = "kind",
        );
        let _in = span.enter();
        span.record("route", "/echo/{name}");
        span.record("org", "acme \"quoted\" \\ back");
        tracing::info!(method = %"GET", path = %"/echo/x", status = 200u16, micros = 41u64, "served");
        tracing::warn!(ok = true, delta = -3i64, ratio = 0.5f64, list = ?vec![1, 2], "with {} args", 2);
        tracing::error!(error = %"plain display", "failed");
        let err = Outer(std::io::Error::other("inner cause"));
        tracing::error!(
            error = &err as &(dyn std::error::Error + 'static),
            "an error value"
        );
        tracing::info!(text = "tab\there, newline\nand é", "unicode and controls");
        tracing::info!("a message with \x1b[31mescape\x1b[0m and \u{85} C1");
        tracing::info!(message = "message as a str field \x07 bell");
        tracing::info!("naïve é message, and one in C1: {}", "\u{9b}");
        tracing::info!(message = "naïve é str message");
        tracing::info!(empty = "", "");
        let inner = tracing::info_span!("inner", n = 3u64);
        let _in2 = inner.enter();
        tracing::info!(log.target = "skipped", kept = 1u64, "nested");
    }

    /// The lines as `fields` writes them (timestamps off: they differ).
    fn lines_with<N>(fields: N) -> String
    where
        N: for<'w> FormatFields<'w> + Send + Sync + 'static,
    {
        let out = Lines::default();
        let layer = tracing_subscriber::fmt::layer()
            .with_writer(out.clone())
            .with_ansi(false)
            .without_time()
            .fmt_fields(fields);
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, emit);
        out.text()
    }

    #[test]
    fn fields_are_written_as_the_default_formatter_writes_them() {
        let ours = lines_with(PlainFields);
        let theirs = lines_with(DefaultFields::new());
        assert!(theirs.lines().count() >= 9, "{theirs}");
        for (a, b) in ours.lines().zip(theirs.lines()) {
            assert_eq!(a, b);
        }
        assert_eq!(ours, theirs);
        // The cases the comparison covers really were there.
        assert!(ours.contains(r#"org="acme \"quoted\" \\ back""#), "{ours}");
        assert!(ours.contains("\\x1b[31mescape"), "{ours}");
        assert!(ours.contains("error.sources=[inner cause]"), "{ours}");
    }

    #[test]
    fn the_timestamp_is_written_as_the_default_timer_writes_it() {
        let mut ours = String::new();
        let mut theirs = String::new();
        // Around a second boundary the two may differ by a second: retry.
        for _ in 0..5 {
            ours.clear();
            theirs.clear();
            Timestamp.format_time(&mut Writer::new(&mut ours)).unwrap();
            tracing_subscriber::fmt::time::SystemTime
                .format_time(&mut Writer::new(&mut theirs))
                .unwrap();
            if ours[..20] == theirs[..20] {
                break;
            }
        }
        assert_eq!(ours.len(), theirs.len(), "{ours} / {theirs}");
        assert_eq!(ours[..20], theirs[..20], "{ours} / {theirs}");
        assert!(ours.ends_with('Z') && ours.as_bytes()[19] == b'.', "{ours}");
        // A cached second is reused, and a new one formatted.
        let mut again = String::new();
        Timestamp.format_time(&mut Writer::new(&mut again)).unwrap();
        assert_eq!(again.len(), ours.len());
        assert_eq!(second_text(0).as_deref(), Some("1970-01-01T00:00:00"));
        assert_eq!(
            second_text(1_796_425_200).as_deref(),
            Some("2026-12-04T23:00:00")
        );
    }
}
