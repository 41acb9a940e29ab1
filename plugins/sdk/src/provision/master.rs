//! A Kubernetes control plane installed on a machine, as the operation
//! `new-cluster`:
//!
//! 1. `preflight`: OS, CPUs, memory, hostname, clock skew, swap, and whether
//!    the machine already runs a control plane;
//! 2. `prerequisites`: kernel settings, package source, packages, services;
//! 3. `init`: `kubeadm init` from an uploaded InitConfiguration (skipped when
//!    a control plane is already there);
//! 4. `kubeconfig`: fetch `admin.conf`, its server rewritten to the address
//!    the platform reached the machine at;
//! 5. `join-token`: a join command with a short-lived token;
//! 6. `verify`: the control-plane node is Ready, seen through the kubernetes
//!    capability with the fetched kubeconfig;
//! 7. `cleanup`: after a failure past preflight, `kubeadm reset -f` (only of
//!    a control plane this operation initialised), so a retry starts clean.
//!
//! The persisted operation never holds the kubeconfig or the join token: its
//! result names the node and the API server only. What the caller does with
//! them (answer them, seal them in the inventory) is the plugin's business.

use std::time::Duration;

use serde_json::json;

use super::join::Join;
use super::{preflight, prerequisites, reset, Failure, Job, Machine, Provisioned};
use crate::kubernetes::Cluster;
use crate::ApiError;

const PHASES: &[&str] = &[
    "preflight",
    "prerequisites",
    "init",
    "kubeconfig",
    "join-token",
    "verify",
    "cleanup",
];

/// What a control plane is installed with.
pub struct Settings {
    /// The apt source of the Kubernetes packages.
    pub source: String,
    /// The pod network (`10.244.0.0/16`).
    pub pod_cidr: String,
    /// Lifetime of the join token (`2h0m0s`).
    pub token_ttl: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            source: super::DEFAULT_SOURCE.to_string(),
            pod_cidr: "10.244.0.0/16".into(),
            token_ttl: "2h0m0s".into(),
        }
    }
}

/// Whether `ttl` is a duration kubeadm accepts (`2h0m0s`, `30m`).
pub fn ttl_ok(ttl: &str) -> bool {
    !ttl.is_empty()
        && ttl.len() <= 12
        && ttl
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, 'h' | 'm' | 's'))
        && ttl.ends_with(['h', 'm', 's'])
        && ttl.starts_with(|c: char| c.is_ascii_digit())
}

/// Whether `cidr` is an IPv4 CIDR block fit for pods.
pub fn cidr_ok(cidr: &str) -> bool {
    cidr.split_once('/').is_some_and(|(ip, len)| {
        ip.parse::<std::net::Ipv4Addr>().is_ok()
            && len.parse::<u8>().is_ok_and(|l| (8..=28).contains(&l))
    })
}

/// The InitConfiguration uploaded for `kubeadm init --config`.
fn init_config(node: &str, s: &Settings) -> String {
    format!(
        "apiVersion: kubeadm.k8s.io/v1beta3\nkind: InitConfiguration\nbootstrapTokens:\n- ttl: {ttl}\n  usages: [signing, authentication]\n  groups: [system:bootstrappers:kubeadm:default-node-token]\nnodeRegistration:\n  name: {node}\n  criSocket: unix:///var/run/containerd/containerd.sock\n---\napiVersion: kubeadm.k8s.io/v1beta3\nkind: ClusterConfiguration\nnetworking:\n  podSubnet: {cidr}\n",
        ttl = s.token_ttl,
        cidr = s.pod_cidr,
    )
}

/// `server: https://<anything>:<port>` lines point at `host` instead.
pub fn rewrite_server(kubeconfig: &str, host: &str) -> Result<(String, String), ApiError> {
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    };
    let mut server = None;
    let lines: Vec<String> = kubeconfig
        .lines()
        .map(|l| {
            let trimmed = l.trim_start();
            let Some(url) = trimmed.strip_prefix("server:").map(str::trim) else {
                return l.to_string();
            };
            let Some(rest) = url.strip_prefix("https://") else {
                return l.to_string();
            };
            let port = rest
                .split('/')
                .next()
                .and_then(|hp| hp.rsplit_once(':'))
                .map(|(_, p)| p)
                .unwrap_or("6443");
            let new = format!("https://{host}:{port}");
            server.get_or_insert_with(|| new.clone());
            format!("{}server: {new}", &l[..l.len() - trimmed.len()])
        })
        .collect();
    let server = server
        .ok_or_else(|| ApiError::BadGateway("admin.conf names no https API server".into()))?;
    Ok((lines.join("\n") + "\n", server))
}

/// An installed control plane.
pub struct Master {
    /// The node name (the machine's hostname).
    pub node: String,
    /// How workers join it (the token is a secret).
    pub join: Join,
    /// admin.conf, its server pointing at the address the platform used.
    pub kubeconfig: String,
    /// The API server URL in `kubeconfig`.
    pub server: String,
    /// False when the machine already ran a control plane.
    pub initialised: bool,
}

