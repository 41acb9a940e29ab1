//! Provisioning Kubernetes on machines over SSH, as persisted operations
//! with phases: what pcapi's `new_cluster`/`new_worker` and kboss's cluster
//! and worker endpoints share.
//!
//! - [`Machine`]: an SSH target (a kboss device by id, or the documented
//!   `host`/`port`/`user`/`psssword` of pcapi) and its lock key;
//! - [`Job`]: the request's operation, one phase at a time, its commands'
//!   output recorded without secrets;
//! - [`preflight`] (OS, CPUs, memory, hostname, clock skew, swap) and
//!   [`prerequisites`] (kernel settings, the configurable package source,
//!   containerd/kubelet/kubeadm/kubectl with retries, services);
//! - [`master::install`] and [`worker::install`]: whole provisionings with
//!   cleanup (`kubeadm reset -f`) after a failure, so a retry starts clean;
//! - [`join::Join`]: join commands, the CA always pinned.
//!
//! Commands are a program and arguments (the host quotes and validates
//! them); the plugin needs the `ssh`, `operations` and `kubernetes` grants.

pub mod join;
pub mod master;
pub mod worker;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::operations::{self, PhaseStatus};
use crate::ssh::{self, ExplicitTarget, Output, Target};
use crate::ApiError;

/// Where packages come from unless the caller says otherwise.
pub const DEFAULT_SOURCE: &str = "https://pkgs.k8s.io/core:/stable:/v1.30/deb/";
/// Packages every node needs.
const PACKAGES: &[&str] = &["containerd", "kubelet", "kubeadm", "kubectl"];
/// Largest clock difference tolerated between the platform and a machine.
const MAX_SKEW_S: i64 = 30;

/// A machine to provision: how to reach it and the address it is locked by.
pub struct Machine {
    /// The address the platform reaches it at (an IP address).
    pub host: String,
    /// Its SSH port.
    pub port: u16,
    /// How the `ssh` capability reaches it.
    pub target: Target,
}

impl Machine {
    /// A machine whose credentials the caller sent.
    pub fn explicit(host: &str, port: u16, user: &str, password: &str) -> Machine {
        Machine {
            host: host.to_string(),
            port,
            target: Target::Explicit(ExplicitTarget {
                host: host.to_string(),
                port,
                user: user.to_string(),
                password: Some(password.to_string()),
                private_key: None,
            }),
        }
    }

    /// An inventory device (the host uses its sealed credentials).
    pub fn device(id: &str, ip: &str, port: u16) -> Machine {
        Machine {
            host: ip.to_string(),
            port,
            target: Target::Device(id.to_string()),
        }
    }

