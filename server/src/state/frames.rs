//! What streams send: Server-Sent Events frames, formatted once and shared
//! by every subscriber as `Bytes` (a clone is a reference count, not a copy).

use axum::body::Bytes;
use flagyard_eval::Flag;
use std::collections::BTreeMap;

use crate::service::Error as DomainError;
use crate::service::patches::{Patch, to_json};
use crate::service::rules::{self, Edits, Reach};
use crate::store::{ChangeRecord, Environment, Queries};

/// The comment sent when a stream has been quiet for a heartbeat period.
pub const HEARTBEAT: &[u8] = b": heartbeat\n\n";
/// The first line of every stream: the reconnect delay we suggest (ms).
pub const RETRY: &[u8] = b"retry: 1000\n\n";

/// One event of one environment version.
#[derive(Debug, Clone)]
pub struct Frame {
    pub version: i64,
    pub bytes: Bytes,
    /// The same patch for streams that asked for `configs` entries
    /// (`?patch=configs`, docs/protocol.md): a release's flags with only
    /// their configuration, not their type and variants. `None`: the same
    /// as `bytes`.
    pub configs: Option<Bytes>,
}

impl Frame {
    /// The bytes a stream sends: `configs` ones if it asked for them.
    pub fn for_stream(&self, configs: bool) -> Bytes {
        match (&self.configs, configs) {
            (Some(b), true) => b.clone(),
            _ => self.bytes.clone(),
        }
    }
}

fn event_bytes(event: &str, version: i64, json: &str) -> Bytes {
    Bytes::from(format!("event: {event}\nid: {version}\ndata: {json}\n\n"))
}

/// `event: <event>\nid: <version>\ndata: <json>\n\n`. The JSON is compact
/// (no newlines), so it is one `data:` line.
pub fn frame(event: &str, version: i64, json: &str) -> Frame {
    Frame { version, bytes: event_bytes(event, version, json), configs: None }
}

/// The environment's whole snapshot as JSON, read in the caller's transaction.
pub async fn snapshot_json<T: Queries>(tx: &mut T, env: &Environment) -> Result<String, DomainError> {
    let snap = rules::snapshot(tx, env, &Edits::default(), Reach::All).await?;
    to_json(&snap)
}

/// Up to this many flags, a release's patch reads each flag on its own;
/// more, and it reads the environment's flags in one statement.
const FEW: usize = 4;

/// The patch of one change, with the current state of what it names; `None`
/// when the change calls for a whole snapshot (an environment-level change).
pub async fn patch_frame<T: Queries>(
    tx: &mut T,
    env: &Environment,
    change: &ChangeRecord,
) -> Result<Option<Frame>, DomainError> {
    let mut patch = Patch::new(change.version);
    match change.entity.as_str() {
        "flag" => {
            patch.flags.insert(change.key.clone(), flag_state(tx, env, &change.key).await?);
        }
        "segment" => {
            let model = tx.segment(&change.key).await?.map(|s| rules::segment_model(&s)).transpose()?;
            patch.segments.insert(change.key.clone(), model);
        }
        "release" => {
            // Every flag the release changed in this environment, in one patch.
            let Ok(id) = change.key.parse::<i64>() else { return Ok(None) };
            let keys = crate::service::release_flags(tx, id, &env.key).await?;
            if keys.len() <= FEW {
                for key in keys {
                    let model = flag_state(tx, env, &key).await?;
                    patch.flags.insert(key, model);
                }
            } else {
                // One statement for the environment instead of two per flag:
                // a large release's patch is built while its streams wait.
                let mut rows: BTreeMap<String, (crate::store::FlagRecord, crate::store::ConfigRecord)> =
                    tx.environment_flags(env.id).await?.into_iter().map(|(f, c)| (f.key.clone(), (f, c))).collect();
                for key in keys {
                    let model = match rows.remove(&key) {
                        Some((flag, config)) => Some(rules::flag_model(&flag, &config, &env.key)?),
                        None => None,
                    };
                    patch.flags.insert(key, model);
                }
            }
            let configs = to_json(&patch.as_configs(&env.key))?;
            let bytes = event_bytes("patch", change.version, &to_json(&patch)?);
            return Ok(Some(Frame {
                version: change.version,
                bytes,
                configs: Some(event_bytes("patch", change.version, &configs)),
            }));
        }
        _ => return Ok(None),
    }
    Ok(Some(frame("patch", change.version, &to_json(&patch)?)))
}

/// Flag `key` as configured in `env` now; `None` when it is gone.
async fn flag_state<T: Queries>(tx: &mut T, env: &Environment, key: &str) -> Result<Option<Flag>, DomainError> {
    let Some(flag) = tx.flag(key).await? else { return Ok(None) };
    match tx.config(flag.id, env.id).await? {
        Some(config) => Ok(Some(rules::flag_model(&flag, &config, &env.key)?)),
        None => Ok(None),
    }
}
