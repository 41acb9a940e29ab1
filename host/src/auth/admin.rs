//! The admin token that guards `/admin`: from `COMPUTEHUB_ADMIN_TOKEN`, or
//! generated on first start, kept in the data dir as a SHA-256 hash only, and
//! printed once. `computehub admin rotate-token` replaces the stored hash
//! (atomically, by rename); a running server notices the change on the next
//! admin request (one `stat` of the hash file per check) and from then on
//! accepts the new token only.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use base64::Engine as _;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::store::seal::write_private;

/// The file in the data dir that holds the token's hash.
pub const TOKEN_FILE: &str = "admin-token.sha256";

#[derive(Debug, thiserror::Error)]
pub enum AdminTokenError {
    #[error("{0} is not a SHA-256 hash")]
    NotAHash(PathBuf),
    #[error("cannot write the admin token hash in {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What identifies one version of the hash file (a rotation renames a new
/// file into place, so the inode changes even within one mtime tick).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<std::time::SystemTime>,
    len: u64,
    inode: u64,
}

fn stamp(path: &Path) -> Option<Stamp> {
    let m = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&m);
    #[cfg(not(unix))]
    let inode = 0;
    Some(Stamp {
        modified: m.modified().ok(),
        len: m.len(),
        inode,
    })
}

struct Current {
    sha256: [u8; 32],
    /// The hash file as last read (or as found at start).
    seen: Option<Stamp>,
}

pub struct AdminToken {
    current: Mutex<Current>,
    /// The stored hash, watched for rotations.
    path: PathBuf,
}

fn read_hash(path: &Path) -> anyhow::Result<[u8; 32]> {
    let text = std::fs::read_to_string(path)?;
    let bytes = hex::decode(text.trim()).map_err(|_| AdminTokenError::NotAHash(path.into()))?;
    Ok(bytes
        .try_into()
        .map_err(|_| AdminTokenError::NotAHash(path.into()))?)
}

fn new_token() -> String {
    let mut raw = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut raw);
    format!(
        "cha.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    )
}

fn sha256(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl AdminToken {
    /// The token from the environment, or the stored one. On the very first
    /// start a new token is generated and returned in clear exactly once.
    pub fn load(
        data_dir: &Path,
        from_env: Option<String>,
    ) -> anyhow::Result<(Self, Option<String>)> {
        let path = data_dir.join(TOKEN_FILE);
        let token = |sha256, seen| AdminToken {
            current: Mutex::new(Current { sha256, seen }),
            path: path.clone(),
        };
        if let Some(t) = from_env.filter(|t| !t.is_empty()) {
            // A rotation after this start replaces it too.
            return Ok((token(sha256(&t), stamp(&path)), None));
        }
        match read_hash(&path) {
            Ok(hash) => Ok((token(hash, stamp(&path)), None)),
            Err(e)
                if e.downcast_ref::<std::io::Error>()
                    .is_some_and(|e| e.kind() == std::io::ErrorKind::NotFound) =>
            {
                let fresh = new_token();
                write_private(&path, hex::encode(sha256(&fresh)).as_bytes())?;
                Ok((token(sha256(&fresh), stamp(&path)), Some(fresh)))
            }
            Err(e) => Err(e),
        }
    }

    /// Replace the stored token of `data_dir` with a new one, returned in
    /// clear (the only time it is seen). The hash is written to a temporary
    /// file and renamed into place, so a server never reads half of it.
    pub fn rotate(data_dir: &Path) -> Result<String, AdminTokenError> {
        let path = data_dir.join(TOKEN_FILE);
        let tmp = data_dir.join(format!("{TOKEN_FILE}.{}.tmp", std::process::id()));
        let write_err = |source| AdminTokenError::Write {
            path: data_dir.to_path_buf(),
            source,
        };
        let _ = std::fs::remove_file(&tmp);
        let fresh = new_token();
        write_private(&tmp, hex::encode(sha256(&fresh)).as_bytes()).map_err(write_err)?;
        if let Err(e) = std::fs::rename(&tmp, &path) {
            let _ = std::fs::remove_file(&tmp);
            return Err(write_err(e));
        }
        Ok(fresh)
    }

    #[cfg(test)]
    fn from_secret(token: &str, path: PathBuf) -> Self {
        AdminToken {
            current: Mutex::new(Current {
                sha256: sha256(token),
                seen: stamp(&path),
            }),
            path,
        }
    }

    /// The hash in force: the stored one again when the file changed since
    /// it was last read (a rotation). A file that vanished or does not hold
    /// a hash keeps the token in force.
    fn in_force(&self) -> [u8; 32] {
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        let now = stamp(&self.path);
        if now.is_some() && now != current.seen {
            current.seen = now;
            match read_hash(&self.path) {
                Ok(hash) => {
                    if hash != current.sha256 {
                        tracing::info!("the admin token was rotated; the new one is in force");
                    }
                    current.sha256 = hash;
                }
                Err(_) => tracing::warn!(
                    path = %self.path.display(),
                    "the admin token file changed but holds no hash; the token in force stays"
                ),
            }
        }
        current.sha256
    }

    /// Does this `Authorization` header carry the admin token?
    pub fn verify(&self, authorization: Option<&str>) -> bool {
        let Some(token) = authorization
            .and_then(|v| v.split_once(' '))
            .filter(|(kind, _)| kind.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim())
        else {
            return false;
        };
        let presented = sha256(token);
        presented.ct_eq(&self.in_force()).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rotation_replaces_the_token_in_force() {
        let dir = tempfile::tempdir().unwrap();
        let (admin, first) = AdminToken::load(dir.path(), None).unwrap();
        let first = first.expect("a fresh token on the first load");
        assert!(admin.verify(Some(&format!("Bearer {first}"))));
        let second = AdminToken::rotate(dir.path()).unwrap();
        assert_ne!(first, second);
        assert!(!admin.verify(Some(&format!("Bearer {first}"))));
        assert!(admin.verify(Some(&format!("Bearer {second}"))));
        // A token chosen in the environment is replaced by a rotation too.
        let env = AdminToken::from_secret("chosen", dir.path().join(TOKEN_FILE));
        assert!(env.verify(Some("Bearer chosen")));
        let third = AdminToken::rotate(dir.path()).unwrap();
        assert!(!env.verify(Some("Bearer chosen")));
        assert!(env.verify(Some(&format!("bearer {third}"))));
        // Nothing else is left in the directory.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(TOKEN_FILE)]);
    }
}
