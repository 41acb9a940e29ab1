//! Responses the host writes itself, in the error format of the API area
//! whose route was hit (so clients see one envelope per area).
//!
//! These keep their HTTP status in every area, pcapi and kboss included:
//! those plugins answer the failures their documents cover with 200 and
//! `status: false`, but what the host writes here (authentication, a body
//! too large, slow or over budget, a plugin busy, trapped or past its
//! deadline, an unmatched path) is not in the documents, and a client must
//! not read it as an answer (`docs/ARCHITECTURE.md`, "Failures on the
//! wire"; `/openapi.json` lists them on every route).

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::{BodyExt, Full};

use crate::envelope::Envelope;

/// A response body: a complete one ([`full`]) or a stream ([`channel`], for
/// server-sent events).
pub type Body = http_body_util::combinators::UnsyncBoxBody<Bytes, Infallible>;

/// A complete body.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed_unsync()
}

/// A streamed body and the sender that feeds it; the body ends when the
/// sender is dropped.
pub fn channel(buffer: usize) -> (tokio::sync::mpsc::Sender<Bytes>, Body) {
    let (tx, rx) = tokio::sync::mpsc::channel(buffer);
    (tx, Streamed(rx).boxed_unsync())
}

struct Streamed(tokio::sync::mpsc::Receiver<Bytes>);

impl hyper::body::Body for Streamed {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, Infallible>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|b| Ok(hyper::body::Frame::data(b))))
    }
}

pub fn json(status: u16, value: &serde_json::Value) -> Response<Body> {
    let mut resp = Response::new(full(value.to_string()));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=utf-8"),
    );
    resp
}

pub fn text(status: u16, content_type: &'static str, body: String) -> Response<Body> {
    let mut resp = Response::new(full(body));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    resp
}

/// Huawei IEF error code for a host-generated status.
/// An error in the area's own envelope, with the same HTTP status.
pub fn error(format: &Envelope, status: u16, message: &str) -> Response<Body> {
    json(status, &format.error_body(status, message))
}

/// Mark a response sent before the request body was read: the connection
/// closes instead of being reused with unread bytes in it.
pub fn closing(mut resp: Response<Body>) -> Response<Body> {
    resp.headers_mut()
        .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    resp
}
