//! The content of a stream patch (docs/protocol.md): the flags and segments
//! one environment version changed, in their state at that version.
//!
//! Written here, below the endpoints, so that a write can build its own
//! patch in its transaction (it holds the flag it just wrote) and announce
//! it for this process's streams ([`crate::store::TxMarks::announced`]):
//! no read after commit stands between the write and its broadcast.

use std::collections::BTreeMap;

use flagyard_eval::{Flag, FlagConfig, Segment};
use serde::Serialize;

use super::Error;
use crate::store::StoreError;

/// One version's patch.
#[derive(Debug, Serialize)]
pub struct Patch {
    pub version: i64,
    pub flags: BTreeMap<String, Option<Flag>>,
    /// Flags whose definition is unchanged: their configuration only.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub configs: BTreeMap<String, FlagConfig>,
    pub segments: BTreeMap<String, Option<Segment>>,
}

impl Patch {
    /// An empty patch of `version`.
    pub fn new(version: i64) -> Patch {
        Patch { version, flags: BTreeMap::new(), configs: BTreeMap::new(), segments: BTreeMap::new() }
    }

    /// The same patch with every flag that still exists as a `configs`
    /// entry (a release changes configurations, never definitions).
    pub fn as_configs(&self, env: &str) -> Patch {
        let mut out = Patch { segments: self.segments.clone(), ..Patch::new(self.version) };
        for (key, flag) in &self.flags {
            match flag.as_ref().and_then(|f| f.environments.get(env)) {
                Some(config) => {
                    out.configs.insert(key.clone(), config.clone());
                }
                None => {
                    out.flags.insert(key.clone(), flag.clone());
                }
            }
        }
        out
    }
}

/// Compact JSON (no newlines: one SSE `data:` line).
pub fn to_json<T: Serialize>(v: &T) -> Result<String, Error> {
    serde_json::to_string(v).map_err(|e| Error::Store(StoreError::Corrupt(e.to_string())))
}

/// The patch of `version` when it changed flag `key` alone, now `flag`.
pub fn flag_patch_json(version: i64, key: &str, flag: &Flag) -> Result<String, Error> {
    let mut patch = Patch::new(version);
    patch.flags.insert(key.to_owned(), Some(flag.clone()));
    to_json(&patch)
}
