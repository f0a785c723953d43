//! The API's cache of serialized answers (moka), keyed by request and by a
//! version read from the database, so they are never stale and every
//! replica can keep its own.

use axum::body::Bytes;
use moka::policy::EvictionPolicy;
use moka::sync::Cache;

/// Answers kept at most.
const CAPACITY: u64 = 32;

/// Serialized answers by request key, each at the newest version seen.
#[derive(Debug)]
pub struct AnswerCache {
    entries: Cache<String, (i64, Bytes)>,
}

impl Default for AnswerCache {
    fn default() -> Self {
        // Least recently used go first: a new answer is always kept.
        AnswerCache { entries: Cache::builder().max_capacity(CAPACITY).eviction_policy(EvictionPolicy::lru()).build() }
    }
}

impl AnswerCache {
    /// The answer to `key` at `version`, if kept.
    pub fn get(&self, key: &str, version: i64) -> Option<Bytes> {
        self.entries.get(key).filter(|(v, _)| *v == version).map(|(_, b)| b)
    }

    /// Keeps the answer to `key` at `version` (an older version of it goes;
    /// a newer one stays).
    pub fn put(&self, key: String, version: i64, bytes: Bytes) {
        self.entries.entry(key).and_upsert_with(|kept| match kept {
            Some(kept) if kept.value().0 > version => kept.into_value(),
            _ => (version, bytes),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_by_request_and_version() {
        let c = AnswerCache::default();
        c.put("a".into(), 1, Bytes::from_static(b"one"));
        assert_eq!(c.get("a", 1).as_deref(), Some(&b"one"[..]));
        assert_eq!(c.get("a", 2), None);
        assert_eq!(c.get("b", 1), None);
        c.put("a".into(), 2, Bytes::from_static(b"two"));
        assert_eq!(c.get("a", 1), None, "replaced by the newer version");
        for i in 0..100 {
            c.put(format!("k{i}"), 1, Bytes::new());
        }
        c.entries.run_pending_tasks();
        assert!(c.entries.entry_count() <= CAPACITY);
    }
}
