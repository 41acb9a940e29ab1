//! Probe (表30), Exec (表31), HttpGetDetail (表32).
//!
//! - exactly one of `exec` and `http_get`;
//! - `initial_delay_seconds` and `timeout_seconds`: 1-3600;
//! - `exec.command`: required, at most 10240 characters;
//! - `http_get.path`: required, starting with `/`; `port` 1-65535;
//!   `scheme` `HTTP` or `HTTPS` (either case); `host` without spaces.

use super::{int_in, join, one_of, opt_str, req_obj, req_str, Obj};
use crate::error::{IefError, IefResult};

pub const SCHEMES: &[&str] = &["HTTP", "HTTPS"];

/// Validate one probe at `path`.
pub fn validate(p: &Obj, path: &str) -> IefResult<()> {
    int_in(p, "initial_delay_seconds", path, 1, 3600)?;
    int_in(p, "timeout_seconds", path, 1, 3600)?;
    match one_of(p, &["exec", "http_get"], path, false)? {
        Some(0) => {
            let e = req_obj(p, "exec", path)?;
            let epath = join(path, "exec");
            let cmd = req_str(e, "command", &epath)?;
            if cmd.chars().count() > 10_240 {
                return Err(IefError::format(
                    &join(&epath, "command"),
                    "must be at most 10240 characters",
                ));
            }
        }
        _ => {
            let h = req_obj(p, "http_get", path)?;
            let hpath = join(path, "http_get");
            let p = req_str(h, "path", &hpath)?;
            if !p.starts_with('/') || p.chars().any(char::is_whitespace) {
                return Err(IefError::format(
                    &join(&hpath, "path"),
                    &format!("must start with `/` and hold no spaces, got `{p}`"),
                ));
            }
            int_in(h, "port", &hpath, 1, 65_535)?
                .ok_or_else(|| IefError::missing(&join(&hpath, "port")))?;
            if let Some(host) = opt_str(h, "host", &hpath)? {
                if host.is_empty()
                    || host.len() > 253
                    || host.chars().any(|c| c.is_whitespace() || c == '/')
                {
                    return Err(IefError::format(
                        &join(&hpath, "host"),
                        &format!("must be a host name or IP address, got `{host}`"),
                    ));
                }
            }
            if let Some(s) = opt_str(h, "scheme", &hpath)? {
                if !SCHEMES.contains(&s.to_ascii_uppercase().as_str()) {
                    return Err(IefError::not_allowed(&join(&hpath, "scheme"), s, SCHEMES));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: serde_json::Value) -> Obj {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn rules() {
        assert!(validate(
            &obj(json!({"http_get": {"path": "/", "port": 80, "scheme": "http"}})),
            "p"
        )
        .is_ok());
        assert!(validate(
            &obj(json!({"exec": {"command": "true"}, "timeout_seconds": 3600})),
            "p"
        )
        .is_ok());
        for bad in [
            json!({}),
            json!({"exec": {"command": "x"}, "http_get": {"path": "/", "port": 80}}),
            json!({"exec": {"command": ""}}),
            json!({"exec": {"command": "x"}, "initial_delay_seconds": 0}),
            json!({"exec": {"command": "x"}, "timeout_seconds": 3601}),
            json!({"http_get": {"path": "healthz", "port": 80}}),
            json!({"http_get": {"path": "/", "port": 0}}),
            json!({"http_get": {"path": "/", "port": 80, "scheme": "ftp"}}),
        ] {
            assert!(validate(&obj(bad.clone()), "p").is_err(), "{bad}");
        }
    }
}
