//! ContainerDef (表22), DeploymentResources (表23, with the ranges of
//! Res, 表9 of the pod list) and HostContainerPortMapping (表28-29).
//!
//! - `name`: as a deployment name, unique among the template's containers;
//!   `image_url`: required;
//! - `args`, `command`: at most 65536 characters in total each;
//! - `run_as_user`: 0-65534; `npu_type`: `D310`, `D310B` or empty;
//! - resources: keys `cpu`, `memory`, `gpu`, `npu` (or a chip type `D310`,
//!   `D310B`), decimal strings: cpu 0.01-1000 cores, memory 0.01-1024000 Mi
//!   (a memory limit at least 4), gpu 0.01-1024000 Mi, npu a whole 1-1000;
//!   a request may not exceed its limit;
//! - ports: `container_port` 1-65535 and exactly one of `host_port` (1-65535,
//!   equal to the container port with `host_network`) and `host_port_range`
//!   (platinum only; 1-65535 with `max_port` > `min_port`); `host_ip` an IP.

use std::collections::BTreeSet;
use std::str::FromStr;

use rust_decimal::Decimal;

use super::{
    as_obj, check_name, env, index, int_in, join, one_of, opt_arr, opt_bool, opt_obj, opt_str,
    opt_strings, platinum_only, probe, req_str, volume, Obj,
};
use crate::error::{IefError, IefResult, DUPLICATE, INCONSISTENT};

pub const NPU_TYPES: &[&str] = &["D310", "D310B"];
pub const RESOURCE_KEYS: &[&str] = &["cpu", "memory", "gpu", "npu", "D310", "D310B"];
const MAX_ARGS: usize = 65_536;

