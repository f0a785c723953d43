//! Assembling an environment's rules from storage, and validating a write by
//! compiling what the environment would become.
//!
//! A configuration write compiles only the flags and segments reachable from
//! the written flag (its prerequisites and segments, transitively): enough
//! to catch unknown references and cycles, at the cost of one or two rows
//! instead of the whole environment. Writes that others may depend on
//! (variants, segments, deletions) compile the whole environment.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use flagyard_eval::{Condition, Flag, FlagConfig, FlagType, Operator, Ruleset, Segment, Snapshot, Variant};

use super::error::{Error, FieldError};
use crate::store::{ConfigRecord, Environment, FlagRecord, Queries, SegmentRecord, StoreError};

/// In-memory edits applied over stored rows: `Some` replaces, `None` removes.
#[derive(Debug, Default)]
pub struct Edits {
    pub flags: BTreeMap<String, Option<Flag>>,
    pub segments: BTreeMap<String, Option<Segment>>,
}

/// Which flags to load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Every flag and segment of the environment.
    All,
    /// The edited flags and what they reference, transitively.
    EditedClosure,
}

fn corrupt(what: &str, key: &str, e: impl std::fmt::Display) -> Error {
    Error::Store(StoreError::Corrupt(format!("{what} `{key}`: {e}")))
}

/// Parses a stored flag's type and variants.
pub fn definition(flag: &FlagRecord) -> Result<(FlagType, Vec<Variant>), Error> {
    let kind: FlagType = serde_json::from_value(serde_json::Value::String(flag.kind.clone()))
        .map_err(|e| corrupt("flag", &flag.key, e))?;
    let variants: Vec<Variant> = serde_json::from_str(&flag.variants).map_err(|e| corrupt("flag", &flag.key, e))?;
    Ok((kind, variants))
}

/// The engine model of a flag with `config` as its configuration in `env`.
pub fn flag_with(flag: &FlagRecord, config: FlagConfig, env: &str) -> Result<Flag, Error> {
    let (kind, variants) = definition(flag)?;
    Ok(Flag { kind, variants, environments: [(env.to_owned(), config)].into() })
}

/// Parses a stored flag and its configuration in `env` into the engine model.
pub fn flag_model(flag: &FlagRecord, config: &ConfigRecord, env: &str) -> Result<Flag, Error> {
    let parsed: FlagConfig = serde_json::from_str(&config.config).map_err(|e| corrupt("config of", &flag.key, e))?;
    flag_with(flag, parsed, env)
}

/// Parses a stored segment.
pub fn segment_model(segment: &SegmentRecord) -> Result<Segment, Error> {
    serde_json::from_str(&segment.definition).map_err(|e| corrupt("segment", &segment.key, e))
}

/// Flags and segments a list of conditions refers to.
fn condition_refs(conditions: &[Condition], flags: &mut Vec<String>, segments: &mut Vec<String>) {
    for c in conditions {
        match c.op {
            Operator::Prerequisite => flags.extend(c.flag.iter().cloned()),
            Operator::Segment | Operator::NotSegment => {
                segments.extend(c.values.iter().filter_map(|v| v.as_str().map(str::to_owned)));
            }
            _ => {}
        }
    }
}

/// Flags and segments referenced by a flag's configuration in `env`.
pub fn flag_refs(flag: &Flag, env: &str) -> (Vec<String>, Vec<String>) {
    let (mut flags, mut segments) = (Vec::new(), Vec::new());
    if let Some(config) = flag.environments.get(env) {
        flags.extend(config.prerequisites.iter().map(|p| p.flag.clone()));
        for rule in &config.rules {
            condition_refs(&rule.conditions, &mut flags, &mut segments);
        }
    }
    (flags, segments)
}

