//! Who is calling: admin tokens (roles) for `/api/v1`, SDK keys for `/sdk/v1`.
//!
//! Secrets are random 256-bit values shown once; only their SHA-256 is
//! stored. A presented secret is hashed, looked up by hash, and the stored
//! hash is compared again in constant time.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

use super::error::ApiError;
use crate::auth::{ADMIN_TOKEN_PREFIX, Role, SDK_KEY_PREFIX, hash_secret};
use crate::state::AppState;
use crate::store::{Backend, Queries};

/// The bearer credential of a request (`Authorization: Bearer x` or `X-API-Key: x`).
pub fn bearer(parts: &Parts) -> Option<&str> {
    if let Some(v) = parts.headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let (scheme, token) = v.split_once(' ')?;
        return scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty());
    }
    parts.headers.get("x-api-key").and_then(|v| v.to_str().ok()).map(str::trim).filter(|t| !t.is_empty())
}

/// An authenticated admin API caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// For the audit log: `token:<name>`.
    pub actor: String,
    /// What it may do.
    pub role: Role,
}

impl Caller {
    /// Fails with 403 unless the caller has at least `role`.
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "this needs the {} role; the token has {}",
                role.as_str(),
                self.role.as_str()
            )))
        }
    }
}

/// The least role a route needs (a route extension from the route table):
/// [`Caller`]'s extraction refuses a weaker token with 403 before the
/// handler reads the body.
#[derive(Debug, Clone, Copy)]
pub struct RequiredRole(pub Role);

impl<B: Backend> FromRequestParts<AppState<B>> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState<B>) -> Result<Self, ApiError> {
        let caller = authenticate(parts, state).await?;
        if let Some(RequiredRole(role)) = parts.extensions.get::<RequiredRole>() {
            caller.require(*role)?;
        }
        Ok(caller)
    }
}

/// The caller named by the bearer token (cached for a few seconds).
async fn authenticate<B: Backend>(parts: &Parts, state: &AppState<B>) -> Result<Caller, ApiError> {
    let secret =
        bearer(parts).ok_or(ApiError::Unauthorized("an admin token is required (Authorization: Bearer ...)"))?;
    if secret.starts_with(SDK_KEY_PREFIX) {
        return Err(ApiError::Unauthorized("SDK keys cannot use the admin API; use an admin token"));
    }
    let hash = hash_secret(secret);
    if let Some(caller) = state.credentials.admin_tokens.get(&hash) {
        return Ok(caller);
    }
    let mut tx = state.store.read().await?;
    let token = tx.token_by_hash(&hash).await?;
    drop(tx);
    let invalid = ApiError::Unauthorized("invalid or revoked admin token");
    // Found by its hash; compared again in constant time all the same.
    let token = token.filter(|t| t.revoked_at.is_none() && constant_time_eq(&t.hash, &hash)).ok_or(invalid)?;
    let role = Role::parse(&token.role).ok_or(ApiError::Unauthorized("invalid or revoked admin token"))?;
    let caller = Caller { actor: format!("token:{}", token.name), role };
    state.credentials.admin_tokens.put(&hash, &caller);
    Ok(caller)
}

/// An authenticated SDK: may read the rules of one environment and send events.
#[derive(Debug, Clone)]
pub struct SdkCaller {
    /// The key's id (streams end when it is revoked).
    pub key_id: i64,
    /// The environment the key is scoped to.
    pub environment_id: i64,
    /// That environment's key.
    pub environment: String,
    /// The SHA-256 of the presented key, to re-check it later.
    key_hash: String,
}

impl SdkCaller {
    /// Whether the key is still valid (not revoked).
    pub async fn still_valid<B: Backend>(&self, store: &B) -> bool {
        match store.read().await {
            Ok(mut tx) => match tx.sdk_key_by_hash(&self.key_hash).await {
                Ok(found) => found.is_some_and(|k| k.revoked_at.is_none()),
                // A database hiccup is not a revocation: streams keep
                // serving the last version through an outage.
                Err(_) => true,
            },
            Err(_) => true,
        }
    }
}

