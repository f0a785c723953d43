//! Fan-out of environment changes to every stream of this process.
//!
//! One task per process reads the change log after the last version it sent
//! for each environment that has subscribers, builds each version's patch
//! once, and broadcasts it. It wakes on a local poke (after a commit here),
//! on a Postgres `NOTIFY` from another replica, and every few seconds in case
//! a hint was lost: hints say "look", the change log says what.
//!
//! A write that built its version's patch itself (a flag's configuration)
//! has it broadcast at commit instead ([`Hub::publish`]), before it is
//! answered, when that version is the next one owed: the order of versions
//! is kept by the same check the fan-out uses, and anything else is left to it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::body::Bytes;
use moka::policy::EvictionPolicy;
use moka::sync::Cache;
use tokio::sync::{Notify, broadcast, mpsc};

use super::frames::{Frame, patch_frame};
use crate::shutdown::Shutdown;
use crate::store::{Backend, ChangeQueries, EnvironmentQueries, Topic};

/// Frames a subscriber may fall behind before it gets a fresh snapshot.
const CHANNEL_CAPACITY: usize = 256;
/// At most this many versions are read per environment per round.
const BATCH: i64 = 500;
/// Whole-snapshot payloads kept (per environment version).
const SNAPSHOT_CACHE: u64 = 16;
/// A safety net for lost hints.
const POLL_EVERY: Duration = Duration::from_secs(5);

/// What a stream receives.
#[derive(Debug, Clone)]
pub enum Signal {
    /// The patch of one version.
    Patch(Frame),
    /// Send a whole snapshot (an environment-level change).
    Reset(i64),
}

struct EnvChannel {
    tx: broadcast::Sender<Signal>,
    /// The last version broadcast; `None` until a subscriber has read a snapshot.
    last_sent: Option<i64>,
    /// The compiled rules for server-side evaluation (OFREP), while current.
    rules: Option<Arc<EnvRules>>,
}

impl EnvChannel {
    /// Sends `version`'s signal; the cached rules are now stale.
    fn broadcast(&mut self, version: i64, signal: Signal) {
        self.last_sent = Some(version);
        self.rules = None;
        let _ = self.tx.send(signal);
        metrics::counter!("flagyard_stream_versions_broadcast_total").increment(1);
    }
}

/// An environment's rules compiled at one version, and OFREP's answers for
/// the flags whose answer no context can change (filled as they are asked
/// for; a new version starts empty).
#[derive(Debug)]
pub struct EnvRules {
    pub version: i64,
    pub ruleset: flagyard_eval::Ruleset,
    constant_answers: Vec<std::sync::OnceLock<axum::body::Bytes>>,
}

impl EnvRules {
    /// Rules compiled at `version`.
    pub fn new(version: i64, ruleset: flagyard_eval::Ruleset) -> EnvRules {
        let constant_answers = (0..ruleset.len()).map(|_| std::sync::OnceLock::new()).collect();
        EnvRules { version, ruleset, constant_answers }
    }

    /// The cached answer of the flag at `index` (a constant flag's, once asked for).
    pub fn constant_answer(&self, index: usize) -> Option<axum::body::Bytes> {
        self.constant_answers.get(index)?.get().cloned()
    }

    /// Caches `answer` for the flag at `index` unless one is cached; returns the cached one.
    pub fn cache_constant_answer(&self, index: usize, answer: axum::body::Bytes) -> axum::body::Bytes {
        match self.constant_answers.get(index) {
            Some(slot) => slot.get_or_init(|| answer).clone(),
            None => answer,
        }
    }
}

/// The process's fan-out state.
pub struct Hub {
    envs: Mutex<HashMap<i64, EnvChannel>>,
    /// Per environment, the newest version committed by this process: rules
    /// compiled at an older version are not served (read-your-writes), even
    /// before the fan-out has caught up. One entry per environment written.
    floors: Mutex<HashMap<i64, i64>>,
    poked: Notify,
    keys: broadcast::Sender<()>,
    /// Whole-snapshot payloads by `(environment, version)`: exact keys, so
    /// never stale; the least recently used go first (a new version is
    /// always kept: it is the one streams are about to ask for).
    snapshots: Cache<(i64, i64), Bytes>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub").finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these locks cannot leave them inconsistent.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Hub {
    pub fn new() -> Arc<Hub> {
        Arc::new(Hub {
            envs: Mutex::new(HashMap::new()),
            floors: Mutex::new(HashMap::new()),
            poked: Notify::new(),
            keys: broadcast::channel(16).0,
            snapshots: Cache::builder().max_capacity(SNAPSHOT_CACHE).eviction_policy(EvictionPolicy::lru()).build(),
        })
    }

    /// Wakes the hub: something may have been committed.
    pub fn poke(&self) {
        self.poked.notify_one();
    }

    /// Tells streams to re-check their SDK keys.
    pub fn keys_changed(&self) {
        let _ = self.keys.send(());
    }

    /// Subscribes to an environment's signals. Subscribe before reading the
    /// snapshot you start from, so nothing committed after it is missed.
    pub fn subscribe(&self, environment_id: i64) -> broadcast::Receiver<Signal> {
        let mut envs = lock(&self.envs);
        envs.entry(environment_id)
            .or_insert_with(|| EnvChannel { tx: broadcast::channel(CHANNEL_CAPACITY).0, last_sent: None, rules: None })
            .tx
            .subscribe()
    }

    /// Key-revocation signals.
    pub fn subscribe_keys(&self) -> broadcast::Receiver<()> {
        self.keys.subscribe()
    }

