//! Rules Kubernetes applies to the pod as a whole, which no single table of
//! the document states, so that a deployment answered 201 has pods that can
//! exist:
//!
//! - host ports: a port's host port is its `host_port`; a `host_port_range`
//!   is given the lowest port of the range that no other port of the pod
//!   holds (on the host network the container port, which
//!   [`super::container`] checked lies in the range). A host port serves one
//!   port of the pod: the containers are checked together and each init
//!   container alone (init containers run one at a time), as Kubernetes
//!   checks them. Two ports clash when their host IPs are equal or either is
//!   unset or `0.0.0.0`/`::` (what the scheduler holds against a node; the
//!   API server itself compares the IPs as text);
//! - the rendered Deployment's annotations, and its pod template's (the
//!   `ief.computehub.io/extras` annotation grows with the containers), fit
//!   Kubernetes' 256 KiB.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{as_obj, given, index, join, opt_arr, opt_int, opt_obj, opt_str, Obj};
use crate::error::{IefError, IefResult, DUPLICATE, OUT_OF_RANGE};

/// The host port of each port that has one: (`containers` or
/// `init_containers`, container index, port index) -> host port.
pub type HostPorts = BTreeMap<(&'static str, usize, usize), i64>;

/// Kubernetes' limit on an object's annotations, keys and values together.
pub const ANNOTATIONS_MAX: usize = 256 * 1024;

/// The host ports taken in one group of containers.
#[derive(Default)]
struct Held {
    /// Host port -> (host IP, the field that took it).
    by_port: BTreeMap<i64, Vec<(String, String)>>,
    /// "The lowest port from here that nothing holds" (a disjoint-set
    /// forest with path compression), so that giving ports out of ranges
    /// stays linear however many ports ask for one.
    next: BTreeMap<i64, i64>,
}

fn wildcard(ip: &str) -> bool {
    matches!(ip, "" | "0.0.0.0" | "::")
}

impl Held {
    /// Who holds `port` in a way that clashes with `ip`.
    fn clash(&self, port: i64, ip: &str) -> Option<&str> {
        self.by_port
            .get(&port)
            .into_iter()
            .flatten()
            .find(|(held, _)| held == ip || wildcard(held) || wildcard(ip))
            .map(|(_, at)| at.as_str())
    }

    fn take(&mut self, port: i64, ip: String, at: String) {
        self.by_port.entry(port).or_default().push((ip, at));
        self.next.insert(port, port + 1);
    }

    /// The lowest port at or above `port` that no port of the group holds
    /// (whatever its IP: a range is given a port nobody uses).
    fn free_from(&mut self, port: i64) -> i64 {
        let mut root = port;
        while let Some(&n) = self.next.get(&root) {
            root = n;
        }
        let mut p = port;
        while let Some(&n) = self.next.get(&p) {
            self.next.insert(p, root);
            p = n;
        }
        root
    }
}

/// A port whose host port comes from its range.
struct Ranged {
    key: (&'static str, usize, usize),
    path: String,
    min: i64,
    max: i64,
    ip: String,
}

/// Host ports of the containers that share them (`members`: field,
/// container index, container).
fn group(
    members: &[(&'static str, usize, &Obj)],
    tpath: &str,
    host_network: bool,
    out: &mut HostPorts,
) -> IefResult<()> {
    let mut held = Held::default();
    let mut ranged: Vec<Ranged> = Vec::new();
    for &(field, ci, c) in members {
        let cpath = index(&join(tpath, field), ci);
        for (pi, p) in opt_arr(c, "ports", &cpath)?
            .into_iter()
            .flatten()
            .enumerate()
        {
            let ppath = index(&join(&cpath, "ports"), pi);
            let p = as_obj(p, &ppath)?;
            let ip = opt_str(p, "host_ip", &ppath)?.unwrap_or("").to_string();
            let container_port = opt_int(p, "container_port", &ppath)?.unwrap_or(0);
            let (port, at) = if given(p, "host_port").is_some() {
                let port = opt_int(p, "host_port", &ppath)?.unwrap_or(0);
                (port, join(&ppath, "host_port"))
            } else if let Some(r) = opt_obj(p, "host_port_range", &ppath)? {
                let rpath = join(&ppath, "host_port_range");
                if host_network {
                    (container_port, rpath)
                } else {
                    ranged.push(Ranged {
                        key: (field, ci, pi),
                        min: opt_int(r, "min_port", &rpath)?.unwrap_or(0),
                        max: opt_int(r, "max_port", &rpath)?.unwrap_or(0),
                        path: rpath,
                        ip,
                    });
                    continue;
                }
            } else {
                continue;
            };
            if let Some(other) = held.clash(port, &ip) {
                return Err(IefError::bad(
                    DUPLICATE,
                    format!("`{at}`: host port {port} is already taken by `{other}` in this pod (Kubernetes refuses one host port twice)"),
                ));
            }
            out.insert((field, ci, pi), port);
            held.take(port, ip, at);
        }
    }
    for r in ranged {
        let port = held.free_from(r.min);
        if port > r.max {
            return Err(IefError::bad(
                DUPLICATE,
                format!(
                    "`{}`: every host port from {} to {} is already taken by other ports of this pod",
                    r.path, r.min, r.max
                ),
            ));
        }
        out.insert(r.key, port);
        held.take(port, r.ip, r.path);
    }
    Ok(())
}

fn containers<'a>(template: &'a Obj, field: &'static str) -> Vec<(&'static str, usize, &'a Obj)> {
    template
        .get(field)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, c)| c.as_object().map(|c| (field, i, c)))
        .collect()
}

/// The host ports of a validated template, or why the pod could not have
/// them. `tpath` is the template's path in the body.
pub fn host_ports(template: &Obj, tpath: &str, host_network: bool) -> IefResult<HostPorts> {
    let mut out = HostPorts::new();
    for init in containers(template, "init_containers") {
        group(&[init], tpath, host_network, &mut out)?;
    }
    group(
        &containers(template, "containers"),
        tpath,
        host_network,
        &mut out,
    )?;
    Ok(out)
}

fn annotations_size(obj: &Value, ptr: &str) -> usize {
    obj.pointer(ptr)
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| k.len() + v.as_str().map_or(0, str::len))
        .sum()
}

