//! `new_worker`: join the machine named by `host`/`port`/`user`/`psssword`
//! to a cluster with `join_command`, as the operation `new-worker`:
//!
//! 1. `preflight`: as for a control plane (1 CPU, 1000 MiB suffice), plus a
//!    unique node name in the cluster when the cluster can be read, and
//!    whether the machine already joined one;
//! 2. `prerequisites`: kernel settings, package source, packages, services;
//! 3. `join`: `kubeadm join` with the CA pinned
//!    (`--discovery-token-ca-cert-hash`), skipped when already joined;
//! 4. `wait-ready`: the node turns Ready, watched through the kubernetes
//!    capability (`kubeconfig` if the caller sent one, else the inventory
//!    cluster whose controller has the join endpoint's address; skipped when
//!    neither is known);
//! 5. `cleanup`: after a failed join, `kubeadm reset -f`.

use std::time::Duration;

use computehub_sdk::envelope::pcapi;
use computehub_sdk::inventory::RowQuery;
use computehub_sdk::kubernetes::{self, Cluster};
use computehub_sdk::params::Params;
use computehub_sdk::{ApiError, Response};
use serde_json::json;

use super::join::Join;
use super::{invalid, preflight, prerequisites, reset, Failure, Job, Machine};

const PHASES: &[&str] = &[
    "preflight",
    "prerequisites",
    "join",
    "wait-ready",
    "cleanup",
];

/// The cluster to watch the node in, if one is known.
fn cluster_of(p: &Params, join: &Join) -> Result<Option<Cluster>, ApiError> {
    if let Some(k) = p.optional_str("kubeconfig")? {
        return Ok(Some(Cluster::Kubeconfig(k.to_string())));
    }
    let devices =
        computehub_sdk::inventory::query("devices", &RowQuery::new().eq("ip", join.host()))?;
    for d in &devices.rows {
        let clusters = computehub_sdk::inventory::query(
            "clusters",
            &RowQuery::new().eq("controllerid", d.id.as_str()).limit(1),
        )?;
        if let Some(c) = clusters.rows.first() {
            return Ok(Some(Cluster::Id(c.id.clone())));
        }
    }
    Ok(None)
}

pub fn new_worker(p: &Params) -> Result<Response, ApiError> {
    if let Some(t) = p.optional_str("cluster_type")? {
        if !t.eq_ignore_ascii_case("kubernetes") {
            return Err(invalid(
                "cluster_type",
                format!("only `kubernetes` is supported, got `{}`", t.escape_debug()),
            ));
        }
    }
    let role = p.required_str("role")?;
    if !matches!(role, "worker" | "node") {
        return Err(invalid(
            "role",
            format!("must be worker, got `{}`", role.escape_debug()),
        ));
    }
    let join =
        Join::parse(p.required_str("join_command")?).map_err(|e| invalid("join_command", e))?;
    let source = super::package_source(p)?;
    let m = Machine::from_params(p)?;
    let cluster = cluster_of(p, &join)?;
    let mut job = Job::begin("new-worker", &m.lock_key(), PHASES)?;
    job.keep_secret(&join.token);
    let mut joining = false;
    match install(&job, &m, &join, &source, cluster.as_ref(), &mut joining) {
        Ok(node) => {
            let _ = job.skip("cleanup", "nothing to undo");
            job.finish(Ok(json!({"node": node, "join_endpoint": join.endpoint})));
            Ok(pcapi::ok("operate success", &"").with_header("x-operation-id", &job.id))
        }
        Err(f) => {
            if joining {
                if let Err(c) = reset(&job, &m, "cleanup") {
                    computehub_sdk::log::warn!("cleanup failed: {}", c.error);
                }
            } else {
                let _ = job.skip("cleanup", "nothing was joined");
            }
            let msg = job.redact(&format!("phase `{}` failed: {}", f.phase, f.error));
            job.finish(Err(msg.clone()));
            Ok(pcapi::fail(
                f.error.status(),
                &format!("operate failed: {msg} (operation {})", job.id),
                &"",
            )
            .with_header("x-operation-id", &job.id))
        }
    }
}

fn install(
    job: &Job,
    m: &Machine,
    join: &Join,
    source: &str,
    cluster: Option<&Cluster>,
    joining: &mut bool,
) -> Result<String, Failure> {
    let (node, joined) = job.phase("preflight", || {
        let facts = preflight(job, m, 1, 1000)?;
        let o = job.exec(
            m,
            "preflight",
            "cat",
            &["/etc/kubernetes/kubelet.conf"],
            Duration::from_secs(30),
            true,
        )?;
        let joined = o.exit_status == 0;
        if let (Some(c), false) = (cluster, joined) {
            if kubernetes::get(c, "v1", "Node", None, &facts.hostname)?.is_some() {
                return Err(ApiError::Conflict(format!(
                    "the cluster already has a node named `{}`: hostnames must be unique",
                    facts.hostname
                )));
            }
        }
        Ok((facts.hostname, joined))
    })?;
    job.phase("prerequisites", || prerequisites(job, m, source))?;
    if joined {
        job.skip("join", "the machine already joined a cluster")?;
    } else {
        *joining = true;
        job.phase("join", || {
            let args = join.args(&node);
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            job.check(m, "join", "kubeadm", &args, Duration::from_secs(600))
                .map(|_| ())
        })?;
    }
    match cluster {
        Some(c) => job.phase("wait-ready", || {
            super::wait_ready(c, &node, Duration::from_secs(180), "wait-ready")
        })?,
        None => job.skip(
            "wait-ready",
            "no cluster to watch: pass `kubeconfig` to wait for Ready",
        )?,
    }
    *joining = false;
    Ok(node)
}
