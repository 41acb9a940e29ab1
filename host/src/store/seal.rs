//! Sealing of secret fields at rest: XChaCha20-Poly1305 with a 256-bit key.
//! Each value is bound to where it is stored (collection, field, row id) as
//! associated data, so a sealed value copied into another row does not open.
//!
//! The key lives in the data dir (`seal.key`, mode 0600, made on the first
//! start) unless the environment names one ([`KeySource`]):
//! `COMPUTEHUB_SEAL_KEY_FILE` (a file of 32 raw bytes or their base64, e.g. a
//! mounted Kubernetes Secret) or `COMPUTEHUB_SEAL_KEY` (base64), so several
//! replicas can share one key that no database holds. A store remembers a
//! value sealed with its key ([`check`]) and refuses to open with another.

use std::path::{Path, PathBuf};

use super::db::{params, Database};
use base64::Engine as _;

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

/// Where the seal key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// `<data dir>/seal.key`, made on the first start.
    DataDir(PathBuf),
    /// `COMPUTEHUB_SEAL_KEY_FILE`: it must exist.
    File(PathBuf),
    /// `COMPUTEHUB_SEAL_KEY`: the key itself, base64.
    Env,
}

/// The environment variables naming the seal key.
pub const KEY_FILE_ENV: &str = "COMPUTEHUB_SEAL_KEY_FILE";
pub const KEY_ENV: &str = "COMPUTEHUB_SEAL_KEY";

