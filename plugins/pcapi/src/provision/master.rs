//! `new_cluster`: install a Kubernetes control plane on the machine named by
//! `host`/`port`/`user`/`psssword`, as the operation `new-cluster`:
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
//! The documented answer's `data` is the join command and the kubeconfig
//! (the caller proved it owns the machine with its SSH password). The
//! persisted operation never holds either: its result names the node and the
//! API server only.

use std::time::Duration;

use computehub_sdk::envelope::pcapi;
use computehub_sdk::kubernetes::Cluster;
use computehub_sdk::params::Params;
use computehub_sdk::{ApiError, Response};
use serde_json::json;

use super::join::Join;
use super::{invalid, preflight, prerequisites, reset, Failure, Job, Machine};

const PHASES: &[&str] = &[
    "preflight",
    "prerequisites",
    "init",
    "kubeconfig",
    "join-token",
    "verify",
    "cleanup",
];

struct Settings {
    source: String,
    pod_cidr: String,
    token_ttl: String,
}

fn settings(p: &Params) -> Result<Settings, ApiError> {
    if let Some(t) = p.optional_str("cluster_type")? {
        if !t.eq_ignore_ascii_case("kubernetes") {
            return Err(invalid(
                "cluster_type",
                format!("only `kubernetes` is supported, got `{}`", t.escape_debug()),
            ));
        }
    }
    let role = p.required_str("role")?;
    if !matches!(role, "master" | "control-plane" | "controller") {
        return Err(invalid(
            "role",
            format!(
                "must be master (or control-plane), got `{}`",
                role.escape_debug()
            ),
        ));
    }
    let pod_cidr = p
        .optional_str("pod_network_cidr")?
        .unwrap_or("10.244.0.0/16");
    let cidr_ok = pod_cidr.split_once('/').is_some_and(|(ip, len)| {
        ip.parse::<std::net::Ipv4Addr>().is_ok()
            && len.parse::<u8>().is_ok_and(|l| (8..=28).contains(&l))
    });
    if !cidr_ok {
        return Err(invalid(
            "pod_network_cidr",
            "must be an IPv4 CIDR block such as 10.244.0.0/16",
        ));
    }
    let token_ttl = p.optional_str("token_ttl")?.unwrap_or("2h0m0s");
    let ttl_ok = !token_ttl.is_empty()
        && token_ttl.len() <= 12
        && token_ttl
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, 'h' | 'm' | 's'))
        && token_ttl.ends_with(['h', 'm', 's'])
        && token_ttl.starts_with(|c: char| c.is_ascii_digit());
    if !ttl_ok {
        return Err(invalid(
            "token_ttl",
            "must be a duration such as 2h0m0s or 30m",
        ));
    }
    Ok(Settings {
        source: super::package_source(p)?,
        pod_cidr: pod_cidr.to_string(),
        token_ttl: token_ttl.to_string(),
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

struct Installed {
    node: String,
    join: Join,
    kubeconfig: String,
    server: String,
    initialised: bool,
}

pub fn new_cluster(p: &Params) -> Result<Response, ApiError> {
    let s = settings(p)?;
    let m = Machine::from_params(p)?;
    let mut job = Job::begin("new-cluster", &m.lock_key(), PHASES)?;
    let mut initialised = false;
    match install(&mut job, &m, &s, &mut initialised) {
        Ok(done) => {
            let _ = job.skip("cleanup", "nothing to undo");
            job.finish(Ok(json!({
                "node": done.node,
                "server": done.server,
                "join_endpoint": done.join.endpoint,
                "control_plane": if done.initialised { "initialised" } else { "already present" },
                "token_ttl": s.token_ttl,
            })));
            let data = format!("{} \n {}", done.join, done.kubeconfig);
            Ok(pcapi::ok("operate success", &data).with_header("x-operation-id", &job.id))
        }
        Err(f) => {
            if initialised {
                if let Err(c) = reset(&job, &m, "cleanup") {
                    computehub_sdk::log::warn!("cleanup failed: {}", c.error);
                }
            } else {
                let _ = job.skip("cleanup", "nothing was initialised");
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
    job: &mut Job,
    m: &Machine,
    s: &Settings,
    initialised: &mut bool,
) -> Result<Installed, Failure> {
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
    computehub_sdk::log::info!("new_cluster: {} runs {}", facts.hostname, facts.os);
    job.phase("prerequisites", || prerequisites(job, m, &s.source))?;
    if present {
        job.skip("init", "the machine already runs a control plane")?;
    } else {
        *initialised = true;
        job.phase("init", || {
            let path = format!("/tmp/computehub/kubeadm-init-{}.yaml", job.id);
            computehub_sdk::ssh::upload(
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
        let bytes = computehub_sdk::ssh::download(&m.target, "/etc/kubernetes/admin.conf")?;
        let text = String::from_utf8(bytes)
            .map_err(|_| ApiError::BadGateway("admin.conf is not UTF-8".into()))?;
        let (kc, server) = rewrite_server(&text, &m.host)?;
        let _ = computehub_sdk::operations::output(
            "kubeconfig",
            &format!("fetched /etc/kubernetes/admin.conf; API server {server}"),
        );
        Ok((kc, server))
    })?;
    let join = job.phase("join-token", || {
        let o = job.exec(
            m,
            "join-token",
            "kubeadm",
            &[
                "token",
                "create",
                "--ttl",
                &s.token_ttl,
                "--print-join-command",
            ],
            Duration::from_secs(60),
            true,
        )?;
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        if o.exit_status != 0 {
            return Err(ApiError::BadGateway(format!(
                "`kubeadm token create` exited with status {}: {}",
                o.exit_status,
                String::from_utf8_lossy(&o.stderr).trim()
            )));
        }
        let join = Join::parse(text.trim()).map_err(|e| {
            ApiError::BadGateway(format!("kubeadm printed a join command that {e}"))
        })?;
        let _ = computehub_sdk::operations::output(
            "join-token",
            &format!(
                "join token created for {} (valid {})",
                join.endpoint, s.token_ttl
            ),
        );
        Ok(join)
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
    Ok(Installed {
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
