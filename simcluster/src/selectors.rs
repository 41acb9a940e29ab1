//! Label and field selectors.
//!
//! * [`LabelSelector::parse`] reads the query-string form (`app=web,tier!=db`,
//!   `env in (a,b)`, `!legacy`, `gpu`, `rank>2`) used by `?labelSelector=`.
//! * [`LabelSelector::from_object`] reads the structured `metav1.LabelSelector`
//!   (`matchLabels` + `matchExpressions`) used by workloads and PDBs.
//! * [`FieldSelector::parse`] reads `?fieldSelector=` (`spec.nodeName=n1`,
//!   `status.phase!=Succeeded`, `metadata.name==x`); any dotted path into the
//!   object is accepted, a missing field compares as the empty string.

use serde_json::{Map, Value};

use crate::error::ApiError;

/// One requirement of a label selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    /// `key=value` / `key==value`
    Equals(String, String),
    /// `key!=value` (also true when the key is absent)
    NotEquals(String, String),
    /// `key in (a,b)`
    In(String, Vec<String>),
    /// `key notin (a,b)` (also true when the key is absent)
    NotIn(String, Vec<String>),
    /// `key`
    Exists(String),
    /// `!key`
    DoesNotExist(String),
    /// `key>n`
    Gt(String, i64),
    /// `key<n`
    Lt(String, i64),
}

impl Requirement {
    /// Whether `labels` satisfy this requirement.
    pub fn matches(&self, labels: &Map<String, Value>) -> bool {
        let get = |k: &str| labels.get(k).and_then(Value::as_str);
        match self {
            Requirement::Equals(k, v) => get(k) == Some(v.as_str()),
            Requirement::NotEquals(k, v) => get(k) != Some(v.as_str()),
            Requirement::In(k, vs) => get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Requirement::NotIn(k, vs) => !get(k).is_some_and(|x| vs.iter().any(|v| v == x)),
            Requirement::Exists(k) => labels.contains_key(k),
            Requirement::DoesNotExist(k) => !labels.contains_key(k),
            Requirement::Gt(k, n) => get(k)
                .and_then(|x| x.parse::<i64>().ok())
                .is_some_and(|x| x > *n),
            Requirement::Lt(k, n) => get(k)
                .and_then(|x| x.parse::<i64>().ok())
                .is_some_and(|x| x < *n),
        }
    }
}

/// A label selector: all requirements must hold. Empty selects everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    /// The requirements, ANDed.
    pub requirements: Vec<Requirement>,
    /// A structured selector that was `null` selects nothing.
    pub match_nothing: bool,
}

impl LabelSelector {
    /// Parses the string form used in `?labelSelector=`.
    pub fn parse(s: &str) -> Result<Self, ApiError> {
        let mut requirements = Vec::new();
        for part in split_top_level(s) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            requirements.push(parse_requirement(part)?);
        }
        Ok(LabelSelector {
            requirements,
            match_nothing: false,
        })
    }

    /// Reads a structured `metav1.LabelSelector`. `None`/`null` matches nothing.
    pub fn from_object(sel: Option<&Value>) -> Result<Self, String> {
        let Some(sel) = sel.filter(|v| !v.is_null()) else {
            return Ok(LabelSelector {
                requirements: vec![],
                match_nothing: true,
            });
        };
        let mut requirements = Vec::new();
        if let Some(ml) = sel.get("matchLabels").and_then(Value::as_object) {
            for (k, v) in ml {
                requirements.push(Requirement::Equals(
                    k.clone(),
                    v.as_str().unwrap_or_default().to_string(),
                ));
            }
        }
        if let Some(exprs) = sel.get("matchExpressions").and_then(Value::as_array) {
            for e in exprs {
                let key = e
                    .get("key")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let values: Vec<String> = e
                    .get("values")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|v| v.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default();
                let op = e
                    .get("operator")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                requirements.push(match op {
                    "In" => Requirement::In(key, values),
                    "NotIn" => Requirement::NotIn(key, values),
                    "Exists" => Requirement::Exists(key),
                    "DoesNotExist" => Requirement::DoesNotExist(key),
                    other => {
                        return Err(format!("{other:?} is not a valid label selector operator"))
                    }
                });
            }
        }
        Ok(LabelSelector {
            requirements,
            match_nothing: false,
        })
    }

    /// Whether an object with these labels is selected.
    pub fn matches(&self, labels: &Map<String, Value>) -> bool {
        !self.match_nothing && self.requirements.iter().all(|r| r.matches(labels))
    }

    /// Whether an object (reading `metadata.labels`) is selected.
    pub fn matches_object(&self, obj: &Value) -> bool {
        static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
        let labels = obj
            .pointer("/metadata/labels")
            .and_then(Value::as_object)
            .unwrap_or_else(|| EMPTY.get_or_init(Map::new));
        self.matches(labels)
    }

    /// True when it has no requirement (and so selects everything).
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty() && !self.match_nothing
    }
}