/// The environment's snapshot as stored, with `edits` applied.
pub async fn snapshot<T: Queries>(
    tx: &mut T,
    env: &Environment,
    edits: &Edits,
    reach: Reach,
) -> Result<Snapshot, Error> {
    let mut snap = Snapshot { environment: env.key.clone(), version: env.version as u64, ..Snapshot::default() };
    match reach {
        Reach::All => {
            for (flag, config) in tx.environment_flags(env.id).await? {
                if !edits.flags.contains_key(&flag.key) {
                    let model = flag_model(&flag, &config, &env.key)?;
                    snap.flags.insert(flag.key, model);
                }
            }
            for segment in tx.segments().await? {
                if !edits.segments.contains_key(&segment.key) {
                    let model = segment_model(&segment)?;
                    snap.segments.insert(segment.key, model);
                }
            }
            snap.flags.extend(edits.flags.iter().filter_map(|(k, f)| Some((k.clone(), f.clone()?))));
            snap.segments.extend(edits.segments.iter().filter_map(|(k, s)| Some((k.clone(), s.clone()?))));
        }
        Reach::EditedClosure => {
            let mut flag_queue: VecDeque<String> = edits.flags.keys().cloned().collect();
            let mut segment_queue: VecDeque<String> = VecDeque::new();
            let mut seen_flags: BTreeSet<String> = flag_queue.iter().cloned().collect();
            let mut seen_segments: BTreeSet<String> = BTreeSet::new();
            while let Some(key) = flag_queue.pop_front() {
                let model = match edits.flags.get(&key) {
                    Some(edit) => edit.clone(),
                    None => match tx.flag(&key).await? {
                        Some(flag) => match tx.config(flag.id, env.id).await? {
                            Some(config) => Some(flag_model(&flag, &config, &env.key)?),
                            None => None,
                        },
                        None => None,
                    },
                };
                let Some(model) = model else { continue };
                let (flags, segments) = flag_refs(&model, &env.key);
                for f in flags {
                    if seen_flags.insert(f.clone()) {
                        flag_queue.push_back(f);
                    }
                }
                for s in segments {
                    if seen_segments.insert(s.clone()) {
                        segment_queue.push_back(s);
                    }
                }
                snap.flags.insert(key, model);
            }
            while let Some(key) = segment_queue.pop_front() {
                let model = match edits.segments.get(&key) {
                    Some(edit) => edit.clone(),
                    None => tx.segment(&key).await?.map(|s| segment_model(&s)).transpose()?,
                };
                let Some(model) = model else { continue };
                let (mut flags, mut segments) = (Vec::new(), Vec::new());
                condition_refs(&model.conditions, &mut flags, &mut segments);
                for s in segments {
                    if seen_segments.insert(s.clone()) {
                        segment_queue.push_back(s);
                    }
                }
                snap.segments.insert(key, model);
            }
        }
    }
    Ok(snap)
}

/// Refuses (422 at `rules`) a write of `config` that would put more
/// `matches` patterns into the environment `snap` than a snapshot may hold.
pub fn check_pattern_budget(snap: &Snapshot, config: &flagyard_eval::FlagConfig) -> Result<(), Error> {
    let (patterns, bytes) = flagyard_eval::pattern_totals(snap);
    if patterns <= flagyard_eval::MAX_PATTERNS && bytes <= flagyard_eval::MAX_PATTERN_BYTES {
        return Ok(());
    }
    let own: usize = config
        .rules
        .iter()
        .flat_map(|r| &r.conditions)
        .filter(|c| c.op == flagyard_eval::Operator::Matches)
        .map(|c| c.values.len())
        .sum();
    Err(Error::invalid(
        "rules",
        format!(
            "the environment would hold {patterns} `matches` patterns ({bytes} bytes, {own} of them here); \
             an environment holds at most {} patterns of {} bytes in all",
            flagyard_eval::MAX_PATTERNS,
            flagyard_eval::MAX_PATTERN_BYTES
        ),
    ))
}

/// Compiles `snap`; on failure, a 422 whose paths are relative to `prefix`
/// (e.g. `flags.x.environments.production.`) where they start with it.
pub fn validate(snap: &Snapshot, prefix: &str) -> Result<Ruleset, Error> {
    Ruleset::compile(snap).map_err(|errors| {
        let errors = errors.into_vec();
        // When the written part has problems, report those (a cycle is also
        // reported at the other flags it runs through; that adds nothing).
        let own = !prefix.is_empty() && errors.iter().any(|e| e.path.starts_with(prefix));
        let errors: Vec<FieldError> = errors
            .into_iter()
            .filter(|e| !own || e.path.starts_with(prefix))
            .map(|e| {
                let path = e.path.strip_prefix(prefix).map_or_else(|| e.path.clone(), str::to_owned);
                FieldError { path, message: e.kind.to_string() }
            })
            .collect();
        match Error::fields(errors) {
            Err(e) => e,
            Ok(()) => Error::Invalid { summary: "the rules do not compile".to_owned(), errors: Vec::new() },
        }
    })
}

/// Whether `config` has a `matches` condition (patterns are budgeted per
/// environment, see [`check_pattern_budget`]).
pub fn uses_patterns(config: &FlagConfig) -> bool {
    config.rules.iter().flat_map(|r| &r.conditions).any(|c| c.op == Operator::Matches)
}
