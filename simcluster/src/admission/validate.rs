//! Validation helpers: object names (RFC 1123), label keys and values,
//! pod specs (containers, quantities) and workload selectors vs templates.

use serde_json::Value;

use super::Causes;
use crate::resources::ResourceDef;
use crate::selectors::LabelSelector;

pub(crate) fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

pub(crate) fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns_label)
}

pub(crate) fn is_label_value(s: &str) -> bool {
    s.is_empty()
        || (s.len() <= 63
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            && s.as_bytes()[0].is_ascii_alphanumeric()
            && s.as_bytes()[s.len() - 1].is_ascii_alphanumeric())
}

pub(crate) fn is_label_key(s: &str) -> bool {
    let (prefix, name) = match s.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, s),
    };
    prefix.is_none_or(is_dns_subdomain) && !name.is_empty() && is_label_value(name)
}

pub(crate) fn validate_meta(def: &ResourceDef, obj: &Value, causes: &mut Causes) {
    let name = obj
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("");
    let label_names = matches!(def.plural, "namespaces" | "services");
    if name.is_empty() {
        causes.push((
            "metadata.name".into(),
            "Required value: name or generateName is required".into(),
        ));
    } else if (label_names && !is_dns_label(name)) || (!label_names && !is_dns_subdomain(name)) {
        causes.push((
            "metadata.name".into(),
            format!("Invalid value: \"{name}\": a lowercase RFC 1123 {} must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character", if label_names { "label" } else { "subdomain" }),
        ));
    }
    if let Some(labels) = obj.pointer("/metadata/labels").and_then(Value::as_object) {
        for (k, v) in labels {
            let v = v.as_str().unwrap_or("");
            if !is_label_key(k) {
                causes.push(("metadata.labels".into(), format!("Invalid value: \"{k}\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character")));
            }
            if !is_label_value(v) {
                causes.push(("metadata.labels".into(), format!("Invalid value: \"{v}\": a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")));
            }
        }
    }
}

pub(crate) fn validate_pod_spec(spec: &Value, prefix: &str, causes: &mut Causes) {
    let containers = spec.get("containers").and_then(Value::as_array);
    match containers {
        None => causes.push((format!("{prefix}.containers"), "Required value".into())),
        Some(cs) if cs.is_empty() => {
            causes.push((format!("{prefix}.containers"), "Required value".into()))
        }
        Some(cs) => {
            for (i, c) in cs.iter().enumerate() {
                if c.get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .is_empty()
                {
                    causes.push((
                        format!("{prefix}.containers[{i}].name"),
                        "Required value".into(),
                    ));
                }
                if c.get("image")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .is_empty()
                {
                    causes.push((
                        format!("{prefix}.containers[{i}].image"),
                        "Required value".into(),
                    ));
                }
                for (kind, res) in [
                    ("requests", c.pointer("/resources/requests")),
                    ("limits", c.pointer("/resources/limits")),
                ] {
                    for (k, q) in res.and_then(Value::as_object).into_iter().flatten() {
                        let s = q
                            .as_str()
                            .map(String::from)
                            .unwrap_or_else(|| q.to_string());
                        if crate::quantity::Quantity::parse(&s).is_err() {
                            causes.push((format!("{prefix}.containers[{i}].resources.{kind}[{k}]"), format!("Invalid value: \"{s}\": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'")));
                        }
                    }
                }
            }
        }
    }
}

pub(crate) fn check_selector(obj: &Value, causes: &mut Causes) {
    let Some(sel) = obj.pointer("/spec/selector").filter(|s| !s.is_null()) else {
        causes.push(("spec.selector".into(), "Required value".into()));
        return;
    };
    let parsed = match LabelSelector::from_object(Some(sel)) {
        Ok(p) => p,
        Err(e) => {
            causes.push(("spec.selector".into(), format!("Invalid value: {e}")));
            return;
        }
    };
    if parsed.is_empty() {
        causes.push((
            "spec.selector".into(),
            "Invalid value: empty selector is invalid for deployment".into(),
        ));
    }
    let empty = serde_json::Map::new();
    let labels = obj
        .pointer("/spec/template/metadata/labels")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    if !parsed.matches(labels) {
        causes.push((
            "spec.template.metadata.labels".into(),
            format!(
                "Invalid value: {}: `selector` does not match template `labels`",
                Value::Object(labels.clone())
            ),
        ));
    }
}
