//! Field errors worded as `k8s.io/apimachinery/pkg/util/validation/field`
//! words them: each cause is `(path, message)`, the message starting with
//! the error type (`Required value`, `Invalid value: "x": ...`,
//! `Duplicate value: ...`, `Forbidden: ...`, `Unsupported value: ...`,
//! `Not found: ...`, `Too long: ...`). [`crate::error::ApiError::invalid`]
//! derives each cause's `reason` (`FieldValueRequired`, ...) from that type.

use serde_json::Value;

use super::Causes;

/// A bad value as the API server prints it: strings quoted (Go's `%q`),
/// numbers and booleans bare.
pub(crate) fn show(v: &Value) -> String {
    match v {
        Value::String(s) => quote(s),
        Value::Null => "null".into(),
        other => other.to_string(),
    }
}

/// Go's `%q` of `s` (JSON's escaping, which agrees for printable text).
pub(crate) fn quote(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

/// `path: Required value` (with `: detail` when given).
pub(crate) fn required(causes: &mut Causes, path: impl Into<String>, detail: &str) {
    let msg = if detail.is_empty() {
        "Required value".to_string()
    } else {
        format!("Required value: {detail}")
    };
    causes.push((path.into(), msg));
}

/// `path: Invalid value: <value>: detail`.
pub(crate) fn invalid(causes: &mut Causes, path: impl Into<String>, value: &Value, detail: &str) {
    causes.push((
        path.into(),
        format!("Invalid value: {}: {detail}", show(value)),
    ));
}

/// `path: Invalid value: <shown>: detail`, the value already printed as Go
/// prints it (`%#v` of a struct such as `intstr.IntOrString{...}`).
pub(crate) fn invalid_shown(
    causes: &mut Causes,
    path: impl Into<String>,
    shown: &str,
    detail: &str,
) {
    causes.push((path.into(), format!("Invalid value: {shown}: {detail}")));
}

/// Go's `%#v` of an `intstr.IntOrString` held as JSON (a number or a string).
pub(crate) fn int_or_string(v: &Value) -> String {
    match v {
        Value::String(s) => format!(
            "intstr.IntOrString{{Type:1, IntVal:0, StrVal:{}}}",
            quote(s)
        ),
        other => format!(
            "intstr.IntOrString{{Type:0, IntVal:{}, StrVal:\"\"}}",
            other.as_i64().unwrap_or(0)
        ),
    }
}

/// `path: Duplicate value: <value>`.
pub(crate) fn duplicate(causes: &mut Causes, path: impl Into<String>, value: &Value) {
    causes.push((path.into(), format!("Duplicate value: {}", show(value))));
}

/// `path: Forbidden: detail`.
pub(crate) fn forbidden(causes: &mut Causes, path: impl Into<String>, detail: &str) {
    causes.push((path.into(), format!("Forbidden: {detail}")));
}

/// `path: Unsupported value: <value>: supported values: "a", "b"`.
pub(crate) fn not_supported(
    causes: &mut Causes,
    path: impl Into<String>,
    value: &Value,
    supported: &[&str],
) {
    let list = supported
        .iter()
        .map(|s| quote(s))
        .collect::<Vec<_>>()
        .join(", ");
    causes.push((
        path.into(),
        format!(
            "Unsupported value: {}: supported values: {list}",
            show(value)
        ),
    ));
}

/// `path: Not found: <value>`.
pub(crate) fn not_found(causes: &mut Causes, path: impl Into<String>, value: &Value) {
    causes.push((path.into(), format!("Not found: {}", show(value))));
}

/// `path: Too long: must have at most <max> bytes`.
pub(crate) fn too_long(causes: &mut Causes, path: impl Into<String>, max: usize) {
    causes.push((
        path.into(),
        format!("Too long: must have at most {max} bytes"),
    ));
}

/// The `Status` cause reason of a message made here.
pub(crate) fn reason(message: &str) -> &'static str {
    const TYPES: &[(&str, &str)] = &[
        ("Required value", "FieldValueRequired"),
        ("Duplicate value", "FieldValueDuplicate"),
        ("Forbidden", "FieldValueForbidden"),
        ("Unsupported value", "FieldValueNotSupported"),
        ("Not found", "FieldValueNotFound"),
        ("Too long", "FieldValueTooLong"),
        ("Too many", "FieldValueTooMany"),
        ("Internal error", "InternalError"),
    ];
    TYPES
        .iter()
        .find(|(prefix, _)| message.starts_with(prefix))
        .map_or("FieldValueInvalid", |(_, r)| r)
}

/// `obj[key]` as a string ("" when absent or not a string).
pub(crate) fn text<'a>(obj: &'a Value, key: &str) -> &'a str {
    obj.get(key).and_then(Value::as_str).unwrap_or("")
}

/// `obj[key]` as an array (empty when absent).
pub(crate) fn items<'a>(obj: &'a Value, key: &str) -> &'a [Value] {
    obj.get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wording() {
        let mut c = Causes::new();
        required(&mut c, "a", "");
        invalid(
            &mut c,
            "b",
            &json!(70000),
            "must be between 1 and 65535, inclusive",
        );
        duplicate(&mut c, "c", &json!("/TCP/80"));
        not_supported(&mut c, "d", &json!("X"), &["TCP", "UDP"]);
        assert_eq!(
            c,
            [
                ("a".into(), "Required value".into()),
                (
                    "b".into(),
                    "Invalid value: 70000: must be between 1 and 65535, inclusive".into()
                ),
                ("c".into(), "Duplicate value: \"/TCP/80\"".into()),
                (
                    "d".into(),
                    "Unsupported value: \"X\": supported values: \"TCP\", \"UDP\"".into()
                ),
            ]
        );
        assert_eq!(reason(&c[0].1), "FieldValueRequired");
        assert_eq!(reason(&c[1].1), "FieldValueInvalid");
        assert_eq!(reason(&c[2].1), "FieldValueDuplicate");
        assert_eq!(reason(&c[3].1), "FieldValueNotSupported");
    }
}
