//! A machine joined to a cluster as a worker, as the operation
//! `new-worker`:
//!
//! 1. `preflight`: as for a control plane (1 CPU and 1000 MiB suffice), a
//!    node name not yet in the cluster (when the cluster can be read), and
//!    whether the machine already joined one;
//! 2. `prerequisites`: kernel settings, package source, packages, services;
//! 3. `join`: `kubeadm join` with the CA pinned
//!    (`--discovery-token-ca-cert-hash`), skipped when already joined;
//! 4. `wait-ready`: the node turns Ready, watched through the kubernetes
//!    capability (skipped when no cluster is known);
//! 5. `cleanup`: after a failed join, `kubeadm reset -f`.

use std::time::Duration;

use serde_json::json;

use super::join::Join;
use super::{preflight, prerequisites, reset, Failure, Job, Machine, Provisioned};
use crate::kubernetes::{self, Cluster};
use crate::ApiError;

const PHASES: &[&str] = &[
    "preflight",
    "prerequisites",
    "join",
    "wait-ready",
    "cleanup",
];

/// Join `m` with `join` as the operation `new-worker`; answers the node
/// name. `Err` only when the operation could not begin (the machine is
/// locked).
pub fn install(
    m: &Machine,
    join: &Join,
    source: &str,
    cluster: Option<&Cluster>,
) -> Result<Provisioned<String>, ApiError> {
    let mut job = Job::begin("new-worker", &m.lock_key(), PHASES)?;
    job.keep_secret(&join.token);
    let mut joining = false;
    match run(&job, m, join, source, cluster, &mut joining) {
        Ok(node) => {
            let _ = job.skip("cleanup", "nothing to undo");
            job.finish(Ok(json!({"node": node, "join_endpoint": join.endpoint})));
            Ok(Provisioned::Done {
                op: job.id.clone(),
                value: node,
            })
        }
        Err(f) => {
            if joining {
                if let Err(c) = reset(&job, m, "cleanup") {
                    crate::log::warn!("cleanup failed: {}", c.error);
                }
            } else {
                let _ = job.skip("cleanup", "nothing was joined");
            }
            Ok(job.failed(f))
        }
    }
}

fn run(
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
        None => job.skip("wait-ready", "no cluster to watch the node in")?,
    }
    *joining = false;
    Ok(node)
}
