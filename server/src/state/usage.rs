//! When each admin token and SDK key was last used, kept coarse so that the
//! hot paths write nothing: a credential is noted only when it is looked up
//! in the database (a cache miss, at most every `CREDENTIAL_TTL` per
//! credential and replica) and its stored time is a minute old or more, and
//! noted at most once a minute per replica; a task writes what was noted in
//! one write job, a second after the first note. The stored time moves only
//! forward and only past a minute (`UPDATE … WHERE last_used_at <= at − 60 s`),
//! so replicas that note the same credential write it once a minute between
//! them.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;

use super::AppState;
use crate::store::{Backend, CredentialQueries};

/// How stale a stored last-use time may get.
pub const USAGE_EVERY_MS: i64 = 60_000;
/// How long notes gather before they are written.
const GATHER: Duration = Duration::from_secs(1);
/// Credentials remembered as noted; past this the memory is forgotten (the
/// next notes write again, still at most once a minute each in storage).
const NOTED_MAX: usize = 10_000;

/// Which kind of credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CredentialKind {
    Token,
    SdkKey,
}

/// Credentials used since the last write (see the module docs).
#[derive(Debug, Default)]
pub struct UsageLog {
    inner: Mutex<Inner>,
    wake: Notify,
}

#[derive(Debug, Default)]
struct Inner {
    tokens: BTreeSet<i64>,
    keys: BTreeSet<i64>,
    /// When this replica last noted each credential.
    noted: HashMap<(CredentialKind, i64), i64>,
}

/// What a write job records.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Used {
    pub tokens: Vec<i64>,
    pub keys: Vec<i64>,
}

impl UsageLog {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Credential `id` was used at `now`; `stored` is the last-use time its
    /// database row holds. Cheap, and a no-op unless a write is due.
    pub fn note(&self, kind: CredentialKind, id: i64, stored: Option<i64>, now: i64) {
        if stored.is_some_and(|t| now - t < USAGE_EVERY_MS) {
            return;
        }
        let mut inner = self.lock();
        if inner.noted.get(&(kind, id)).is_some_and(|t| now - t < USAGE_EVERY_MS) {
            return;
        }
        if inner.noted.len() >= NOTED_MAX {
            inner.noted.clear();
        }
        inner.noted.insert((kind, id), now);
        match kind {
            CredentialKind::Token => inner.tokens.insert(id),
            CredentialKind::SdkKey => inner.keys.insert(id),
        };
        drop(inner);
        self.wake.notify_one();
    }

    /// Takes what was noted.
    pub fn take(&self) -> Used {
        let mut inner = self.lock();
        Used {
            tokens: std::mem::take(&mut inner.tokens).into_iter().collect(),
            keys: std::mem::take(&mut inner.keys).into_iter().collect(),
        }
    }
}

/// Starts the task that writes noted uses.
pub fn spawn_usage<B: Backend>(state: AppState<B>) {
    tokio::spawn(async move {
        let mut stop = state.shutdown.clone();
        loop {
            tokio::select! {
                () = state.credentials.usage.wake.notified() => {}
                () = stop.recv() => return,
            }
            tokio::select! {
                () = tokio::time::sleep(GATHER) => {}
                () = stop.recv() => return,
            }
            let used = state.credentials.usage.take();
            if used == Used::default() {
                continue;
            }
            let at = crate::service::now_ms();
            let written = state
                .write(move |tx| {
                    Box::pin(async move { tx.touch_credentials(&used.tokens, &used.keys, at, USAGE_EVERY_MS).await })
                })
                .await;
            if let Err(e) = written {
                // Coarse information: lost on a failed write, noted again later.
                tracing::warn!(error = %e, "could not record when credentials were last used");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_credential_is_noted_at_most_once_a_minute() {
        let log = UsageLog::default();
        log.note(CredentialKind::SdkKey, 7, None, 1_000_000);
        log.note(CredentialKind::SdkKey, 7, None, 1_030_000);
        log.note(CredentialKind::Token, 7, None, 1_030_000);
        // Stored recently: nothing to write.
        log.note(CredentialKind::Token, 8, Some(1_000_000), 1_030_000);
        assert_eq!(log.take(), Used { tokens: vec![7], keys: vec![7] });
        assert_eq!(log.take(), Used::default());
        log.note(CredentialKind::SdkKey, 7, Some(1_000_000), 1_050_000);
        assert_eq!(log.take(), Used::default(), "within the minute");
        log.note(CredentialKind::SdkKey, 7, Some(1_000_000), 1_060_000);
        assert_eq!(log.take(), Used { tokens: vec![], keys: vec![7] });
    }
}
