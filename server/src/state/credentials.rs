//! Who is calling, once authenticated, and the caches that spare the hot
//! paths a database transaction per request: admin tokens ([`Caller`]) and
//! SDK keys ([`SdkCaller`]) by the hash of their secret, emptied on every
//! revocation signal; and the web UI's login limiter. How a request is
//! authenticated is the HTTP layer's (`http/auth.rs`).

use std::time::Duration;

use moka::policy::EvictionPolicy;
use moka::sync::Cache;

use super::login_limit::LoginLimiter;
use crate::auth::Role;
use crate::service::Error as DomainError;
use crate::store::{Backend, CredentialQueries};

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
    pub fn require(&self, role: Role) -> Result<(), DomainError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(DomainError::Forbidden(format!(
                "this needs the {} role; the token has {}",
                role.as_str(),
                self.role.as_str()
            )))
        }
    }
}

/// An authenticated SDK: may read the rules of one environment and send events.
#[derive(Debug, Clone)]
pub struct SdkCaller {
    /// The key's id (streams end when it is revoked).
    pub key_id: i64,
    /// The environment the key is scoped to.
    pub environment_id: i64,
    /// That environment's key (shared: a caller is cloned per request).
    pub environment: std::sync::Arc<str>,
    /// The SHA-256 of the presented key, to re-check it later.
    pub(crate) key_hash: std::sync::Arc<str>,
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

/// How long an authenticated credential is trusted without asking the database.
pub const CREDENTIAL_TTL: Duration = Duration::from_secs(5);
const CREDENTIAL_CACHE_MAX: u64 = 10_000;

/// Recently authenticated credentials (admin tokens or SDK keys) by the
/// hash of their secret, so that hot paths do not pay a database
/// transaction per request. Emptied whenever a token or key is revoked
/// anywhere (the hub's key signal, fed by Postgres NOTIFY across replicas):
/// after [`clear`](Self::clear) no entry put before it is served again.
/// Entries also expire after [`CREDENTIAL_TTL`] in case a signal is lost.
/// Only valid credentials are kept.
pub struct CredentialCache<T> {
    entries: Cache<String, T>,
}

impl<T: Clone + Send + Sync + 'static> Default for CredentialCache<T> {
    fn default() -> Self {
        let entries = Cache::builder()
            .max_capacity(CREDENTIAL_CACHE_MAX)
            .time_to_live(CREDENTIAL_TTL)
            .eviction_policy(EvictionPolicy::lru())
            .build();
        CredentialCache { entries }
    }
}

impl<T> std::fmt::Debug for CredentialCache<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the entries: they are keyed by secrets' hashes.
        f.debug_struct("CredentialCache").finish_non_exhaustive()
    }
}

impl<T: Clone + Send + Sync + 'static> CredentialCache<T> {
    /// The credential whose secret hashes to `hash`, if authenticated lately.
    pub fn get(&self, hash: &str) -> Option<T> {
        self.entries.get(hash)
    }

    /// Remembers an authenticated credential.
    pub fn put(&self, hash: &str, value: &T) {
        self.entries.insert(hash.to_owned(), value.clone());
    }

    /// Forgets everything (a credential was revoked).
    pub fn clear(&self) {
        self.entries.invalidate_all();
    }
}

/// Both credential caches, and the web UI's login rate limiter.
#[derive(Debug, Default)]
pub struct Credentials {
    pub admin_tokens: CredentialCache<Caller>,
    pub sdk_keys: CredentialCache<SdkCaller>,
    /// Failed UI logins per username and address (this replica's).
    pub logins: LoginLimiter,
}

impl Credentials {
    /// Forgets every cached credential (one was revoked).
    pub fn clear(&self) {
        self.admin_tokens.clear();
        self.sdk_keys.clear();
    }
}
