//! The trace a request belongs to. Each request's span gets a trace
//! context: its caller's (a valid incoming `traceparent`) or a new trace,
//! and a span id of its own, written back as the response's `traceparent`
//! and recorded as the span's `trace_id` field (so every log line of the
//! request carries it).
//!
//! With OTLP export on, the context is tracing-opentelemetry's (the
//! request span is an OpenTelemetry server span, capability calls its
//! children); without it, the ids are made here and kept in the request
//! span's extensions, at no cost beyond that. Either way [`current`] is the
//! context of the code running now, which outgoing requests carry on.

use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::registry::LookupSpan;

use super::traceparent::TraceParent;

fn from_otel(sc: &SpanContext) -> Option<TraceParent> {
    sc.is_valid().then(|| TraceParent {
        trace_id: sc.trace_id().to_bytes(),
        span_id: sc.span_id().to_bytes(),
        sampled: sc.is_sampled(),
    })
}

fn to_otel(tp: &TraceParent) -> opentelemetry::Context {
    let flags = if tp.sampled {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::default()
    };
    let sc = SpanContext::new(
        TraceId::from_bytes(tp.trace_id),
        SpanId::from_bytes(tp.span_id),
        flags,
        true,
        TraceState::default(),
    );
    opentelemetry::Context::new().with_remote_span_context(sc)
}

/// Give the request `span` its trace context, joining `incoming` when the
/// caller sent one: the server span's own context, which the response's
/// `traceparent` carries.
pub fn start_request(span: &Span, incoming: Option<TraceParent>) -> TraceParent {
    if super::exporting() {
        span.record("otel.kind", "server");
        if let Some(parent) = &incoming {
            // Fails only when the span is disabled; then the local ids below.
            let _ = span.set_parent(to_otel(parent));
        }
        if let Some(tp) = from_otel(span.context().span().span_context()) {
            span.record("trace_id", tp.trace_id_hex());
            return tp;
        }
    }
    let tp = local_ids(incoming);
    attach(span, tp);
    span.record("trace_id", tp.trace_id_text().as_str());
    tp
}

/// The ids a request gets without export: a child of the caller's span, or
/// a new trace.
fn local_ids(incoming: Option<TraceParent>) -> TraceParent {
    match incoming {
        Some(parent) => parent.child(),
        None => TraceParent::random(false),
    }
}

/// [`start_request`] for a span not made yet: without export, the ids made
/// here (so the span can be created with its `trace_id` field set, which
/// spares the subscriber a `record`; then [`attach`] them to it); `None`
/// when spans are exported, where only [`start_request`] on the span knows
/// them.
pub fn before_request(incoming: Option<TraceParent>) -> Option<TraceParent> {
    (!super::exporting()).then(|| local_ids(incoming))
}

/// Keep `tp` in the request `span`'s extensions, where [`current`] finds it.
pub fn attach(span: &Span, tp: TraceParent) {
    span.with_subscriber(|(id, dispatch)| {
        if let Some(span) = dispatch
            .downcast_ref::<tracing_subscriber::Registry>()
            .and_then(|r| r.span(id))
        {
            span.extensions_mut().replace(tp);
        }
    });
}

/// Name the request span for a trace viewer (`GET /route`), give it the
/// HTTP attributes and mark it failed on a server error; nothing when not
/// exporting (the log lines already say it).
pub fn finish_request(span: &Span, method: &str, route: &str, status: u16) {
    if super::exporting() {
        span.context()
            .span()
            .update_name(format!("{method} {route}"));
        span.set_attribute("http.request.method", method.to_string());
        span.set_attribute("http.route", route.to_string());
        span.set_attribute("http.response.status_code", i64::from(status));
        if status >= 500 {
            span.record("otel.status_code", "ERROR");
        }
    }
}

/// The trace context of the code running now (the innermost span that has
/// one): what an outgoing request made now names as its parent.
pub fn current() -> Option<TraceParent> {
    let span = Span::current();
    if super::exporting() {
        if let Some(tp) = from_otel(span.context().span().span_context()) {
            return Some(tp);
        }
    }
    span.with_subscriber(|(id, dispatch)| {
        let registry = dispatch.downcast_ref::<tracing_subscriber::Registry>()?;
        let found = registry
            .span(id)?
            .scope()
            .find_map(|s| s.extensions().get::<TraceParent>().copied());
        found
    })
    .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::SubscriberExt;

    #[test]
    fn local_ids_join_the_caller_and_are_found_from_child_spans() {
        let subscriber = tracing_subscriber::registry()
            .with(tracing_subscriber::fmt::layer().with_writer(std::io::sink));
        tracing::subscriber::with_default(subscriber, || {
            let incoming =
                TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
            let span = tracing::info_span!("request", trace_id = tracing::field::Empty);
            let tp = start_request(&span, incoming);
            assert_eq!(tp.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
            assert_ne!(hex::encode(tp.span_id), "00f067aa0ba902b7");
            assert!(tp.sampled);
            assert_eq!(current(), None);
            let _request = span.enter();
            let _child = tracing::info_span!("child").entered();
            assert_eq!(current(), Some(tp));
        });
    }

    #[test]
    fn ids_made_before_the_span_are_found_as_when_made_on_it() {
        let subscriber = tracing_subscriber::registry()
            .with(tracing_subscriber::fmt::layer().with_writer(std::io::sink));
        tracing::subscriber::with_default(subscriber, || {
            let incoming =
                TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
            let tp = before_request(incoming).expect("not exporting");
            assert_eq!(tp.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
            assert!(tp.sampled);
            let span = tracing::info_span!("request", trace_id = tp.trace_id_text().as_str());
            attach(&span, tp);
            let _request = span.enter();
            let _child = tracing::info_span!("child").entered();
            assert_eq!(current(), Some(tp));
        });
    }

    #[test]
    fn without_a_caller_a_new_trace() {
        let subscriber = tracing_subscriber::registry();
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("request");
            let a = start_request(&span, None);
            let b = start_request(&tracing::info_span!("request"), None);
            assert_ne!(a.trace_id, b.trace_id);
            assert!(!a.sampled);
        });
    }
}
