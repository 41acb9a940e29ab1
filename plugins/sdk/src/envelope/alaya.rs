//! Alaya NeW: `{"status": <int>, "message": "...", "data": ...}`.
//!
//! The HTTP status equals `status`. Success answers `200` / `"OK"`; errors
//! carry `data: {}` as the documented 403 and 500 bodies do.

use serde::Serialize;

use crate::error::ApiError;
use crate::{response, Response};

#[derive(Serialize)]
struct Envelope<'a, T: ?Sized> {
    status: u16,
    message: &'a str,
    data: &'a T,
}

/// `200 {"status": 200, "message": "OK", "data": data}`.
pub fn ok<T: Serialize + ?Sized>(data: &T) -> Response {
    respond(200, "OK", data)
}

/// The envelope with any status and message; the HTTP status is `status`.
pub fn respond<T: Serialize + ?Sized>(status: u16, message: &str, data: &T) -> Response {
    response::json(
        status,
        &Envelope {
            status,
            message,
            data,
        },
    )
}

/// An error: `{"status": status, "message": message, "data": {}}`.
pub fn error(status: u16, message: &str) -> Response {
    respond(status, message, &serde_json::Map::new())
}

/// Renders an [`ApiError`] with its status and message.
pub fn from_error(err: &ApiError) -> Response {
    error(err.status(), &err.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let r = ok(&serde_json::json!({"ports": []}));
        assert_eq!(r.status, 200);
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"status": 200, "message": "OK", "data": {"ports": []}})
        );
        let r = error(403, "Forbidden");
        assert_eq!(r.status, 403);
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"status": 403, "message": "Forbidden", "data": {}})
        );
    }
}
