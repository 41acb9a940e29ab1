//! Env (表24), ValueFrom (表25), Secrets (表26), ConfigsMap (表27).
//!
//! - `name`: a letter or `_` first, then letters, digits and `_`, at most
//!   2048 characters, unique within the container;
//! - exactly one of `value` (at most 20480 characters), `value_from` and
//!   `field_path` (only `status.hostIP`); an empty string counts as absent
//!   beside another one, and alone is an empty value;
//! - `value_from`: exactly one of `secret` and `configmap`, each with a
//!   `name` (a Kubernetes object name) and a `key`.

use std::collections::BTreeSet;

use super::{as_obj, exclusive, get, index, join, one_of, opt_arr, opt_str, req_obj, req_str, Obj};
use crate::error::{IefError, IefResult, DUPLICATE};

pub const FIELD_PATHS: &[&str] = &["status.hostIP"];

fn env_name(name: &str, path: &str) -> IefResult<()> {
    let b = name.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 2048
        && (b[0].is_ascii_alphabetic() || b[0] == b'_')
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_');
    ok.then_some(()).ok_or_else(|| {
        IefError::format(
            path,
            &format!("must start with a letter or `_` and hold only letters, digits and `_` (at most 2048), got `{name}`"),
        )
    })
}

/// A Kubernetes object name (DNS subdomain): at most 253 of `[a-z0-9.-]`.
pub fn object_name(name: &str, path: &str) -> IefResult<()> {
    let b = name.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 253
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'-' | b'.'))
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric();
    ok.then_some(()).ok_or_else(|| {
        IefError::format(
            path,
            &format!("must be a Kubernetes object name (lower-case letters, digits, `-`, `.`), got `{name}`"),
        )
    })
}

/// A key of a secret or config map: at most 253 of `[-._a-zA-Z0-9]`.
fn data_key(key: &str, path: &str) -> IefResult<()> {
    let ok = key.len() <= 253
        && key
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_'));
    ok.then_some(()).ok_or_else(|| {
        IefError::format(
            path,
            &format!("must be at most 253 letters, digits, `-`, `_` or `.`, got `{key}`"),
        )
    })
}

fn reference(o: &Obj, key: &str, path: &str) -> IefResult<()> {
    let r = req_obj(o, key, path)?;
    let rpath = join(path, key);
    object_name(req_str(r, "name", &rpath)?, &join(&rpath, "name"))?;
    data_key(req_str(r, "key", &rpath)?, &join(&rpath, "key"))
}

const SOURCES: &[&str] = &["value", "value_from", "field_path"];

fn one(e: &Obj, path: &str) -> IefResult<()> {
    // An empty string counts as absent beside another source (as Kubernetes
    // reads an empty `value` beside `valueFrom`), but alone it is the value.
    let which = match one_of(e, SOURCES, path, true)? {
        Some(i) => i,
        None if get(e, "value").is_some() => 0,
        None => return Err(exclusive(SOURCES, path, true)),
    };
    match which {
        0 => {
            let v = opt_str(e, "value", path)?.unwrap_or("");
            if v.chars().count() > 20_480 {
                return Err(IefError::format(
                    &join(path, "value"),
                    "must be at most 20480 characters",
                ));
            }
        }
        1 => {
            let vf = req_obj(e, "value_from", path)?;
            let vpath = join(path, "value_from");
            let kind = one_of(vf, &["secret", "configmap"], &vpath, false)?;
            let key = if kind == Some(0) {
                "secret"
            } else {
                "configmap"
            };
            reference(vf, key, &vpath)?;
        }
        _ => {
            let f = opt_str(e, "field_path", path)?.unwrap_or("");
            if !FIELD_PATHS.contains(&f) {
                return Err(IefError::not_allowed(
                    &join(path, "field_path"),
                    f,
                    FIELD_PATHS,
                ));
            }
        }
    }
    Ok(())
}

/// Validate a container's `envs`.
pub fn validate_all(c: &Obj, path: &str) -> IefResult<()> {
    let Some(envs) = opt_arr(c, "envs", path)? else {
        return Ok(());
    };
    let apath = join(path, "envs");
    let mut seen = BTreeSet::new();
    for (i, e) in envs.iter().enumerate() {
        let epath = index(&apath, i);
        let e = as_obj(e, &epath)?;
        let name = req_str(e, "name", &epath)?;
        env_name(name, &join(&epath, "name"))?;
        if !seen.insert(name) {
            return Err(IefError::bad(
                DUPLICATE,
                format!(
                    "`{}`: environment variable `{name}` is defined twice",
                    join(&epath, "name")
                ),
            ));
        }
        one(e, &epath)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn c(envs: serde_json::Value) -> Obj {
        json!({ "envs": envs })
            .as_object()
            .cloned()
            .unwrap_or_default()
    }

    #[test]
    fn rules() {
        assert!(validate_all(
            &c(
                json!([{"name": "_A1", "value": "x"}, {"name": "B", "field_path": "status.hostIP"},
            {"name": "C", "value_from": {"secret": {"name": "s", "key": "k"}}}])
            ),
            "c"
        )
        .is_ok());
        for bad in [
            json!([{"name": "1A", "value": "x"}]),
            json!([{"name": "A-B", "value": "x"}]),
            json!([{"name": "A", "value": "x"}, {"name": "A", "value": "y"}]),
            json!([{"name": "A"}]),
            json!([{"name": "A", "value": "x", "field_path": "status.hostIP"}]),
            json!([{"name": "A", "field_path": "status.podIP"}]),
            json!([{"name": "A", "value_from": {}}]),
            json!([{"name": "A", "value_from": {"secret": {"name": "s", "key": "k"}, "configmap": {"name": "c", "key": "k"}}}]),
            json!([{"name": "A", "value_from": {"configmap": {"name": "c"}}}]),
        ] {
            assert!(validate_all(&c(bad.clone()), "c").is_err(), "{bad}");
        }
    }
}
