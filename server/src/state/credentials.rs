//! Who is calling, once authenticated, and the caches that spare the hot
//! paths a database transaction and a hash per request: admin tokens
//! ([`Caller`]) and SDK keys ([`SdkCaller`]), emptied on every revocation
//! signal; and the web UI's login limiter. How a request is
//! authenticated is the HTTP layer's (`http/auth.rs`).

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

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
const CREDENTIAL_CACHE_MAX: usize = 10_000;

/// Recently authenticated credentials (admin tokens or SDK keys), so that
/// hot paths pay neither a database transaction nor a SHA-256 per request.
///
/// An entry is found by a keyed hash of the presented secret (SipHash with
/// a random key per process, so no one outside can aim at a bucket) and
/// then matched by comparing the secret in constant time. The secrets live
/// only in this process's memory, for at most [`CREDENTIAL_TTL`], and are
/// zeroed when dropped; the database keeps only their SHA-256.
///
/// Emptied whenever a token or key is revoked anywhere (the hub's key
/// signal, fed by Postgres NOTIFY across replicas). A credential looked up
/// before a [`clear`](Self::clear) and put after it is not kept (see
/// [`generation`](Self::generation)), so a revocation is in force for the
/// next request. Only valid credentials are kept; past
/// `CREDENTIAL_CACHE_MAX` entries the expired ones go, then all.
pub struct CredentialCache<T> {
    keys: RandomState,
    inner: RwLock<Entries<T>>,
}

struct Entries<T> {
    /// Bumped by every `clear`.
    generation: u64,
    /// By keyed hash of the secret. Two secrets with one hash (a 64-bit
    /// collision) take turns in the slot: the other one just misses.
    slots: HashMap<u64, Entry<T>>,
}

struct Entry<T> {
    secret: Secret,
    value: T,
    expires: Instant,
}

/// A presented secret, kept while its entry is cached; zeroed when dropped.
struct Secret(Box<[u8]>);

impl Secret {
    /// Equality in a time that depends only on the lengths: every word is
    /// compared, with no early exit (8 bytes at a time).
    fn matches(&self, presented: &[u8]) -> bool {
        if self.0.len() != presented.len() {
            return false;
        }
        let (words, tail) = self.0.as_chunks::<8>();
        let (other_words, other_tail) = presented.as_chunks::<8>();
        let mut diff = 0u64;
        for (a, b) in words.iter().zip(other_words) {
            diff |= u64::from_ne_bytes(*a) ^ u64::from_ne_bytes(*b);
        }
        for (a, b) in tail.iter().zip(other_tail) {
            diff |= u64::from(a ^ b);
        }
        std::hint::black_box(diff) == 0
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.fill(0);
        std::hint::black_box(&self.0);
    }
}

impl<T> Default for CredentialCache<T> {
    fn default() -> Self {
        CredentialCache {
            keys: RandomState::new(),
            inner: RwLock::new(Entries { generation: 0, slots: HashMap::new() }),
        }
    }
}

impl<T> std::fmt::Debug for CredentialCache<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the entries: they hold secrets.
        f.debug_struct("CredentialCache").finish_non_exhaustive()
    }
}

impl<T: Clone> CredentialCache<T> {
    fn read(&self) -> RwLockReadGuard<'_, Entries<T>> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Entries<T>> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The credential authenticated lately with this secret, if any.
    pub fn get(&self, secret: &str) -> Option<T> {
        let slot = self.keys.hash_one(secret.as_bytes());
        let now = Instant::now();
        let entries = self.read();
        let found = entries.slots.get(&slot).filter(|e| e.secret.matches(secret.as_bytes()))?;
        (found.expires > now).then(|| found.value.clone())
    }

    /// Read before looking a credential up in the database, and passed to
    /// [`put`](Self::put): a revocation in between keeps it out.
    pub fn generation(&self) -> u64 {
        self.read().generation
    }

