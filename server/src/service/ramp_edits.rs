//! Saving a plan, its audit entries, pausing it, and the pause when anyone
//! but the plan edits its rule ([`on_edit`], called by every configuration
//! write while a plan runs on the flag).

use flagyard_eval::{FlagConfig, Rule};

use super::error::Error;
use super::ramp_model::{RampState, from_json, plan_actor, rule_of};
use super::{audit, now_ms};
use crate::store::{Environment, FlagRecord, Queries, RampFilter, RampRecord};

/// Called by every configuration write of `flag` in `env` while a plan runs
/// there: a plan whose rule the write changed, written by anyone but the
/// plan itself, is paused with the reason.
pub(super) async fn on_edit<T: Queries>(
    tx: &mut T,
    actor: &str,
    flag: &FlagRecord,
    env: &Environment,
    config: &FlagConfig,
    revision: i64,
) -> Result<(), Error> {
    let running = [RampState::Running.as_str()];
    let filter = RampFilter { flag_id: Some(flag.id), environment_id: Some(env.id), states: &running };
    for mut r in tx.ramps(filter, 10).await? {
        if actor == plan_actor(r.id) {
            continue;
        }
        let ours: Rule = from_json("rule", &r.rule)?;
        let why = match rule_of(config, &r.rule_id) {
            Some(now) if *now == ours => continue,
            Some(_) => {
                format!("rule `{}` was edited by {actor} (revision {revision}); resume to continue from it", r.rule_id)
            }
            None => format!("rule `{}` was removed by {actor} (revision {revision})", r.rule_id),
        };
        pause_for(tx, &mut r, actor, why, now_ms()).await?;
    }
    Ok(())
}

/// Saves `r` as changed by `actor` at `at`.
pub(super) async fn save<T: Queries>(tx: &mut T, r: &mut RampRecord, actor: &str, at: i64) -> Result<(), Error> {
    r.revision += 1;
    r.updated_at = at;
    r.updated_by = actor.to_owned();
    tx.update_ramp(r).await?;
    Ok(())
}

pub(super) async fn audit_ramp<T: Queries>(
    tx: &mut T,
    actor: &str,
    action: &str,
    r: &RampRecord,
    after: &str,
) -> Result<(), Error> {
    let key = format!("{}#{}", r.flag_key, r.id);
    audit(tx, now_ms(), actor, action, "ramp", &key, Some(&r.environment_key), None, Some(after)).await
}

pub(super) async fn pause_for<T: Queries>(
    tx: &mut T,
    r: &mut RampRecord,
    actor: &str,
    why: String,
    at: i64,
) -> Result<(), Error> {
    r.state = RampState::Paused.as_str().into();
    r.next_at = None;
    r.reason = Some(why.clone());
    save(tx, r, actor, at).await?;
    metrics::counter!("flagyard_ramp_pauses_total").increment(1);
    audit_ramp(tx, actor, "ramp.pause", r, &serde_json::json!({"reason": why, "step": r.step}).to_string()).await
}