/// Install a control plane on `m` as the operation `new-cluster`. `Err` only
/// when the operation could not begin (the machine is locked).
pub fn install(m: &Machine, s: &Settings) -> Result<Provisioned<Master>, ApiError> {
    let mut job = Job::begin("new-cluster", &m.lock_key(), PHASES)?;
    let mut initialised = false;
    match run(&mut job, m, s, &mut initialised) {
        Ok(done) => {
            let _ = job.skip("cleanup", "nothing to undo");
            job.finish(Ok(json!({
                "node": done.node,
                "server": done.server,
                "join_endpoint": done.join.endpoint,
                "control_plane": if done.initialised { "initialised" } else { "already present" },
                "token_ttl": s.token_ttl,
            })));
            Ok(Provisioned::Done {
                op: job.id.clone(),
                value: done,
            })
        }
        Err(f) => {
            if initialised {
                if let Err(c) = reset(&job, m, "cleanup") {
                    crate::log::warn!("cleanup failed: {}", c.error);
                }
            } else {
                let _ = job.skip("cleanup", "nothing was initialised");
            }
            Ok(job.failed(f))
        }
    }
}

/// A join command with a fresh token valid for `ttl`, created on the control
/// plane `m` (`kubeadm token create --print-join-command`); its output is
/// not recorded.
pub fn create_join(job: &Job, m: &Machine, phase: &str, ttl: &str) -> Result<Join, ApiError> {
    let o = job.exec(
        m,
        phase,
        "kubeadm",
        &["token", "create", "--ttl", ttl, "--print-join-command"],
        Duration::from_secs(60),
        true,
    )?;
    if o.exit_status != 0 {
        return Err(ApiError::BadGateway(format!(
            "`kubeadm token create` exited with status {}: {}",
            o.exit_status,
            String::from_utf8_lossy(&o.stderr).trim()
        )));
    }
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let join = Join::parse(text.trim())
        .map_err(|e| ApiError::BadGateway(format!("kubeadm printed a join command that {e}")))?;
    let _ = crate::operations::output(
        phase,
        &format!("join token created for {} (valid {ttl})", join.endpoint),
    );
    Ok(join)
}

fn run(
    job: &mut Job,
    m: &Machine,
    s: &Settings,
    initialised: &mut bool,
) -> Result<Master, Failure> {
    let (facts, present) = job.phase("preflight", || {
        let facts = preflight(job, m, 2, 1700)?;
        let o = job.exec(
            m,
            "preflight",
            "cat",
            &["/etc/kubernetes/admin.conf"],
            Duration::from_secs(30),
            true,
        )?;
        Ok((facts, o.exit_status == 0))
    })?;
    crate::log::info!("new_cluster: {} runs {}", facts.hostname, facts.os);
    job.phase("prerequisites", || prerequisites(job, m, &s.source))?;
    if present {
        job.skip("init", "the machine already runs a control plane")?;
    } else {
        *initialised = true;
        job.phase("init", || {
            let path = format!("/tmp/computehub/kubeadm-init-{}.yaml", job.id);
            crate::ssh::upload(
                &m.target,
                &path,
                init_config(&facts.hostname, s).as_bytes(),
                0o600,
            )?;
            job.check(
                m,
                "init",
                "kubeadm",
                &["init", "--config", &path, "--upload-certs"],
                Duration::from_secs(900),
            )
            .map(|_| ())
        })?;
    }
    let (kubeconfig, server) = job.phase("kubeconfig", || {
        let bytes = crate::ssh::download(&m.target, "/etc/kubernetes/admin.conf")?;
        let text = String::from_utf8(bytes)
            .map_err(|_| ApiError::BadGateway("admin.conf is not UTF-8".into()))?;
        let (kc, server) = rewrite_server(&text, &m.host)?;
        let _ = crate::operations::output(
            "kubeconfig",
            &format!("fetched /etc/kubernetes/admin.conf; API server {server}"),
        );
        Ok((kc, server))
    })?;
    let join = job.phase("join-token", || {
        create_join(job, m, "join-token", &s.token_ttl)
    })?;
    job.keep_secret(&join.token);
    job.phase("verify", || {
        super::wait_ready(
            &Cluster::Kubeconfig(kubeconfig.clone()),
            &facts.hostname,
            Duration::from_secs(120),
            "verify",
        )
    })?;
    Ok(Master {
        node: facts.hostname,
        join,
        kubeconfig,
        server,
        initialised: *initialised,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_is_rewritten_and_the_port_kept() {
        let kc = "clusters:\n- cluster:\n    certificate-authority-data: AAA\n    server: https://10.0.0.5:6443\n  name: kubernetes\n";
        let (out, server) = rewrite_server(kc, "127.0.0.1").unwrap();
        assert_eq!(server, "https://127.0.0.1:6443");
        assert!(out.contains("    server: https://127.0.0.1:6443\n"));
        assert!(out.contains("certificate-authority-data: AAA"));
        assert!(rewrite_server("kind: Config\n", "1.2.3.4").is_err());
    }
}