    /// Remembers a credential authenticated with `secret`, unless the cache
    /// was cleared since `generation` was read.
    pub fn put(&self, secret: &str, value: &T, generation: u64) {
        let slot = self.keys.hash_one(secret.as_bytes());
        let now = Instant::now();
        let mut entries = self.write();
        if entries.generation != generation {
            return;
        }
        if entries.slots.len() >= CREDENTIAL_CACHE_MAX && !entries.slots.contains_key(&slot) {
            entries.slots.retain(|_, e| e.expires > now);
            if entries.slots.len() >= CREDENTIAL_CACHE_MAX {
                entries.slots.clear();
            }
        }
        let entry =
            Entry { secret: Secret(secret.as_bytes().into()), value: value.clone(), expires: now + CREDENTIAL_TTL };
        entries.slots.insert(slot, entry);
    }

    /// Forgets everything (a credential was revoked).
    pub fn clear(&self) {
        let mut entries = self.write();
        entries.generation += 1;
        entries.slots.clear();
    }
}

/// Both credential caches, and the web UI's login rate limiter.
#[derive(Debug, Default)]
pub struct Credentials {
    pub admin_tokens: CredentialCache<Caller>,
    pub sdk_keys: CredentialCache<SdkCaller>,
    /// Failed UI logins per username and address (this replica's).
    pub logins: LoginLimiter,
    /// When tokens and keys were used, to be written (coarsely).
    pub usage: super::UsageLog,
}

impl Credentials {
    /// Forgets every cached credential (one was revoked).
    pub fn clear(&self) {
        self.admin_tokens.clear();
        self.sdk_keys.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cached_credential_is_found_by_its_secret_only() {
        let cache = CredentialCache::<u32>::default();
        cache.put("fy_sdk_secret-one", &1, cache.generation());
        assert_eq!(cache.get("fy_sdk_secret-one"), Some(1));
        assert_eq!(cache.get("fy_sdk_secret-onf"), None);
        assert_eq!(cache.get("fy_sdk_secret-on"), None);
        assert_eq!(cache.get(""), None);
        cache.put("fy_sdk_secret-one", &2, cache.generation());
        assert_eq!(cache.get("fy_sdk_secret-one"), Some(2), "a second put replaces the entry");
        assert_eq!(cache.read().slots.len(), 1);
    }

    #[test]
    fn a_clear_keeps_out_what_was_looked_up_before_it() {
        let cache = CredentialCache::<u32>::default();
        let seen = cache.generation();
        // A revocation lands while the request reads the database.
        cache.clear();
        cache.put("revoked", &1, seen);
        assert_eq!(cache.get("revoked"), None);
        cache.put("revoked", &1, cache.generation());
        assert_eq!(cache.get("revoked"), Some(1));
        cache.clear();
        assert_eq!(cache.get("revoked"), None);
    }

    #[test]
    fn secrets_match_only_byte_for_byte() {
        let secret = Secret(b"fy_sdk_0123456789abcdef0123456789abcdef-x".as_slice().into());
        assert!(secret.matches(b"fy_sdk_0123456789abcdef0123456789abcdef-x"));
        for i in 0..secret.0.len() {
            let mut other = secret.0.to_vec();
            other[i] ^= 1;
            assert!(!secret.matches(&other), "byte {i}");
        }
        assert!(!secret.matches(b"fy_sdk_0123456789abcdef0123456789abcdef-"));
        assert!(!secret.matches(b""));
    }

    #[test]
    fn entries_expire() {
        let cache = CredentialCache::<u32>::default();
        cache.put("k", &1, cache.generation());
        cache.write().slots.values_mut().for_each(|e| e.expires = Instant::now());
        assert_eq!(cache.get("k"), None);
    }

    #[test]
    fn the_cache_is_bounded() {
        let cache = CredentialCache::<usize>::default();
        for i in 0..CREDENTIAL_CACHE_MAX + 10 {
            cache.put(&format!("secret-{i}"), &i, cache.generation());
            assert!(cache.read().slots.len() <= CREDENTIAL_CACHE_MAX);
        }
        let last = CREDENTIAL_CACHE_MAX + 9;
        assert_eq!(cache.get(&format!("secret-{last}")), Some(last));
    }
}
