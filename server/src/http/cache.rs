//! A small cache of serialized answers, keyed by request and by a version
//! read from the database, so it is never stale and every replica can keep
//! its own.

use std::collections::VecDeque;
use std::sync::Mutex;

use axum::body::Bytes;

/// Answers kept at most.
const CAPACITY: usize = 32;

/// Serialized answers by `(request key, version)`.
#[derive(Debug, Default)]
pub struct AnswerCache {
    entries: Mutex<VecDeque<(String, i64, Bytes)>>,
}

impl AnswerCache {
    /// The answer to `key` at `version`, if kept.
    pub fn get(&self, key: &str, version: i64) -> Option<Bytes> {
        let entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        entries.iter().find(|(k, v, _)| k == key && *v == version).map(|(_, _, b)| b.clone())
    }

    /// Keeps the answer to `key` at `version` (older versions of it go).
    pub fn put(&self, key: String, version: i64, bytes: Bytes) {
        let mut entries = self.entries.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        entries.retain(|(k, v, _)| !(k == &key && *v <= version));
        if entries.len() >= CAPACITY {
            entries.pop_front();
        }
        entries.push_back((key, version, bytes));
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
        assert!(c.entries.lock().unwrap().len() <= CAPACITY);
    }
}
