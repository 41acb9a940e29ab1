//! The real [`Backend`]: one SSH connection (russh) per [`Session`], TCP
//! connect and handshake under a deadline, the server's host key checked
//! against its pin, password or private-key authentication, and commands run
//! on session channels with their output capped.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use russh::client::{self, Handle};
use russh::keys::{HashAlg, PrivateKeyWithHashAlg, PublicKey, PublicKeyOrCertificate};
use russh::ChannelMsg;

use super::backend::{Backend, Connection, Credential, Endpoint, Output};
use super::pins::Pin;
use super::SshError;

/// Budget of TCP connect, handshake and authentication together.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The russh backend.
#[derive(Debug, Default, Clone, Copy)]
pub struct Russh;

#[async_trait]
impl Backend for Russh {
    async fn connect(
        &self,
        endpoint: &Endpoint,
        pinned: Option<Pin>,
        target: &str,
    ) -> Result<Arc<dyn Connection>, SshError> {
        Ok(Arc::new(Session::open(endpoint, pinned, target).await?))
    }
}

/// The host key the server presented, and whether it matched the pin.
#[derive(Default)]
struct Seen {
    key: Option<PublicKey>,
    mismatch: bool,
}

struct Handler {
    pinned: Option<Pin>,
    seen: Arc<Mutex<Seen>>,
}

pub fn pin_of(key: &PublicKey) -> Pin {
    Pin {
        public_key: key.to_openssh().unwrap_or_default(),
        fingerprint: key.fingerprint(HashAlg::Sha256).to_string(),
    }
}

impl client::Handler for Handler {
    type Error = russh::Error;

    async fn check_server_key(
        &mut self,
        presented: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let key = presented.public_key();
        let presented = pin_of(&key);
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.key = Some(key);
        let ok = match &self.pinned {
            None => true,
            Some(p) => p.public_key == presented.public_key,
        };
        seen.mismatch = !ok;
        Ok(ok)
    }
}

/// A live, authenticated russh connection.
pub struct Session {
    handle: Handle<Handler>,
    /// The key the server presented (to pin on first use).
    pub host_key: Pin,
    pub last_used: Mutex<Instant>,
}

#[async_trait]
impl Connection for Session {
    fn host_key(&self) -> &Pin {
        &self.host_key
    }

    fn is_closed(&self) -> bool {
        self.handle.is_closed()
    }

    async fn exec(
        &self,
        command: &str,
        stdin: Option<&[u8]>,
        cap: usize,
        timeout: Duration,
    ) -> Result<Output, SshError> {
        Session::exec(self, command, stdin, cap, timeout).await
    }

    async fn close(&self) {
        Session::close(self).await
    }
}

impl Session {
    /// Connect, check the host key against `pinned`, authenticate.
    pub async fn open(
        ep: &Endpoint,
        pinned: Option<Pin>,
        target: &str,
    ) -> Result<Session, SshError> {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let handler = Handler {
            pinned: pinned.clone(),
            seen: Arc::clone(&seen),
        };
        let attempt = async {
            let tcp = tokio::net::TcpStream::connect((ep.host.as_str(), ep.port))
                .await
                .map_err(|e| SshError::Unreachable(format!("{}:{}: {e}", ep.host, ep.port)))?;
            let _ = tcp.set_nodelay(true);
            let config = Arc::new(client::Config {
                inactivity_timeout: None,
                keepalive_interval: Some(Duration::from_secs(30)),
                nodelay: true,
                ..Default::default()
            });
            let handshake = client::connect_stream(config, tcp, handler).await;
            let mut handle = match handshake {
                Ok(h) => h,
                Err(e) => {
                    let seen = seen.lock().unwrap_or_else(|p| p.into_inner());
                    if seen.mismatch {
                        return Err(changed(target, pinned.as_ref(), seen.key.as_ref()));
                    }
                    return Err(SshError::Unreachable(format!(
                        "{}:{}: SSH handshake failed: {e}",
                        ep.host, ep.port
                    )));
                }
            };
            let auth = match &ep.credential {
                Credential::Password(p) => handle.authenticate_password(&ep.user, p).await,
                Credential::PrivateKey(k) => {
                    let key = russh::keys::decode_secret_key(k, None).map_err(|_| {
                        SshError::Invalid(
                            "private key is not a valid unencrypted OpenSSH or PEM key".into(),
                        )
                    })?;
                    let hash = handle
                        .best_supported_rsa_hash()
                        .await
                        .ok()
                        .flatten()
                        .flatten();
                    handle
                        .authenticate_publickey(
                            &ep.user,
                            PrivateKeyWithHashAlg::new(Arc::new(key), hash),
                        )
                        .await
                }
            }
            .map_err(|e| SshError::Unreachable(format!("{}:{}: {e}", ep.host, ep.port)))?;
            if !auth.success() {
                let how = match ep.credential {
                    Credential::Password(_) => "password",
                    Credential::PrivateKey(_) => "private key",
                };
                return Err(SshError::AuthFailed(format!(
                    "{}:{} refused user `{}` ({how})",
                    ep.host, ep.port, ep.user
                )));
            }
            Ok(handle)
        };
        let handle = match tokio::time::timeout(CONNECT_TIMEOUT, attempt).await {
            Ok(r) => r?,
            Err(_) => {
                return Err(SshError::Timeout(format!(
                    "{}:{} did not complete the SSH login within {CONNECT_TIMEOUT:?}",
                    ep.host, ep.port
                )))
            }
        };
        let key = seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .key
            .clone()
            .ok_or_else(|| SshError::Unreachable("the server presented no host key".into()))?;
        Ok(Session {
            handle,
            host_key: pin_of(&key),
            last_used: Mutex::new(Instant::now()),
        })
    }

