//! pcapi: `{"status": <bool>, "info": "...", "data": ...}`.
//!
//! The documented failures answer `"data": ""` (or an object describing
//! what was attempted, e.g. `node_state_switch`).

use serde::Serialize;

use crate::error::ApiError;
use crate::{response, Response};

#[derive(Serialize)]
struct Envelope<'a, T: ?Sized> {
    status: bool,
    info: &'a str,
    data: &'a T,
}

/// `200 {"status": true, "info": info, "data": data}`.
pub fn ok<T: Serialize + ?Sized>(info: &str, data: &T) -> Response {
    respond(200, true, info, data)
}

/// `{"status": false, "info": info, "data": data}` with HTTP `http_status`.
pub fn fail<T: Serialize + ?Sized>(http_status: u16, info: &str, data: &T) -> Response {
    respond(http_status, false, info, data)
}

/// `{"status": false, "info": info, "data": ""}` with HTTP `http_status`.
pub fn error(http_status: u16, info: &str) -> Response {
    fail(http_status, info, "")
}

/// The envelope with every part explicit.
pub fn respond<T: Serialize + ?Sized>(
    http_status: u16,
    status: bool,
    info: &str,
    data: &T,
) -> Response {
    response::json(http_status, &Envelope { status, info, data })
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
        let v: serde_json::Value = serde_json::from_slice(&ok("operate success", &1).body).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"status": true, "info": "operate success", "data": 1})
        );
        let r = error(500, "operate failed");
        assert_eq!(r.status, 500);
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"status": false, "info": "operate failed", "data": ""})
        );
    }
}
