//! `ssh`: commands and file transfers on machines, over russh.
//!
//! - **Targets.** An inventory device by id (the host reads `ip`, `sshport`,
//!   `adminuser` and opens the sealed `adminpwd`, which holds a password or
//!   an unencrypted private key; the plugin never sees it), or an explicit
//!   target whose credentials the plugin's own caller sent, allowed only
//!   inside the plugin's `ssh-targets` ([`policy`]).
//! - **Host keys** are pinned on first use per organisation and target
//!   ([`pins`]); a server presenting another key later is refused with
//!   `host-key-changed`.
//! - **Commands** are a program and arguments, validated and quoted by
//!   [`command`]; injection characters are refused before anything connects.
//! - **Limits.** Login within [`client::CONNECT_TIMEOUT`]; each command
//!   within the caller's timeout (default 60 s, at most one hour); stdout and
//!   stderr kept up to [`OUTPUT_CAP`] each; transfers up to [`TRANSFER_CAP`].
//! - **Connections are reused** per target and credential, and dropped
//!   after [`IDLE`] unused or when the server closed them.
//!
//! Log lines name the target, the program and the exit status, never
//! arguments (a join token is an argument) or output.
//!
//! The capability's state is [`Ssh`] (its [`Backend`], the pool, the store
//! holding devices and pins, and the grants); a call is served by an
//! [`SshView`] of it and the call's context.
//!
//! The capability reaches machines only through the small traits of
//! [`backend`] ([`Backend::connect`], [`Connection::exec`], which carries
//! transfers too), so target resolution, grants, pinning on first use, the
//! pool and the WIT conversions are written against them; [`Russh`] is the
//! real implementation (`client`).

pub mod backend;
mod client;
pub mod command;
pub mod pins;
pub mod policy;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wasmtime::component::{HasData, Linker};

use super::CallContext;
use crate::bindings::endpoint::computehub::platform::ssh::{
    self as wit, ExplicitTarget, Host, Target,
};
use crate::policy::Policy;
use crate::store::{Store, StoreError, Value};
pub use backend::{Backend, Connection};
use backend::{Credential, Endpoint, Output};
pub use client::Russh;

/// Bytes of stdout and of stderr kept per command.
pub const OUTPUT_CAP: usize = 1 << 20;
/// Largest file uploaded or downloaded.
pub const TRANSFER_CAP: usize = 16 << 20;
/// Command timeout when the plugin passes 0.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// Longest command timeout a plugin may ask for.
const MAX_TIMEOUT: Duration = Duration::from_secs(3600);
/// A pooled connection unused this long is closed.
const IDLE: Duration = Duration::from_secs(300);
/// Most pooled connections.
const MAX_POOLED: usize = 128;

/// Errors at the capability's boundary; each message is safe to show the
/// plugin (no credential, no output beyond a short tail).
#[derive(Debug, thiserror::Error)]
pub enum SshError {
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Unreachable(String),
    #[error("{0}")]
    AuthFailed(String),
    #[error("{0}")]
    HostKeyChanged(String),
    #[error("{0}")]
    Timeout(String),
    #[error("{0}")]
    Denied(String),
    #[error("{0}")]
    Remote(String),
}

impl From<SshError> for wit::Error {
    fn from(e: SshError) -> Self {
        match e {
            SshError::Invalid(m) => wit::Error::Invalid(m),
            SshError::Unreachable(m) => wit::Error::Unreachable(m),
            SshError::AuthFailed(m) => wit::Error::AuthFailed(m),
            SshError::HostKeyChanged(m) => wit::Error::HostKeyChanged(m),
            SshError::Timeout(m) => wit::Error::Timeout(m),
            SshError::Denied(m) => wit::Error::Denied(m),
            SshError::Remote(m) => wit::Error::Remote(m),
        }
    }
}

impl From<StoreError> for SshError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(m) | StoreError::Invalid(m) => SshError::Invalid(m),
            StoreError::Conflict(m) => SshError::Invalid(m),
            StoreError::Internal(m) => {
                tracing::error!(error = %m, "ssh: store failure");
                SshError::Unreachable("the store failed; see the server log".into())
            }
        }
    }
}

type Slot = Arc<tokio::sync::Mutex<Option<Arc<dyn Connection>>>>;

