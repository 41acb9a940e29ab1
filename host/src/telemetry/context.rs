//! The trace a request belongs to: its caller's (a valid incoming
//! `traceparent`) or a new trace, and a span id of its own, written back as
//! the response's `traceparent` and carried by the request's
//! [`super::RequestLog`] (so every log line of the request has its
//! `trace_id`).
//!
//! With OTLP export on, the context is tracing-opentelemetry's (the
//! request has a server span, capability calls its children); without it,
//! the ids are made here and no span is made for the request at all.
//! Either way [`current`] is the context of the code running now, which
//! outgoing requests carry on.

use std::net::IpAddr;

use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use tracing::{span, Span, Subscriber};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::layer::{Context as LayerContext, Layer};
use tracing_subscriber::registry::LookupSpan;

use super::traceparent::TraceParent;
use super::{CAPABILITY_TARGET, REQUEST_TARGET};

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

/// The request's trace context (a child of the caller's span, or a new
/// trace) and, when spans are exported, its server span (joined to the
/// caller's trace; under [`REQUEST_TARGET`], so never on a log line).
/// Without export the span is `Span::none()`: the log lines take the
/// request's fields from its [`super::RequestLog`].
pub fn server_span(
    id: &str,
    client: IpAddr,
    route: Option<&str>,
    incoming: Option<TraceParent>,
) -> (Span, TraceParent) {
    if !super::exporting() {
        return (Span::none(), local_ids(incoming));
    }
    let span = tracing::info_span!(
        target: REQUEST_TARGET,
        "request",
        id = %id,
        client = %client,
        route,
        org = tracing::field::Empty,
        key = tracing::field::Empty,
        scheme = tracing::field::Empty,
        trace_id = tracing::field::Empty,
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
    );
    if let Some(parent) = &incoming {
        // Fails only when the span is disabled; then the local ids below.
        let _ = span.set_parent(to_otel(parent));
    }
    match from_otel(span.context().span().span_context()) {
        Some(tp) => {
            span.record("trace_id", tp.trace_id_hex());
            (span, tp)
        }
        None => (span, local_ids(incoming)),
    }
}

/// The ids a request gets without export: a child of the caller's span, or
/// a new trace.
fn local_ids(incoming: Option<TraceParent>) -> TraceParent {
    match incoming {
        Some(parent) => parent.child(),
        None => TraceParent::random(false),
    }
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

/// The trace context of the code running now: what an outgoing request
/// made now names as its parent. When exporting, the innermost span's;
/// else the request's on this task; else (a task of the request's that
/// does not carry it, such as the kube client's buffer worker, which
/// enters its caller's span) the one [`Propagation`] gave that span.
pub fn current() -> Option<TraceParent> {
    let span = Span::current();
    if super::exporting() {
        if let Some(tp) = from_otel(span.context().span().span_context()) {
            return Some(tp);
        }
    }
    if let Some(tp) = super::request::with(|r| r.trace()) {
        return Some(tp);
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

/// Keeps the request's trace context in the spans of the kubernetes
/// capability's calls. kube's client sends through a `tower` buffer whose
/// worker task enters the caller's span but has none of its task-locals,
/// so without export [`current`] finds the trace there. Only these spans
/// are made for it (the others stay disabled unless exported).
#[derive(Clone, Copy, Debug, Default)]
pub struct Propagation;

impl Propagation {
    /// The layer, enabled for the kubernetes capability's spans only.
    pub fn layer<S>() -> impl Layer<S>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        Propagation.with_filter(filter_fn(|m| {
            m.is_span() && m.target() == CAPABILITY_TARGET && m.name().starts_with("kubernetes.")
        }))
    }
}

impl<S> Layer<S> for Propagation
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, _: &span::Attributes<'_>, id: &span::Id, ctx: LayerContext<'_, S>) {
        if super::exporting() {
            return;
        }
        if let (Some(tp), Some(span)) = (super::request::with(|r| r.trace()), ctx.span(id)) {
            span.extensions_mut().insert(tp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::RequestLog;
    use tracing_subscriber::layer::SubscriberExt;

    #[tokio::test]
    async fn without_export_the_ids_join_the_caller_and_reach_the_kube_worker() {
        use tracing_subscriber::Layer as _;
        let lines = tracing_subscriber::fmt::layer()
            .with_writer(std::io::sink)
            .with_filter(filter_fn(crate::telemetry::on_lines));
        let subscriber = tracing_subscriber::registry()
            .with(lines)
            .with(Propagation::layer());
        let _default = tracing::subscriber::set_default(subscriber);
        let incoming =
            TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
        let (span, tp) = server_span("r1", [127, 0, 0, 1].into(), None, incoming);
        assert!(span.is_none(), "no server span without export");
        assert_eq!(tp.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_ne!(hex::encode(tp.span_id), "00f067aa0ba902b7");
        assert!(tp.sampled);
        assert_eq!(current(), None);
        let log = RequestLog::new("r1".into(), [127, 0, 0, 1].into(), None, tp);
        let (inside, kube_span, other) = log
            .scope(async {
                let kube = tracing::info_span!(target: "computehub::capability", "kubernetes.list");
                let other = tracing::info_span!(target: "computehub::capability", "inventory.get");
                (current(), kube, other)
            })
            .await;
        assert_eq!(inside, Some(tp));
        assert!(other.is_disabled(), "only kubernetes spans are made");
        // Outside the request's task, in the span its caller entered.
        assert_eq!(kube_span.in_scope(current), Some(tp));
        assert_eq!(current(), None);
    }

    #[test]
    fn without_a_caller_a_new_trace() {
        let (_, a) = server_span("a", [127, 0, 0, 1].into(), None, None);
        let (_, b) = server_span("b", [127, 0, 0, 1].into(), None, None);
        assert_ne!(a.trace_id, b.trace_id);
        assert!(!a.sampled);
    }
}
