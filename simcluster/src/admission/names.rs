//! Names as `k8s.io/apimachinery/pkg/util/validation` checks them, with its
//! messages: RFC 1123 labels and subdomains, qualified names (label and
//! annotation keys), label values, port names; and object metadata's labels
//! and annotations (keys, values, the 256 KiB of annotations).

use serde_json::{Map, Value};

use super::field;
use super::Causes;

const DNS1123_LABEL: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS1123_SUBDOMAIN: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const QUALIFIED_NAME: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const LABEL_VALUE: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

/// Kubernetes' limit on an object's annotations (keys and values).
pub(crate) const ANNOTATIONS_MAX: usize = 256 * 1024;

fn max_len(n: usize) -> String {
    format!("must be no more than {n} characters")
}

fn label_shaped(s: &str, extra: impl Fn(u8) -> bool) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || extra(*c))
}

/// `IsDNS1123Label`'s messages (none when valid).
pub(crate) fn dns_label(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    if s.len() > 63 {
        out.push(max_len(63));
    }
    let ok = label_shaped(s, |c| c == b'-') && !s.bytes().any(|c| c.is_ascii_uppercase());
    if !ok {
        out.push(DNS1123_LABEL.to_string());
    }
    out
}

/// `IsDNS1123Subdomain`'s messages.
pub(crate) fn dns_subdomain(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    if s.len() > 253 {
        out.push(max_len(253));
    }
    let ok = s
        .split('.')
        .all(|l| label_shaped(l, |c| c == b'-') && !l.bytes().any(|c| c.is_ascii_uppercase()));
    if !ok {
        out.push(DNS1123_SUBDOMAIN.to_string());
    }
    out
}

/// `IsQualifiedName`'s messages (label keys; annotation keys lower-cased).
pub(crate) fn qualified_name(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let parts: Vec<&str> = s.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                out.push("prefix part must be non-empty".into());
            } else {
                out.extend(
                    dns_subdomain(prefix)
                        .into_iter()
                        .map(|m| format!("prefix part {m}")),
                );
            }
            *name
        }
        _ => {
            out.push(format!("a qualified name {QUALIFIED_NAME} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"));
            return out;
        }
    };
    if name.is_empty() {
        out.push("name part must be non-empty".into());
    } else if name.len() > 63 {
        out.push(format!("name part {}", max_len(63)));
    }
    if !label_shaped(name, |c| matches!(c, b'-' | b'_' | b'.')) {
        out.push(format!("name part {QUALIFIED_NAME}"));
    }
    out
}

/// `IsValidLabelValue`'s messages.
pub(crate) fn label_value(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    if s.len() > 63 {
        out.push(max_len(63));
    }
    if !s.is_empty() && !label_shaped(s, |c| matches!(c, b'-' | b'_' | b'.')) {
        out.push(LABEL_VALUE.to_string());
    }
    out
}

/// `IsValidPortName`'s messages (an IANA service name).
pub(crate) fn port_name(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    if s.len() > 15 {
        out.push(max_len(15));
    }
    if !s
        .bytes()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
    {
        out.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".into());
    }
    if s.contains("--") {
        out.push("must not contain consecutive hyphens".into());
    }
    if !s.bytes().any(|c| c.is_ascii_lowercase()) {
        out.push("must contain at least one letter (a-z)".into());
    }
    if s.starts_with('-') || s.ends_with('-') {
        out.push("must not begin or end with a hyphen".into());
    }
    out
}

const CONFIG_KEY: &str = "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";

/// `IsConfigMapKey`'s messages (keys of Secrets and ConfigMaps, and the keys
/// selectors name).
pub(crate) fn config_key(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    if s.len() > 253 {
        out.push(max_len(253));
    }
    if s.is_empty()
        || !s
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
    {
        out.push(CONFIG_KEY.to_string());
    }
    if s == "." {
        out.push("must not be '.'".into());
    } else if s == ".." {
        out.push("must not be '..'".into());
    } else if s.starts_with("..") {
        out.push("must not start with '..'".into());
    }
    out
}

/// One `Invalid value` cause per message of `check(value)` at `path`.
pub(crate) fn each(causes: &mut Causes, path: &str, value: &str, msgs: Vec<String>) {
    for m in msgs {
        field::invalid(causes, path, &Value::String(value.to_string()), &m);
    }
}

/// `metadata.labels` (at `path`): qualified-name keys, label values.
pub(crate) fn labels(labels: &Map<String, Value>, path: &str, causes: &mut Causes) {
    for (k, v) in labels {
        each(causes, path, k, qualified_name(k));
        let v = v.as_str().unwrap_or("");
        each(causes, path, v, label_value(v));
    }
}

/// `metadata.annotations` (at `path`): qualified-name keys (case does not
/// matter) and at most [`ANNOTATIONS_MAX`] bytes in all.
pub(crate) fn annotations(annotations: &Map<String, Value>, path: &str, causes: &mut Causes) {
    let mut size = 0;
    for (k, v) in annotations {
        each(causes, path, k, qualified_name(&k.to_ascii_lowercase()));
        size += k.len() + v.as_str().map_or(0, str::len);
    }
    if size > ANNOTATIONS_MAX {
        field::too_long(causes, path, ANNOTATIONS_MAX);
    }
}

/// The labels and annotations of the metadata at `meta` (`path` names it).
pub(crate) fn metadata_maps(meta: &Value, path: &str, causes: &mut Causes) {
    if let Some(l) = meta.get("labels").and_then(Value::as_object) {
        labels(l, &format!("{path}.labels"), causes);
    }
    if let Some(a) = meta.get("annotations").and_then(Value::as_object) {
        annotations(a, &format!("{path}.annotations"), causes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages() {
        assert!(dns_label("web-1").is_empty());
        assert_eq!(dns_label("Web"), [DNS1123_LABEL]);
        assert_eq!(dns_label(&"a".repeat(64)).len(), 1);
        assert!(dns_subdomain("a.b-c").is_empty());
        assert!(!dns_subdomain("a..b").is_empty());
        assert!(qualified_name("example.com/My_name.1").is_empty());
        assert_eq!(
            qualified_name("a b"),
            [format!("name part {QUALIFIED_NAME}")]
        );
        assert_eq!(qualified_name("/x"), ["prefix part must be non-empty"]);
        assert_eq!(qualified_name("a/b/c").len(), 1);
        assert!(label_value("").is_empty());
        assert_eq!(label_value("-x"), [LABEL_VALUE]);
        assert!(port_name("http").is_empty());
        assert_eq!(port_name("80"), ["must contain at least one letter (a-z)"]);
    }

    #[test]
    fn annotations_are_bounded() {
        let mut c = Causes::new();
        let mut m = Map::new();
        m.insert("a".into(), Value::String("x".repeat(ANNOTATIONS_MAX)));
        annotations(&m, "metadata.annotations", &mut c);
        assert_eq!(
            c,
            [(
                "metadata.annotations".to_string(),
                "Too long: must have at most 262144 bytes".to_string()
            )]
        );
    }
}
