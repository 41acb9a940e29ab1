//! The small trait the capability reaches machines through, and what crosses
//! it. [`Backend::connect`] opens an authenticated [`Connection`] to an
//! [`Endpoint`] the capability has resolved and allowed, checking the
//! server's host key against the pin the capability read; a connection runs
//! command lines the capability built and quoted ([`super::command`]) with
//! their output capped. A transfer is such a command fed from or read into
//! bytes (`upload`, `download`), so exec carries it too. The real
//! implementation is russh ([`super::client`]); target resolution, grants,
//! pinning on first use, the connection pool and the WIT conversions are
//! the capability's, written against these traits only.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::pins::Pin;
use super::SshError;

/// How to log in.
#[derive(Clone)]
pub enum Credential {
    Password(String),
    /// An OpenSSH or PEM private key (unencrypted).
    PrivateKey(String),
}

/// Where to connect and as whom.
#[derive(Clone)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub credential: Credential,
}

/// What a command printed and how it ended.
#[derive(Debug, Clone, Default)]
pub struct Output {
    pub exit_status: i32,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub truncated: bool,
}

/// Opens connections. Called only for targets the capability allowed.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// Connect to `endpoint` and authenticate, within the backend's own
    /// deadline. A server presenting another key than `pinned` is refused
    /// with [`SshError::HostKeyChanged`] naming `target` (the name the key
    /// is pinned under); with no pin, any key is accepted and reported by
    /// [`Connection::host_key`] for the capability to pin.
    async fn connect(
        &self,
        endpoint: &Endpoint,
        pinned: Option<Pin>,
        target: &str,
    ) -> Result<Arc<dyn Connection>, SshError>;
}

/// A live, authenticated connection, shared by the calls the pool gives it to.
#[async_trait]
pub trait Connection: Send + Sync {
    /// The key the server presented.
    fn host_key(&self) -> &Pin;

    /// Whether the server (or the network) closed it.
    fn is_closed(&self) -> bool;

    /// Run `command`, feeding `stdin` if given, keeping at most `cap` bytes
    /// of stdout and of stderr, within `timeout`.
    async fn exec(
        &self,
        command: &str,
        stdin: Option<&[u8]>,
        cap: usize,
        timeout: Duration,
    ) -> Result<Output, SshError>;

    async fn close(&self);
}
