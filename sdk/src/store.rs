//! The in-memory rules: one immutable [`Loaded`] (wire snapshot + compiled
//! ruleset) behind an atomic pointer. Readers load the pointer (no lock, no
//! allocation); the single writer (the data source) builds a new value and
//! swaps it in.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use arc_swap::ArcSwapOption;
use flagyard_eval::{CompileErrors, Flag, FlagConfig, Ruleset, Segment, Serve, Snapshot};
use serde::Deserialize;
use tokio::sync::{broadcast, watch};

/// What the client is doing, as [`Client::state`](crate::Client::state)
/// reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientState {
    /// No rules from the server yet. The client serves the bootstrap or
    /// cache-file rules if it has them, otherwise the code defaults.
    Initializing,
    /// Serving the server's current rules over a healthy stream (or the last
    /// poll succeeded).
    Ready,
    /// Disconnected (or never connected): serving the last known rules while
    /// reconnecting in the background.
    Stale,
    /// No network by configuration ([`ClientBuilder::offline`](crate::ClientBuilder::offline)),
    /// or after [`Client::close`](crate::Client::close).
    Offline,
    /// The server refused the SDK key (`401`/`403`). The client serves the
    /// last known rules and no longer contacts the server.
    Failed(String),
}

impl fmt::Display for ClientState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientState::Initializing => f.write_str("initializing"),
            ClientState::Ready => f.write_str("ready"),
            ClientState::Stale => f.write_str("stale"),
            ClientState::Offline => f.write_str("offline"),
            ClientState::Failed(reason) => write!(f, "failed: {reason}"),
        }
    }
}

/// Sent to [`Client::subscribe`](crate::Client::subscribe)rs when new rules
/// change flags or segments. A segment change can change the answer of any
/// flag that uses the segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagChange {
    /// The version of the new rules.
    pub version: u64,
    /// Flags added, changed or removed, in key order.
    pub flags: Vec<String>,
    /// Segments added, changed or removed, in key order.
    pub segments: Vec<String>,
}

/// A `patch` event's data (protocol.md): the full state of each named entry,
/// `null` for deleted; `configs` (asked for with `?patch=configs`) names
/// flags whose type and variants did not change, with only their new
/// configuration in the environment.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Patch {
    pub(crate) version: u64,
    #[serde(default)]
    pub(crate) flags: BTreeMap<String, Option<Flag>>,
    #[serde(default)]
    pub(crate) configs: BTreeMap<String, FlagConfig>,
    #[serde(default)]
    pub(crate) segments: BTreeMap<String, Option<Segment>>,
}

/// Rules in force.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub(crate) snapshot: Snapshot,
    pub(crate) rules: Ruleset,
    /// Unique per `Loaded` in the process (exposure de-duplication keys on it).
    pub(crate) serial: u64,
    /// Every split buckets by the targeting key (the common case): the
    /// exposure unit is the key, no attribute lookup needed.
    pub(crate) splits_by_key: bool,
    /// Whether these rules (or identical ones) came from the server in this
    /// process; only then is the version sent as `Last-Event-ID` / ETag.
    from_server: AtomicBool,
}

static SERIAL: AtomicU64 = AtomicU64::new(1);

impl Loaded {
    fn new(snapshot: Snapshot, rules: Ruleset, from_server: bool) -> Self {
        let serial = SERIAL.fetch_add(1, Ordering::Relaxed);
        let splits_by_key = snapshot
            .flags
            .values()
            .filter_map(|f| f.environments.get(&snapshot.environment))
            .flat_map(|c| &c.rules)
            .all(|r| match &r.serve {
                Serve::Split(s) => s.bucket_by.as_deref().is_none_or(|b| b == "key" || b == "targetingKey"),
                Serve::Variant(_) => true,
            });
        Loaded { snapshot, rules, serial, splits_by_key, from_server: AtomicBool::new(from_server) }
    }
}

/// The outcome of applying new rules.
#[derive(Debug)]
pub(crate) enum Applied {
    /// Swapped in; the cache file should be rewritten.
    Changed(Arc<Loaded>),
    /// Same rules as before (nothing to do).
    Unchanged,
    /// A patch whose version is not above the current one.
    Stale,
}

/// A patch that could not be applied: the caller asks for a full snapshot.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PatchError {
    #[error("no rules to patch yet")]
    NoBase,
    #[error("the patched rules do not compile: {0}")]
    Compile(CompileErrors),
    #[error("the patch changes the configuration of flag `{0}`, which these rules do not have")]
    UnknownFlag(String),
}

thread_local! {
    /// Each thread's reference to the rules it last evaluated (of any
    /// client): while its serial is the store's current one, evaluation
    /// skips arc-swap's guard (an atomic read-modify-write per load).
    /// Indexed by the store's id, so up to four clients used on one thread
    /// do not evict each other.
    static LOCAL: [RefCell<Option<Arc<Loaded>>>; LOCAL_SLOTS] = const { [const { RefCell::new(None) }; LOCAL_SLOTS] };
}

const LOCAL_SLOTS: usize = 4;
static STORE_IDS: AtomicUsize = AtomicUsize::new(0);

