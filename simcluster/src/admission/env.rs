//! A container's environment as `ValidateEnv` and `ValidateEnvFrom` check it
//! (Kubernetes 1.32, relaxed variable names on): names required and printable
//! ASCII without `=`; `valueFrom` with exactly one source and no `value`
//! beside it; secret and config map key selectors naming a valid object
//! (an RFC 1123 subdomain) and a valid key; `envFrom` entries with exactly
//! one source.

use serde_json::{json, Value};

use super::field::{self, items, text};
use super::{names, Causes};

const RELAXED_NAME: &str =
    "a valid environment variable name must consist only of printable ASCII characters other than '='";
const SOURCES: &[&str] = &[
    "fieldRef",
    "resourceFieldRef",
    "configMapKeyRef",
    "secretKeyRef",
];

fn set(v: &Value, key: &str) -> bool {
    v.get(key).is_some_and(|x| !x.is_null())
}

/// `IsRelaxedEnvVarName`'s messages.
fn var_name(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    if name.is_empty() {
        out.push("environment variable name must be non-empty".to_string());
    }
    if name.chars().any(|c| !(' '..='~').contains(&c) || c == '=') {
        out.push(RELAXED_NAME.to_string());
    }
    out
}

/// `validateSecretKeySelector` / `validateConfigMapKeySelector`.
fn key_selector(sel: &Value, path: &str, causes: &mut Causes) {
    let name = text(sel, "name");
    names::each(
        causes,
        &format!("{path}.name"),
        name,
        names::dns_subdomain(name),
    );
    let key = text(sel, "key");
    if key.is_empty() {
        field::required(causes, format!("{path}.key"), "");
    } else {
        names::each(causes, &format!("{path}.key"), key, names::config_key(key));
    }
}

/// `validateEnvVarValueFrom` (the selectors other than key selectors are
/// counted, not checked further).
fn value_from(var: &Value, path: &str, causes: &mut Causes) {
    let Some(from) = var.get("valueFrom").filter(|v| !v.is_null()) else {
        return;
    };
    let mut sources = 0;
    for s in SOURCES {
        if set(from, s) {
            sources += 1;
            if s.ends_with("KeyRef") {
                key_selector(&from[*s], &format!("{path}.{s}"), causes);
            }
        }
    }
    let detail = if sources == 0 {
        "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"
    } else if !text(var, "value").is_empty() {
        "may not be specified when `value` is not empty"
    } else if sources > 1 {
        "may not have more than one field specified at a time"
    } else {
        return;
    };
    field::invalid(causes, path, &json!(""), detail);
}

/// `env` and `envFrom` of the container at `path`.
pub(crate) fn validate(container: &Value, path: &str, causes: &mut Causes) {
    for (i, var) in items(container, "env").iter().enumerate() {
        let vpath = format!("{path}.env[{i}]");
        let name = text(var, "name");
        if name.is_empty() {
            field::required(causes, format!("{vpath}.name"), "");
        }
        names::each(causes, &format!("{vpath}.name"), name, var_name(name));
        value_from(var, &format!("{vpath}.valueFrom"), causes);
    }
    for (i, from) in items(container, "envFrom").iter().enumerate() {
        let fpath = format!("{path}.envFrom[{i}]");
        let prefix = text(from, "prefix");
        if !prefix.is_empty() {
            names::each(causes, &format!("{fpath}.prefix"), prefix, var_name(prefix));
        }
        let refs: Vec<&str> = ["configMapRef", "secretRef"]
            .into_iter()
            .filter(|k| set(from, k))
            .collect();
        for r in &refs {
            let name = text(&from[*r], "name");
            names::each(
                causes,
                &format!("{fpath}.{r}.name"),
                name,
                names::dns_subdomain(name),
            );
        }
        let detail = match refs.len() {
            0 => "must specify one of: `configMapRef` or `secretRef`",
            1 => continue,
            _ => "may not have more than one field specified at a time",
        };
        field::invalid(causes, fpath, &json!(""), detail);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sources_and_selectors() {
        let c = json!({"env": [
            {"name": "OK", "valueFrom": {"secretKeyRef": {"name": "computehub", "key": "seal.key"}}},
            {"name": "with space is fine", "value": "x"},
            {"name": "A=B", "value": "v", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}},
            {"name": "", "valueFrom": {}},
            {"name": "C", "valueFrom": {"secretKeyRef": {"name": "Bad"}, "configMapKeyRef": {"name": "c", "key": "a b"}}}
        ], "envFrom": [{}, {"secretRef": {"name": "s"}}]});
        let mut causes = Causes::new();
        validate(&c, "c", &mut causes);
        let got: Vec<(&str, &str)> = causes
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        assert_eq!(got[0], ("c.env[2].name", "Invalid value: \"A=B\": a valid environment variable name must consist only of printable ASCII characters other than '='"));
        assert_eq!(
            got[1],
            (
                "c.env[2].valueFrom",
                "Invalid value: \"\": may not be specified when `value` is not empty"
            )
        );
        assert_eq!(got[2], ("c.env[3].name", "Required value"));
        assert_eq!(
            got[3],
            (
                "c.env[3].name",
                "Invalid value: \"\": environment variable name must be non-empty"
            )
        );
        assert_eq!(got[4].0, "c.env[3].valueFrom");
        assert!(got[4].1.ends_with("must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"));
        assert_eq!(got[5].0, "c.env[4].valueFrom.configMapKeyRef.key");
        assert!(got[5].1.starts_with(
            "Invalid value: \"a b\": a valid config key must consist of alphanumeric characters"
        ));
        assert_eq!(got[6].0, "c.env[4].valueFrom.secretKeyRef.name");
        assert_eq!(
            got[7],
            ("c.env[4].valueFrom.secretKeyRef.key", "Required value")
        );
        assert_eq!(
            got[8],
            (
                "c.env[4].valueFrom",
                "Invalid value: \"\": may not have more than one field specified at a time"
            )
        );
        assert_eq!(
            got[9],
            (
                "c.envFrom[0]",
                "Invalid value: \"\": must specify one of: `configMapRef` or `secretRef`"
            )
        );
        assert_eq!(got.len(), 10, "{got:?}");
    }
}
