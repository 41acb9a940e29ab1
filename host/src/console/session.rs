//! Console sessions. Signing in sets the cookie `chsession` (`HttpOnly`,
//! `SameSite=Strict`, `Path=/`, `Secure` over TLS) holding a random token;
//! the store keeps only its SHA-256, the user, a per-session CSRF token and
//! an absolute expiry ([`TTL`]). The console reads the CSRF token from
//! `GET /console/api/session` (same origin only) and sends it as
//! `X-CSRF-Token` on every state-changing call; a cookie without it is
//! refused before anything runs.
//!
//! A session is the kboss `session` scheme ([`authenticate`]): routes that
//! take an API key as Bearer also take the cookie, so the console calls the
//! same public endpoints as any client. Operators' sessions also open
//! `/admin` ([`admin_allowed`]).

use http::{HeaderMap, Method};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::users::{self, User};
use crate::auth::{AuthError, Principal, Scheme};
use crate::store::db::params;
use crate::store::{ids, records::now, Store, StoreError};

/// The session cookie's name.
pub const COOKIE: &str = "chsession";
/// The header that carries the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long a session lasts from sign-in.
pub const TTL: std::time::Duration = std::time::Duration::from_secs(12 * 3600);

/// A live session.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: User,
    pub csrf: String,
    /// Unix seconds.
    pub expires_at: i64,
}

/// A new session's token (for the cookie) and its CSRF token.
pub struct Created {
    pub token: String,
    pub csrf: String,
    pub expires_at: i64,
}

fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Start a session for `user`; expired sessions are swept on the way.
pub async fn create(store: &Store, user: &User) -> Result<Created, StoreError> {
    let token = ids::random_id(43);
    let csrf = ids::random_id(32);
    let expires_at = unix_now() + TTL.as_secs() as i64;
    let db = store.db();
    db.execute(
        "DELETE FROM console_sessions WHERE expires_at <= ?1",
        params![unix_now()],
    )
    .await?;
    db.execute(
        "INSERT INTO console_sessions (token_sha256, user_id, csrf, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![token_hash(&token), &user.id, &csrf, now(), expires_at],
    )
    .await?;
    Ok(Created {
        token,
        csrf,
        expires_at,
    })
}

/// End the session of `token` (nothing when there is none).
pub async fn delete(store: &Store, token: &str) -> Result<(), StoreError> {
    store
        .db()
        .execute(
            "DELETE FROM console_sessions WHERE token_sha256 = ?1",
            params![token_hash(token)],
        )
        .await?;
    Ok(())
}

/// The live session of `token`: not expired, its user enabled.
pub async fn lookup(store: &Store, token: &str) -> Result<Option<Session>, StoreError> {
    let row = store
        .db()
        .query_opt(
            "SELECT user_id, csrf, expires_at FROM console_sessions WHERE token_sha256 = ?1",
            params![token_hash(token)],
        )
        .await?
        .map(|mut r| -> Result<_, StoreError> {
            Ok((
                r.take::<String>(0)?,
                r.take::<String>(1)?,
                r.take::<i64>(2)?,
            ))
        })
        .transpose()?;
    let Some((user_id, csrf, expires_at)) = row else {
        return Ok(None);
    };
    if expires_at <= unix_now() {
        return Ok(None);
    }
    let user = users::get(store, &user_id).await.map_err(|e| match e {
        users::UserError::Store(s) => s,
        other => StoreError::Internal(other.to_string()),
    })?;
    Ok(user
        .filter(|u| u.disabled_at.is_none())
        .map(|user| Session {
            user,
            csrf,
            expires_at,
        }))
}

/// The session token a request's `Cookie` headers carry.
pub fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// Whether a method changes state (everything but GET, HEAD, OPTIONS).
pub fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Whether the request carries the session's CSRF token.
pub fn csrf_ok(headers: &HeaderMap, session: &Session) -> bool {
    headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| bool::from(v.trim().as_bytes().ct_eq(session.csrf.as_bytes())))
}

/// Why a cookie was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("the console session has expired or was signed out; sign in again")]
    Expired,
    #[error("missing or wrong X-CSRF-Token for this console session")]
    Csrf,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The session of a request that carries the cookie, checked for CSRF when
/// the method changes state. `Ok(None)` without a cookie.
pub async fn from_request(
    store: &Store,
    method: &Method,
    headers: &HeaderMap,
) -> Result<Option<Session>, SessionError> {
    let Some(token) = cookie_token(headers) else {
        return Ok(None);
    };
    let session = lookup(store, &token).await?.ok_or(SessionError::Expired)?;
    if changes_state(method) && !csrf_ok(headers, &session) {
        return Err(SessionError::Csrf);
    }
    Ok(Some(session))
}

