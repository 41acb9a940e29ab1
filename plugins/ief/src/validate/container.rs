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
//! - what the cluster would otherwise refuse or round: cpu in whole
//!   millicores (at most 3 decimals), memory in whole millibytes; NPUs are
//!   the Kubernetes extended resources `huawei.com/ascend-310`/`-310b`, which
//!   cannot be overcommitted: an NPU request needs a limit of the same chip
//!   and amount, and two keys may not name the same chip (`npu` with
//!   `npu_type` D310 and `D310`);
//! - init containers run to completion: no `liveness_probe` or
//!   `readiness_probe` (Kubernetes refuses probes on them);
//! - ports: `container_port` 1-65535 and exactly one of `host_port` (1-65535,
//!   equal to the container port with `host_network`) and `host_port_range`
//!   (platinum only; 1-65535 with `max_port` > `min_port`; with
//!   `host_network` it must hold the container port, the only host port a
//!   host-network pod can have); `host_ip` an IP.

use std::collections::BTreeSet;
use std::str::FromStr;

use rust_decimal::Decimal;

use super::{
    as_obj, check_name, env, index, int_in, join, one_of, opt_arr, opt_bool, opt_obj, opt_str,
    opt_strings, platinum_only, probe, req_str, volume, Obj,
};
use crate::error::{IefError, IefResult, DUPLICATE, INCONSISTENT};
use crate::render::{NPU_310, NPU_310B};

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
                Kind {
                    init: field == "init_containers",
                    host_network,
                    platinum,
                },
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

/// What a container's rules depend on.
#[derive(Clone, Copy)]
struct Kind {
    /// An init container.
    init: bool,
    host_network: bool,
    platinum: bool,
}

/// One ContainerDef; answers its name.
fn container<'a>(
    c: &'a Obj,
    path: &str,
    kind: Kind,
    volumes: &mut volume::Seen,
) -> IefResult<&'a str> {
    let Kind {
        init,
        host_network,
        platinum,
    } = kind;
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
        resources(r, &join(path, "resources"), npu_type)?;
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
        if init && super::get(c, field).is_some() {
            return Err(IefError::bad(
                INCONSISTENT,
                format!(
                    "`{}`: an init container runs to completion and cannot have a probe (Kubernetes refuses probes on init containers)",
                    join(path, field)
                ),
            ));
        }
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

/// The Kubernetes resource an IEF resource key names (`gpu`, GPU memory,
/// has none: it travels in the pod annotation and is reported as `gpu`).
pub fn resource_name(key: &str, npu_type: &str) -> &'static str {
    match key {
        "cpu" => "cpu",
        "memory" => "memory",
        "npu" if npu_type == "D310B" => NPU_310B,
        "npu" | "D310" => NPU_310,
        "D310B" => NPU_310B,
        _ => "gpu",
    }
}

/// An NPU: a Kubernetes extended resource, which is never overcommitted.
fn is_npu(key: &str) -> bool {
    matches!(key, "npu" | "D310" | "D310B")
}

/// Whether `n` is exactly what Kubernetes keeps: cpu in millicores, memory
/// (Mi) in millibytes; other amounts are whole (NPUs) or not rendered (gpu).
fn kept_exactly(key: &str, n: Decimal) -> bool {
    let scale = match key {
        "cpu" => Decimal::from(1000),
        "memory" => Decimal::from(1_048_576_000_i64),
        _ => return true,
    };
    n.checked_mul(scale)
        .is_some_and(|m| m.fract() == Decimal::ZERO)
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
        if !kept_exactly(k, n) {
            let rule = if k == "cpu" {
                "must be a whole number of millicores (at most 3 decimals), the precision Kubernetes keeps"
            } else {
                "has more decimals than Kubernetes keeps (a thousandth of a byte)"
            };
            return Err(IefError::range(&p, &format!("{rule}, got {text}")));
        }
        out.push((k.clone(), n));
    }
    Ok(out)
}

