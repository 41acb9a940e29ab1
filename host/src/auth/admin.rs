//! The admin token that guards `/admin`: from `COMPUTEHUB_ADMIN_TOKEN`, or
//! generated on first start and printed once. Only its SHA-256 is kept, in
//! the store (`host_settings`), so every replica on one database shares it.
//! `computehub admin rotate-token` replaces the stored hash; every server on
//! that store reads it on each admin request (admin calls are rare: one
//! small query each) and from then on accepts the new token only.
//!
//! A data dir from before the store held it keeps its hash in
//! `admin-token.sha256`; the first start moves it into the store.

use std::path::Path;
use std::sync::Mutex;

use base64::Engine as _;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::store::db::params;
use crate::store::{records::now, Store, StoreError};

/// The file in which a data dir from before kept the token's hash.
pub const LEGACY_TOKEN_FILE: &str = "admin-token.sha256";
/// The `host_settings` row of the token's hash.
const SETTING: &str = "admin_token_sha256";

#[derive(Debug, thiserror::Error)]
pub enum AdminTokenError {
    #[error("the stored admin token hash is not a SHA-256 hash")]
    NotAHash,
    #[error("cannot read or write the admin token hash: {0}")]
    Store(#[from] StoreError),
}

/// The hash in force and the stored hash last seen (a rotation changes it).
struct Current {
    sha256: [u8; 32],
    /// `None`: the token came from the environment and no row was seen.
    seen: Option<String>,
}

pub struct AdminToken {
    current: Mutex<Current>,
}

fn parse_hash(text: &str) -> Result<[u8; 32], AdminTokenError> {
    hex::decode(text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(AdminTokenError::NotAHash)
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

/// The stored hash and when it was written.
async fn stored(store: &Store) -> Result<Option<(String, String)>, StoreError> {
    store
        .db()
        .query_opt(
            "SELECT value, updated_at FROM host_settings WHERE name = ?1",
            params![SETTING],
        )
        .await?
        .map(|mut r| Ok((r.take(0)?, r.take(1)?)))
        .transpose()
}

/// Store `hash` unless a hash is stored already (another replica's first
/// start won); answers whether it was stored.
async fn store_first(store: &Store, hash: &[u8; 32]) -> Result<bool, StoreError> {
    Ok(store
        .db()
        .execute(
            "INSERT INTO host_settings (name, value, updated_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (name) DO NOTHING",
            params![SETTING, hex::encode(hash), now()],
        )
        .await?
        == 1)
}

impl AdminToken {
    /// The token from the environment, or the stored one. On the very first
    /// start of a store a new token is generated and returned in clear,
    /// exactly once (of replicas starting together, one prints it).
    pub async fn load(
        store: &Store,
        data_dir: &Path,
        from_env: Option<String>,
    ) -> Result<(Self, Option<String>), AdminTokenError> {
        let token = |sha256, seen| AdminToken {
            current: Mutex::new(Current { sha256, seen }),
        };
        let mut row = stored(store).await?;
        if row.is_none() {
            // A data dir from before: its hash moves into the store.
            let legacy = data_dir.join(LEGACY_TOKEN_FILE);
            if let Ok(text) = std::fs::read_to_string(&legacy) {
                store_first(store, &parse_hash(&text)?).await?;
                if std::fs::remove_file(&legacy).is_err() {
                    tracing::warn!(path = %legacy.display(), "cannot remove the moved admin token hash file");
                }
                row = stored(store).await?;
            }
        }
        if let Some(t) = from_env.filter(|t| !t.is_empty()) {
            // A rotation after this start replaces it too.
            return Ok((token(sha256(&t), row.map(|(hash, _)| hash)), None));
        }
        if let Some((hash, _)) = row {
            return Ok((token(parse_hash(&hash)?, Some(hash)), None));
        }
        let fresh = new_token();
        if store_first(store, &sha256(&fresh)).await? {
            let seen = Some(hex::encode(sha256(&fresh)));
            return Ok((token(sha256(&fresh), seen), Some(fresh)));
        }
        // Another replica stored its token first: that one is in force.
        match stored(store).await? {
            Some((hash, _)) => Ok((token(parse_hash(&hash)?, Some(hash)), None)),
            None => Err(AdminTokenError::NotAHash),
        }
    }

    /// Replace the stored token with a new one, returned in clear (the only
    /// time it is seen).
    pub async fn rotate(store: &Store) -> Result<String, AdminTokenError> {
        let fresh = new_token();
        store
            .db()
            .execute(
                "INSERT INTO host_settings (name, value, updated_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                params![SETTING, hex::encode(sha256(&fresh)), now()],
            )
            .await?;
        Ok(fresh)
    }

    /// The hash in force: the stored one again when it changed since it was
    /// last read (a rotation, through any replica). When the store
    /// cannot be read, or holds no hash, the token in force stays.
    async fn in_force(&self, store: &Store) -> [u8; 32] {
        let row = stored(store).await;
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        match row {
            Ok(Some((text, _))) if current.seen.as_deref() != Some(text.as_str()) => {
                match parse_hash(&text) {
                    Ok(hash) => {
                        if hash != current.sha256 {
                            tracing::info!("the admin token was rotated; the new one is in force");
                        }
                        current.sha256 = hash;
                        current.seen = Some(text);
                    }
                    Err(_) => tracing::warn!(
                        "the stored admin token holds no hash; the token in force stays"
                    ),
                }
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!(error = %e, "cannot read the admin token hash; the token in force stays")
            }
        }
        current.sha256
    }

    /// Does this `Authorization` header carry the admin token?
    pub async fn verify(&self, store: &Store, authorization: Option<&str>) -> bool {
        let Some(token) = authorization
            .and_then(|v| v.split_once(' '))
            .filter(|(kind, _)| kind.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim())
        else {
            return false;
        };
        let presented = sha256(token);
        presented.ct_eq(&self.in_force(store).await).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::seal::Sealer;

    async fn rotation_on(store: Store) {
        let dir = tempfile::tempdir().unwrap();
        let (admin, first) = AdminToken::load(&store, dir.path(), None).await.unwrap();
        let first = first.expect("a fresh token on the first load");
        assert!(admin.verify(&store, Some(&format!("Bearer {first}"))).await);
        // A second replica on the same store prints nothing and shares it.
        let (other, none) = AdminToken::load(&store, dir.path(), None).await.unwrap();
        assert!(none.is_none());
        assert!(other.verify(&store, Some(&format!("Bearer {first}"))).await);
        let second = AdminToken::rotate(&store).await.unwrap();
        assert_ne!(first, second);
        for a in [&admin, &other] {
            assert!(!a.verify(&store, Some(&format!("Bearer {first}"))).await);
            assert!(a.verify(&store, Some(&format!("Bearer {second}"))).await);
        }
        // A token chosen in the environment is replaced by a rotation too.
        let (env, _) = AdminToken::load(&store, dir.path(), Some("chosen".into()))
            .await
            .unwrap();
        assert!(env.verify(&store, Some("Bearer chosen")).await);
        assert!(!env.verify(&store, Some("Bearer wrong")).await);
        let third = AdminToken::rotate(&store).await.unwrap();
        assert!(!env.verify(&store, Some("Bearer chosen")).await);
        assert!(env.verify(&store, Some(&format!("bearer {third}"))).await);
        // Only the hash is kept.
        let (hash, _) = stored(&store).await.unwrap().unwrap();
        assert_eq!(hash, hex::encode(sha256(&third)));
        assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
    }

    #[tokio::test]
    async fn a_rotation_replaces_the_token_in_force_on_sqlite() {
        rotation_on(Store::in_memory(Sealer::from_key(&[7; 32])).await.unwrap()).await;
    }

    #[tokio::test]
    async fn a_rotation_replaces_the_token_in_force_on_postgres() {
        let store =
            Store::open_postgres(&pgtest::database(), 4, Sealer::from_key(&[7; 32]), "test")
                .await
                .unwrap();
        rotation_on(store).await;
    }

    #[tokio::test]
    async fn a_legacy_hash_file_moves_into_the_store() {
        let store = Store::in_memory(Sealer::from_key(&[7; 32])).await.unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(LEGACY_TOKEN_FILE),
            hex::encode(sha256("old-token")),
        )
        .unwrap();
        let (admin, fresh) = AdminToken::load(&store, dir.path(), None).await.unwrap();
        assert!(fresh.is_none());
        assert!(admin.verify(&store, Some("Bearer old-token")).await);
        assert!(!dir.path().join(LEGACY_TOKEN_FILE).exists());
    }
}