    /// The operation lock: one operation per machine.
    pub fn lock_key(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Whether `s` is an http(s) URL usable as an apt source (no spaces or
/// shell characters).
pub fn source_ok(s: &str) -> bool {
    (s.starts_with("https://") || s.starts_with("http://"))
        && s.len() <= 256
        && s.chars().all(|c| {
            c.is_ascii_graphic()
                && !matches!(
                    c,
                    '"' | '\'' | '\\' | '`' | '$' | ';' | '&' | '|' | '<' | '>'
                )
        })
}

/// How a provisioning ended, once its operation began.
pub enum Provisioned<T> {
    /// Every phase succeeded (or was skipped).
    Done {
        /// The operation id.
        op: String,
        /// What was provisioned.
        value: T,
    },
    /// A phase failed; the operation is failed and cleaned up.
    Failed {
        /// The operation id.
        op: String,
        /// The HTTP status the failure maps to.
        status: u16,
        /// What failed (the phase and why), without secrets.
        message: String,
    },
}

/// Remove the secret of bootstrap tokens (`abcdef.0123456789abcdef`) from
/// text to be recorded.
pub fn redact(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_string();
    for s in secrets.iter().filter(|s| !s.is_empty()) {
        out = out.replace(s, "******");
    }
    out
}

/// The operation of a request, one phase at a time.
pub struct Job {
    /// The operation id.
    pub id: String,
    /// Strings never to record (join tokens).
    secrets: Vec<String>,
}

/// Why a provisioning failed: the phase and the error.
pub struct Failure {
    /// The phase that failed.
    pub phase: &'static str,
    /// Why.
    pub error: ApiError,
}

impl Job {
    /// Begin the operation (taking the machine's lock).
    pub fn begin(kind: &str, target: &str, phases: &[&str]) -> Result<Job, ApiError> {
        let phases: Vec<String> = phases.iter().map(|s| s.to_string()).collect();
        let id = operations::begin(kind, target, &phases)?;
        Ok(Job {
            id,
            secrets: Vec::new(),
        })
    }

    /// Never record `s` (a join token) in output, messages or results.
    pub fn keep_secret(&mut self, s: &str) {
        self.secrets.push(s.to_string());
    }

    /// Run one phase: mark it running, then succeeded or failed.
    pub fn phase<T>(
        &self,
        name: &'static str,
        f: impl FnOnce() -> Result<T, ApiError>,
    ) -> Result<T, Failure> {
        let fail = |error| Failure { phase: name, error };
        operations::phase(name, PhaseStatus::Running, "").map_err(|e| fail(e.into()))?;
        match f() {
            Ok(v) => {
                operations::phase(name, PhaseStatus::Succeeded, "").map_err(|e| fail(e.into()))?;
                Ok(v)
            }
            Err(e) => {
                let msg = self.redact(&e.to_string());
                let _ = operations::phase(name, PhaseStatus::Failed, &msg);
                Err(fail(e))
            }
        }
    }

    /// Mark a phase skipped, saying why.
    pub fn skip(&self, name: &str, why: &str) -> Result<(), Failure> {
        operations::phase(name, PhaseStatus::Skipped, why).map_err(|e| Failure {
            phase: "operation",
            error: e.into(),
        })
    }

    /// `text` without the secrets this job keeps.
    pub fn redact(&self, text: &str) -> String {
        let secrets: Vec<&str> = self.secrets.iter().map(String::as_str).collect();
        redact(text, &secrets)
    }

    /// Record a command and (unless `quiet`) its output in `phase`.
    fn record(&self, phase: &str, program: &str, args: &[String], out: Option<&Output>, ms: u128) {
        let mut text = format!("$ {program} {}", args.join(" "));
        if let Some(o) = out {
            for stream in [&o.stdout, &o.stderr] {
                let s = String::from_utf8_lossy(stream);
                if !s.trim().is_empty() {
                    text.push('\n');
                    text.push_str(s.trim_end());
                }
            }
            text.push_str(&format!("\n[exit {}, {ms} ms]", o.exit_status));
        }
        let _ = operations::output(phase, &self.redact(&text));
    }

    /// Run a command on the machine, recording it in `phase`; `quiet` keeps
    /// its output out of the record (files with credentials).
    pub fn exec(
        &self,
        m: &Machine,
        phase: &str,
        program: &str,
        args: &[&str],
        timeout: Duration,
        quiet: bool,
    ) -> Result<Output, ApiError> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let start = Instant::now();
        let result = ssh::run(&m.target, program, &args, timeout.as_millis() as u32);
        let ms = start.elapsed().as_millis();
        match &result {
            Ok(o) => self.record(
                phase,
                program,
                &args,
                if quiet { None } else { Some(o) },
                ms,
            ),
            Err(e) => {
                let _ = operations::output(
                    phase,
                    &self.redact(&format!("$ {program} {}\n{e:?}", args.join(" "))),
                );
            }
        }
        Ok(result?)
    }

    /// [`Job::exec`], and a non-zero exit is an error carrying the output's tail.
    pub fn check(
        &self,
        m: &Machine,
        phase: &str,
        program: &str,
        args: &[&str],
        timeout: Duration,
    ) -> Result<String, ApiError> {
        let o = self.exec(m, phase, program, args, timeout, false)?;
        if o.exit_status != 0 {
            let err = String::from_utf8_lossy(&o.stderr);
            let out = String::from_utf8_lossy(&o.stdout);
            let detail = if err.trim().is_empty() { out } else { err };
            let tail: String = detail
                .trim()
                .chars()
                .rev()
                .take(400)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            return Err(ApiError::BadGateway(self.redact(&format!(
                "`{program}` exited with status {}: {tail}",
                o.exit_status
            ))));
        }
        Ok(String::from_utf8_lossy(&o.stdout).into_owned())
    }

    /// [`Job::check`] up to `attempts` times while the machine answers with
    /// a failure, waiting 1 s, 2 s, ... between attempts.
    pub fn check_retried(
        &self,
        m: &Machine,
        phase: &str,
        program: &str,
        args: &[&str],
        timeout: Duration,
        attempts: u32,
    ) -> Result<String, ApiError> {
        let mut attempt = 1;
        loop {
            match self.check(m, phase, program, args, timeout) {
                Err(ApiError::BadGateway(e)) if attempt < attempts => {
                    let _ = operations::output(
                        phase,
                        &format!("attempt {attempt}/{attempts} failed ({e}); retrying"),
                    );
                    std::thread::sleep(Duration::from_secs(attempt.into()));
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// End the operation as failed by `f`.
    pub fn failed<T>(&self, f: Failure) -> Provisioned<T> {
        let message = self.redact(&format!("phase `{}` failed: {}", f.phase, f.error));
        self.finish(Err(message.clone()));
        Provisioned::Failed {
            op: self.id.clone(),
            status: f.error.status(),
            message,
        }
    }

    /// End the operation with its result or error.
    pub fn finish(&self, outcome: Result<serde_json::Value, String>) {
        let outcome = match outcome {
            Ok(v) => Ok(self.redact(&v.to_string())),
            Err(e) => Err(self.redact(&e)),
        };
        let outcome = match &outcome {
            Ok(r) => Ok(r.as_str()),
            Err(e) => Err(e.as_str()),
        };
        if let Err(e) = operations::finish(outcome) {
            crate::log::error!("cannot finish operation {}: {e:?}", self.id);
        }
    }
}

/// A machine that cannot host a node (422: the request was understood, the
/// machine does not qualify).
fn unsuitable(msg: String) -> ApiError {
    ApiError::status_message(422, msg)
}

/// What preflight learnt about a machine.
pub struct Facts {
    /// The node name: the hostname, lower-cased.
    pub hostname: String,
    /// The OS's pretty name.
    pub os: String,
}

fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .map(|v| v.trim().trim_matches('"'))
}

/// Checks before anything changes on the machine. `min_cpus`/`min_mem_mib`:
/// kubeadm's own minimums (2 CPUs and 1700 MiB for a control plane).
pub fn preflight(
    job: &Job,
    m: &Machine,
    min_cpus: u32,
    min_mem_mib: u64,
) -> Result<Facts, ApiError> {
    const P: &str = "preflight";
    let t = Duration::from_secs(30);
    let os = job.check(m, P, "cat", &["/etc/os-release"], t)?;
    let id = field(&os, "ID").unwrap_or("unknown");
    let like = field(&os, "ID_LIKE").unwrap_or("");
    if !(matches!(id, "debian" | "ubuntu") || like.split_whitespace().any(|l| l == "debian")) {
        return Err(unsuitable(format!(
            "unsupported operating system `{id}`: only apt-based systems (Debian, Ubuntu) are supported"
        )));
    }
    let pretty = field(&os, "PRETTY_NAME").unwrap_or(id).to_string();
    let cpus: u32 = job
        .check(m, P, "nproc", &[], t)?
        .trim()
        .parse()
        .unwrap_or(0);
    if cpus < min_cpus {
        return Err(unsuitable(format!(
            "the machine has {cpus} CPU(s); at least {min_cpus} are required"
        )));
    }
    let meminfo = job.check(m, P, "cat", &["/proc/meminfo"], t)?;
    let mem_kib: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if mem_kib / 1024 < min_mem_mib {
        return Err(unsuitable(format!(
            "the machine has {} MiB of memory; at least {min_mem_mib} MiB are required",
            mem_kib / 1024
        )));
    }
    let hostname = job
        .check(m, P, "hostname", &[], t)?
        .trim()
        .to_ascii_lowercase();
    if !crate::names::dns_subdomain_ok(&hostname) {
        return Err(unsuitable(format!(
            "hostname `{}` is not a valid node name (a DNS subdomain)",
            hostname.escape_debug()
        )));
    }
    let remote: i64 = job
        .check(m, P, "date", &["+%s"], t)?
        .trim()
        .parse()
        .unwrap_or(0);
    let local = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    if (remote - local).abs() > MAX_SKEW_S {
        return Err(unsuitable(format!(
            "the machine's clock is {}s off the platform's (at most {MAX_SKEW_S}s): certificates would not verify",
            remote - local
        )));
    }
    let swaps = job.check(m, P, "cat", &["/proc/swaps"], t)?;
    if swaps.lines().count() > 1 {
        let _ = operations::output(P, "swap is on; the prerequisites phase turns it off");
    }
    Ok(Facts {
        hostname,
        os: pretty,
    })
}

/// Kernel settings, the package source, the packages and their services.
pub fn prerequisites(job: &Job, m: &Machine, source: &str) -> Result<(), ApiError> {
    const P: &str = "prerequisites";
    let t = Duration::from_secs(60);
    job.check(m, P, "swapoff", &["-a"], t)?;
    job.check(m, P, "modprobe", &["overlay"], t)?;
    job.check(m, P, "modprobe", &["br_netfilter"], t)?;
    job.check(
        m,
        P,
        "sysctl",
        &[
            "-w",
            "net.ipv4.ip_forward=1",
            "net.bridge.bridge-nf-call-iptables=1",
        ],
        t,
    )?;
    let list = format!("deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] {source} /\n");
    let path = "/etc/apt/sources.list.d/kubernetes.list";
    ssh::upload(&m.target, path, list.as_bytes(), 0o644)?;
    let _ = operations::output(P, &format!("wrote {path}: {}", list.trim_end()));
    let install = Duration::from_secs(600);
    job.check_retried(
        m,
        P,
        "env",
        &["DEBIAN_FRONTEND=noninteractive", "apt-get", "update", "-q"],
        install,
        3,
    )?;
    let mut args = vec![
        "DEBIAN_FRONTEND=noninteractive",
        "apt-get",
        "install",
        "-y",
        "-q",
    ];
    args.extend_from_slice(PACKAGES);
    job.check_retried(m, P, "env", &args, install, 3)?;
    job.check(
        m,
        P,
        "systemctl",
        &["enable", "--now", "containerd", "kubelet"],
        t,
    )?;
    Ok(())
}

/// `kubeadm reset -f`, recorded in `phase` (the cleanup after a failure, so
/// a retry starts clean).
pub fn reset(job: &Job, m: &Machine, phase: &'static str) -> Result<(), Failure> {
    job.phase(phase, || {
        job.check(
            m,
            phase,
            "kubeadm",
            &["reset", "-f"],
            Duration::from_secs(300),
        )
        .map(|_| ())
    })
}

/// Poll until the node reports Ready (or `limit` passes).
pub fn wait_ready(
    cluster: &crate::kubernetes::Cluster,
    node: &str,
    limit: Duration,
    phase: &str,
) -> Result<(), ApiError> {
    let start = Instant::now();
    loop {
        let found = crate::kubernetes::get(cluster, "v1", "Node", None, node)?;
        let ready = found
            .as_deref()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok())
            .and_then(|n| n.pointer("/status/conditions").cloned())
            .and_then(|c| c.as_array().cloned())
            .is_some_and(|cs| {
                cs.iter()
                    .any(|c| c["type"] == "Ready" && c["status"] == "True")
            });
        if ready {
            let _ = operations::output(
                phase,
                &format!(
                    "node {node} is Ready after {} ms",
                    start.elapsed().as_millis()
                ),
            );
            return Ok(());
        }
        if start.elapsed() > limit {
            return Err(ApiError::Timeout(format!(
                "node {node} {} within {}s",
                if found.is_some() {
                    "did not become Ready"
                } else {
                    "did not register"
                },
                limit.as_secs()
            )));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}
