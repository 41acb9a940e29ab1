//! The text formatter's lines against `tracing-subscriber`'s, byte for byte.

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
        String::from_utf8(self.0.lock().map(|l| l.clone()).unwrap_or_default()).unwrap_or_default()
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

/// A request's lines: as a span (`span`), or from its [`RequestLog`].
fn request_lines(as_span: bool, ansi: bool) -> String {
    use crate::telemetry::{RequestLog, TraceParent};
    let out = Lines::default();
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(out.clone())
        .with_ansi(ansi)
        .fmt_fields(PlainFields);
    let tp = TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        .expect("a traceparent");
    let client = std::net::IpAddr::from([127, 0, 0, 1]);
    let route = Some("/echo/{name}");
    let caller = ("acme \"quoted\" é", "k-1", "bearer");
    let events = || {
        tracing::info!(method = %"GET", status = 200u16, "served");
        let inner = tracing::info_span!("inner", n = 3u64);
        inner.in_scope(|| tracing::warn!(ok = true, "nested"));
    };
    if as_span {
        let subscriber = tracing_subscriber::registry().with(layer.with_timer(Timestamp));
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!(
                "request",
                id = %"abc-1",
                client = %client,
                org = tracing::field::Empty,
                key = tracing::field::Empty,
                scheme = tracing::field::Empty,
                route,
                trace_id = Some(tp.trace_id_text().as_str()),
            );
            let _in = span.enter();
            tracing::info!("before the caller");
            span.record("org", caller.0);
            span.record("key", caller.1);
            span.record("scheme", caller.2);
            events();
        });
    } else {
        let subscriber = tracing_subscriber::registry().with(layer.event_format(Line));
        let _default = tracing::subscriber::set_default(subscriber);
        let log = RequestLog::new("abc-1".into(), client, route, tp);
        let run = log.scope(async {
            tracing::info!("before the caller");
            crate::telemetry::request::record_caller(caller.0, caller.1, caller.2);
            events();
        });
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime")
            .block_on(run);
        tracing::info!("after the request");
    }
    out.text()
}

/// A line without its timestamp (the two runs' differ).
fn untimed(line: &str) -> &str {
    let at = line.find('Z').map_or(0, |z| z + 1);
    &line[at..]
}

#[test]
fn a_requests_lines_are_written_as_when_it_was_a_span() {
    for ansi in [false, true] {
        let theirs = request_lines(true, ansi);
        let ours = request_lines(false, ansi);
        assert_eq!(theirs.lines().count(), 3, "{theirs}");
        assert_eq!(ours.lines().count(), 4, "{ours}");
        for (a, b) in ours.lines().zip(theirs.lines()) {
            assert_eq!(untimed(a), untimed(b), "ansi {ansi}");
        }
        if !ansi {
            assert!(ours.contains(r#"request{id=abc-1 client=127.0.0.1 route="/echo/{name}" trace_id="4bf92f3577b34da6a3ce929d0e0e4736" org="acme \"quoted\" é" key="k-1" scheme="bearer"}: "#), "{ours}");
            assert!(ours.contains("}:inner{n=3}: "), "{ours}");
            let after = ours.lines().last().unwrap_or_default();
            assert!(
                untimed(after).starts_with("  INFO computehub::telemetry::text::tests: after"),
                "{after}"
            );
        }
    }
}

#[test]
fn a_requests_json_lines_are_written_as_when_it_was_a_span() {
    use crate::telemetry::{RequestLog, TraceParent};
    let tp = TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        .expect("a traceparent");
    let client = std::net::IpAddr::from([10, 0, 0, 9]);
    let json = |span| {
        tracing_subscriber::fmt::format()
            .json()
            .with_current_span(span)
            .with_span_list(false)
    };
    let (theirs, ours) = (Lines::default(), Lines::default());
    let layer = tracing_subscriber::fmt::layer()
        .json()
        .with_writer(theirs.clone())
        .event_format(json(true));
    tracing::subscriber::with_default(tracing_subscriber::registry().with(layer), || {
        let span = tracing::info_span!(
            "request",
            id = %"abc-1",
            client = %client,
            org = tracing::field::Empty,
            route = "/r/{x}",
            trace_id = tp.trace_id_text().as_str(),
        );
        let _in = span.enter();
        tracing::info!("before the caller");
        span.record("org", "acme");
        tracing::info!(status = 200u16, "served");
    });
    let layer = tracing_subscriber::fmt::layer()
        .json()
        .with_writer(ours.clone())
        .event_format(RequestJson {
            with: json(true),
            without: json(false),
        });
    let _default = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));
    let log = RequestLog::new("abc-1".into(), client, Some("/r/{x}"), tp);
    let run = log.scope(async {
        tracing::info!("before the caller");
        crate::telemetry::request::record_caller("acme", "k", "bearer");
        tracing::info!(status = 200u16, "served");
    });
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime")
        .block_on(run);
    tracing::info!("after the request");
    let parse = |l: &str| {
        let mut v: serde_json::Value = serde_json::from_str(l).expect("a JSON line");
        v.as_object_mut().map(|o| o.remove("timestamp"));
        v
    };
    let (theirs, ours) = (theirs.text(), ours.text());
    let ours: Vec<_> = ours.lines().map(parse).collect();
    let theirs: Vec<_> = theirs.lines().map(parse).collect();
    assert_eq!(ours[0], theirs[0]);
    // The caller's key and scheme, which the span above did not record.
    let mut served = ours[1].clone();
    assert_eq!(served["span"]["key"], "k");
    served["span"]
        .as_object_mut()
        .map(|s| s.remove("key").and(s.remove("scheme")));
    assert_eq!(served, theirs[1]);
    assert_eq!(ours[1]["span"]["org"], "acme");
    assert!(ours[2].get("span").is_none(), "{}", ours[2]);
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