/// Recently authenticated credentials (admin tokens or SDK keys) by the
/// hash of their secret, so that hot paths do not pay a database
/// transaction per request. Emptied whenever a token or key is revoked
/// anywhere (the hub's key signal, fed by Postgres NOTIFY across replicas);
/// entries also expire after [`CREDENTIAL_TTL`] in case a signal is lost.
/// Only valid credentials are kept.
#[derive(Debug)]
pub struct CredentialCache<T> {
    entries: Mutex<HashMap<String, (Instant, T)>>,
}

impl<T> Default for CredentialCache<T> {
    fn default() -> Self {
        CredentialCache { entries: Mutex::new(HashMap::new()) }
    }
}

/// How long an authenticated credential is trusted without asking the database.
pub const CREDENTIAL_TTL: Duration = Duration::from_secs(5);
const CREDENTIAL_CACHE_MAX: usize = 10_000;

impl<T: Clone> CredentialCache<T> {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, (Instant, T)>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn get(&self, hash: &str) -> Option<T> {
        self.lock().get(hash).filter(|(at, _)| at.elapsed() < CREDENTIAL_TTL).map(|(_, c)| c.clone())
    }

    fn put(&self, hash: &str, value: &T) {
        let mut entries = self.lock();
        if entries.len() >= CREDENTIAL_CACHE_MAX {
            entries.clear();
        }
        entries.insert(hash.to_owned(), (Instant::now(), value.clone()));
    }

    /// Forgets everything (a credential was revoked).
    pub fn clear(&self) {
        self.lock().clear();
    }
}

impl<B: Backend> FromRequestParts<AppState<B>> for SdkCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState<B>) -> Result<Self, ApiError> {
        let secret =
            bearer(parts).ok_or(ApiError::Unauthorized("an SDK key is required (Authorization: Bearer ...)"))?;
        if secret.starts_with(ADMIN_TOKEN_PREFIX) {
            return Err(ApiError::Unauthorized("admin tokens are not SDK keys; create an SDK key for the environment"));
        }
        let hash = hash_secret(secret);
        if let Some(caller) = state.credentials.sdk_keys.get(&hash) {
            return Ok(caller);
        }
        let mut tx = state.store.read().await?;
        let key = tx.sdk_key_by_hash(&hash).await?;
        drop(tx);
        let key = key.filter(|k| k.revoked_at.is_none() && constant_time_eq(&k.hash, &hash));
        let key = key.ok_or(ApiError::Unauthorized("invalid or revoked SDK key"))?;
        let caller = SdkCaller {
            key_id: key.id,
            environment_id: key.environment_id,
            environment: key.environment_key,
            key_hash: hash,
        };
        state.credentials.sdk_keys.put(&caller.key_hash, &caller);
        Ok(caller)
    }
}

/// Both credential caches, and the web UI's login rate limiter.
#[derive(Debug, Default)]
pub struct Credentials {
    pub admin_tokens: CredentialCache<Caller>,
    pub sdk_keys: CredentialCache<SdkCaller>,
    /// Failed UI logins per username and address (this replica's).
    pub logins: super::login_limit::LoginLimiter,
}

impl Credentials {
    /// Forgets every cached credential (one was revoked).
    pub fn clear(&self) {
        self.admin_tokens.clear();
        self.sdk_keys.clear();
    }
}

/// Constant-time equality of two strings (of equal length; unequal lengths
/// answer `false` at once, which reveals only the length).
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::new_secret;

    #[test]
    fn stored_hashes_are_compared_in_constant_time() {
        let (a, b) = (new_secret(ADMIN_TOKEN_PREFIX), new_secret(ADMIN_TOKEN_PREFIX));
        assert!(constant_time_eq(&hash_secret(&a), &hash_secret(&a)));
        assert!(!constant_time_eq(&hash_secret(&a), &hash_secret(&b)));
    }

    #[test]
    fn callers_need_the_role() {
        let viewer = Caller { actor: "t".into(), role: Role::Viewer };
        assert!(viewer.require(Role::Viewer).is_ok());
        assert!(viewer.require(Role::Editor).is_err());
    }
}
