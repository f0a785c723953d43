//! Who is calling, once authenticated, and the caches that spare the hot
//! paths a database transaction per request: admin tokens ([`Caller`]) and
//! SDK keys ([`SdkCaller`]) by the hash of their secret, emptied on every
//! revocation signal; and the web UI's login limiter. How a request is
//! authenticated is the HTTP layer's (`http/auth.rs`).

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::login_limit::LoginLimiter;
use crate::auth::Role;
use crate::service::Error as DomainError;
use crate::store::{Backend, Queries};

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
    /// That environment's key.
    pub environment: String,
    /// The SHA-256 of the presented key, to re-check it later.
    pub(crate) key_hash: String,
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

    /// The cached credential for `hash`, while fresh.
    pub fn get(&self, hash: &str) -> Option<T> {
        self.lock().get(hash).filter(|(at, _)| at.elapsed() < CREDENTIAL_TTL).map(|(_, c)| c.clone())
    }

    /// Keeps a credential that was just verified.
    pub fn put(&self, hash: &str, value: &T) {
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
