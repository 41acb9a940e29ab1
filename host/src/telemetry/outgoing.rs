//! Outgoing HTTP requests the host makes for a plugin (the kube client's
//! requests to an API server) carry the trace context of the code that
//! makes them as a `traceparent` header: a tower layer in the client's
//! stack. kube's client sends through a `tower::buffer::Buffer`, whose
//! worker enters the caller's span before calling the inner service, so
//! the context found here is the caller's.

use std::task::{Context, Poll};

use super::context::current;
use super::traceparent::HEADER;

/// Adds `traceparent` to every request that has none.
#[derive(Clone, Copy, Debug, Default)]
pub struct TraceparentLayer;

impl<S> tower_layer::Layer<S> for TraceparentLayer {
    type Service = Traceparent<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Traceparent { inner }
    }
}

/// The service [`TraceparentLayer`] makes.
#[derive(Clone, Debug)]
pub struct Traceparent<S> {
    inner: S,
}

impl<S, B> tower_service::Service<http::Request<B>> for Traceparent<S>
where
    S: tower_service::Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        if !req.headers().contains_key(HEADER) {
            if let Some(v) =
                current().and_then(|tp| http::HeaderValue::from_str(&tp.to_string()).ok())
            {
                req.headers_mut().insert(HEADER, v);
            }
        }
        self.inner.call(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::traceparent::TraceParent;
    use tower_layer::Layer;
    use tower_service::Service;

    /// Answers with the `traceparent` the request carried.
    struct Echo;

    impl Service<http::Request<()>> for Echo {
        type Response = Option<String>;
        type Error = std::convert::Infallible;
        type Future = std::future::Ready<Result<Option<String>, Self::Error>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, req: http::Request<()>) -> Self::Future {
            let v = req
                .headers()
                .get(HEADER)
                .map(|v| v.to_str().unwrap().to_string());
            std::future::ready(Ok(v))
        }
    }

    fn send(svc: &mut Traceparent<Echo>) -> Option<String> {
        match svc.call(http::Request::new(())).into_inner() {
            Ok(v) => v,
            Err(never) => match never {},
        }
    }

    #[tokio::test]
    async fn requests_carry_the_callers_trace() {
        let mut svc = TraceparentLayer.layer(Echo);
        assert_eq!(send(&mut svc), None, "no trace, no header");
        let incoming =
            TraceParent::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
        let (_, tp) = crate::telemetry::server_span("r1", [127, 0, 0, 1].into(), None, incoming);
        let log = crate::telemetry::RequestLog::new("r1".into(), [127, 0, 0, 1].into(), None, tp);
        let sent = log.scope(async { send(&mut svc) }).await;
        let sent = sent.expect("a traceparent");
        assert_eq!(sent, tp.to_string());
        assert!(sent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
    }
}