pub(crate) struct Store {
    id: usize,
    current: ArcSwapOption<Loaded>,
    /// The serial of `current` (0 when empty), written after it.
    serial: AtomicU64,
    changes: broadcast::Sender<FlagChange>,
    state: watch::Sender<ClientState>,
}

impl Store {
    pub(crate) fn new(initial: ClientState) -> Self {
        Store {
            id: STORE_IDS.fetch_add(1, Ordering::Relaxed),
            current: ArcSwapOption::empty(),
            serial: AtomicU64::new(0),
            changes: broadcast::channel(64).0,
            state: watch::channel(initial).0,
        }
    }

    /// The rules in force (a cheap guard; no lock, no allocation).
    #[inline]
    pub(crate) fn load(&self) -> arc_swap::Guard<Option<Arc<Loaded>>> {
        self.current.load()
    }

    /// Calls `f` with the rules in force: no lock, no allocation. The hot
    /// path reads one atomic and this thread's cached reference; after a
    /// swap, the first call on each thread refreshes that reference (so a
    /// thread keeps the rules it last used alive until its next evaluation
    /// or its exit).
    #[inline]
    pub(crate) fn with_current<R>(&self, f: impl FnOnce(Option<&Loaded>) -> R) -> R {
        let serial = self.serial.load(Ordering::Acquire);
        if serial == 0 {
            return f(None);
        }
        LOCAL.with(|slots| match slots[self.id % LOCAL_SLOTS].try_borrow_mut() {
            Ok(mut slot) => {
                if slot.as_ref().map(|l| l.serial) != Some(serial) {
                    *slot = self.current.load_full();
                }
                f(slot.as_deref())
            }
            // Re-entered (cannot happen through the public API): plain load.
            Err(_) => f(self.current.load().as_deref()),
        })
    }

