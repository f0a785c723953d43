//! What a release would do: each part read, checked against its base
//! revision, applied to the current configuration, and every environment it
//! touches compiled as it would become. Shared by the preview (which shows
//! every problem) and the apply (which refuses on the first kind of problem
//! and writes nothing).

use std::collections::{BTreeMap, BTreeSet};

use flagyard_eval::{FlagConfig, Ruleset};
use serde::{Deserialize, Serialize};

use super::configs::{ConfigWrite, parse_config};
use super::error::{Error, FieldError};
use super::rules::{self, Edits, Reach};
use crate::store::{ConfigRecord, Environment, FlagRecord, Queries};

/// At most this many parts in one release.
pub const MAX_PARTS: usize = 1_000;

/// One part of a release: a change to one flag's configuration in one
/// environment. The fields given replace the current ones (as `PATCH` does);
/// `baseRevision` pins the revision the change was written against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReleaseChange {
    pub flag: String,
    pub environment: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub off_variant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_variant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prerequisites: Option<Vec<flagyard_eval::Prerequisite>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<Vec<flagyard_eval::Rule>>,
    /// The configuration revision this change was written against; when the
    /// configuration has moved on, applying refuses (409) instead of
    /// overwriting the newer edit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_revision: Option<i64>,
}

impl ReleaseChange {
    /// The change that puts `config` back whole, based on `revision`.
    pub fn restoring(flag: &str, environment: &str, config: FlagConfig, revision: i64) -> Self {
        ReleaseChange {
            flag: flag.to_owned(),
            environment: environment.to_owned(),
            enabled: Some(config.enabled),
            off_variant: Some(config.off_variant),
            default_variant: Some(config.default_variant),
            prerequisites: Some(config.prerequisites),
            rules: Some(config.rules),
            base_revision: Some(revision),
        }
    }

    fn patch(&self) -> ConfigWrite {
        ConfigWrite {
            enabled: self.enabled,
            off_variant: self.off_variant.clone(),
            default_variant: self.default_variant.clone(),
            prerequisites: self.prerequisites.clone(),
            rules: self.rules.clone(),
            base_revision: self.base_revision,
        }
    }
}

/// Checks what can be checked without the database: keys, count, no flag
/// twice in one environment.
pub fn check_parts(changes: &[ReleaseChange]) -> Result<(), Error> {
    if changes.len() > MAX_PARTS {
        return Err(Error::invalid("changes", format!("at most {MAX_PARTS} changes in one release")));
    }
    let mut seen = BTreeMap::new();
    let mut errors = Vec::new();
    for (i, c) in changes.iter().enumerate() {
        for (field, key) in [("flag", &c.flag), ("environment", &c.environment)] {
            if !flagyard_eval::is_valid_key(key) {
                errors.push(FieldError {
                    path: format!("changes[{i}].{field}"),
                    message: format!("invalid key `{key}`"),
                });
            }
        }
        if let Some(first) = seen.insert((c.flag.as_str(), c.environment.as_str()), i) {
            errors.push(FieldError {
                path: format!("changes[{i}]"),
                message: format!(
                    "flag `{}` in `{}` is already changed by changes[{first}]: one change per flag and environment",
                    c.flag, c.environment
                ),
            });
        }
    }
    Error::fields(errors)
}

/// How a part whose base revision no longer matches is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnStale {
    /// A conflict: nothing is applied.
    Fail,
    /// Applied on top of the newer configuration.
    Apply,
}

impl OnStale {
    /// From its stored and wire name, `fail` or `apply`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "fail" => Some(OnStale::Fail),
            "apply" => Some(OnStale::Apply),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OnStale::Fail => "fail",
            OnStale::Apply => "apply",
        }
    }
}

/// One part as it would apply.
#[derive(Debug)]
pub struct PlannedPart {
    /// Its index in the release's `changes`.
    pub index: usize,
    pub flag: FlagRecord,
    pub current: ConfigRecord,
    pub before: FlagConfig,
    pub after: FlagConfig,
    /// The base revision was given and no longer matches.
    pub stale: bool,
    /// A ramp runs on the flag in this environment (an edit may pause it).
    pub ramp_running: bool,
}

/// One environment as the release would leave it.
#[derive(Debug)]
pub struct PlannedEnv {
    pub env: Environment,
    pub parts: Vec<PlannedPart>,
    /// Flags whose answers may change: the changed ones and every flag that
    /// depends on one of them through a prerequisite, by key. Filled by the
    /// preview only.
    pub affected: Vec<String>,
}

/// A release's plan: every environment, and every problem found.
#[derive(Debug, Default)]
pub struct Plan {
    pub envs: Vec<PlannedEnv>,
    /// Stale base revisions and running experiments, by part.
    pub conflicts: Vec<FieldError>,
    /// Unknown flags or environments, and what does not compile.
    pub invalid: Vec<FieldError>,
}

