//! Console users: one name per organisation, an argon2id password hash (PHC
//! string; the password itself is never stored or logged), an operator
//! (`admin`) flag, and a disabled date. Disabling a user also ends its
//! sessions.

use crate::store::db::{params, DbRow};
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;

use crate::store::{ids, records::now, Store, StoreError};

/// Shortest password `users create` accepts.
pub const MIN_PASSWORD: usize = 12;
/// Longest user name.
const MAX_NAME: usize = 64;

/// Why a user operation failed.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("user name must be 1-{MAX_NAME} of letters, digits, `_ - .`")]
    BadName,
    #[error("password must have at least {MIN_PASSWORD} characters")]
    WeakPassword,
    #[error("user `{0}` already exists in organisation `{1}`")]
    Exists(String, String),
    #[error("no user `{0}` in organisation `{1}`")]
    NoSuchUser(String, String),
    #[error("password hashing failed")]
    Hash,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A console user, as listed (no hash).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct User {
    pub id: String,
    pub organisation: String,
    pub name: String,
    pub admin: bool,
    pub created_at: String,
    pub disabled_at: Option<String>,
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// An argon2id PHC string of `password` with a fresh random salt.
pub fn hash_password(password: &str) -> Result<String, UserError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|_| UserError::Hash)
}

