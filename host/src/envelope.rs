//! An API area's error envelope as data: which fields carry the status, the
//! message, a code and the payload. The host renders its own answers for a
//! plugin's routes (401/403, 404/405, 413, 429, 500, 503, `202 Accepted`) in
//! the envelope the plugin declares (WIT `declarations.envelope`), so a new
//! area needs no host change.
//!
//! Plugins built before `declarations` name one of WIT 0.1.0's
//! `error-format` cases instead; [`Envelope::from`] turns each into the same
//! data. That table is the only place the host spells those envelopes.

use std::sync::LazyLock;

use serde_json::{json, Map, Value};

use crate::bindings::wit_types::ErrorFormat;

/// How a failure's status appears in the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusStyle {
    /// No status field.
    Absent,
    /// `false` in `status_field`.
    FalseFlag,
    /// The HTTP status as a number in `status_field`.
    HttpStatus,
}

/// One area's envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub status_field: String,
    pub status: StatusStyle,
    pub message_field: String,
    /// Where a success's payload goes; empty: the payload is the body.
    pub data_field: String,
    /// Further fields of every failure, as JSON text.
    pub extra: Vec<(String, String)>,
    /// A code per HTTP status (`error_code`); empty for none.
    pub code_field: String,
    pub codes: Vec<(u16, String)>,
    pub default_code: String,
}

/// Why a declared envelope was refused (one sentence, naming the field).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvelopeError {
    #[error("the envelope's `{0}` must be a field name of 1 to 64 characters")]
    FieldName(&'static str),
    #[error("the envelope's extra field `{0}` is not JSON")]
    ExtraNotJson(String),
    #[error("the envelope names field `{0}` twice")]
    Repeated(String),
}

impl Envelope {
    /// `{"error": message}`, for routes of no area (the host's own).
    pub fn plain() -> &'static Envelope {
        static PLAIN: LazyLock<Envelope> = LazyLock::new(Envelope::plain_owned);
        &PLAIN
    }

    fn plain_owned() -> Envelope {
        Envelope {
            status_field: String::new(),
            status: StatusStyle::Absent,
            message_field: "error".into(),
            data_field: String::new(),
            extra: Vec::new(),
            code_field: String::new(),
            codes: Vec::new(),
            default_code: String::new(),
        }
    }

    /// Checks a plugin's declaration: field names present and distinct,
    /// extra values valid JSON.
    pub fn check(&self) -> Result<(), EnvelopeError> {
        let name_ok = |s: &str| !s.is_empty() && s.len() <= 64;
        if !name_ok(&self.message_field) {
            return Err(EnvelopeError::FieldName("message-field"));
        }
        if self.status != StatusStyle::Absent && !name_ok(&self.status_field) {
            return Err(EnvelopeError::FieldName("status-field"));
        }
        if !self.code_field.is_empty() && !name_ok(&self.code_field) {
            return Err(EnvelopeError::FieldName("code-field"));
        }
        let mut seen: Vec<&str> = vec![&self.message_field];
        if self.status != StatusStyle::Absent {
            seen.push(&self.status_field);
        }
        if !self.code_field.is_empty() {
            seen.push(&self.code_field);
        }
        for (name, value) in &self.extra {
            if !name_ok(name) {
                return Err(EnvelopeError::FieldName("extra"));
            }
            if serde_json::from_str::<Value>(value).is_err() {
                return Err(EnvelopeError::ExtraNotJson(name.clone()));
            }
            seen.push(name);
        }
        for (i, a) in seen.iter().enumerate() {
            if seen[i + 1..].contains(a) {
                return Err(EnvelopeError::Repeated(a.to_string()));
            }
        }
        Ok(())
    }

    fn code(&self, status: u16) -> &str {
        self.codes
            .iter()
            .find(|(s, _)| *s == status)
            .map_or(self.default_code.as_str(), |(_, c)| c.as_str())
    }

    /// The body of a failure with HTTP status `status`.
    pub fn error_body(&self, status: u16, message: &str) -> Value {
        let mut body = Map::new();
        match self.status {
            StatusStyle::Absent => {}
            StatusStyle::FalseFlag => {
                body.insert(self.status_field.clone(), Value::Bool(false));
            }
            StatusStyle::HttpStatus => {
                body.insert(self.status_field.clone(), json!(status));
            }
        }
        if !self.code_field.is_empty() {
            body.insert(self.code_field.clone(), json!(self.code(status)));
        }
        body.insert(self.message_field.clone(), json!(message));
        for (name, value) in &self.extra {
            let v = serde_json::from_str(value).unwrap_or(Value::Null);
            body.insert(name.clone(), v);
        }
        Value::Object(body)
    }

    /// The body of a success with HTTP status `status` and a `message`.
    pub fn success_body(&self, status: u16, message: &str, data: Value) -> Value {
        if self.data_field.is_empty() {
            return data;
        }
        let mut body = Map::new();
        match self.status {
            StatusStyle::Absent => {}
            StatusStyle::FalseFlag => {
                body.insert(self.status_field.clone(), Value::Bool(true));
            }
            StatusStyle::HttpStatus => {
                body.insert(self.status_field.clone(), json!(status));
            }
        }
        body.insert(self.message_field.clone(), json!(message));
        body.insert(self.data_field.clone(), data);
        Value::Object(body)
    }

    /// The shape of a failure, for documentation: `{status: false, msg}`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        match self.status {
            StatusStyle::Absent => {}
            StatusStyle::FalseFlag => parts.push(format!("{}: false", self.status_field)),
            StatusStyle::HttpStatus => parts.push(format!("{}: <http status>", self.status_field)),
        }
        if !self.code_field.is_empty() {
            parts.push(format!("{}: <code>", self.code_field));
        }
        parts.push(self.message_field.clone());
        for (name, value) in &self.extra {
            parts.push(format!("{name}: {value}"));
        }
        format!("`{{{}}}`", parts.join(", "))
    }
}

