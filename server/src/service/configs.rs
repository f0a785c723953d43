//! Per-environment flag configurations: the kill switch, rules, defaults.

use flagyard_eval::{FlagConfig, Prerequisite, Rule};
use serde::Deserialize;

use super::error::Error;
use super::rules::{self, Edits, Reach};
use super::views::ConfigView;
use super::{change_record, check_revision, environment, now_ms};
use crate::store::{Announced, ConfigRecord, Environment, FlagRecord, NewAudit, Queries, StoreError, Topic};

/// A whole configuration (`PUT`), or the changed fields (`PATCH`).
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigWrite {
    pub enabled: Option<bool>,
    pub off_variant: Option<String>,
    pub default_variant: Option<String>,
    pub prerequisites: Option<Vec<Prerequisite>>,
    pub rules: Option<Vec<Rule>>,
    /// The revision this change is based on (or `If-Match`); stale ones get 409.
    pub base_revision: Option<i64>,
}

impl ConfigWrite {
    /// The full configuration of a `PUT`: every field but the lists is required.
    fn into_full(self) -> Result<FlagConfig, Error> {
        let missing = |field: &str| Error::invalid(field, "required");
        Ok(FlagConfig {
            enabled: self.enabled.ok_or_else(|| missing("enabled"))?,
            off_variant: self.off_variant.ok_or_else(|| missing("offVariant"))?,
            default_variant: self.default_variant.ok_or_else(|| missing("defaultVariant"))?,
            prerequisites: self.prerequisites.unwrap_or_default(),
            rules: self.rules.unwrap_or_default(),
        })
    }

    /// `current` with this patch's fields applied.
    pub(super) fn apply(self, mut current: FlagConfig) -> FlagConfig {
        if let Some(v) = self.enabled {
            current.enabled = v;
        }
        if let Some(v) = self.off_variant {
            current.off_variant = v;
        }
        if let Some(v) = self.default_variant {
            current.default_variant = v;
        }
        if let Some(v) = self.prerequisites {
            current.prerequisites = v;
        }
        if let Some(v) = self.rules {
            current.rules = v;
        }
        current
    }
}

pub(super) fn parse_config(record: &ConfigRecord) -> Result<FlagConfig, Error> {
    serde_json::from_str(&record.config).map_err(|e| Error::Store(StoreError::Corrupt(format!("configuration: {e}"))))
}

async fn flag_of<T: Queries>(tx: &mut T, key: &str) -> Result<FlagRecord, Error> {
    tx.flag(key).await?.ok_or_else(|| Error::NotFound(format!("flag `{key}`")))
}

/// The configuration of `key` in `env`.
pub async fn get_config<T: Queries>(tx: &mut T, key: &str, env: &str) -> Result<ConfigView, Error> {
    let env = environment(tx, env).await?;
    let flag = flag_of(tx, key).await?;
    let config =
        tx.config(flag.id, env.id).await?.ok_or_else(|| Error::NotFound(format!("flag `{key}` in `{}`", env.key)))?;
    ConfigView::new(&env.key, &config)
}

/// Recorded revisions of the configuration, newest first.
pub async fn config_history<T: Queries>(
    tx: &mut T,
    key: &str,
    env: &str,
    limit: i64,
) -> Result<Vec<ConfigView>, Error> {
    let env = environment(tx, env).await?;
    let flag = flag_of(tx, key).await?;
    tx.config_history(flag.id, env.id, limit).await?.iter().map(|c| ConfigView::new(&env.key, c)).collect()
}