/// The rendered Deployment's annotations (and its pod template's) fit
/// Kubernetes' limit.
pub fn annotations_fit(deployment: &Value) -> IefResult<()> {
    for (ptr, field) in [
        ("/metadata/annotations", "deployment.annotations"),
        ("/spec/template/metadata/annotations", "deployment.template"),
    ] {
        let size = annotations_size(deployment, ptr);
        if size > ANNOTATIONS_MAX {
            return Err(IefError::bad(
                OUT_OF_RANGE,
                format!("`{field}` is too large: its Kubernetes annotations would take {size} bytes, more than the {ANNOTATIONS_MAX} Kubernetes allows"),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn t(v: Value) -> Obj {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn one_host_port_per_pod() {
        let two = t(json!({"containers": [
            {"ports": [{"container_port": 80, "host_port": 8080}]},
            {"ports": [{"container_port": 81, "host_port": 8080}]}]}));
        let e = host_ports(&two, "t", false).unwrap_err();
        assert_eq!(e.code, DUPLICATE);
        assert!(
            e.msg.contains("`t.containers[1].ports[0].host_port`"),
            "{}",
            e.msg
        );
        assert!(
            e.msg.contains("`t.containers[0].ports[0].host_port`"),
            "{}",
            e.msg
        );
        // Different specific IPs do not clash; a wildcard clashes with all.
        let ips = t(json!({"containers": [{"ports": [
            {"container_port": 80, "host_port": 8080, "host_ip": "10.0.0.1"},
            {"container_port": 81, "host_port": 8080, "host_ip": "10.0.0.2"}]}]}));
        assert!(host_ports(&ips, "t", false).is_ok());
        let wild = t(json!({"containers": [{"ports": [
            {"container_port": 80, "host_port": 8080, "host_ip": "10.0.0.1"},
            {"container_port": 81, "host_port": 8080, "host_ip": "0.0.0.0"}]}]}));
        assert!(host_ports(&wild, "t", false).is_err());
        // Init containers run alone: they may reuse the containers' ports.
        let init = t(json!({
            "init_containers": [{"ports": [{"container_port": 80, "host_port": 8080}]}],
            "containers": [{"ports": [{"container_port": 80, "host_port": 8080}]}]}));
        assert!(host_ports(&init, "t", false).is_ok());
        let init_twice = t(json!({"init_containers": [{"ports": [
            {"container_port": 80, "host_port": 8080}, {"container_port": 81, "host_port": 8080}]}]}));
        assert!(host_ports(&init_twice, "t", false).is_err());
    }

    #[test]
    fn ranges_take_the_lowest_free_port() {
        let r = t(json!({"containers": [{"ports": [
            {"container_port": 80, "host_port_range": {"min_port": 8000, "max_port": 8002}},
            {"container_port": 81, "host_port": 8000},
            {"container_port": 82, "host_port_range": {"min_port": 8000, "max_port": 8002}}]}]}));
        let ports = host_ports(&r, "t", false).unwrap();
        assert_eq!(ports[&("containers", 0, 0)], 8001);
        assert_eq!(ports[&("containers", 0, 1)], 8000);
        assert_eq!(ports[&("containers", 0, 2)], 8002);
        let full = t(json!({"containers": [{"ports": [
            {"container_port": 80, "host_port": 8000},
            {"container_port": 81, "host_port_range": {"min_port": 8000, "max_port": 8000}}]}]}));
        assert!(host_ports(&full, "t", false).is_err());
        // On the host network a range yields the container port.
        let hn = t(json!({"containers": [{"ports": [
            {"container_port": 8001, "host_port_range": {"min_port": 8000, "max_port": 8002}}]}]}));
        assert_eq!(
            host_ports(&hn, "t", true).unwrap()[&("containers", 0, 0)],
            8001
        );
    }

    #[test]
    fn annotations_have_a_limit() {
        let small = json!({"metadata": {"annotations": {"a": "b"}}});
        assert!(annotations_fit(&small).is_ok());
        let big = json!({"spec": {"template": {"metadata": {"annotations": {"a": "x".repeat(ANNOTATIONS_MAX)}}}}});
        assert_eq!(annotations_fit(&big).unwrap_err().code, OUT_OF_RANGE);
    }
}