    /// A subscriber started from `version`: the hub sends what comes after.
    pub fn observed(&self, environment_id: i64, version: i64) {
        if let Some(env) = lock(&self.envs).get_mut(&environment_id)
            && env.last_sent.is_none()
        {
            env.last_sent = Some(version);
        }
        self.poke();
    }

    /// A write in this process committed `version` of an environment
    /// (called before the write is answered).
    pub fn committed(&self, environment_id: i64, version: i64) {
        let mut floors = lock(&self.floors);
        let floor = floors.entry(environment_id).or_insert(version);
        *floor = (*floor).max(version);
    }

    fn floor(&self, environment_id: i64) -> i64 {
        lock(&self.floors).get(&environment_id).copied().unwrap_or(i64::MIN)
    }

    /// The current compiled rules of an environment, if cached and not
    /// older than what this process committed.
    pub fn rules(&self, environment_id: i64) -> Option<Arc<EnvRules>> {
        let floor = self.floor(environment_id);
        lock(&self.envs).get(&environment_id).and_then(|e| e.rules.clone()).filter(|r| r.version >= floor)
    }

    /// Caches compiled rules read at `rules.version`; the hub follows the
    /// environment from there and drops them when it changes.
    pub fn cache_rules(&self, environment_id: i64, rules: Arc<EnvRules>) {
        if rules.version < self.floor(environment_id) {
            return;
        }
        let mut envs = lock(&self.envs);
        let env = envs.entry(environment_id).or_insert_with(|| EnvChannel {
            tx: broadcast::channel(CHANNEL_CAPACITY).0,
            last_sent: None,
            rules: None,
        });
        match env.last_sent {
            None => env.last_sent = Some(rules.version),
            // The hub already sent later versions: these rules are stale.
            Some(sent) if sent > rules.version => return,
            Some(_) => {}
        }
        env.rules = Some(rules);
    }

    /// A cached whole-snapshot payload of `(environment, version)`.
    pub fn cached_snapshot(&self, key: (i64, i64)) -> Option<Bytes> {
        self.snapshots.get(&key)
    }

    /// Remembers a whole-snapshot payload (built once per version, shared).
    pub fn cache_snapshot(&self, key: (i64, i64), bytes: Bytes) {
        self.snapshots.insert(key, bytes);
    }

    /// Environments with subscribers, and where their broadcast stands.
    fn active(&self) -> Vec<(i64, i64)> {
        let mut envs = lock(&self.envs);
        envs.retain(|_, e| e.tx.receiver_count() > 0 || e.rules.is_some());
        envs.iter().filter_map(|(id, e)| Some((*id, e.last_sent?))).collect()
    }

    pub(super) fn send(&self, environment_id: i64, version: i64, signal: Signal) {
        if let Some(env) = lock(&self.envs).get_mut(&environment_id)
            && env.last_sent.is_some_and(|v| version > v)
        {
            env.broadcast(version, signal);
        }
    }

    /// Broadcasts the patch a write of this process built for `version`
    /// (called at commit, before the write is answered) when it is the
    /// next version the environment's streams are owed; returns whether it
    /// did. When it did not (no stream listens, or versions committed
    /// elsewhere come first), the fan-out reads the change log as for any
    /// other change.
    /// `frame` is built only then (`None`: it could not be, the fan-out reads it).
    pub fn publish(&self, environment_id: i64, version: i64, frame: impl FnOnce() -> Option<Frame>) -> bool {
        let mut envs = lock(&self.envs);
        match envs.get_mut(&environment_id) {
            Some(env) if env.last_sent == Some(version - 1) => match frame() {
                Some(frame) => {
                    env.broadcast(version, Signal::Patch(frame));
                    true
                }
                None => false,
            },
            _ => false,
        }
    }

    /// Broadcasts every change after what was sent, for each active environment.
    async fn catch_up<B: Backend>(&self, store: &B) -> Result<(), crate::service::Error> {
        for (environment_id, after) in self.active() {
            let mut tx = store.read().await?;
            let changes = tx.changes_after(environment_id, after, BATCH).await?;
            if changes.is_empty() {
                continue;
            }
            let Some(env) = tx.environments().await?.into_iter().find(|e| e.id == environment_id) else { continue };
            for change in &changes {
                let signal = match patch_frame(&mut tx, &env, change).await? {
                    Some(frame) => Signal::Patch(frame),
                    None => Signal::Reset(change.version),
                };
                self.send(environment_id, change.version, signal);
            }
            if changes.len() as i64 == BATCH {
                self.poke();
            }
        }
        Ok(())
    }
}

/// Runs the hub until shutdown.
pub fn spawn<B: Backend>(hub: Arc<Hub>, store: B, mut hints: Option<mpsc::Receiver<Topic>>, mut shutdown: Shutdown) {
    tokio::spawn(async move {
        let mut poll = tokio::time::interval(POLL_EVERY);
        loop {
            tokio::select! {
                () = shutdown.recv() => break,
                () = hub.poked.notified() => {}
                _ = poll.tick() => {}
                Some(topic) = async { match hints.as_mut() { Some(h) => h.recv().await, None => std::future::pending().await } } => {
                    if topic == Topic::Keys {
                        hub.keys_changed();
                        continue;
                    }
                }
            }
            if let Err(e) = hub.catch_up(&store).await {
                tracing::warn!(error = %e, "stream fan-out could not read the change log; retrying");
                tokio::time::sleep(Duration::from_millis(200)).await;
                hub.poke();
            }
        }
    });
}
