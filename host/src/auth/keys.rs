//! API keys: creation (the only moment the secret exists in clear) and lookup.
//!
//! Bearer and X-Auth-Token credentials are `chk.<key id>.<secret>`; Basic
//! credentials are the key id as user name and the secret as password. Only
//! the SHA-256 of those secrets is kept. An AK/SK key is the pair `AK SK`
//! (Huawei's shape: a 20-character access key id, a 40-character secret); a
//! signature check needs the SK itself, so it is also kept sealed and opened
//! only by [`super::aksk`]. A key may be bound to a project (IEF): it is then
//! accepted only on paths of that `project_id`. Keys are listed without any
//! secret and revoked by id (a revoked key fails like an unknown one, and a
//! revoked AK/SK pair's sealed SK is erased).

use base64::Engine as _;
use rand::RngCore;

use sha2::{Digest, Sha256};

use super::{AuthError, Scheme};
use crate::store::db::{params, DbRow};
use crate::store::{ids, records::now, Store, StoreError};

/// A freshly created key. `credential` is what the client sends.
#[derive(Debug)]
pub struct Credential {
    pub key_id: String,
    pub organisation: String,
    pub scheme: Scheme,
    /// For `aksk`, `AK SK` separated by one space.
    pub credential: String,
    pub project: Option<String>,
}

pub(super) struct StoredKey {
    pub org_id: String,
    pub scheme: String,
    pub secret_sha256: String,
    pub project_id: Option<String>,
}

/// The sealing context of a key's secret.
fn seal_context(key_id: &str) -> String {
    format!("api_keys/secret/{key_id}")
}

/// Project ids (IEF): 1-64 characters of `[A-Za-z0-9_-]`.
pub fn validate_project(project: &str) -> Result<(), String> {
    let ok = !project.is_empty()
        && project.len() <= 64
        && project
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'));
    ok.then_some(()).ok_or_else(|| {
        format!("project `{project}` must be 1-64 characters of letters, digits, `_` or `-`")
    })
}

fn random_from(alphabet: &[u8], len: usize) -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| alphabet[rng.gen_range(0..alphabet.len())] as char)
        .collect()
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
pub async fn create_key(
    store: &Store,
    org: &str,
    scheme: Scheme,
) -> Result<Credential, StoreError> {
    create_project_key(store, org, scheme, None).await
}

/// Create a key for `org`, bound to `project` when given.
pub async fn create_project_key(
    store: &Store,
    org: &str,
    scheme: Scheme,
    project: Option<&str>,
) -> Result<Credential, StoreError> {
    if let Some(p) = project {
        validate_project(p).map_err(StoreError::Invalid)?;
    }
    if scheme == Scheme::Aksk {
        return create_aksk(store, org, project).await;
    }
    if !matches!(scheme, Scheme::Bearer | Scheme::XAuthToken | Scheme::Basic) {
        return Err(StoreError::Invalid(format!(
            "keys for scheme `{}` cannot be created here",
            scheme.as_str()
        )));
    }
    store.ensure_organisation(org).await?;
    let key_id = ids::random_id(16).replace(['-', '_'], "x");
    let mut raw = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut raw);
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    store
        .db()
        .execute(
            "INSERT INTO api_keys (id, org_id, scheme, secret_sha256, project_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![&key_id, org, scheme.as_str(), hash_secret(&secret), project, now()],
        )
        .await?;
    let credential = match scheme {
        Scheme::Basic => format!("{key_id}:{secret}"),
        _ => format!("chk.{key_id}.{secret}"),
    };
    Ok(Credential {
        key_id,
        organisation: org.to_string(),
        scheme,
        credential,
        project: project.map(str::to_string),
    })
}