impl Plan {
    /// `Ok` when the plan can be applied: otherwise a 409 naming every
    /// conflicting part, or a 422 with every invalid one.
    pub fn check(&self) -> Result<(), Error> {
        if !self.conflicts.is_empty() {
            let parts: Vec<String> = self.conflicts.iter().map(|c| format!("{}: {}", c.path, c.message)).collect();
            return Err(Error::Conflict(parts.join("; ")));
        }
        Error::fields(self.invalid.clone())
    }
}

/// Plans `changes`. With `affected`, also works out which flags' answers
/// may change (the preview's extra reads of the whole environment).
pub async fn plan<T: Queries>(
    tx: &mut T,
    changes: &[ReleaseChange],
    on_stale: OnStale,
    affected: bool,
) -> Result<Plan, Error> {
    let mut plan = Plan::default();
    // Environments in order of first mention.
    let mut order: Vec<&str> = Vec::new();
    for c in changes {
        if !order.contains(&c.environment.as_str()) {
            order.push(&c.environment);
        }
    }
    for env_key in order {
        let indexed = changes.iter().enumerate().filter(|(_, c)| c.environment == env_key);
        let Some(env) = tx.environment(env_key).await? else {
            for (i, _) in indexed {
                plan.invalid.push(problem(i, "environment", format!("no environment `{env_key}`")));
            }
            continue;
        };
        let mut planned = PlannedEnv { env, parts: Vec::new(), affected: Vec::new() };
        for (i, change) in indexed {
            if let Some(part) = plan_part(tx, &planned.env, i, change, on_stale, &mut plan).await? {
                planned.parts.push(part);
            }
        }
        compile(tx, &mut planned, &mut plan, affected).await?;
        plan.envs.push(planned);
    }
    Ok(plan)
}

fn problem(index: usize, field: &str, message: String) -> FieldError {
    let path = if field.is_empty() { format!("changes[{index}]") } else { format!("changes[{index}].{field}") };
    FieldError { path, message }
}

async fn plan_part<T: Queries>(
    tx: &mut T,
    env: &Environment,
    i: usize,
    change: &ReleaseChange,
    on_stale: OnStale,
    plan: &mut Plan,
) -> Result<Option<PlannedPart>, Error> {
    let Some(found) = tx.flag_and_config(&change.flag, env.id).await? else {
        plan.invalid.push(problem(i, "flag", format!("no flag `{}`", change.flag)));
        return Ok(None);
    };
    let Some(current) = found.config else {
        plan.invalid.push(problem(i, "flag", format!("flag `{}` has no configuration in `{}`", change.flag, env.key)));
        return Ok(None);
    };
    let stale = change.base_revision.is_some_and(|b| b != current.revision);
    if stale && on_stale == OnStale::Fail {
        plan.conflicts.push(problem(
            i,
            "",
            format!(
                "flag `{}` in `{}` changed since revision {}: it is at revision {}",
                change.flag,
                env.key,
                change.base_revision.unwrap_or_default(),
                current.revision
            ),
        ));
    }
    let before = parse_config(&current)?;
    let after = change.patch().apply(before.clone());
    if found.experiment_running {
        match super::experiment_guards::check_running(tx, &found.flag, env, &after).await {
            Ok(()) => {}
            Err(Error::Conflict(m)) => plan.conflicts.push(problem(i, "", m)),
            Err(e) => return Err(e),
        }
    }
    let ramp_running = found.ramp_running;
    Ok(Some(PlannedPart { index: i, flag: found.flag, current, before, after, stale, ramp_running }))
}

/// Compiles the environment as the planned parts leave it; problems go to
/// `plan.invalid` with paths into the release's parts.
async fn compile<T: Queries>(
    tx: &mut T,
    planned: &mut PlannedEnv,
    plan: &mut Plan,
    affected: bool,
) -> Result<(), Error> {
    if planned.parts.is_empty() {
        return Ok(());
    }
    let env_key = planned.env.key.clone();
    let mut edits = Edits::default();
    for p in &planned.parts {
        edits.flags.insert(p.flag.key.clone(), Some(rules::flag_with(&p.flag, p.after.clone(), &env_key)?));
    }
    // Patterns are budgeted per environment: count the whole of it.
    let with_patterns = planned.parts.iter().find(|p| rules::uses_patterns(&p.after));
    let reach = if with_patterns.is_some() || affected { Reach::All } else { Reach::EditedClosure };
    let snap = rules::snapshot(tx, &planned.env, &edits, reach).await?;
    if let Err(errors) = Ruleset::compile(&snap) {
        for e in errors.into_vec() {
            plan.invalid.push(part_path(planned, &env_key, e.path, e.kind.to_string()));
        }
    }
    if let Some(part) = with_patterns
        && let Err(Error::Invalid { errors, .. }) = rules::check_pattern_budget(&snap, &part.after)
    {
        plan.invalid.extend(errors.into_iter().map(|e| problem(part.index, &e.path, e.message)));
    }
    if affected {
        planned.affected = affected_flags(&snap, &env_key, planned);
    }
    Ok(())
}