/// Validate `containers` (required, non-empty) and `init_containers`.
pub fn validate_all(
    template: &Obj,
    tpath: &str,
    host_network: bool,
    platinum: bool,
) -> IefResult<()> {
    let mut names = BTreeSet::new();
    let mut volumes = volume::Seen::default();
    let containers = opt_arr(template, "containers", tpath)?
        .filter(|c| !c.is_empty())
        .ok_or_else(|| IefError::missing(&join(tpath, "containers")))?;
    for field in ["init_containers", "containers"] {
        let list = if field == "containers" {
            Some(containers)
        } else {
            opt_arr(template, field, tpath)?
        };
        let apath = join(tpath, field);
        for (i, c) in list.into_iter().flatten().enumerate() {
            let path = index(&apath, i);
            let name = container(
                as_obj(c, &path)?,
                &path,
                host_network,
                platinum,
                &mut volumes,
            )?;
            if !names.insert(name.to_string()) {
                return Err(IefError::bad(
                    DUPLICATE,
                    format!(
                        "`{}`: container name `{name}` is used twice",
                        join(&path, "name")
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn total_len(items: &[&str], path: &str) -> IefResult<()> {
    let n: usize = items.iter().map(|s| s.chars().count()).sum();
    if n > MAX_ARGS {
        return Err(IefError::format(
            path,
            &format!("must hold at most {MAX_ARGS} characters in total, got {n}"),
        ));
    }
    Ok(())
}

/// One ContainerDef; answers its name.
fn container<'a>(
    c: &'a Obj,
    path: &str,
    host_network: bool,
    platinum: bool,
    volumes: &mut volume::Seen,
) -> IefResult<&'a str> {
    let name = req_str(c, "name", path)?;
    check_name(name, &join(path, "name"))?;
    let image = req_str(c, "image_url", path)?;
    if image.len() > 1024 || image.chars().any(char::is_whitespace) {
        return Err(IefError::format(
            &join(path, "image_url"),
            "must be an image reference without spaces, at most 1024 characters",
        ));
    }
    if let Some(v) = opt_str(c, "version", path)? {
        if v.len() > 128 || v.chars().any(|ch| ch.is_whitespace() || ch == '/') {
            return Err(IefError::format(
                &join(path, "version"),
                "must be an image tag without spaces or `/`, at most 128 characters",
            ));
        }
    }
    for field in ["args", "command"] {
        if let Some(items) = opt_strings(c, field, path)? {
            total_len(&items, &join(path, field))?;
        }
    }
    opt_bool(c, "privileged", path)?;
    int_in(c, "run_as_user", path, 0, 65_534)?;
    let npu_type = opt_str(c, "npu_type", path)?.unwrap_or("");
    if !npu_type.is_empty() && !NPU_TYPES.contains(&npu_type) {
        return Err(IefError::not_allowed(
            &join(path, "npu_type"),
            npu_type,
            &["D310", "D310B", ""],
        ));
    }
    if let Some(r) = opt_obj(c, "resources", path)? {
        resources(r, &join(path, "resources"))?;
    }
    env::validate_all(c, path)?;
    if let Some(ports) = opt_arr(c, "ports", path)? {
        let apath = join(path, "ports");
        for (i, p) in ports.iter().enumerate() {
            let ppath = index(&apath, i);
            port(as_obj(p, &ppath)?, &ppath, host_network, platinum)?;
        }
    }
    for field in ["liveness_probe", "readiness_probe"] {
        if let Some(p) = opt_obj(c, field, path)? {
            probe::validate(p, &join(path, field))?;
        }
    }
    volume::validate_all(c, path, volumes)?;
    Ok(name)
}

/// A plain decimal (`0.25`, `500`): digits with at most one point.
pub fn decimal(text: &str) -> Option<Decimal> {
    let t = text.trim();
    let plain = !t.is_empty()
        && t.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && t.bytes().filter(|b| *b == b'.').count() <= 1
        && !t.starts_with('.')
        && !t.ends_with('.');
    if !plain {
        return None;
    }
    Decimal::from_str(t).ok()
}

/// The allowed range of a resource (key already checked).
fn range_of(key: &str, limit: bool) -> (Decimal, Decimal, &'static str) {
    let cent = Decimal::new(1, 2);
    match key {
        "cpu" => (cent, Decimal::from(1000), "cores"),
        "memory" if limit => (Decimal::from(4), Decimal::from(1_024_000), "Mi"),
        "memory" | "gpu" => (cent, Decimal::from(1_024_000), "Mi"),
        _ => (Decimal::ONE, Decimal::from(1000), "NPUs"),
    }
}

fn resource_map(r: &Obj, key: &str, path: &str) -> IefResult<Vec<(String, Decimal)>> {
    let Some(m) = opt_obj(r, key, path)? else {
        return Ok(Vec::new());
    };
    let mpath = join(path, key);
    let limit = key == "limits";
    let mut out = Vec::new();
    for (k, v) in m {
        let p = join(&mpath, k);
        if !RESOURCE_KEYS.contains(&k.as_str()) {
            return Err(IefError::not_allowed(&p, k, RESOURCE_KEYS));
        }
        let text = v
            .as_str()
            .ok_or_else(|| IefError::wrong_type(&p, "a decimal number as a string (\"0.25\")"))?;
        let n = decimal(text).ok_or_else(|| {
            IefError::wrong_type(&p, &format!("a decimal number as a string, got `{text}`"))
        })?;
        let (lo, hi, unit) = range_of(k, limit);
        let npu = !matches!(k.as_str(), "cpu" | "memory" | "gpu");
        if npu && n.fract() != Decimal::ZERO {
            return Err(IefError::range(
                &p,
                &format!("must be a whole number of NPUs, got {text}"),
            ));
        }
        if n < lo || n > hi {
            return Err(IefError::range(
                &p,
                &format!("must be from {lo} to {hi} {unit}, got {text}"),
            ));
        }
        out.push((k.clone(), n));
    }
    Ok(out)
}

/// DeploymentResources (表23).
fn resources(r: &Obj, path: &str) -> IefResult<()> {
    let limits = resource_map(r, "limits", path)?;
    let requests = resource_map(r, "requests", path)?;
    for (k, req) in &requests {
        if let Some((_, lim)) = limits.iter().find(|(lk, _)| lk == k) {
            if req > lim {
                return Err(IefError::bad(
                    INCONSISTENT,
                    format!(
                        "`{}` ({req}) must not exceed `{}` ({lim})",
                        join(&join(path, "requests"), k),
                        join(&join(path, "limits"), k)
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// HostContainerPortMapping (表28) and HostPortRange (表29).
fn port(p: &Obj, path: &str, host_network: bool, platinum: bool) -> IefResult<()> {
    let container_port = int_in(p, "container_port", path, 1, 65_535)?
        .ok_or_else(|| IefError::missing(&join(path, "container_port")))?;
    match one_of(p, &["host_port", "host_port_range"], path, false)? {
        Some(0) => {
            let host = int_in(p, "host_port", path, 1, 65_535)?;
            if host_network && host != Some(container_port) {
                return Err(IefError::bad(
                    INCONSISTENT,
                    format!(
                        "`{}` must equal `{}` ({container_port}) with `host_network`",
                        join(path, "host_port"),
                        join(path, "container_port")
                    ),
                ));
            }
        }
        _ => {
            let rpath = join(path, "host_port_range");
            platinum_only(platinum, &rpath)?;
            let r = super::req_obj(p, "host_port_range", path)?;
            let min = int_in(r, "min_port", &rpath, 1, 65_535)?
                .ok_or_else(|| IefError::missing(&join(&rpath, "min_port")))?;
            let max = int_in(r, "max_port", &rpath, 1, 65_535)?
                .ok_or_else(|| IefError::missing(&join(&rpath, "max_port")))?;
            if max <= min {
                return Err(IefError::bad(
                    INCONSISTENT,
                    format!(
                        "`{}` ({max}) must be greater than `{}` ({min})",
                        join(&rpath, "max_port"),
                        join(&rpath, "min_port")
                    ),
                ));
            }
        }
    }
    if let Some(ip) = opt_str(p, "host_ip", path)? {
        if ip.parse::<std::net::IpAddr>().is_err() {
            return Err(IefError::format(
                &join(path, "host_ip"),
                &format!("must be an IP address, got `{ip}`"),
            ));
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
    fn resource_ranges() {
        let ok =
            obj(json!({"limits": {"cpu": "0.25", "memory": "500"}, "requests": {"cpu": "0.25"}}));
        assert!(resources(&ok, "r").is_ok());
        for bad in [
            json!({"limits": {"cpu": "0.001"}}),
            json!({"limits": {"cpu": "1001"}}),
            json!({"limits": {"memory": "3"}}),
            json!({"requests": {"memory": "1024001"}}),
            json!({"limits": {"npu": "1.5"}}),
            json!({"limits": {"disk": "1"}}),
            json!({"limits": {"cpu": 1}}),
            json!({"limits": {"cpu": "1e3"}}),
            json!({"limits": {"cpu": "1"}, "requests": {"cpu": "2"}}),
        ] {
            assert!(resources(&obj(bad.clone()), "r").is_err(), "{bad}");
        }
        assert_eq!(decimal("0.25"), Some(Decimal::new(25, 2)));
        assert_eq!(decimal("-1"), None);
    }

    #[test]
    fn ports() {
        let p = obj(json!({"container_port": 80, "host_port": 8080}));
        assert!(port(&p, "p", false, false).is_ok());
        assert_eq!(port(&p, "p", true, false).unwrap_err().code, INCONSISTENT);
        let r =
            obj(json!({"container_port": 80, "host_port_range": {"min_port": 10, "max_port": 20}}));
        assert_eq!(
            port(&r, "p", false, false).unwrap_err().code,
            crate::error::EDITION
        );
        assert!(port(&r, "p", false, true).is_ok());
    }
}
