//! Server-side sessions of the web UI, stored in the database so that any
//! replica serves them.
//!
//! A session token is 256 random bits shown once (in the cookie); the
//! database keeps only its SHA-256, as the session id. Each session has its
//! own random anti-CSRF token. Sessions slide: a request more than
//! [`TOUCH_INTERVAL_MS`] after the last recorded one moves `last_seen_at` to
//! now and `expires_at` to now + TTL (`FLAGYARD_SESSION_TTL_HOURS`), so an
//! idle session ends after the TTL and an active one at most one minute of
//! writes later. Expired sessions are deleted whenever someone logs in.

use super::error::Error;
use super::now_ms;
use super::users::{MAX_PASSWORD_BYTES, is_valid_username, verify_password};
use crate::auth::{Role, hash_secret, new_secret};
use crate::store::{Backend, Queries, SessionRecord, SessionUser, Topic, UserQueries, UserRecord};

/// Prefix of session tokens (in the cookie).
pub const SESSION_TOKEN_PREFIX: &str = "fy_session_";
/// A session's `last_seen_at` is written at most this often (ms).
pub const TOUCH_INTERVAL_MS: i64 = 60_000;

/// Why a login failed.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// No such user, or a wrong password (the two are not told apart).
    #[error("invalid username or password")]
    InvalidCredentials,
    /// The right password of a disabled user.
    #[error("this account is disabled")]
    Disabled,
    /// Too many failed attempts for this username or address.
    #[error("too many failed login attempts; try again in {retry_after_secs} s")]
    RateLimited {
        /// Seconds until the next attempt may succeed (`Retry-After`).
        retry_after_secs: u64,
    },
    /// Storage or hashing failed.
    #[error(transparent)]
    Other(#[from] Error),
}

impl From<crate::store::StoreError> for LoginError {
    fn from(e: crate::store::StoreError) -> Self {
        LoginError::Other(e.into())
    }
}

/// Checks a username and password: the user if they match and it is
/// enabled. Costs one argon2 verification whether or not the user exists.
/// Reads in its own short transaction, released before hashing.
pub async fn verify_login<B: Backend>(store: &B, username: &str, password: &str) -> Result<UserRecord, LoginError> {
    // Odd input (a NUL, a megabyte) never reaches the database or argon2 in
    // full; it costs the same and fails the same as an unknown user.
    let plausible = is_valid_username(username) && password.len() <= MAX_PASSWORD_BYTES;
    let user = if plausible {
        let mut tx = store.read().await?;
        let user = tx.user(username).await?;
        drop(tx);
        user
    } else {
        None
    };
    let password = if plausible { password } else { "" };
    let matches = verify_password(password.to_owned(), user.as_ref().map(|u| u.password_hash.clone())).await?;
    match user {
        Some(user) if matches && user.disabled => Err(LoginError::Disabled),
        Some(user) if matches => Ok(user),
        _ => Err(LoginError::InvalidCredentials),
    }
}

/// A session just created: the token goes into the cookie, once.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// The secret session token (cookie value); only its hash is stored.
    pub token: String,
    /// The session id (SHA-256 hex of the token).
    pub id: String,
    /// The anti-CSRF token for forms and the `X-CSRF-Token` header.
    pub csrf: String,
    pub username: String,
    pub role: Role,
    pub expires_at: i64,
}

/// Starts a session for `user` (a write): records the login, and deletes
/// expired sessions while at it. `None` when the user's password, state or
/// existence changed since it was verified: writes are serialized (one
/// writer, and one advisory lock across Postgres replicas), so a password
/// change either committed before this check and refuses the session, or
/// commits after it and ends the session with all the others.
pub async fn create_session<T: UserQueries>(
    tx: &mut T,
    verified: &UserRecord,
    ttl_ms: i64,
    now: i64,
) -> Result<Option<NewSession>, Error> {
    let current = tx.user(&verified.username).await?;
    let Some(user) =
        current.filter(|u| u.id == verified.id && u.password_hash == verified.password_hash && !u.disabled)
    else {
        return Ok(None);
    };
    let token = new_secret(SESSION_TOKEN_PREFIX);
    let record = SessionRecord {
        id: hash_secret(&token),
        user_id: user.id,
        csrf_token: new_secret(""),
        created_at: now,
        expires_at: now.saturating_add(ttl_ms),
        last_seen_at: now,
    };
    tx.delete_expired_sessions(now).await?;
    tx.insert_session(&record).await?;
    tx.touch_login(user.id, now).await?;
    Ok(Some(NewSession {
        token,
        id: record.id,
        csrf: record.csrf_token,
        username: user.username,
        role: Role::parse(&user.role).unwrap_or(Role::Viewer),
        expires_at: record.expires_at,
    }))
}

/// Whether `token` looks like a session token (before asking the database).
pub fn is_session_token(token: &str) -> bool {
    token
        .strip_prefix(SESSION_TOKEN_PREFIX)
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The live session with this id and its user: `None` when there is none,
/// it has expired, or its user is disabled.
pub async fn resolve_session<T: UserQueries>(
    tx: &mut T,
    session_id: &str,
    now: i64,
) -> Result<Option<SessionUser>, Error> {
    let found = tx.session(session_id).await?;
    Ok(found.filter(|s| s.session.expires_at > now && !s.disabled && Role::parse(&s.role).is_some()))
}

/// Whether a session last seen at `last_seen_at` should be slid at `now`.
pub fn needs_touch(last_seen_at: i64, now: i64) -> bool {
    now - last_seen_at >= TOUCH_INTERVAL_MS
}

/// Slides a session (a write): seen now, expiring `ttl_ms` from now. False
/// if it was deleted meanwhile.
pub async fn touch_session<T: UserQueries>(tx: &mut T, session_id: &str, ttl_ms: i64, now: i64) -> Result<bool, Error> {
    Ok(tx.touch_session(session_id, now, now.saturating_add(ttl_ms)).await?)
}

/// Ends a session (a write): false if there was none. Its open UI streams
/// end too (every replica is told).
pub async fn end_session<T: Queries + UserQueries>(tx: &mut T, session_id: &str) -> Result<bool, Error> {
    let ended = tx.delete_session(session_id).await?;
    if ended {
        tx.notify(Topic::Keys).await?;
    }
    Ok(ended)
}

/// Deletes expired sessions (a write); returns how many.
pub async fn purge_sessions<T: UserQueries>(tx: &mut T) -> Result<u64, Error> {
    Ok(tx.delete_expired_sessions(now_ms()).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_recognised_and_sliding_is_throttled() {
        assert!(is_session_token(&new_secret(SESSION_TOKEN_PREFIX)));
        assert!(!is_session_token(&new_secret("fy_admin_")));
        assert!(!is_session_token("fy_session_xyz"));
        assert!(!needs_touch(1_000, 1_000 + TOUCH_INTERVAL_MS - 1));
        assert!(needs_touch(1_000, 1_000 + TOUCH_INTERVAL_MS));
    }
}
