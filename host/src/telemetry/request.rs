//! The request a log line belongs to: its id, client, route, trace and
//! caller, kept beside the request's future (a task-local) rather than in a
//! `tracing` span.
//!
//! Every line written while a request runs (its `served` line, a plugin's
//! `log` call, a capability's warning) starts with `request{id=… client=…
//! route=… trace_id=… org=… key=… scheme=…}:` in the text format and has a
//! `span` object in JSON, exactly as when the request was a span. A span
//! per request cost its creation in the registry with its fields formatted,
//! an enter and an exit at every poll and a lookup per line: about a tenth
//! of a warm plugin route's CPU (issue #17). Here the fields are written
//! only when a line is, and the request's future carries one `Arc`.
//!
//! With OTLP export on, a request also has a server span (target
//! [`REQUEST_TARGET`], never on the log lines), which is what the trace
//! viewer shows; see [`super::context`].

use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

use nu_ansi_term::Style;

use super::text::quoted;
use super::traceparent::TraceParent;

/// The target of the request's exported span (kept off the log lines,
/// which write the request's fields from [`RequestLog`]).
pub const REQUEST_TARGET: &str = "computehub::request";

tokio::task_local! {
    /// `None` in a task spawned outside any request ([`carried`]).
    static REQUEST: Option<Arc<RequestLog>>;
}

/// Who made the request, once authenticated.
#[derive(Debug)]
struct Caller {
    organisation: String,
    key: String,
    scheme: &'static str,
}

/// One request's fields, as its log lines carry them.
#[derive(Debug)]
pub struct RequestLog {
    id: String,
    client: IpAddr,
    route: Option<String>,
    trace: TraceParent,
    caller: OnceLock<Caller>,
}

impl RequestLog {
    pub fn new(id: String, client: IpAddr, route: Option<&str>, trace: TraceParent) -> Arc<Self> {
        Arc::new(RequestLog {
            id,
            client,
            route: route.map(str::to_string),
            trace,
            caller: OnceLock::new(),
        })
    }

    /// The request id (the caller's `x-request-id`, or one made for it).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The request's trace context (its own span id in the caller's trace).
    pub fn trace(&self) -> TraceParent {
        self.trace
    }

    /// Run `f` as the request: its log lines carry these fields.
    pub fn scope<F: Future>(self: Arc<Self>, f: F) -> impl Future<Output = F::Output> {
        REQUEST.scope(Some(self), f)
    }

    /// The caller, on every later line (set once: a request has one).
    fn set_caller(&self, organisation: &str, key: &str, scheme: &'static str) {
        let _ = self.caller.set(Caller {
            organisation: organisation.to_string(),
            key: key.to_string(),
            scheme,
        });
    }

    /// `request{…}:` as the text format writes a span named `request`
    /// (`tracing-subscriber`'s `Full` format with [`super::text::PlainFields`]:
    /// Display fields bare, strings quoted as `{:?}` quotes them), the name
    /// and braces in `bold` and the colon `dimmed` (plain styles without
    /// ANSI).
    pub(super) fn write_text(
        &self,
        w: &mut impl fmt::Write,
        bold: Style,
        dimmed: Style,
    ) -> fmt::Result {
        write!(w, "{}{}", bold.paint("request"), bold.paint("{"))?;
        // `id` is checked to be [A-Za-z0-9._:-] (server::valid_request_id).
        write!(w, "id={} client={}", self.id, self.client)?;
        if let Some(route) = &self.route {
            w.write_str(" route=")?;
            quoted(w, route)?;
        }
        write!(w, " trace_id=\"{}\"", self.trace.trace_id_text().as_str())?;
        if let Some(c) = self.caller.get() {
            w.write_str(" org=")?;
            quoted(w, &c.organisation)?;
            w.write_str(" key=")?;
            quoted(w, &c.key)?;
            w.write_str(" scheme=")?;
            quoted(w, c.scheme)?;
        }
        write!(w, "{}{}", bold.paint("}"), dimmed.paint(":"))
    }

    /// The JSON format's `span` object: the fields, then `"name":"request"`.
    pub(super) fn json(&self) -> serde_json::Value {
        let mut span = serde_json::Map::new();
        span.insert("id".into(), self.id.clone().into());
        span.insert("client".into(), self.client.to_string().into());
        if let Some(route) = &self.route {
            span.insert("route".into(), route.clone().into());
        }
        span.insert(
            "trace_id".into(),
            self.trace.trace_id_text().as_str().into(),
        );
        if let Some(c) = self.caller.get() {
            span.insert("org".into(), c.organisation.clone().into());
            span.insert("key".into(), c.key.clone().into());
            span.insert("scheme".into(), c.scheme.into());
        }
        span.insert("name".into(), "request".into());
        serde_json::Value::Object(span)
    }
}

/// `f` on the request running on this task, if any.
pub(super) fn with<R>(f: impl FnOnce(&RequestLog) -> R) -> Option<R> {
    REQUEST.try_with(|r| r.as_deref().map(f)).ok().flatten()
}

/// The request running on this task, to carry into a task it spawns.
pub fn current() -> Option<Arc<RequestLog>> {
    REQUEST.try_with(Option::clone).ok().flatten()
}

/// Record the authenticated caller on the request's lines (and, when
/// spans are exported, on its server span).
pub fn record_caller(organisation: &str, key: &str, scheme: &'static str) {
    with(|r| r.set_caller(organisation, key, scheme));
    if super::exporting() {
        let span = tracing::Span::current();
        span.record("org", organisation);
        span.record("key", key);
        span.record("scheme", scheme);
    }
}

/// `f` as part of the request running now: its lines carry the request's
/// fields and, when exporting, its spans are the request span's children.
/// For a task the request spawns.
pub fn carried<F: Future>(f: F) -> impl Future<Output = F::Output> {
    use tracing::Instrument as _;
    REQUEST
        .scope(current(), f)
        .instrument(tracing::Span::current())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_request_is_found_inside_its_scope_and_carried_into_tasks() {
        assert!(current().is_none());
        let tp = TraceParent::random(false);
        let log = RequestLog::new("r-1".into(), [127, 0, 0, 1].into(), Some("/a/{b}"), tp);
        let seen = Arc::clone(&log)
            .scope(async {
                record_caller("acme \"q\"", "k1", "bearer");
                let inside = with(|r| r.id().to_string());
                let spawned = tokio::spawn(carried(async { current().map(|r| r.trace()) }));
                (inside, spawned.await.ok().flatten())
            })
            .await;
        assert_eq!(seen, (Some("r-1".to_string()), Some(tp)));
        assert!(current().is_none(), "nothing outside the scope");
        let mut text = String::new();
        log.write_text(&mut text, Style::new(), Style::new())
            .unwrap();
        let trace = tp.trace_id_hex();
        assert_eq!(
            text,
            format!(
                r#"request{{id=r-1 client=127.0.0.1 route="/a/{{b}}" trace_id="{trace}" org="acme \"q\"" key="k1" scheme="bearer"}}:"#
            )
        );
        let json = log.json();
        assert_eq!(json["org"], "acme \"q\"");
        assert_eq!(json["name"], "request");
    }
}
