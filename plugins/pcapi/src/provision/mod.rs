//! Provisioning Kubernetes on bare machines over SSH (`new_cluster`,
//! `new_worker`), as persisted operations with phases.
//!
//! What is shared: the machine a request names ([`Machine`], the documented
//! `host`/`port`/`user`/`psssword`), the operation wrapper ([`Job`]: one
//! phase at a time, its outcome and its commands' output recorded), the
//! checks every node needs ([`preflight`]: reachable, supported OS, CPU and
//! memory minimums, a valid hostname, clock skew, swap) and the packages
//! ([`prerequisites`]: kernel settings, the configurable package source,
//! containerd, kubeadm, kubelet, kubectl, with retries inside the deadline).
//!
//! Commands are a program and arguments (the host quotes and validates
//! them); recorded output passes through [`redact`] so no join token is
//! persisted.

pub mod join;
pub mod master;
pub mod worker;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use computehub_sdk::operations::{self, PhaseStatus};
use computehub_sdk::params::{ParamError, Params};
use computehub_sdk::ssh::{self, ExplicitTarget, Output, Target};
use computehub_sdk::ApiError;

/// Where packages come from unless the caller says otherwise.
pub const DEFAULT_SOURCE: &str = "https://pkgs.k8s.io/core:/stable:/v1.30/deb/";
/// Packages every node needs.
const PACKAGES: &[&str] = &["containerd", "kubelet", "kubeadm", "kubectl"];
/// Largest clock difference tolerated between the platform and a machine.
const MAX_SKEW_S: i64 = 30;

pub fn invalid(name: &str, reason: impl Into<String>) -> ApiError {
    ApiError::Param(ParamError::Json {
        name: name.into(),
        reason: reason.into(),
    })
}

/// A machine named by the documented parameters.
pub struct Machine {
    pub host: String,
    pub port: u16,
    pub target: Target,
}

impl Machine {
    pub fn from_params(p: &Params) -> Result<Machine, ApiError> {
        let host = p.required_str("host")?.trim();
        if host.parse::<std::net::IpAddr>().is_err() {
            return Err(invalid(
                "host",
                format!("must be an IP address, got `{}`", host.escape_debug()),
            ));
        }
        let port = p.required_u32("port")?;
        let port = u16::try_from(port)
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| invalid("port", format!("must be an SSH port (1-65535), got {port}")))?;
        let user = p.required_str("user")?;
        let user_ok = user.len() <= 32
            && user
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !user_ok {
            return Err(invalid(
                "user",
                "must be a login name (letters, digits, `_ - .`)",
            ));
        }
        let password = match p.optional_str("psssword")? {
            Some(pw) => pw,
            None => p.optional_str("password")?.ok_or_else(|| {
                ApiError::Param(ParamError::Missing {
                    name: "psssword".into(),
                })
            })?,
        };
        Ok(Machine {
            host: host.to_string(),
            port,
            target: Target::Explicit(ExplicitTarget {
                host: host.to_string(),
                port,
                user: user.to_string(),
                password: Some(password.to_string()),
                private_key: None,
            }),
        })
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

/// The `package_source` parameter: an http(s) URL without spaces.
pub fn package_source(p: &Params) -> Result<String, ApiError> {
    let Some(s) = p.optional_str("package_source")? else {
        return Ok(DEFAULT_SOURCE.to_string());
    };
    let ok = (s.starts_with("https://") || s.starts_with("http://"))
        && s.len() <= 256
        && s.chars().all(|c| {
            c.is_ascii_graphic()
                && !matches!(
                    c,
                    '"' | '\'' | '\\' | '`' | '$' | ';' | '&' | '|' | '<' | '>'
                )
        });
    if ok {
        Ok(s.to_string())
    } else {
        Err(invalid(
            "package_source",
            "must be an http(s) URL without spaces or shell characters",
        ))
    }
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
    pub id: String,
    /// Strings never to record (join tokens).
    secrets: Vec<String>,
}

/// Why a provisioning failed: the phase and the error.
pub struct Failure {
    pub phase: &'static str,
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

    pub fn skip(&self, name: &str, why: &str) -> Result<(), Failure> {
        operations::phase(name, PhaseStatus::Skipped, why).map_err(|e| Failure {
            phase: "operation",
            error: e.into(),
        })
    }

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
            computehub_sdk::log::error!("cannot finish operation {}: {e:?}", self.id);
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
    let valid = !hostname.is_empty()
        && hostname.len() <= 253
        && hostname.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        });
    if !valid {
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
    cluster: &computehub_sdk::kubernetes::Cluster,
    node: &str,
    limit: Duration,
    phase: &str,
) -> Result<(), ApiError> {
    let start = Instant::now();
    loop {
        let found = computehub_sdk::kubernetes::get(cluster, "v1", "Node", None, node)?;
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
