//! Volumes (表33).
//!
//! - `name`: lower-case letters, digits (and `-`, as the examples' volume
//!   names have), at most 63; one name means one volume across containers;
//! - `type`: `configMap`, `secret`, `emptyDir` or `hostPath`;
//! - `source`: for `hostPath` a path starting with `/` of letters, digits,
//!   `-`, `\`, `_`, `.` and `/`, without a `..` segment (Kubernetes refuses
//!   one); for `secret` and `configMap` the object's name; for `emptyDir`
//!   `disk` or `memory`;
//! - `destination`: an absolute path, unique within the container;
//! - `read_only`: `configMap` and `secret` are read-only only;
//! - `default_mode`: only for `configMap` and `secret`; decimal 0-511 or
//!   octal digits up to 777 (`644`).

use std::collections::BTreeMap;

use super::{as_obj, index, join, opt_arr, opt_bool, opt_int, req_str, Obj};
use crate::error::{IefError, IefResult, DUPLICATE, INCONSISTENT};

pub const TYPES: &[&str] = &["configMap", "secret", "emptyDir", "hostPath"];
pub const EMPTY_DIR_SOURCES: &[&str] = &["disk", "memory"];

/// Volume definitions seen so far in the template: name -> (type, source).
#[derive(Default)]
pub struct Seen(BTreeMap<String, (String, String)>);

/// `default_mode` as a permission value: decimal 0-511, or a number whose
/// digits are octal (644 -> 0o644).
pub fn file_mode(n: i64) -> Option<u32> {
    if (0..=511).contains(&n) {
        return u32::try_from(n).ok();
    }
    let digits = n.to_string();
    if n > 0 && n <= 777 && digits.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return u32::from_str_radix(&digits, 8).ok();
    }
    None
}

fn volume_name(name: &str, path: &str) -> IefResult<()> {
    let b = name.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-';
    ok.then_some(()).ok_or_else(|| {
        IefError::format(
            path,
            &format!("must be 1-63 lower-case letters or digits (and `-` inside), got `{name}`"),
        )
    })
}

fn source(kind: &str, src: &str, path: &str) -> IefResult<()> {
    match kind {
        "hostPath" => {
            let ok = src.starts_with('/')
                && src.bytes().all(|b| {
                    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'\\' | b'_' | b'.' | b'/')
                });
            if !ok {
                return Err(IefError::format(
                    path,
                    &format!("must be a path starting with `/` of letters, digits, `-`, `\\`, `_`, `.` and `/`, got `{src}`"),
                ));
            }
            // Kubernetes refuses a host path that steps up a directory.
            if src.split('/').any(|seg| seg == "..") {
                return Err(IefError::format(
                    path,
                    &format!(
                        "must not contain a `..` segment (Kubernetes refuses it), got `{src}`"
                    ),
                ));
            }
            Ok(())
        }
        "emptyDir" => {
            if EMPTY_DIR_SOURCES.contains(&src) {
                Ok(())
            } else {
                Err(IefError::not_allowed(path, src, EMPTY_DIR_SOURCES))
            }
        }
        _ => super::env::object_name(src, path),
    }
}

fn destination(dest: &str, path: &str) -> IefResult<()> {
    let ok = dest.starts_with('/')
        && dest.len() <= 4096
        && !dest.contains(':')
        && !dest.chars().any(char::is_control)
        && !dest.split('/').any(|seg| seg == "..");
    ok.then_some(()).ok_or_else(|| {
        IefError::format(
            path,
            &format!("must be an absolute path (no `..`, no `:`), got `{dest}`"),
        )
    })
}

