//! Who is calling: admin tokens (roles) for `/api/v1`, SDK keys for `/sdk/v1`.
//!
//! Secrets are random 256-bit values shown once; only their SHA-256 is
//! stored. A presented secret is first looked up in the credential cache
//! (compared in constant time; see `CredentialCache` in `state/credentials.rs`); on a
//! miss it is hashed, looked up by hash, and the stored hash is compared
//! again in constant time.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use subtle::ConstantTimeEq;

use super::error::ApiError;
use crate::auth::{ADMIN_TOKEN_PREFIX, Role, SDK_KEY_PREFIX, hash_secret};
use crate::state::{AppState, CredentialKind};
pub use crate::state::{Caller, SdkCaller};
use crate::store::{Backend, CredentialQueries};

/// The bearer credential of a request (`Authorization: Bearer x` or `X-API-Key: x`).
pub fn bearer(parts: &Parts) -> Option<&str> {
    if let Some(v) = parts.headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        let (scheme, token) = v.split_once(' ')?;
        return scheme.eq_ignore_ascii_case("bearer").then(|| token.trim()).filter(|t| !t.is_empty());
    }
    parts.headers.get("x-api-key").and_then(|v| v.to_str().ok()).map(str::trim).filter(|t| !t.is_empty())
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
    if let Some(caller) = state.credentials.admin_tokens.get(secret) {
        return Ok(caller);
    }
    let generation = state.credentials.admin_tokens.generation();
    let hash = hash_secret(secret);
    let mut tx = state.store.read().await?;
    let token = tx.token_by_hash(&hash).await?;
    drop(tx);
    let invalid = ApiError::Unauthorized("invalid or revoked admin token");
    // Found by its hash; compared again in constant time all the same.
    let token = token.filter(|t| t.revoked_at.is_none() && constant_time_eq(&t.hash, &hash)).ok_or(invalid)?;
    let role = Role::parse(&token.role).ok_or(ApiError::Unauthorized("invalid or revoked admin token"))?;
    let caller = Caller { actor: format!("token:{}", token.name), role };
    state.credentials.usage.note(CredentialKind::Token, token.id, token.last_used_at, crate::service::now_ms());
    state.credentials.admin_tokens.put(secret, &caller, generation);
    Ok(caller)
}

impl<B: Backend> FromRequestParts<AppState<B>> for SdkCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState<B>) -> Result<Self, ApiError> {
        let secret =
            bearer(parts).ok_or(ApiError::Unauthorized("an SDK key is required (Authorization: Bearer ...)"))?;
        if secret.starts_with(ADMIN_TOKEN_PREFIX) {
            return Err(ApiError::Unauthorized("admin tokens are not SDK keys; create an SDK key for the environment"));
        }
        if let Some(caller) = state.credentials.sdk_keys.get(secret) {
            return Ok(caller);
        }
        let generation = state.credentials.sdk_keys.generation();
        let hash = hash_secret(secret);
        let mut tx = state.store.read().await?;
        let key = tx.sdk_key_by_hash(&hash).await?;
        drop(tx);
        let key = key.filter(|k| k.revoked_at.is_none() && constant_time_eq(&k.hash, &hash));
        let key = key.ok_or(ApiError::Unauthorized("invalid or revoked SDK key"))?;
        state.credentials.usage.note(CredentialKind::SdkKey, key.id, key.last_used_at, crate::service::now_ms());
        let caller = SdkCaller {
            key_id: key.id,
            environment_id: key.environment_id,
            environment: key.environment_key.into(),
            key_hash: hash.into(),
        };
        state.credentials.sdk_keys.put(secret, &caller, generation);
        Ok(caller)
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