fn split_top_level(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn parse_set(rest: &str, whole: &str) -> Result<Vec<String>, ApiError> {
    let rest = rest.trim();
    let inner = rest
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "unable to parse requirement: found '{whole}', expected: '('"
            ))
        })?;
    Ok(inner.split(',').map(|v| v.trim().to_string()).collect())
}

fn parse_requirement(part: &str) -> Result<Requirement, ApiError> {
    let bad = || {
        ApiError::bad_request(format!(
            "unable to parse requirement: invalid label selector: {part:?}"
        ))
    };
    if let Some(k) = part.strip_prefix('!') {
        return Ok(Requirement::DoesNotExist(
            check_key(k.trim()).ok_or_else(bad)?,
        ));
    }
    // set-based: "key in (..)" / "key notin (..)"
    let words: Vec<&str> = part.splitn(2, char::is_whitespace).collect();
    if words.len() == 2 {
        let key = words[0];
        let rest = words[1].trim_start();
        if let Some(r) = rest.strip_prefix("notin") {
            return Ok(Requirement::NotIn(
                check_key(key).ok_or_else(bad)?,
                parse_set(r, part)?,
            ));
        }
        if let Some(r) = rest.strip_prefix("in") {
            return Ok(Requirement::In(
                check_key(key).ok_or_else(bad)?,
                parse_set(r, part)?,
            ));
        }
    }
    for (op, is_ne) in [("!=", true), ("==", false), ("=", false)] {
        if let Some((k, v)) = part.split_once(op) {
            let k = check_key(k.trim()).ok_or_else(bad)?;
            let v = v.trim().to_string();
            return Ok(if is_ne {
                Requirement::NotEquals(k, v)
            } else {
                Requirement::Equals(k, v)
            });
        }
    }
    if let Some((k, v)) = part.split_once('>') {
        return Ok(Requirement::Gt(
            check_key(k.trim()).ok_or_else(bad)?,
            v.trim().parse().map_err(|_| bad())?,
        ));
    }
    if let Some((k, v)) = part.split_once('<') {
        return Ok(Requirement::Lt(
            check_key(k.trim()).ok_or_else(bad)?,
            v.trim().parse().map_err(|_| bad())?,
        ));
    }
    Ok(Requirement::Exists(check_key(part.trim()).ok_or_else(bad)?))
}

fn check_key(k: &str) -> Option<String> {
    let ok = !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
        && k.matches('/').count() <= 1;
    ok.then(|| k.to_string())
}

/// A field selector: `path=value`, `path==value`, `path!=value`, ANDed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector {
    /// `(dotted path, value, negated)` terms.
    pub terms: Vec<(String, String, bool)>,
}