/// The capability's state: the backend, pooled connections, the store
/// holding devices and pinned host keys, and the grants (`ssh-targets`,
/// checked by [`policy`]).
pub struct Ssh {
    backend: Arc<dyn Backend>,
    pool: Mutex<HashMap<String, (Slot, Instant)>>,
    store: Arc<Store>,
    policy: Arc<Policy>,
}

/// A resolved target: where, as whom, and the name its host key is pinned under.
struct Resolved {
    endpoint: Endpoint,
    pin_target: String,
}

impl Ssh {
    /// The capability on real machines ([`Russh`]).
    pub fn new(store: Arc<Store>, policy: Arc<Policy>) -> Self {
        Self::with_backend(Arc::new(Russh), store, policy)
    }

    /// The capability on machines reached through `backend`.
    pub fn with_backend(backend: Arc<dyn Backend>, store: Arc<Store>, policy: Arc<Policy>) -> Self {
        Ssh {
            backend,
            pool: Mutex::default(),
            store,
            policy,
        }
    }

    async fn resolve(
        &self,
        org: &str,
        plugin: &str,
        target: &Target,
    ) -> Result<Resolved, SshError> {
        match target {
            Target::Device(id) => {
                // A device's address is its organisation's text, as an
                // explicit target's is its caller's: the same grant holds.
                let mut r = device(&self.store, org, id).await?;
                let ip = policy::check(&self.policy, plugin, &r.endpoint.host, r.endpoint.port)?;
                r.endpoint.host = ip.to_string();
                Ok(r)
            }
            Target::Explicit(t) => self.explicit(plugin, t),
        }
    }

    /// An explicit target, allowed only inside the plugin's grant.
    fn explicit(&self, plugin: &str, t: &ExplicitTarget) -> Result<Resolved, SshError> {
        let ip = policy::check(&self.policy, plugin, t.host.trim(), t.port)?;
        let credential = match (&t.password, &t.private_key) {
            (_, Some(k)) if !k.is_empty() => Credential::PrivateKey(k.clone()),
            (Some(p), _) => Credential::Password(p.clone()),
            _ => {
                return Err(SshError::Invalid(
                    "an explicit target needs a password or a private key".into(),
                ))
            }
        };
        check_user(&t.user)?;
        if t.port == 0 {
            return Err(SshError::Invalid("port must be between 1 and 65535".into()));
        }
        Ok(Resolved {
            pin_target: format!("{}", std::net::SocketAddr::new(ip, t.port)),
            endpoint: Endpoint {
                host: ip.to_string(),
                port: t.port,
                user: t.user.clone(),
                credential,
            },
        })
    }

    /// A live connection for the target, from the pool or newly opened (and
    /// its host key pinned if none was).
    async fn connection(&self, org: &str, r: &Resolved) -> Result<Arc<dyn Connection>, SshError> {
        let store = &self.store;
        let key = pool_key(org, r);
        let slot = self.slot(&key).await;
        let mut guard = slot.lock().await;
        if let Some(c) = guard.as_ref() {
            if !c.is_closed() {
                return Ok(Arc::clone(c));
            }
        }
        let pinned = pins::get(store, org, &r.pin_target).await?;
        let conn = self
            .backend
            .connect(&r.endpoint, pinned.clone(), &r.pin_target)
            .await?;
        if pinned.is_none() {
            let presented = conn.host_key();
            let kept = pins::pin(store, org, &r.pin_target, presented).await?;
            if kept.public_key != presented.public_key {
                let refusal = SshError::HostKeyChanged(format!(
                    "{} presented host key {}, but {} was pinned for it meanwhile",
                    r.pin_target, presented.fingerprint, kept.fingerprint
                ));
                conn.close().await;
                return Err(refusal);
            }
            tracing::info!(target = %r.pin_target, fingerprint = %presented.fingerprint, "ssh: host key pinned on first use");
        }
        *guard = Some(Arc::clone(&conn));
        Ok(conn)
    }