/// A seal key that cannot be used, in one sentence (never the key).
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the seal key in {0} is neither 32 bytes nor the base64 of 32 bytes")]
    BadFile(PathBuf),
    #[error("{KEY_ENV} is not the base64 of 32 bytes")]
    BadEnv,
    #[error("cannot read the seal key {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("{0} has its own seal.key, which is not the key {1} names; unset it or move the data dir's key out of the way")]
    TwoKeys(PathBuf, &'static str),
    #[error("the seal key ({0}) does not open this store's sealed values: it is not the key they were sealed with")]
    Mismatch(String),
    #[error("the store in {0} was sealed with a key that is not in it; name that key with {KEY_FILE_ENV} or {KEY_ENV}")]
    Missing(PathBuf),
    #[error("the store's seal check failed: {0}")]
    Store(#[from] super::StoreError),
}

impl KeySource {
    /// The source the environment names for `data_dir`.
    pub fn from_env(data_dir: &Path) -> KeySource {
        if let Some(path) = std::env::var_os(KEY_FILE_ENV).filter(|v| !v.is_empty()) {
            return KeySource::File(PathBuf::from(path));
        }
        if std::env::var_os(KEY_ENV).is_some_and(|v| !v.is_empty()) {
            return KeySource::Env;
        }
        KeySource::DataDir(data_dir.join("seal.key"))
    }

    /// Where the key is, for messages: a path or the variable's name.
    pub fn describe(&self) -> String {
        match self {
            KeySource::DataDir(p) | KeySource::File(p) => p.display().to_string(),
            KeySource::Env => KEY_ENV.to_string(),
        }
    }
}

/// 32 raw bytes, or their base64 (surrounding whitespace ignored).
fn key_bytes(bytes: &[u8]) -> Option<Vec<u8>> {
    if bytes.len() == 32 {
        return Some(bytes.to_vec());
    }
    let text = std::str::from_utf8(bytes).ok()?.trim();
    let key = base64::engine::general_purpose::STANDARD
        .decode(text)
        .ok()?;
    (key.len() == 32).then_some(key)
}

/// Seals and opens secret values.
#[derive(Clone)]
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

    /// The key of `source`; a data dir's key is made when missing. A
    /// data dir that holds a `seal.key` while the environment names
    /// another key is refused: one of the two is a mistake.
    pub fn from_source(source: &KeySource, data_dir: &Path) -> anyhow::Result<Self> {
        let key = match source {
            KeySource::DataDir(path) => return Self::load_or_create(path),
            KeySource::File(path) => {
                let bytes = std::fs::read(path).map_err(|e| KeyError::Read(path.clone(), e))?;
                key_bytes(&bytes).ok_or_else(|| KeyError::BadFile(path.clone()))?
            }
            KeySource::Env => std::env::var(KEY_ENV)
                .ok()
                .and_then(|v| key_bytes(v.as_bytes()))
                .ok_or(KeyError::BadEnv)?,
        };
        let own = data_dir.join("seal.key");
        if let Ok(bytes) = std::fs::read(&own) {
            if bytes != key {
                let var = match source {
                    KeySource::Env => KEY_ENV,
                    _ => KEY_FILE_ENV,
                };
                return Err(KeyError::TwoKeys(data_dir.to_path_buf(), var).into());
            }
        }
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

/// What the seal check seals.
const CHECK: &[u8] = b"computehub seal check";
const CHECK_CONTEXT: &str = "seal_check/1";

/// Whether the store has a seal check (a store from before migration 10,
/// or a new one, has none).
pub async fn has_check(db: &dyn Database) -> bool {
    db.query_opt("SELECT 1 FROM seal_check WHERE id = 1", params![])
        .await
        .ok()
        .flatten()
        .is_some()
}

/// The store's seal check (migration 10): a store that has one refuses a
/// key that does not open it; a store without one gets one sealed with
/// `sealer`'s key.
pub async fn check(db: &dyn Database, sealer: &Sealer, source: &str) -> Result<(), KeyError> {
    let sealed = db
        .query_opt("SELECT sealed FROM seal_check WHERE id = 1", params![])
        .await?;
    match sealed {
        Some(row) => match sealer.open(&row.get::<Vec<u8>>(0)?, CHECK_CONTEXT) {
            Ok(plain) if plain == CHECK => Ok(()),
            _ => Err(KeyError::Mismatch(source.to_string())),
        },
        None => {
            let sealed = sealer
                .seal(CHECK, CHECK_CONTEXT)
                .map_err(|_| KeyError::Mismatch(source.to_string()))?;
            // Replicas starting together: the first check stored wins, and
            // the others compare against it.
            db.execute(
                "INSERT INTO seal_check (id, sealed, created_at) VALUES (1, ?1, ?2) ON CONFLICT (id) DO NOTHING",
                params![sealed, super::records::now()],
            )
            .await?;
            Box::pin(check(db, sealer, source)).await
        }
    }
}

/// Whether `sealed` (a store's `seal_check` value) opens with `sealer`:
/// two stores whose checks both open share one key (`computehub import`).
pub fn opens_check(sealer: &Sealer, sealed: &[u8]) -> bool {
    sealer
        .open(sealed, CHECK_CONTEXT)
        .is_ok_and(|plain| plain == CHECK)
}

/// The key the environment names (`COMPUTEHUB_SEAL_KEY_FILE`, then
/// `COMPUTEHUB_SEAL_KEY`) with where it is, for a store that has no data
/// dir; `None` when the environment names none.
pub fn env_sealer() -> Result<Option<(Sealer, String)>, KeyError> {
    let source = KeySource::from_env(Path::new(""));
    let key = match &source {
        KeySource::DataDir(_) => return Ok(None),
        KeySource::File(path) => {
            let bytes = std::fs::read(path).map_err(|e| KeyError::Read(path.clone(), e))?;
            key_bytes(&bytes).ok_or_else(|| KeyError::BadFile(path.clone()))?
        }
        KeySource::Env => std::env::var(KEY_ENV)
            .ok()
            .and_then(|v| key_bytes(v.as_bytes()))
            .ok_or(KeyError::BadEnv)?,
    };
    Ok(Some((Sealer::from_key(&key), source.describe())))
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

    #[test]
    fn keys_are_raw_or_base64_and_a_second_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let raw = dir.path().join("raw.key");
        std::fs::write(&raw, [9u8; 32]).unwrap();
        let text = dir.path().join("b64.key");
        let b64 = base64::engine::general_purpose::STANDARD.encode([9u8; 32]);
        std::fs::write(&text, format!("{b64}\n")).unwrap();
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        let a = Sealer::from_source(&KeySource::File(raw.clone()), &data).unwrap();
        let b = Sealer::from_source(&KeySource::File(text), &data).unwrap();
        let sealed = a.seal(b"x", "c").unwrap();
        assert_eq!(b.open(&sealed, "c").unwrap(), b"x");
        let short = dir.path().join("short.key");
        std::fs::write(&short, b"too short").unwrap();
        let e = Sealer::from_source(&KeySource::File(short.clone()), &data)
            .err()
            .unwrap();
        assert!(e.to_string().contains("neither 32 bytes"), "{e}");
        // The data dir has a key of its own, not this one: refused.
        std::fs::write(data.join("seal.key"), [1u8; 32]).unwrap();
        let e = Sealer::from_source(&KeySource::File(raw), &data)
            .err()
            .unwrap();
        assert!(e.to_string().contains("has its own seal.key"), "{e}");
    }

    #[tokio::test]
    async fn a_store_refuses_a_key_its_check_does_not_open() {
        let first = Sealer::from_key(&[1u8; 32]);
        let store = crate::store::Store::in_memory(first.clone()).await.unwrap();
        let db = store.db();
        check(db, &first, "a").await.unwrap();
        check(db, &first, "a").await.unwrap();
        let other = Sealer::from_key(&[2u8; 32]);
        let e = check(db, &other, "COMPUTEHUB_SEAL_KEY").await.unwrap_err();
        assert_eq!(
            e.to_string(),
            "the seal key (COMPUTEHUB_SEAL_KEY) does not open this store's sealed values: it is not the key they were sealed with"
        );
    }
}