    pub fn touch(&self) {
        *self.last_used.lock().unwrap_or_else(|p| p.into_inner()) = Instant::now();
    }

    /// Run `command` (a shell line built by [`super::command`]), feeding
    /// `stdin` if given, keeping at most `cap` bytes of stdout and of stderr.
    pub async fn exec(
        &self,
        command: &str,
        stdin: Option<&[u8]>,
        cap: usize,
        timeout: Duration,
    ) -> Result<Output, SshError> {
        self.touch();
        let mut channel = self
            .handle
            .channel_open_session()
            .await
            .map_err(|e| SshError::Unreachable(format!("cannot open a session: {e}")))?;
        let mut out = Output {
            exit_status: -1,
            stdout: Vec::new(),
            stderr: Vec::new(),
            truncated: false,
        };
        let run = async {
            channel
                .exec(true, command)
                .await
                .map_err(|e| SshError::Unreachable(format!("cannot start the command: {e}")))?;
            if let Some(data) = stdin {
                channel
                    .data(data)
                    .await
                    .map_err(|e| SshError::Unreachable(format!("cannot send input: {e}")))?;
            }
            if stdin.is_some() {
                let _ = channel.eof().await;
            }
            while let Some(msg) = channel.wait().await {
                match msg {
                    ChannelMsg::Data { data } => {
                        keep(&mut out.stdout, &data, cap, &mut out.truncated)
                    }
                    ChannelMsg::ExtendedData { data, ext: 1 } => {
                        keep(&mut out.stderr, &data, cap, &mut out.truncated)
                    }
                    ChannelMsg::ExitStatus { exit_status } => {
                        out.exit_status = i32::try_from(exit_status).unwrap_or(i32::MAX)
                    }
                    ChannelMsg::ExitSignal { .. } => out.exit_status = 128 + 9,
                    ChannelMsg::Close => break,
                    _ => {}
                }
            }
            Ok::<(), SshError>(())
        };
        let result = tokio::time::timeout(timeout, run).await;
        self.touch();
        match result {
            Ok(Ok(())) => Ok(out),
            Ok(Err(e)) => Err(e),
            Err(_) => {
                let _ = channel.close().await;
                let tail = String::from_utf8_lossy(&out.stderr);
                let tail: String = tail
                    .chars()
                    .rev()
                    .take(300)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                Err(SshError::Timeout(format!(
                    "the command did not finish within {timeout:?}{}",
                    if tail.trim().is_empty() {
                        String::new()
                    } else {
                        format!("; last output: {}", tail.trim())
                    }
                )))
            }
        }
    }

    pub async fn close(&self) {
        let _ = self
            .handle
            .disconnect(russh::Disconnect::ByApplication, "", "en")
            .await;
    }
}

fn keep(buf: &mut Vec<u8>, data: &[u8], cap: usize, truncated: &mut bool) {
    let room = cap.saturating_sub(buf.len());
    if data.len() > room {
        *truncated = true;
    }
    buf.extend_from_slice(&data[..data.len().min(room)]);
}

fn changed(target: &str, pinned: Option<&Pin>, presented: Option<&PublicKey>) -> SshError {
    let was = pinned.map(|p| p.fingerprint.as_str()).unwrap_or("?");
    let now = presented
        .map(|k| k.fingerprint(HashAlg::Sha256).to_string())
        .unwrap_or_else(|| "?".into());
    SshError::HostKeyChanged(format!(
        "{target} presented host key {now}, but {was} is pinned for it; refusing to connect \
         (if the machine was reinstalled, remove the pin first: \
         DELETE /admin/ssh-host-keys/{{org}}/{target})"
    ))
}