    /// An owned handle on the rules in force.
    pub(crate) fn load_full(&self) -> Option<Arc<Loaded>> {
        self.current.load_full()
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<FlagChange> {
        self.changes.subscribe()
    }

    pub(crate) fn state(&self) -> ClientState {
        self.state.borrow().clone()
    }

    pub(crate) fn watch_state(&self) -> watch::Receiver<ClientState> {
        self.state.subscribe()
    }

    pub(crate) fn set_state(&self, new: ClientState) {
        self.state.send_if_modified(|s| {
            if *s == new || matches!(s, ClientState::Failed(_)) {
                return false;
            }
            *s = new;
            true
        });
    }

    /// The connection is down: `Stale` when rules are being served.
    pub(crate) fn mark_disconnected(&self) {
        if self.current.load().is_some() {
            self.set_state(ClientState::Stale);
        }
    }

    /// The version to resume from, when the rules came from the server.
    pub(crate) fn server_version(&self) -> Option<u64> {
        let g = self.current.load();
        g.as_ref().filter(|l| l.from_server.load(Ordering::Relaxed)).map(|l| l.rules.version())
    }

    /// Replaces the rules with a full snapshot (a `put`, a poll, a bootstrap).
    pub(crate) fn put(&self, snapshot: Snapshot, from_server: bool) -> Result<Applied, CompileErrors> {
        let old = self.load_full();
        if let Some(old) = &old
            && old.snapshot == snapshot
        {
            if from_server {
                old.from_server.store(true, Ordering::Relaxed);
            }
            return Ok(Applied::Unchanged);
        }
        let rules = Ruleset::compile(&snapshot)?;
        let (flags, segments) = match &old {
            Some(old) => (diff(&old.snapshot.flags, &snapshot.flags), diff(&old.snapshot.segments, &snapshot.segments)),
            None => (snapshot.flags.keys().cloned().collect(), snapshot.segments.keys().cloned().collect()),
        };
        let version = snapshot.version;
        Ok(self.swap(Loaded::new(snapshot, rules, from_server), version, flags, segments))
    }

    /// Applies a patch: replaces or removes the named entries and sets the
    /// version. Patches not above the current version are ignored.
    pub(crate) fn patch(&self, patch: Patch) -> Result<Applied, PatchError> {
        let Some(old) = self.load_full() else { return Err(PatchError::NoBase) };
        if patch.version <= old.snapshot.version {
            return Ok(Applied::Stale);
        }
        let mut snapshot = old.snapshot.clone();
        snapshot.version = patch.version;
        let mut flags: Vec<String> = patch.flags.keys().chain(patch.configs.keys()).cloned().collect();
        flags.sort_unstable();
        flags.dedup();
        let segments: Vec<String> = patch.segments.keys().cloned().collect();
        for (key, config) in patch.configs {
            let flag = snapshot.flags.get_mut(&key).ok_or_else(|| PatchError::UnknownFlag(key.clone()))?;
            flag.environments.insert(snapshot.environment.clone(), config);
        }
        for (key, flag) in patch.flags {
            match flag {
                Some(f) => snapshot.flags.insert(key, f),
                None => snapshot.flags.remove(&key),
            };
        }
        for (key, segment) in patch.segments {
            match segment {
                Some(s) => snapshot.segments.insert(key, s),
                None => snapshot.segments.remove(&key),
            };
        }
        let rules = Ruleset::compile(&snapshot).map_err(PatchError::Compile)?;
        Ok(self.swap(Loaded::new(snapshot, rules, true), patch.version, flags, segments))
    }

    fn swap(&self, loaded: Loaded, version: u64, flags: Vec<String>, segments: Vec<String>) -> Applied {
        let loaded = Arc::new(loaded);
        self.current.store(Some(loaded.clone()));
        self.serial.store(loaded.serial, Ordering::Release);
        if !flags.is_empty() || !segments.is_empty() {
            // No receivers is fine.
            let _ = self.changes.send(FlagChange { version, flags, segments });
        }
        Applied::Changed(loaded)
    }
}

/// Keys whose entries differ between two maps, in key order.
fn diff<V: PartialEq>(old: &BTreeMap<String, V>, new: &BTreeMap<String, V>) -> Vec<String> {
    let mut keys: Vec<String> = old.iter().filter(|(k, v)| new.get(*k) != Some(*v)).map(|(k, _)| k.clone()).collect();
    keys.extend(new.keys().filter(|k| !old.contains_key(*k)).cloned());
    keys.sort_unstable();
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(version: u64, value: bool) -> Snapshot {
        flagyard_eval::parse_snapshot(&format!(
            r#"{{"environment": "e", "version": {version}, "flags": {{"f": {{"type": "boolean",
            "variants": [{{"key": "v", "value": {value}}}],
            "environments": {{"e": {{"enabled": true, "offVariant": "v", "defaultVariant": "v"}}}}}}}}}}"#
        ))
        .unwrap()
    }

    #[test]
    fn put_patch_and_stale_patches() {
        let store = Store::new(ClientState::Initializing);
        let mut rx = store.subscribe();
        assert!(matches!(
            store.patch(Patch {
                version: 1,
                flags: BTreeMap::new(),
                configs: BTreeMap::new(),
                segments: BTreeMap::new()
            }),
            Err(PatchError::NoBase)
        ));
        assert!(matches!(store.put(snap(3, true), false).unwrap(), Applied::Changed(_)));
        assert_eq!(store.server_version(), None);
        assert!(matches!(store.put(snap(3, true), true).unwrap(), Applied::Unchanged));
        assert_eq!(store.server_version(), Some(3));
        assert_eq!(rx.try_recv().unwrap().flags, vec!["f"]);
        let f = snap(4, false).flags.remove("f");
        let stale = Patch {
            version: 3,
            flags: [("f".to_owned(), f.clone())].into(),
            configs: BTreeMap::new(),
            segments: BTreeMap::new(),
        };
        assert!(matches!(store.patch(stale).unwrap(), Applied::Stale));
        let gap = Patch {
            version: 7,
            flags: [("f".to_owned(), f)].into(),
            configs: BTreeMap::new(),
            segments: BTreeMap::new(),
        };
        assert!(matches!(store.patch(gap).unwrap(), Applied::Changed(_)));
        assert_eq!(store.server_version(), Some(7));
        assert_eq!(rx.try_recv().unwrap(), FlagChange { version: 7, flags: vec!["f".into()], segments: vec![] });
        let del = Patch {
            version: 8,
            flags: [("f".to_owned(), None)].into(),
            configs: BTreeMap::new(),
            segments: BTreeMap::new(),
        };
        store.patch(del).unwrap();
        assert!(store.load_full().unwrap().snapshot.flags.is_empty());
    }

    #[test]
    fn a_configs_patch_replaces_the_environments_configuration_only() {
        let store = Store::new(ClientState::Initializing);
        store.put(snap(3, true), true).unwrap();
        let config: FlagConfig =
            serde_json::from_str(r#"{"enabled": false, "offVariant": "v", "defaultVariant": "v"}"#).unwrap();
        let patch = Patch {
            version: 4,
            flags: BTreeMap::new(),
            configs: [("f".to_owned(), config.clone())].into(),
            segments: BTreeMap::new(),
        };
        assert!(matches!(store.patch(patch).unwrap(), Applied::Changed(_)));
        let loaded = store.load_full().unwrap();
        let flag = &loaded.snapshot.flags["f"];
        assert_eq!(flag.environments["e"], config);
        assert_eq!(flag.variants, snap(3, true).flags["f"].variants, "the definition is kept");
        assert_eq!(loaded.snapshot.version, 4);
        // A configuration for a flag these rules do not have: refused, so
        // the source fetches the whole snapshot; nothing applied.
        let unknown = Patch {
            version: 5,
            flags: BTreeMap::new(),
            configs: [("g".to_owned(), config)].into(),
            segments: BTreeMap::new(),
        };
        assert!(matches!(store.patch(unknown), Err(PatchError::UnknownFlag(k)) if k == "g"));
        assert_eq!(store.load_full().unwrap().snapshot.version, 4);
    }

    #[test]
    fn failed_state_sticks() {
        let store = Store::new(ClientState::Initializing);
        store.set_state(ClientState::Failed("401".into()));
        store.set_state(ClientState::Ready);
        assert_eq!(store.state(), ClientState::Failed("401".into()));
    }
}