/// Whether `password` matches the PHC string `phc`.
pub fn verify_password(phc: &str, password: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A random password of 20 URL-safe characters (120 bits).
pub fn generate_password() -> String {
    ids::random_id(20)
}

/// Create a user of `org` (the organisation is created when missing).
pub async fn create(
    store: &Store,
    org: &str,
    name: &str,
    password: &str,
    admin: bool,
) -> Result<User, UserError> {
    if !valid_name(name) {
        return Err(UserError::BadName);
    }
    if password.chars().count() < MIN_PASSWORD {
        return Err(UserError::WeakPassword);
    }
    store.ensure_organisation(org).await?;
    let hash = hash_password(password)?;
    let user = User {
        id: format!("u{}", ids::random_id(15)),
        organisation: org.to_string(),
        name: name.to_string(),
        admin,
        created_at: now(),
        disabled_at: None,
    };
    let inserted = store
        .db()
        .execute(
            "INSERT INTO console_users (id, org_id, name, password_hash, admin, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(org_id, name) DO NOTHING",
            params![&user.id, org, name, hash, admin, &user.created_at],
        )
        .await?;
    if inserted == 0 {
        return Err(UserError::Exists(name.into(), org.into()));
    }
    Ok(user)
}

/// Set a user's password (and enable it again): the demo's restart.
pub async fn reset_password(
    store: &Store,
    org: &str,
    name: &str,
    password: &str,
) -> Result<(), UserError> {
    let hash = hash_password(password)?;
    let db = store.db();
    let n = db
        .execute(
            "UPDATE console_users SET password_hash = ?3, disabled_at = NULL WHERE org_id = ?1 AND name = ?2",
            params![org, name, hash],
        )
        .await?;
    if n == 0 {
        return Err(UserError::NoSuchUser(name.into(), org.into()));
    }
    end_sessions(store, org, name).await?;
    Ok(())
}

async fn end_sessions(store: &Store, org: &str, name: &str) -> Result<(), StoreError> {
    store
        .db()
        .execute(
            "DELETE FROM console_sessions WHERE user_id IN
             (SELECT id FROM console_users WHERE org_id = ?1 AND name = ?2)",
            params![org, name],
        )
        .await?;
    Ok(())
}

const USER_COLUMNS: &str = "SELECT id, org_id, name, admin, created_at, disabled_at";

fn row_user(r: &mut DbRow) -> Result<User, StoreError> {
    Ok(User {
        id: r.take(0)?,
        organisation: r.take(1)?,
        name: r.take(2)?,
        admin: r.take(3)?,
        created_at: r.take(4)?,
        disabled_at: r.take(5)?,
    })
}

/// Users, of one organisation or all, by organisation and name.
pub async fn list(store: &Store, org: Option<&str>) -> Result<Vec<User>, UserError> {
    let rows = match org {
        Some(org) => {
            store
                .db()
                .query(
                    &format!(
                        "{USER_COLUMNS} FROM console_users WHERE org_id = ?1 ORDER BY org_id, name"
                    ),
                    params![org],
                )
                .await?
        }
        None => {
            store
                .db()
                .query(
                    &format!("{USER_COLUMNS} FROM console_users ORDER BY org_id, name"),
                    params![],
                )
                .await?
        }
    };
    Ok(rows
        .into_iter()
        .map(|mut r| row_user(&mut r))
        .collect::<Result<Vec<_>, _>>()?)
}

/// A user by id.
pub async fn get(store: &Store, id: &str) -> Result<Option<User>, UserError> {
    Ok(store
        .db()
        .query_opt(
            &format!("{USER_COLUMNS} FROM console_users WHERE id = ?1"),
            params![id],
        )
        .await?
        .map(|mut r| row_user(&mut r))
        .transpose()?)
}

/// Disable a user and end its sessions; `false` when there is no such
/// enabled user.
pub async fn disable(store: &Store, org: &str, name: &str) -> Result<bool, UserError> {
    let n = store
        .db()
        .execute(
            "UPDATE console_users SET disabled_at = ?3 WHERE org_id = ?1 AND name = ?2 AND disabled_at IS NULL",
            params![org, name, now()],
        )
        .await?;
    end_sessions(store, org, name).await?;
    Ok(n > 0)
}

/// The enabled user `name` of `org` whose password is `password`. A wrong
/// password, an unknown or a disabled user are all `None`, and all cost
/// one argon2 verification (no timing difference tells them apart).
pub async fn check_password(
    store: &Store,
    org: &str,
    name: &str,
    password: &str,
) -> Result<Option<User>, UserError> {
    // No organisation or user name holds NUL (PostgreSQL would fail the
    // statement): such a sign-in is an unknown user.
    let found = if crate::store::storable(org) && crate::store::storable(name) {
        store
            .db()
            .query_opt(
                &format!(
                    "{USER_COLUMNS}, password_hash FROM console_users WHERE org_id = ?1 AND name = ?2"
                ),
                params![org, name],
            )
            .await?
            .map(|mut r| -> Result<_, StoreError> {
                Ok((row_user(&mut r)?, r.take::<String>(6)?))
            })
            .transpose()?
    } else {
        None
    };
    match found {
        Some((user, hash)) => {
            let ok = verify_off_the_workers(hash, password).await?;
            Ok((ok && user.disabled_at.is_none()).then_some(user))
        }
        None => {
            let _ = verify_off_the_workers(dummy_hash().to_string(), password).await?;
            Ok(None)
        }
    }
}

/// [`verify_password`] on the blocking pool: a check is tens of
/// milliseconds and 19 MiB of argon2 memory, which on a request worker would
/// stall every other request. As many run at once as the machine has
/// cores; more sign-ins wait their turn.
async fn verify_off_the_workers(hash: String, password: &str) -> Result<bool, UserError> {
    static CHECKS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    let checks = CHECKS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        tokio::sync::Semaphore::new(cores)
    });
    let _turn = checks.acquire().await.map_err(|_| UserError::Hash)?;
    let password = password.to_string();
    tokio::task::spawn_blocking(move || verify_password(&hash, &password))
        .await
        .map_err(|_| UserError::Hash)
}

/// A fixed hash verified against when the user does not exist.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password(&generate_password()).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password(&h, "correct horse battery"));
        assert!(!verify_password(&h, "correct horse batterY"));
        assert!(!verify_password("not a hash", "x"));
    }

    #[test]
    fn names_are_checked() {
        assert!(valid_name("ops.admin-1"));
        assert!(!valid_name(""));
        assert!(!valid_name("a b"));
        assert!(!valid_name(&"x".repeat(65)));
    }
}
