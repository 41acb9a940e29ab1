//! API keys: creation (the only moment the secret exists in clear) and lookup.
//!
//! Bearer and X-Auth-Token credentials are `chk.<key id>.<secret>`; Basic
//! credentials are the key id as user name and the secret as password.

use base64::Engine as _;
use rand::RngCore;
use rusqlite::OptionalExtension;
use sha2::{Digest, Sha256};

use super::{AuthError, Scheme};
use crate::store::{ids, records::now, Store, StoreError};

/// A freshly created key. `credential` is what the client sends.
#[derive(Debug)]
pub struct Credential {
    pub key_id: String,
    pub organisation: String,
    pub scheme: Scheme,
    pub credential: String,
}

pub(super) struct StoredKey {
    pub org_id: String,
    pub scheme: String,
    pub secret_sha256: String,
}

pub(super) fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

pub(super) fn split_token(token: &str) -> Option<(String, String)> {
    let rest = token.strip_prefix("chk.")?;
    let (id, secret) = rest.split_once('.')?;
    (!id.is_empty() && !secret.is_empty()).then(|| (id.to_string(), secret.to_string()))
}

/// Create a key for `org` (creating the organisation if needed).
pub fn create_key(store: &Store, org: &str, scheme: Scheme) -> Result<Credential, StoreError> {
    if !matches!(scheme, Scheme::Bearer | Scheme::XAuthToken | Scheme::Basic) {
        return Err(StoreError::Invalid(format!(
            "keys for scheme `{}` cannot be created here",
            scheme.as_str()
        )));
    }
    store.ensure_organisation(org)?;
    let key_id = ids::random_id(16).replace(['-', '_'], "x");
    let mut raw = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut raw);
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    store.conn().execute(
        "INSERT INTO api_keys (id, org_id, scheme, secret_sha256, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        rusqlite::params![key_id, org, scheme.as_str(), hash_secret(&secret), now()],
    )?;
    let credential = match scheme {
        Scheme::Basic => format!("{key_id}:{secret}"),
        _ => format!("chk.{key_id}.{secret}"),
    };
    Ok(Credential {
        key_id,
        organisation: org.to_string(),
        scheme,
        credential,
    })
}

pub(super) fn lookup(store: &Store, key_id: &str) -> Result<Option<StoredKey>, AuthError> {
    store
        .conn()
        .query_row(
            "SELECT org_id, scheme, secret_sha256 FROM api_keys WHERE id = ?1 AND revoked_at IS NULL",
            [key_id],
            |r| {
                Ok(StoredKey {
                    org_id: r.get(0)?,
                    scheme: r.get(1)?,
                    secret_sha256: r.get(2)?,
                })
            },
        )
        .optional()
        .map_err(|e| {
            tracing::error!(error = %e, "api key lookup failed");
            AuthError::Store
        })
}