    async fn slot(&self, key: &str) -> Slot {
        let mut stale = Vec::new();
        let slot = {
            let mut pool = self.pool.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            pool.retain(|_, (slot, used)| {
                let keep = now.duration_since(*used) < IDLE;
                if !keep {
                    stale.push(Arc::clone(slot));
                }
                keep
            });
            if pool.len() >= MAX_POOLED && !pool.contains_key(key) {
                if let Some(oldest) = pool
                    .iter()
                    .min_by_key(|(_, (_, used))| *used)
                    .map(|(k, _)| k.clone())
                {
                    if let Some((s, _)) = pool.remove(&oldest) {
                        stale.push(s);
                    }
                }
            }
            let entry = pool
                .entry(key.to_string())
                .or_insert_with(|| (Slot::default(), now));
            entry.1 = now;
            Arc::clone(&entry.0)
        };
        for s in stale {
            if let Ok(mut g) = s.try_lock() {
                if let Some(c) = g.take() {
                    c.close().await;
                }
            }
        }
        slot
    }
}

fn pool_key(org: &str, r: &Resolved) -> String {
    let mut h = Sha256::new();
    let e = &r.endpoint;
    for part in [org, &r.pin_target, &e.host, &e.port.to_string(), &e.user] {
        h.update(part.as_bytes());
        h.update([0]);
    }
    match &e.credential {
        Credential::Password(p) => h.update([b"p", p.as_bytes()].concat()),
        Credential::PrivateKey(k) => h.update([b"k", k.as_bytes()].concat()),
    }
    hex::encode(h.finalize())
}

fn check_user(user: &str) -> Result<(), SshError> {
    let ok = !user.is_empty()
        && user.len() <= 64
        && user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if ok {
        Ok(())
    } else {
        Err(SshError::Invalid(format!(
            "user `{}` is not a valid login name",
            user.escape_debug()
        )))
    }
}

/// An inventory device of the organisation: address, login and sealed secret.
async fn device(store: &Store, org: &str, id: &str) -> Result<Resolved, SshError> {
    let row = store
        .get(org, "devices", id)
        .await?
        .ok_or_else(|| SshError::Invalid(format!("no device `{id}`")))?;
    let field = |name: &str| row.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v);
    let host = match field("ip") {
        Some(Value::Text(ip)) if !ip.trim().is_empty() => ip.trim().to_string(),
        _ => return Err(SshError::Invalid(format!("device `{id}` has no `ip`"))),
    };
    let port = match field("sshport") {
        Some(Value::Integer(p)) => u16::try_from(*p)
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| SshError::Invalid(format!("device `{id}` has an invalid `sshport`")))?,
        _ => 22,
    };
    let user = match field("adminuser") {
        Some(Value::Text(u)) => u.clone(),
        _ => {
            return Err(SshError::Invalid(format!(
                "device `{id}` has no `adminuser`"
            )))
        }
    };
    check_user(&user)?;
    let secret = store
        .reveal(org, "devices", id, "adminpwd")
        .await?
        .ok_or_else(|| SshError::Invalid(format!("device `{id}` has no `adminpwd`")))?;
    let credential = if secret.trim_start().starts_with("-----BEGIN") {
        Credential::PrivateKey(secret)
    } else {
        Credential::Password(secret)
    };
    Ok(Resolved {
        pin_target: format!("device:{id}"),
        endpoint: Endpoint {
            host,
            port,
            user,
            credential,
        },
    })
}

/// One call's view of `ssh`: the state and who is calling. It holds only
/// shared references to `Sync` values, so a call's future may keep it across
/// awaits.
pub struct SshView<'a> {
    state: &'a Ssh,
    ctx: &'a CallContext,
}

impl<'a> SshView<'a> {
    pub fn new(state: &'a Ssh, ctx: &'a CallContext) -> Self {
        SshView { state, ctx }
    }