/// Two keys of one map may not name the same Kubernetes resource.
fn distinct(items: &[(String, Decimal)], path: &str, npu_type: &str) -> IefResult<()> {
    for (i, (k, _)) in items.iter().enumerate() {
        let name = resource_name(k, npu_type);
        if let Some((other, _)) = items[..i]
            .iter()
            .find(|(o, _)| resource_name(o, npu_type) == name)
        {
            return Err(IefError::bad(
                DUPLICATE,
                format!(
                    "`{}` and `{}` both ask for {name} (`npu` is the chip of `npu_type`, D310 when empty)",
                    join(path, other),
                    join(path, k)
                ),
            ));
        }
    }
    Ok(())
}

/// DeploymentResources (表23).
fn resources(r: &Obj, path: &str, npu_type: &str) -> IefResult<()> {
    let limits = resource_map(r, "limits", path)?;
    let requests = resource_map(r, "requests", path)?;
    let (lpath, rpath) = (join(path, "limits"), join(path, "requests"));
    distinct(&limits, &lpath, npu_type)?;
    distinct(&requests, &rpath, npu_type)?;
    for (k, req) in &requests {
        let name = resource_name(k, npu_type);
        let limit = limits
            .iter()
            .find(|(lk, _)| resource_name(lk, npu_type) == name);
        match limit {
            Some((lk, lim)) if is_npu(k) && req != lim => {
                return Err(IefError::bad(
                    INCONSISTENT,
                    format!(
                        "`{}` ({req}) must equal `{}` ({lim}): NPUs ({name}) are never overcommitted",
                        join(&rpath, k),
                        join(&lpath, lk)
                    ),
                ));
            }
            Some((lk, lim)) if req > lim => {
                return Err(IefError::bad(
                    INCONSISTENT,
                    format!(
                        "`{}` ({req}) must not exceed `{}` ({lim})",
                        join(&rpath, k),
                        join(&lpath, lk)
                    ),
                ));
            }
            None if is_npu(k) => {
                return Err(IefError::bad(
                    INCONSISTENT,
                    format!(
                        "`{}` needs an equal limit of the same chip in `{lpath}`: NPUs ({name}) are never overcommitted",
                        join(&rpath, k)
                    ),
                ));
            }
            _ => {}
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
            if host_network && !(min..=max).contains(&container_port) {
                return Err(IefError::bad(
                    INCONSISTENT,
                    format!(
                        "`{rpath}` ({min}-{max}) must hold `{}` ({container_port}) with `host_network`: a host-network pod's host port is its container port",
                        join(path, "container_port")
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
        assert!(resources(&ok, "r", "").is_ok());
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
            json!({"limits": {"cpu": "0.0155"}}),
            json!({"limits": {"memory": "4.0000001"}}),
            json!({"requests": {"npu": "1"}}),
            json!({"limits": {"npu": "2"}, "requests": {"npu": "1"}}),
            json!({"limits": {"npu": "1", "D310": "1"}}),
            json!({"limits": {"D310B": "1"}, "requests": {"D310": "1"}}),
        ] {
            assert!(resources(&obj(bad.clone()), "r", "").is_err(), "{bad}");
        }
        // Requests and limits of NPUs meet by chip, whatever the key.
        let same = obj(json!({"limits": {"D310B": "2"}, "requests": {"npu": "2"}, "unused": {}}));
        assert!(resources(&same, "r", "D310B").is_ok());
        assert_eq!(resources(&same, "r", "").unwrap_err().code, INCONSISTENT);
        let dup = obj(json!({"limits": {"npu": "1", "D310": "1"}}));
        assert_eq!(resources(&dup, "r", "").unwrap_err().code, DUPLICATE);
        assert!(resources(&dup, "r", "D310B").is_ok());
        // Kubernetes keeps millicores and thousandths of a byte exactly.
        assert!(resources(
            &obj(json!({"limits": {"cpu": "0.015"}, "requests": {"memory": "0.0155"}})),
            "r",
            ""
        )
        .is_ok());
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
        // On the host network the range must hold the container port.
        assert_eq!(port(&r, "p", true, true).unwrap_err().code, INCONSISTENT);
        let holds =
            obj(json!({"container_port": 15, "host_port_range": {"min_port": 10, "max_port": 20}}));
        assert!(port(&holds, "p", true, true).is_ok());
    }
}
