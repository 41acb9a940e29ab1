//! Building [`Response`]s: JSON bodies, empty answers, plain errors.
//!
//! Area envelopes (Alaya, IEF, pcapi, kboss) are in [`crate::envelope`]; they
//! all end up here. JSON is sent as `application/json;charset=utf-8`.

use serde::Serialize;

use crate::Response;

/// A JSON object built from `"name" => value` pairs, each value *moved* in
/// through `serde_json::Value::from`, in the order written.
///
/// `serde_json::json!` serialises every value it is given into a new tree:
/// `json!({"rows": rows})` copies a page of rows field by field (and, with
/// the ordered maps the areas use, rehashes every key) before the body is
/// written. Use this for an envelope around values already built:
///
/// ```
/// let rows = vec![serde_json::json!({"id": "a"})];
/// let body = computehub_sdk::object! { "total" => rows.len(), "rows" => rows };
/// assert_eq!(body, serde_json::json!({"total": 1, "rows": [{"id": "a"}]}));
/// ```
#[macro_export]
macro_rules! object {
    ($($name:literal => $value:expr),* $(,)?) => {{
        let mut map = $crate::__serde_json::Map::new();
        $(map.insert(::std::string::String::from($name), $crate::__serde_json::Value::from($value));)*
        $crate::__serde_json::Value::Object(map)
    }};
}

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

/// A JSON body written a member at a time, for answers too large to build
/// as a `serde_json::Value` tree first (a tree costs several times the text
/// it becomes): objects and arrays are opened and closed explicitly and
/// every value is serialised straight into the body.
///
/// Reserve the expected size with [`JsonWriter::with_capacity`] when it is
/// large; beyond what was reserved the body grows by an eighth at a time,
/// never by doubling (a `Vec` that doubles holds up to twice the body, and
/// the old buffer too while it moves: 24 MiB for a 9 MB answer).
///
/// ```
/// # use computehub_sdk::response::JsonWriter;
/// let mut w = JsonWriter::new();
/// w.begin_object(None);
/// w.value(Some("status"), &true);
/// w.begin_array(Some("rows"));
/// for i in 0..2 {
///     w.value(None, &i);
/// }
/// w.end_array();
/// w.end_object();
/// assert_eq!(w.into_response(200).body, br#"{"status":true,"rows":[0,1]}"#);
/// ```
#[derive(Default)]
pub struct JsonWriter {
    body: Vec<u8>,
    /// Per open object or array: whether a member was written yet.
    open: Vec<bool>,
}

impl JsonWriter {
    /// An empty body.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty body with room for `bytes` (an answer's expected size, so
    /// it is allocated once, before anything else the answer needs).
    pub fn with_capacity(bytes: usize) -> Self {
        JsonWriter {
            body: Vec::with_capacity(bytes),
            open: Vec::new(),
        }
    }

    /// Room for `n` more bytes: an eighth more than the body (at least
    /// 64 KiB), or `n` when that is more.
    fn room(&mut self, n: usize) {
        let spare = self.body.capacity() - self.body.len();
        if n > spare {
            let step = (self.body.len() / 8).max(64 << 10).max(n);
            self.body.reserve_exact(step);
        }
    }

    /// The separator and key before a member (`key` inside objects only).
    fn member(&mut self, key: Option<&str>) {
        self.room(key.map_or(0, str::len) + 16);
        if let Some(written) = self.open.last_mut() {
            if *written {
                self.body.push(b',');
            }
            *written = true;
        }
        if let Some(k) = key {
            // A string always serialises.
            let _ = serde_json::to_writer(&mut self.body, k);
            self.body.push(b':');
        }
    }

    /// Opens an object (`key` when inside an object).
    pub fn begin_object(&mut self, key: Option<&str>) {
        self.member(key);
        self.body.push(b'{');
        self.open.push(false);
    }

    /// Closes the innermost object.
    pub fn end_object(&mut self) {
        self.open.pop();
        self.room(1);
        self.body.push(b'}');
    }

    /// Opens an array (`key` when inside an object).
    pub fn begin_array(&mut self, key: Option<&str>) {
        self.member(key);
        self.body.push(b'[');
        self.open.push(false);
    }

    /// Closes the innermost array.
    pub fn end_array(&mut self) {
        self.open.pop();
        self.room(1);
        self.body.push(b']');
    }

    /// One value (`key` when inside an object). A value that cannot be
    /// serialised (a map with non-string keys) is written as `null`.
    pub fn value<T: Serialize + ?Sized>(&mut self, key: Option<&str>, value: &T) {
        self.member(key);
        // Measured first, so the body grows once, by our rule.
        let mut size = Counter(0);
        if serde_json::to_writer(&mut size, value).is_ok() {
            self.room(size.0);
        }
        let mark = self.body.len();
        if serde_json::to_writer(&mut self.body, value).is_err() {
            self.body.truncate(mark);
            self.room(4);
            self.body.extend_from_slice(b"null");
        }
    }

    /// The body as a JSON response with `status`.
    pub fn into_response(self, status: u16) -> Response {
        raw(status, JSON_CONTENT_TYPE, self.body)
    }
}

/// A writer that only counts what it is given.
struct Counter(usize);

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
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