/// Validate a container's `volumes`, recording definitions in `seen`.
pub fn validate_all(c: &Obj, path: &str, seen: &mut Seen) -> IefResult<()> {
    let Some(vols) = opt_arr(c, "volumes", path)? else {
        return Ok(());
    };
    let apath = join(path, "volumes");
    let mut destinations = BTreeMap::new();
    for (i, v) in vols.iter().enumerate() {
        let vpath = index(&apath, i);
        let v = as_obj(v, &vpath)?;
        let name = req_str(v, "name", &vpath)?;
        volume_name(name, &join(&vpath, "name"))?;
        let kind = req_str(v, "type", &vpath)?;
        if !TYPES.contains(&kind) {
            return Err(IefError::not_allowed(&join(&vpath, "type"), kind, TYPES));
        }
        let src = req_str(v, "source", &vpath)?;
        source(kind, src, &join(&vpath, "source"))?;
        let dest = req_str(v, "destination", &vpath)?;
        destination(dest, &join(&vpath, "destination"))?;
        if destinations.insert(dest.to_string(), i).is_some() {
            return Err(IefError::bad(
                DUPLICATE,
                format!(
                    "`{}`: `{dest}` is mounted twice in this container",
                    join(&vpath, "destination")
                ),
            ));
        }
        let config = matches!(kind, "configMap" | "secret");
        if opt_bool(v, "read_only", &vpath)? == Some(false) && config {
            return Err(IefError::bad(
                INCONSISTENT,
                format!(
                    "`{}`: a {kind} volume is read-only",
                    join(&vpath, "read_only")
                ),
            ));
        }
        if let Some(mode) = opt_int(v, "default_mode", &vpath)? {
            if !config {
                return Err(IefError::bad(
                    INCONSISTENT,
                    format!(
                        "`{}` applies to configMap and secret volumes only",
                        join(&vpath, "default_mode")
                    ),
                ));
            }
            if file_mode(mode).is_none() {
                return Err(IefError::range(
                    &join(&vpath, "default_mode"),
                    &format!("must be a file mode (decimal 0-511 or octal 0-777), got {mode}"),
                ));
            }
        }
        let def = (kind.to_string(), src.to_string());
        match seen.0.get(name) {
            Some(prev) if *prev != def => {
                return Err(IefError::bad(
                    DUPLICATE,
                    format!(
                        "`{}`: volume `{name}` is already defined with another type or source",
                        join(&vpath, "name")
                    ),
                ))
            }
            Some(_) => {}
            None => {
                seen.0.insert(name.to_string(), def);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn c(vols: serde_json::Value) -> Obj {
        json!({ "volumes": vols })
            .as_object()
            .cloned()
            .unwrap_or_default()
    }

    #[test]
    fn modes() {
        assert_eq!(file_mode(420), Some(0o644));
        assert_eq!(file_mode(644), Some(0o644));
        assert_eq!(file_mode(777), Some(0o777));
        assert_eq!(file_mode(778), None);
        assert_eq!(file_mode(-1), None);
    }

    #[test]
    fn rules() {
        let ok = json!([{"name": "log-volume", "type": "hostPath", "source": "/var/IEF", "destination": "/var/IEF"},
            {"name": "cfg", "type": "configMap", "source": "app-config", "destination": "/etc/app", "default_mode": 420}]);
        assert!(validate_all(&c(ok), "c", &mut Seen::default()).is_ok());
        for bad in [
            json!([{"name": "Log", "type": "hostPath", "source": "/x", "destination": "/x"}]),
            json!([{"name": "a", "type": "nfs", "source": "/x", "destination": "/x"}]),
            json!([{"name": "a", "type": "hostPath", "source": "x", "destination": "/x"}]),
            json!([{"name": "a", "type": "hostPath", "source": "/var/../etc", "destination": "/x"}]),
            json!([{"name": "a", "type": "hostPath", "source": "/..", "destination": "/x"}]),
            json!([{"name": "a", "type": "hostPath", "source": "/x y", "destination": "/x"}]),
            json!([{"name": "a", "type": "emptyDir", "source": "ssd", "destination": "/x"}]),
            json!([{"name": "a", "type": "secret", "source": "Bad_Name", "destination": "/x"}]),
            json!([{"name": "a", "type": "emptyDir", "source": "disk", "destination": "x"}]),
            json!([{"name": "a", "type": "secret", "source": "s", "destination": "/x", "read_only": false}]),
            json!([{"name": "a", "type": "hostPath", "source": "/x", "destination": "/x", "default_mode": 420}]),
            json!([{"name": "a", "type": "secret", "source": "s", "destination": "/x", "default_mode": 999}]),
            json!([{"name": "a", "type": "emptyDir", "source": "disk", "destination": "/x"},
                   {"name": "a", "type": "emptyDir", "source": "memory", "destination": "/y"}]),
            json!([{"name": "a", "type": "emptyDir", "source": "disk"}]),
        ] {
            assert!(
                validate_all(&c(bad.clone()), "c", &mut Seen::default()).is_err(),
                "{bad}"
            );
        }
    }
}
