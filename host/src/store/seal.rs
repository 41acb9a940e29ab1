//! Sealing of secret fields at rest: XChaCha20-Poly1305 with a 256-bit key in
//! the data dir (`seal.key`, mode 0600). Each value is bound to where it is
//! stored (collection, field, row id) as associated data, so a sealed value
//! copied into another row does not open.

use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;

const NONCE_LEN: usize = 24;

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("sealed value is corrupt or was moved from another record")]
    Open,
    #[error("cannot seal value")]
    Seal,
}

/// Seals and opens secret values.
pub struct Sealer {
    cipher: XChaCha20Poly1305,
}

impl Sealer {
    /// Load the key, or create it (readable by the owner only) on first start.
    pub fn load_or_create(path: &Path) -> anyhow::Result<Self> {
        let key = match std::fs::read(path) {
            Ok(bytes) if bytes.len() == 32 => bytes,
            Ok(_) => anyhow::bail!("{} is not a 32-byte key", path.display()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = vec![0u8; 32];
                rand::thread_rng().fill_bytes(&mut key);
                write_private(path, &key)?;
                key
            }
            Err(e) => return Err(e.into()),
        };
        Ok(Self::from_key(&key))
    }

    pub fn from_key(key: &[u8]) -> Self {
        Sealer {
            cipher: XChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(key)),
        }
    }

    /// nonce || ciphertext
    pub fn seal(&self, plaintext: &[u8], context: &str) -> Result<Vec<u8>, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::thread_rng().fill_bytes(&mut nonce);
        let ct = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| SealError::Seal)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        Ok(out)
    }

    pub fn open(&self, sealed: &[u8], context: &str) -> Result<Vec<u8>, SealError> {
        if sealed.len() < NONCE_LEN {
            return Err(SealError::Open);
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        self.cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| SealError::Open)
    }
}

/// Write a file readable by its owner only.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_in_their_context() {
        let s = Sealer::from_key(&[7u8; 32]);
        let sealed = s.seal(b"hunter2", "devices/password/a").unwrap();
        assert!(!sealed.windows(7).any(|w| w == b"hunter2"));
        assert_eq!(s.open(&sealed, "devices/password/a").unwrap(), b"hunter2");
        assert!(s.open(&sealed, "devices/password/b").is_err());
        let other = Sealer::from_key(&[8u8; 32]);
        assert!(other.open(&sealed, "devices/password/a").is_err());
    }
}