impl FieldSelector {
    /// Parses the `?fieldSelector=` form.
    pub fn parse(s: &str) -> Result<Self, ApiError> {
        let mut terms = Vec::new();
        for part in s.split(',') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let (path, value, neg) = if let Some((p, v)) = part.split_once("!=") {
                (p, v, true)
            } else if let Some((p, v)) = part.split_once("==") {
                (p, v, false)
            } else if let Some((p, v)) = part.split_once('=') {
                (p, v, false)
            } else {
                return Err(ApiError::bad_request(format!(
                    "invalid selector: '{part}'; can't understand '{part}'"
                )));
            };
            terms.push((path.trim().to_string(), value.trim().to_string(), neg));
        }
        Ok(FieldSelector { terms })
    }

    /// Whether the object satisfies every term.
    pub fn matches(&self, obj: &Value) -> bool {
        self.terms
            .iter()
            .all(|(path, value, neg)| (field_value(obj, path) == *value) != *neg)
    }

    /// The value a term requires for `path` (`metadata.name=x` -> `x`), if any.
    pub fn required(&self, path: &str) -> Option<&str> {
        self.terms
            .iter()
            .find(|(p, _, neg)| p == path && !neg)
            .map(|(_, v, _)| v.as_str())
    }

    /// True when it has no term.
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }
}

/// The string value of a dotted field path (`spec.nodeName`), `""` when absent.
pub fn field_value(obj: &Value, path: &str) -> String {
    let mut cur = obj;
    for seg in path.split('.') {
        match cur.get(seg) {
            Some(v) => cur = v,
            None => return String::new(),
        }
    }
    match cur {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn equality_and_sets() {
        let l = labels(json!({"app": "web", "tier": "front", "rank": "3"}));
        let yes = [
            "app=web",
            "app==web",
            "app=web,tier=front",
            "tier!=db",
            "missing!=x",
            "app in (web, api)",
            "app notin (db)",
            "missing notin (db)",
            "app",
            "!missing",
            "rank>2",
            "rank<4",
            "",
        ];
        for s in yes {
            assert!(
                LabelSelector::parse(s).unwrap().matches(&l),
                "{s} should match"
            );
        }
        let no = [
            "app=api",
            "app!=web",
            "app in (api)",
            "app notin (web,db)",
            "missing",
            "!app",
            "rank>3",
            "app=web,tier=back",
        ];
        for s in no {
            assert!(
                !LabelSelector::parse(s).unwrap().matches(&l),
                "{s} should not match"
            );
        }
    }

    #[test]
    fn parse_errors() {
        assert!(LabelSelector::parse("a in b").is_err());
        assert!(LabelSelector::parse("a b=c").is_err());
        assert!(LabelSelector::parse("rank>x").is_err());
    }

    #[test]
    fn structured_selectors() {
        let sel = LabelSelector::from_object(Some(&json!({
            "matchLabels": {"app": "web"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["front"]},
                                  {"key": "legacy", "operator": "DoesNotExist"}]
        })))
        .unwrap();
        assert!(sel.matches(&labels(json!({"app": "web", "tier": "front"}))));
        assert!(!sel.matches(&labels(
            json!({"app": "web", "tier": "front", "legacy": "1"})
        )));
        assert!(!sel.matches(&labels(json!({"app": "web"}))));
        let none = LabelSelector::from_object(None).unwrap();
        assert!(!none.matches(&labels(json!({}))));
        let all = LabelSelector::from_object(Some(&json!({}))).unwrap();
        assert!(all.matches(&labels(json!({"x": "y"}))));
        assert!(LabelSelector::from_object(Some(
            &json!({"matchExpressions": [{"key": "a", "operator": "Bogus"}]})
        ))
        .is_err());
    }

    #[test]
    fn field_selectors() {
        let pod = json!({"metadata": {"name": "p", "namespace": "ns"}, "spec": {"nodeName": "n1", "unschedulable": true}, "status": {"phase": "Running"}});
        let t = |s: &str| FieldSelector::parse(s).unwrap().matches(&pod);
        assert!(t("spec.nodeName=n1"));
        assert!(t("metadata.name==p,metadata.namespace=ns"));
        assert!(t("status.phase!=Succeeded,status.phase!=Failed"));
        assert!(t("spec.unschedulable=true"));
        assert!(!t("spec.nodeName=n2"));
        assert!(!t("spec.missing!="));
        assert!(t("spec.missing="));
        assert_eq!(
            FieldSelector::parse("metadata.name=x")
                .unwrap()
                .required("metadata.name"),
            Some("x")
        );
        assert!(FieldSelector::parse("nonsense").is_err());
    }
}
