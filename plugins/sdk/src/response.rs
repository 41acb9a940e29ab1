//! Building [`Response`]s: JSON bodies, empty answers, plain errors.
//!
//! Area envelopes (Alaya, IEF, pcapi, kboss) are in [`crate::envelope`]; they
//! all end up here. JSON is sent as `application/json;charset=utf-8`.

use serde::Serialize;

use crate::Response;

/// The `Content-Type` of every JSON response.
pub const JSON_CONTENT_TYPE: &str = "application/json;charset=utf-8";

/// A JSON response with the given HTTP status.
///
/// Serialising cannot fail for `serde_json::Value` or ordinary derived
/// types; if it does (a map with non-string keys), the answer is a 500 with
/// `{"error": ...}` rather than a trap.
pub fn json<T: Serialize + ?Sized>(status: u16, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => raw(status, JSON_CONTENT_TYPE, body),
        Err(e) => raw(
            500,
            JSON_CONTENT_TYPE,
            serde_json::json!({ "error": format!("response could not be serialised: {e}") })
                .to_string()
                .into_bytes(),
        ),
    }
}

/// `{"error": message}` with the given status: the `plain` error format.
pub fn error(status: u16, message: &str) -> Response {
    json(status, &serde_json::json!({ "error": message }))
}

/// A response without a body (`204 No Content`, `304`, ...).
pub fn empty(status: u16) -> Response {
    Response {
        status,
        headers: Vec::new(),
        body: Vec::new(),
    }
}

/// A text response, `text/plain;charset=utf-8`.
pub fn text(status: u16, body: impl Into<String>) -> Response {
    raw(status, "text/plain;charset=utf-8", body.into().into_bytes())
}

/// A response with an explicit content type and body.
pub fn raw(status: u16, content_type: &str, body: Vec<u8>) -> Response {
    Response {
        status,
        headers: vec![("content-type".to_owned(), content_type.to_owned())],
        body,
    }
}

impl Response {
    /// Adds a header (names are sent as given; use lower case).
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn json_sets_content_type() {
        let r = json(201, &serde_json::json!({"a": 1}));
        assert_eq!(r.status, 201);
        assert_eq!(r.headers[0].1, JSON_CONTENT_TYPE);
        assert_eq!(r.body, br#"{"a":1}"#);
    }

    #[test]
    fn unserialisable_is_a_500() {
        let mut m = std::collections::HashMap::new();
        m.insert((1, 2), 3);
        let r = json(200, &m);
        assert_eq!(r.status, 500);
    }
}