fn fields(s: &[(&str, &str)]) -> Vec<(String, String)> {
    s.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// WIT 0.1.0's named envelopes, for plugins that do not declare theirs.
impl From<ErrorFormat> for Envelope {
    fn from(format: ErrorFormat) -> Envelope {
        let plain = Envelope::plain_owned();
        match format {
            ErrorFormat::Plain => plain,
            // The Alaya seeds' 403/500 examples carry an empty object.
            ErrorFormat::Alaya => Envelope {
                status_field: "status".into(),
                status: StatusStyle::HttpStatus,
                message_field: "message".into(),
                data_field: "data".into(),
                extra: fields(&[("data", "{}")]),
                ..plain
            },
            ErrorFormat::Ief => Envelope {
                message_field: "error_msg".into(),
                code_field: "error_code".into(),
                codes: [400, 401, 403, 404, 408, 413, 503]
                    .into_iter()
                    .map(|s| (s, format!("IEF.000{s}")))
                    .collect(),
                default_code: "IEF.000500".into(),
                ..plain
            },
            // The pcapi seeds' failure examples carry an empty string.
            ErrorFormat::Pcapi => Envelope {
                status_field: "status".into(),
                status: StatusStyle::FalseFlag,
                message_field: "info".into(),
                data_field: "data".into(),
                extra: fields(&[("data", "\"\"")]),
                ..plain
            },
            ErrorFormat::Kboss => Envelope {
                status_field: "status".into(),
                status: StatusStyle::FalseFlag,
                message_field: "msg".into(),
                data_field: "data".into(),
                ..plain
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_named_formats_render_as_before() {
        let e = |f: ErrorFormat, s| Envelope::from(f).error_body(s, "no");
        assert_eq!(e(ErrorFormat::Plain, 401), json!({"error": "no"}));
        assert_eq!(
            e(ErrorFormat::Alaya, 403),
            json!({"status": 403, "message": "no", "data": {}})
        );
        assert_eq!(
            e(ErrorFormat::Ief, 413),
            json!({"error_code": "IEF.000413", "error_msg": "no"})
        );
        assert_eq!(
            e(ErrorFormat::Ief, 429),
            json!({"error_code": "IEF.000500", "error_msg": "no"})
        );
        assert_eq!(
            e(ErrorFormat::Pcapi, 500),
            json!({"status": false, "info": "no", "data": ""})
        );
        assert_eq!(
            e(ErrorFormat::Kboss, 401),
            json!({"status": false, "msg": "no"})
        );
    }

    #[test]
    fn successes_wrap_the_payload_where_the_area_does() {
        let data = json!({"id": "x"});
        let ok = |f: ErrorFormat| Envelope::from(f).success_body(202, "accepted", data.clone());
        assert_eq!(
            ok(ErrorFormat::Kboss),
            json!({"status": true, "msg": "accepted", "data": {"id": "x"}})
        );
        assert_eq!(
            ok(ErrorFormat::Alaya),
            json!({"status": 202, "message": "accepted", "data": {"id": "x"}})
        );
        assert_eq!(ok(ErrorFormat::Ief), json!({"id": "x"}));
    }

    #[test]
    fn declarations_are_checked() {
        let mut e = Envelope::from(ErrorFormat::Kboss);
        assert_eq!(e.check(), Ok(()));
        e.extra = fields(&[("msg", "1")]);
        assert_eq!(e.check(), Err(EnvelopeError::Repeated("msg".into())));
        e.extra = fields(&[("data", "{oops")]);
        assert_eq!(e.check(), Err(EnvelopeError::ExtraNotJson("data".into())));
        e.message_field.clear();
        assert_eq!(e.check(), Err(EnvelopeError::FieldName("message-field")));
    }
}