/// The `session` scheme for a request without `Authorization`: the console
/// cookie, as the caller's organisation. `Missing` without a cookie (so the
/// usual answer, and debug mode, stay as they are).
pub async fn authenticate(
    store: &Store,
    method: &Method,
    headers: &HeaderMap,
) -> Result<Option<Principal>, AuthError> {
    let session = match from_request(store, method, headers).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            return Err(AuthError::Missing(
                "Authorization: Bearer <api key> (kboss session) or a console session",
            ))
        }
        Err(SessionError::Expired) => return Err(AuthError::Invalid),
        Err(SessionError::Csrf) => return Err(AuthError::Csrf),
        Err(SessionError::Store(_)) => return Err(AuthError::Store),
    };
    Ok(Some(Principal {
        organisation: session.user.organisation.clone(),
        key_id: format!("console:{}", session.user.name),
        scheme: Scheme::Session,
        project: None,
    }))
}

/// Whether a request to `/admin` comes from an operator's session (CSRF
/// checked for state-changing methods).
pub async fn admin_allowed(store: &Store, method: &Method, headers: &HeaderMap) -> bool {
    matches!(from_request(store, method, headers).await, Ok(Some(s)) if s.user.admin)
}

/// The `Set-Cookie` value of a new session.
pub fn set_cookie(token: &str, secure: bool) -> String {
    format!(
        "{COOKIE}={token}; Path=/; Max-Age={}; HttpOnly; SameSite=Strict{}",
        TTL.as_secs(),
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value that removes the cookie.
pub fn clear_cookie(secure: bool) -> String {
    format!(
        "{COOKIE}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict{}",
        if secure { "; Secure" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::seal::Sealer;

    async fn store() -> Store {
        Store::in_memory(Sealer::from_key(&[7u8; 32]))
            .await
            .unwrap()
    }

    fn headers(cookie: &str, csrf: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            http::header::COOKIE,
            format!("{COOKIE}={cookie}").parse().unwrap(),
        );
        if let Some(c) = csrf {
            h.insert(CSRF_HEADER, c.parse().unwrap());
        }
        h
    }

    #[tokio::test]
    async fn sessions_expire_end_with_their_user_and_need_csrf_to_change_state() {
        let s = store().await;
        let user = users::create(&s, "acme", "ops", "a-long-password", false)
            .await
            .unwrap();
        let c = create(&s, &user).await.unwrap();
        // Only the token's hash is stored.
        let stored: String = s
            .db()
            .query_opt("SELECT token_sha256 FROM console_sessions", params![])
            .await
            .unwrap()
            .unwrap()
            .get(0)
            .unwrap();
        assert_ne!(stored, c.token);
        let p = authenticate(&s, &Method::GET, &headers(&c.token, None))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (p.organisation.as_str(), p.scheme),
            ("acme", Scheme::Session)
        );
        assert!(matches!(
            authenticate(&s, &Method::POST, &headers(&c.token, None)).await,
            Err(AuthError::Csrf)
        ));
        assert!(matches!(
            authenticate(&s, &Method::POST, &headers(&c.token, Some("nope"))).await,
            Err(AuthError::Csrf)
        ));
        assert!(
            authenticate(&s, &Method::POST, &headers(&c.token, Some(&c.csrf)))
                .await
                .is_ok()
        );
        // Tenants' sessions do not open /admin.
        assert!(!admin_allowed(&s, &Method::GET, &headers(&c.token, None)).await);

        // Past its expiry the session is gone.
        s.db()
            .execute("UPDATE console_sessions SET expires_at = 0", params![])
            .await
            .unwrap();
        assert!(lookup(&s, &c.token).await.unwrap().is_none());
        assert!(matches!(
            authenticate(&s, &Method::GET, &headers(&c.token, None)).await,
            Err(AuthError::Invalid)
        ));

        // Disabling the user ends a fresh session too.
        let c2 = create(&s, &user).await.unwrap();
        assert!(lookup(&s, &c2.token).await.unwrap().is_some());
        assert!(users::disable(&s, "acme", "ops").await.unwrap());
        assert!(lookup(&s, &c2.token).await.unwrap().is_none());
        assert!(users::check_password(&s, "acme", "ops", "a-long-password")
            .await
            .unwrap()
            .is_none());
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            http::header::COOKIE,
            "a=1; chsession=tok; b=2".parse().unwrap(),
        );
        assert_eq!(cookie_token(&h).as_deref(), Some("tok"));
        assert!(set_cookie("t", true).ends_with("HttpOnly; SameSite=Strict; Secure"));
        assert!(!set_cookie("t", false).contains("Secure"));
    }
}