/// A compile error's path made relative to the part it is in, where it is
/// in one (`flags.x.environments.production.rules[0]` → `changes[3].rules[0]`).
fn part_path(planned: &PlannedEnv, env_key: &str, path: String, message: String) -> FieldError {
    for p in &planned.parts {
        let prefix = format!("flags.{}.environments.{env_key}.", p.flag.key);
        if let Some(rest) = path.strip_prefix(&prefix) {
            return FieldError { path: format!("changes[{}].{rest}", p.index), message };
        }
    }
    FieldError { path: format!("environments.{env_key}: {path}"), message }
}

/// The changed flags and, transitively, every flag with a prerequisite on
/// one of them (a prerequisite in the flag's list or in a rule's condition).
fn affected_flags(snap: &flagyard_eval::Snapshot, env_key: &str, planned: &PlannedEnv) -> Vec<String> {
    let mut affected: BTreeSet<String> =
        planned.parts.iter().filter(|p| p.after != p.before).map(|p| p.flag.key.clone()).collect();
    loop {
        let before = affected.len();
        for (key, flag) in &snap.flags {
            if affected.contains(key) {
                continue;
            }
            let (refs, _) = rules::flag_refs(flag, env_key);
            if refs.iter().any(|r| affected.contains(r)) {
                affected.insert(key.clone());
            }
        }
        if affected.len() == before {
            return affected.into_iter().collect();
        }
    }
}

/// One part in a preview.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PartPreview {
    /// Its index in the release's `changes`.
    pub part: usize,
    pub flag: String,
    /// The configuration's current revision.
    pub revision: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_revision: Option<i64>,
    /// The configuration moved on since `baseRevision`.
    pub stale: bool,
    /// The top-level fields that change (`enabled`, `rules`, ...); empty
    /// when the part changes nothing.
    pub fields: Vec<String>,
    pub before: FlagConfig,
    pub after: FlagConfig,
}

/// One environment in a preview.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentPreview {
    pub environment: String,
    /// The environment's current version (applying makes it one more).
    pub version: i64,
    pub changes: Vec<PartPreview>,
    /// Flags whose answers may change: the changed ones and, transitively,
    /// every flag with a prerequisite on one of them.
    pub affected_flags: Vec<String>,
}

/// What applying a release would do, and whether it can.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReleasePreview {
    pub release: i64,
    /// No conflicts and no errors: applying now would succeed.
    pub applicable: bool,
    /// Stale base revisions and running experiments (applying answers 409).
    pub conflicts: Vec<FieldError>,
    /// Unknown flags or environments and compile errors (applying answers 422).
    pub errors: Vec<FieldError>,
    pub environments: Vec<EnvironmentPreview>,
}

fn changed_fields(before: &FlagConfig, after: &FlagConfig) -> Vec<String> {
    let mut fields = Vec::new();
    let mut check = |name: &str, same: bool| {
        if !same {
            fields.push(name.to_owned());
        }
    };
    check("enabled", before.enabled == after.enabled);
    check("offVariant", before.off_variant == after.off_variant);
    check("defaultVariant", before.default_variant == after.default_variant);
    check("prerequisites", before.prerequisites == after.prerequisites);
    check("rules", before.rules == after.rules);
    fields
}

/// The preview of release `id` with parts `changes`.
pub async fn preview<T: Queries>(tx: &mut T, id: i64, changes: &[ReleaseChange]) -> Result<ReleasePreview, Error> {
    let plan = plan(tx, changes, OnStale::Fail, true).await?;
    let environments = plan
        .envs
        .into_iter()
        .map(|e| EnvironmentPreview {
            environment: e.env.key,
            version: e.env.version,
            changes: e
                .parts
                .into_iter()
                .map(|p| PartPreview {
                    part: p.index,
                    flag: p.flag.key,
                    revision: p.current.revision,
                    base_revision: changes.get(p.index).and_then(|c| c.base_revision),
                    stale: p.stale,
                    fields: changed_fields(&p.before, &p.after),
                    before: p.before,
                    after: p.after,
                })
                .collect(),
            affected_flags: e.affected,
        })
        .collect();
    Ok(ReleasePreview {
        release: id,
        applicable: plan.conflicts.is_empty() && plan.invalid.is_empty(),
        conflicts: plan.conflicts,
        errors: plan.invalid,
        environments,
    })
}
