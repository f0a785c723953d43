//! The domain operations, written once for every storage backend.
//!
//! Each write runs in one transaction: it bumps the affected environments'
//! versions first (on Postgres that locks them, so concurrent writers queue
//! instead of racing), validates what the environment would become with the
//! engine's compiler, writes, appends one change record per environment
//! version, and records an audit entry with the state before and after.

mod admin;
mod configs;
mod decision;
mod error;
mod experiment_guards;
mod experiment_metrics;
mod experiments;
mod flags;
pub mod patches;
mod ramp_edits;
mod ramp_guard;
mod ramp_model;
mod ramp_run;
mod ramp_view;
mod ramps;
mod release_plan;
mod release_schedule;
mod releases;
mod result_history;
mod results;
mod results_csv;
pub mod rules;
mod segments;
mod sessions;
mod users;
mod views;

pub use admin::{
    EnvironmentInput, SdkKeyInput, TokenInput, bootstrap, create_environment, create_sdk_key, create_token,
    list_environments, list_sdk_keys, list_tokens, revoke_sdk_key, revoke_token,
};
pub use configs::{ConfigWrite, config_history, copy_config, get_config, patch_config, put_config, rollback_config};
pub use error::{Error, FieldError, Result};
pub use experiment_guards::SplitSnapshot;
pub use experiment_metrics::{
    MetricInput, MetricView, create_metric, delete_metric, get_metric, list_metrics, update_metric,
};
pub use experiments::{
    ExperimentInput, ExperimentView, create_experiment, delete_experiment, get_experiment, list_experiments,
    transition as transition_experiment, update_experiment,
};
pub use flags::{FlagInput, FlagPatch, FlagQueryParams, create_flag, delete_flag, get_flag, list_flags, update_flag};
pub use ramp_guard::guarded_ramps_to_look_at;
pub use ramp_model::{RampState, RampStep};
pub use ramp_run::{RampAction, RampCommand, act_on_ramp, check_ramp, next_ramp_at, run_due_ramp};
pub use ramp_view::RampView;
pub use ramps::{GuardrailInput, RampInput, StepInput, create_ramp, get_ramp, list_ramps};
pub use release_plan::{ReleaseChange, ReleasePreview};
pub use release_schedule::{
    ScheduleInput, ScheduledChangeInput, ScheduledOutcome, next_scheduled, run_due_release, schedule_change,
    schedule_release, unschedule_release,
};
pub use releases::{
    ReleaseInput, ReleaseState, ReleaseView, apply_release, create_release, delete_release, get_release, list_releases,
    preview_release, release_flags, revert_release, update_release,
};
pub use result_history::{HISTORY_DAYS, HistoryView, experiment_history, snapshot_running_experiments};
pub use results::{
    EventCountsView, MetricVariant as MetricVariantView, ResultsView, SrmScope, event_counts, experiment_results,
};
pub use results_csv::results_csv;
pub use segments::{SegmentInput, create_segment, delete_segment, get_segment, list_segments, update_segment};
pub use sessions::{
    LoginError, NewSession, SESSION_TOKEN_PREFIX, create_session, end_session, is_session_token, needs_touch,
    purge_sessions, resolve_session, touch_session, verify_login,
};
pub use users::{
    PreparedPatch, PreparedUser, UserInput, UserPatch, UserView, bootstrap_users, check_password, check_username,
    create_user, create_user_directly, delete_user, get_user, hash_password, list_users, prepare_patch, prepare_user,
    update_user, verify_password,
};
pub use views::{
    AuditView, ConfigView, EnvironmentView, FlagPage, FlagView, SdkKeyView, SegmentView, TokenView, audit_log, rfc3339,
};

use crate::store::{ChangeRecord, Environment, NewAudit, Queries, Topic};

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The environment named `key`, or 404.
pub(crate) async fn environment<T: Queries>(tx: &mut T, key: &str) -> Result<Environment, Error> {
    tx.environment(key).await?.ok_or_else(|| Error::NotFound(format!("environment `{key}`")))
}

/// Bumps `env`'s version (locking it on Postgres) and returns it updated.
pub(crate) async fn bump<T: Queries>(tx: &mut T, mut env: Environment) -> Result<Environment, Error> {
    env.version = tx.bump_version(env.id).await?;
    Ok(env)
}

/// The change-log entry of a change to `entity` `key` by `op` at the
/// environment's (already bumped) version.
pub(crate) fn change_record(env: &Environment, entity: &str, key: &str, op: &str, at: i64) -> ChangeRecord {
    ChangeRecord {
        environment_id: env.id,
        version: env.version,
        entity: entity.into(),
        key: key.into(),
        op: op.into(),
        at,
    }
}

/// Appends the change record of `env`'s current version.
pub(crate) async fn log_change<T: Queries>(
    tx: &mut T,
    env: &Environment,
    entity: &str,
    key: &str,
    op: &str,
    at: i64,
) -> Result<(), Error> {
    tx.insert_change(&change_record(env, entity, key, op, at)).await?;
    tx.notify(Topic::Changes).await?;
    Ok(())
}

/// Records an audit entry.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn audit<T: Queries>(
    tx: &mut T,
    at: i64,
    actor: &str,
    action: &str,
    entity: &str,
    key: &str,
    environment: Option<&str>,
    before: Option<&str>,
    after: Option<&str>,
) -> Result<(), Error> {
    let entry = NewAudit { at, actor, action, entity, key, environment, before, after };
    tx.insert_audit(&entry).await?;
    Ok(())
}

/// Checks an optimistic-concurrency precondition.
pub(crate) fn check_revision(what: &str, expected: Option<i64>, current: i64) -> Result<(), Error> {
    match expected {
        Some(e) if e != current => Err(Error::Conflict(format!(
            "{what} changed since revision {e}: it is at revision {current}; reload and apply your change again"
        ))),
        _ => Ok(()),
    }
}

/// A bad key, as a 400 naming the field.
pub(crate) fn check_key(field: &str, key: &str) -> Result<(), Error> {
    if flagyard_eval::is_valid_key(key) {
        Ok(())
    } else {
        // A long key is not echoed whole: the message is read beside the field.
        let shown: String = if key.chars().count() > 40 {
            format!("{}… ({} characters)", key.chars().take(40).collect::<String>(), key.chars().count())
        } else {
            key.to_owned()
        };
        Err(Error::invalid(
            field,
            format!(
                "invalid key `{shown}`: 1 to 128 ASCII letters, digits, `.`, `_` or `-`, starting with a letter or digit"
            ),
        ))
    }
}