/// A key as listed: never its secret.
#[derive(Debug, Clone, serde::Serialize)]
pub struct KeyInfo {
    pub id: String,
    pub organisation: String,
    pub scheme: String,
    pub project: Option<String>,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

/// The keys of one organisation, or of all, oldest first.
pub async fn list_keys(store: &Store, org: Option<&str>) -> Result<Vec<KeyInfo>, StoreError> {
    let (sql, args) = match org {
        Some(org) => (
            "SELECT id, org_id, scheme, project_id, created_at, revoked_at FROM api_keys
             WHERE org_id = ?1 ORDER BY created_at, id",
            params![org],
        ),
        None => (
            "SELECT id, org_id, scheme, project_id, created_at, revoked_at FROM api_keys
             ORDER BY created_at, id",
            params![],
        ),
    };
    store
        .db()
        .query(sql, args)
        .await?
        .into_iter()
        .map(|mut r| {
            Ok(KeyInfo {
                id: r.take(0)?,
                organisation: r.take(1)?,
                scheme: r.take(2)?,
                project: r.take(3)?,
                created_at: r.take(4)?,
                revoked_at: r.take(5)?,
            })
        })
        .collect()
}

/// Revoke a key: from now on it fails like an unknown one. False when no
/// active key has this id.
pub async fn revoke_key(store: &Store, key_id: &str) -> Result<bool, StoreError> {
    let n = store
        .db()
        .execute(
            "UPDATE api_keys SET revoked_at = ?2, secret_sealed = NULL
             WHERE id = ?1 AND revoked_at IS NULL",
            params![key_id, now()],
        )
        .await?;
    Ok(n > 0)
}

/// An AK/SK pair: the SK is hashed like every secret and also sealed, since
/// verifying a signature needs it.
async fn create_aksk(
    store: &Store,
    org: &str,
    project: Option<&str>,
) -> Result<Credential, StoreError> {
    const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    const MIXED: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    store.ensure_organisation(org).await?;
    let ak = random_from(UPPER, 20);
    let sk = random_from(MIXED, 40);
    let sealed = store
        .sealer()
        .seal(sk.as_bytes(), &seal_context(&ak))
        .map_err(|e| StoreError::Internal(e.to_string()))?;
    store
        .db()
        .execute(
            "INSERT INTO api_keys (id, org_id, scheme, secret_sha256, secret_sealed, project_id, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![&ak, org, Scheme::Aksk.as_str(), hash_secret(&sk), sealed, project, now()],
        )
        .await?;
    Ok(Credential {
        credential: format!("{ak} {sk}"),
        key_id: ak,
        organisation: org.to_string(),
        scheme: Scheme::Aksk,
        project: project.map(str::to_string),
    })
}

/// Whether the sealed SK of key `key_id` opens with the store's key (a
/// restored backup's check; the SK itself is dropped at once).
pub fn sealed_secret_opens(store: &Store, key_id: &str, sealed: &[u8]) -> bool {
    store.sealer().open(sealed, &seal_context(key_id)).is_ok()
}

/// The SK of an AK/SK key, opened from its sealed copy.
pub(super) async fn open_secret(store: &Store, key_id: &str) -> Result<Option<String>, AuthError> {
    if !crate::store::storable(key_id) {
        return Ok(None); // no key id holds NUL (PostgreSQL would fail the lookup)
    }
    let sealed: Option<Option<Vec<u8>>> = store
        .db()
        .query_opt(
            "SELECT secret_sealed FROM api_keys WHERE id = ?1 AND revoked_at IS NULL",
            params![key_id],
        )
        .await
        .and_then(|r| r.map(|r| r.get(0)).transpose())
        .map_err(|e| {
            tracing::error!(error = %e, "api key lookup failed");
            AuthError::Store
        })?;
    let Some(Some(sealed)) = sealed else {
        return Ok(None);
    };
    let plain = store
        .sealer()
        .open(&sealed, &seal_context(key_id))
        .map_err(|e| {
            tracing::error!(error = %e, "cannot open a sealed key secret");
            AuthError::Store
        })?;
    String::from_utf8(plain).map(Some).map_err(|_| {
        tracing::error!("a sealed key secret is not UTF-8");
        AuthError::Store
    })
}

pub(super) async fn lookup(store: &Store, key_id: &str) -> Result<Option<StoredKey>, AuthError> {
    const SQL: &str = "SELECT org_id, scheme, secret_sha256, project_id \
        FROM api_keys WHERE id = ?1 AND revoked_at IS NULL";
    let read = |mut r: DbRow| -> Result<StoredKey, StoreError> {
        Ok(StoredKey {
            org_id: r.take(0)?,
            scheme: r.take(1)?,
            secret_sha256: r.take(2)?,
            project_id: r.take(3)?,
        })
    };
    if !crate::store::storable(key_id) {
        return Ok(None); // no key id holds NUL (PostgreSQL would fail the lookup)
    }
    // Every request authenticates: the statement is cached, not parsed anew,
    // and its answer is kept until the next commit (SQLite's read cache).
    store
        .db()
        .query_pure_opt(SQL, params![key_id])
        .await
        .and_then(|r| r.map(read).transpose())
        .map_err(|e| {
            tracing::error!(error = %e, "api key lookup failed");
            AuthError::Store
        })
}