/// The one write path of configurations: read the flag and its
/// configuration, check the base revision, build the new configuration,
/// validate what the environment would become, then write in one step (the
/// new environment version, the configuration, the change log, the audit).
///
/// Every refusal comes before that write, so the job runs without a
/// savepoint of its own ([`crate::state::Undo::NothingWritten`]).
async fn write<T: Queries>(
    tx: &mut T,
    actor: &str,
    key: &str,
    env: &str,
    base_revision: Option<i64>,
    action: &str,
    make: impl FnOnce(FlagConfig) -> Result<FlagConfig, Error>,
) -> Result<ConfigView, Error> {
    // The environment, the flag, its configuration and whether an
    // experiment runs on it: one statement.
    let (env, found) =
        tx.env_flag_config(env, key).await?.ok_or_else(|| Error::NotFound(format!("environment `{env}`")))?;
    let found = found.ok_or_else(|| Error::NotFound(format!("flag `{key}`")))?;
    let (flag, running, ramp_running) = (found.flag, found.experiment_running, found.ramp_running);
    let current = found.config.ok_or_else(|| Error::NotFound(format!("flag `{key}` in `{}`", env.key)))?;
    check_revision("the configuration", base_revision, current.revision)?;
    let config = make(parse_config(&current)?)?;
    if running {
        super::experiment_guards::check_running(tx, &flag, &env, &config).await?;
    }
    let model = rules::flag_with(&flag, config.clone(), &env.key)?;
    let mut edits = Edits { flags: [(key.to_owned(), Some(model))].into(), ..Edits::default() };
    let snap = rules::snapshot(tx, &env, &edits, Reach::EditedClosure).await?;
    rules::validate(&snap, &format!("flags.{key}.environments.{}.", env.key))?;
    if rules::uses_patterns(&config) {
        // Patterns are budgeted per environment (compiling them is what every
        // SDK pays per version): count the whole environment as it would be.
        let whole = rules::snapshot(tx, &env, &edits, Reach::All).await?;
        rules::check_pattern_budget(&whole, &config)?;
    }
    let at = now_ms();
    let record = ConfigRecord {
        flag_id: flag.id,
        environment_id: env.id,
        config: serde_json::to_string(&config).map_err(|e| Error::Store(StoreError::Corrupt(e.to_string())))?,
        revision: current.revision + 1,
        updated_at: at,
        updated_by: actor.to_owned(),
    };
    // The version this write creates (see `put_config_logged`).
    let next = Environment { version: env.version + 1, ..env.clone() };
    let change = change_record(&next, "flag", key, "put", at);
    let entry = NewAudit {
        at,
        actor,
        action,
        entity: "config",
        key,
        environment: Some(&env.key),
        before: Some(&current.config),
        after: Some(&record.config),
    };
    // The version, the configuration, its history, the change log and the
    // audit entry at once: the job's only write, after its last check.
    tx.put_config_logged(&record, &change, &entry).await?;
    // The flag in hand, for this version's stream patch: this process
    // broadcasts it at commit, before answering (other replicas read the log).
    if let Some(Some(flag)) = edits.flags.remove(key) {
        tx.marks_mut().announce(Announced {
            environment_id: env.id,
            version: change.version,
            key: key.to_owned(),
            flag,
        });
    }
    if ramp_running {
        super::ramp_edits::on_edit(tx, actor, &flag, &env, &config, record.revision).await?;
    }
    tx.notify(Topic::Changes).await?;
    ConfigView::new(&env.key, &record)
}

/// A configuration write of `key` in `env` by `make` from the current
/// configuration, with no base revision (a plan's step, rollback, abort).
pub(super) async fn write_with<T: Queries>(
    tx: &mut T,
    actor: &str,
    key: &str,
    env: &str,
    action: &str,
    make: impl FnOnce(FlagConfig) -> Result<FlagConfig, Error>,
) -> Result<ConfigView, Error> {
    write(tx, actor, key, env, None, action, make).await
}

/// Replaces the configuration (`PUT`).
pub async fn put_config<T: Queries>(
    tx: &mut T,
    actor: &str,
    key: &str,
    env: &str,
    body: ConfigWrite,
) -> Result<ConfigView, Error> {
    let base = body.base_revision;
    let config = body.into_full()?;
    write(tx, actor, key, env, base, "config.update", |_| Ok(config)).await
}

/// Changes some fields of the configuration (`PATCH`; e.g. the kill switch).
pub async fn patch_config<T: Queries>(
    tx: &mut T,
    actor: &str,
    key: &str,
    env: &str,
    body: ConfigWrite,
) -> Result<ConfigView, Error> {
    let action = match (&body.enabled, &body.off_variant, &body.default_variant, &body.prerequisites, &body.rules) {
        (Some(true), None, None, None, None) => "config.enable",
        (Some(false), None, None, None, None) => "config.disable",
        _ => "config.update",
    };
    write(tx, actor, key, env, body.base_revision, action, |current| Ok(body.apply(current))).await
}

/// Copies the configuration of `from` over the one of `to`.
pub async fn copy_config<T: Queries>(
    tx: &mut T,
    actor: &str,
    key: &str,
    from: &str,
    to: &str,
    base_revision: Option<i64>,
) -> Result<ConfigView, Error> {
    if from == to {
        return Err(Error::invalid("to", "copying an environment onto itself changes nothing"));
    }
    let source = get_config(tx, key, from).await?.config;
    write(tx, actor, key, to, base_revision, "config.copy", |_| Ok(source)).await
}

/// Restores an earlier revision as a new one (a canary gone bad, undone in one call).
pub async fn rollback_config<T: Queries>(
    tx: &mut T,
    actor: &str,
    key: &str,
    env: &str,
    revision: i64,
    base_revision: Option<i64>,
) -> Result<ConfigView, Error> {
    let environment_row = environment(tx, env).await?;
    let flag = flag_of(tx, key).await?;
    let old = tx
        .config_revision(flag.id, environment_row.id, revision)
        .await?
        .ok_or_else(|| Error::NotFound(format!("revision {revision} of flag `{key}` in `{env}`")))?;
    let restored = parse_config(&old)?;
    write(tx, actor, key, env, base_revision, "config.rollback", |_| Ok(restored)).await
}