    /// The organisation the call acts for: devices, pins and pooled
    /// connections are its own.
    fn org(&self) -> Result<&'a str, SshError> {
        self.ctx.organisation.as_deref().ok_or_else(|| {
            SshError::Denied("ssh needs an authenticated route (this one has auth `none`)".into())
        })
    }

    async fn exec(
        &self,
        target: &Target,
        line: &str,
        stdin: Option<&[u8]>,
        cap: usize,
        timeout: Duration,
        what: &str,
    ) -> Result<Output, SshError> {
        let org = self.org()?;
        let (ssh, plugin) = (self.state, &*self.ctx.plugin);
        let r = ssh.resolve(org, plugin, target).await?;
        let start = Instant::now();
        let out = match ssh.connection(org, &r).await {
            Ok(conn) => conn.exec(line, stdin, cap, timeout).await,
            Err(e) => Err(e),
        };
        let ms = start.elapsed().as_millis() as u64;
        match out {
            Ok(o) => {
                tracing::info!(plugin = %plugin, target = %r.pin_target, what, exit = o.exit_status, ms, "ssh: command ran");
                Ok(o)
            }
            Err(e) => {
                tracing::warn!(plugin = %plugin, target = %r.pin_target, what, ms, error = %e, "ssh: command failed");
                // A connection's failure text is a library's (russh, the OS):
                // the log has it, the caller gets one sentence.
                Err(match e {
                    SshError::Unreachable(_) => SshError::Unreachable(format!(
                        "{} could not be reached over SSH (request id {}; the server log has the detail)",
                        r.pin_target, self.ctx.request_id
                    )),
                    other => other,
                })
            }
        }
    }
}

/// The `HasData` projection of `ssh` (see [`add_to_linker`]).
struct SshData;

impl HasData for SshData {
    type Data<'a> = SshView<'a>;
}

/// Link `ssh`, each call served by the view `view` projects.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> SshView<'_>,
) -> wasmtime::Result<()> {
    wit::add_to_linker::<T, SshData>(linker, view)
}

fn command_timeout(ms: u32) -> Duration {
    if ms == 0 {
        DEFAULT_TIMEOUT
    } else {
        Duration::from_millis(ms.into()).min(MAX_TIMEOUT)
    }
}

fn remote_failure(what: &str, path: &str, o: &Output) -> SshError {
    let err = String::from_utf8_lossy(&o.stderr);
    let err: String = err.trim().chars().take(300).collect();
    SshError::Remote(format!(
        "{what} `{path}` failed with exit status {}: {err}",
        o.exit_status
    ))
}

impl Host for SshView<'_> {
    #[tracing::instrument(target = "computehub::capability", name = "ssh.run", skip_all)]
    async fn run(
        &mut self,
        target: Target,
        program: String,
        args: Vec<String>,
        timeout_ms: u32,
    ) -> Result<wit::Output, wit::Error> {
        let line = command::build(&program, &args)?;
        let o = self
            .exec(
                &target,
                &line,
                None,
                OUTPUT_CAP,
                command_timeout(timeout_ms),
                &program,
            )
            .await?;
        Ok(wit::Output {
            exit_status: o.exit_status,
            stdout: o.stdout,
            stderr: o.stderr,
            truncated: o.truncated,
        })
    }

    #[tracing::instrument(target = "computehub::capability", name = "ssh.upload", skip_all)]
    async fn upload(
        &mut self,
        target: Target,
        path: String,
        contents: Vec<u8>,
        mode: u32,
    ) -> Result<(), wit::Error> {
        let line = command::upload(&path, mode)?;
        if contents.len() > TRANSFER_CAP {
            return Err(SshError::Invalid(format!(
                "an upload is at most {} MiB",
                TRANSFER_CAP >> 20
            ))
            .into());
        }
        let o = self
            .exec(
                &target,
                &line,
                Some(&contents),
                64 * 1024,
                DEFAULT_TIMEOUT,
                "upload",
            )
            .await?;
        if o.exit_status != 0 {
            return Err(remote_failure("upload to", &path, &o).into());
        }
        Ok(())
    }

    #[tracing::instrument(target = "computehub::capability", name = "ssh.download", skip_all)]
    async fn download(&mut self, target: Target, path: String) -> Result<Vec<u8>, wit::Error> {
        let line = command::download(&path)?;
        let o = self
            .exec(
                &target,
                &line,
                None,
                TRANSFER_CAP,
                DEFAULT_TIMEOUT,
                "download",
            )
            .await?;
        if o.exit_status != 0 {
            return Err(remote_failure("download of", &path, &o).into());
        }
        if o.truncated {
            return Err(SshError::Remote(format!(
                "`{path}` is larger than {} MiB",
                TRANSFER_CAP >> 20
            ))
            .into());
        }
        Ok(o.stdout)
    }
}
