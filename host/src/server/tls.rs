//! TLS with rustls: `serve --tls-cert FILE --tls-key FILE` (PEM). HTTP/2 and
//! HTTP/1.1 are offered by ALPN. The certificate is read again on SIGHUP and
//! when either file changes (checked every 10 s), so a renewed certificate is
//! served without a restart; a pair that does not load keeps the one in use
//! (and says so in the log).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio_rustls::TlsAcceptor;

/// Why a certificate pair does not load (one sentence).
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read a certificate chain from {0}")]
    Certificate(String),
    #[error("cannot read a private key from {0}")]
    Key(String),
    #[error("the key in {0} is not a key rustls can sign with")]
    Unsupported(String),
    #[error("cannot set up TLS: {0}")]
    Config(String),
}

fn load(cert: &Path, key: &Path) -> Result<CertifiedKey, TlsError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .ok()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| TlsError::Certificate(cert.display().to_string()))?;
    let key_der =
        PrivateKeyDer::from_pem_file(key).map_err(|_| TlsError::Key(key.display().to_string()))?;
    let signing = rustls::crypto::ring::sign::any_supported_type(&key_der)
        .map_err(|_| TlsError::Unsupported(key.display().to_string()))?;
    Ok(CertifiedKey::new(certs, signing))
}

fn stamps(cert: &Path, key: &Path) -> (Option<SystemTime>, Option<SystemTime>) {
    let m = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    (m(cert), m(key))
}

/// The certificate in use, swapped whole on reload.
#[derive(Debug)]
struct Reloading {
    cert: PathBuf,
    key: PathBuf,
    current: ArcSwap<CertifiedKey>,
    stamp: Mutex<(Option<SystemTime>, Option<SystemTime>)>,
}

impl ResolvesServerCert for Reloading {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.load_full())
    }
}

impl Reloading {
    /// Read the pair again if `forced` or either file changed.
    fn reload(&self, forced: bool) {
        let now = stamps(&self.cert, &self.key);
        {
            let mut seen = self.stamp.lock().unwrap_or_else(|p| p.into_inner());
            if !forced && *seen == now {
                return;
            }
            *seen = now;
        }
        match load(&self.cert, &self.key) {
            Ok(k) => {
                self.current.store(Arc::new(k));
                tracing::info!(cert = %self.cert.display(), "TLS certificate loaded");
            }
            Err(e) => {
                tracing::warn!(error = %e, "TLS certificate not reloaded; keeping the one in use")
            }
        }
    }
}

/// The acceptor for `serve`, its certificate reloading in the background.
pub fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, TlsError> {
    let first = load(cert, key)?;
    let resolver = Arc::new(Reloading {
        cert: cert.to_path_buf(),
        key: key.to_path_buf(),
        current: ArcSwap::from_pointee(first),
        stamp: Mutex::new(stamps(cert, key)),
    });
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(Arc::clone(&resolver) as Arc<dyn ResolvesServerCert>);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    spawn_reloader(resolver);
    Ok(TlsAcceptor::from(Arc::new(config)))
}

fn spawn_reloader(resolver: Arc<Reloading>) {
    tokio::spawn(async move {
        #[cfg(unix)]
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok();
        let mut tick = tokio::time::interval(Duration::from_secs(10));
        loop {
            #[cfg(unix)]
            let forced = match hup.as_mut() {
                Some(h) => tokio::select! {
                    _ = h.recv() => true,
                    _ = tick.tick() => false,
                },
                None => {
                    tick.tick().await;
                    false
                }
            };
            #[cfg(not(unix))]
            let forced = {
                tick.tick().await;
                false
            };
            resolver.reload(forced);
        }
    });
}
