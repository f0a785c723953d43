//! Running a plan: its steps written as configuration writes of the rule,
//! the scheduler's look at a due plan ([`run_due_ramp`]) and the guardrail
//! task's ([`check_ramp`]), and what a person does (pause, resume, skip,
//! abort). The pause when someone else edits the rule is
//! [`super::ramp_edits`].

use flagyard_eval::{FlagConfig, Rule};
use serde::{Deserialize, Serialize};

use super::error::Error;
use super::experiments::transition;
use super::ramp_edits::{audit_ramp, pause_for, save};
use super::ramp_guard::{GuardStatus, Verdict, evaluate, record_point};
use super::ramp_model::{
    RampState, RampStep, experiment_key, from_json, plan_actor, ramp_of, rule_of, stepped_rule, steps_of, to_json,
};
use super::ramp_view::RampView;
use super::{check_revision, configs};
use crate::store::{IngestQueries, Queries, RampRecord};

/// How often a running step that waits for units or evidence is looked at
/// by the scheduler (the guardrail task looks after every ingest too).
const RECHECK_MS: i64 = 60_000;

/// Writes `rule` in place of the plan's rule: an ordinary configuration
/// write (new version, history, audit) whose actor is `actor`.
pub(super) async fn write_rule<T: Queries>(
    tx: &mut T,
    actor: &str,
    r: &RampRecord,
    rule: &Rule,
    action: &str,
) -> Result<(), Error> {
    let id = r.rule_id.clone();
    let rule = rule.clone();
    configs::write_with(tx, actor, &r.flag_key, &r.environment_key, action, move |mut config: FlagConfig| {
        match config.rules.iter_mut().find(|x| x.id.as_deref() == Some(id.as_str())) {
            Some(slot) => *slot = rule,
            None => return Err(Error::Conflict(format!("the flag no longer has rule `{id}`"))),
        }
        Ok(config)
    })
    .await?;
    Ok(())
}

/// Stops the plan's experiment (it measured the plan; the plan is over).
async fn stop_experiment<T: Queries>(tx: &mut T, r: &RampRecord, actor: &str) -> Result<(), Error> {
    if r.experiment_id.is_some() {
        let key = experiment_key(r.id);
        if tx.experiment(&key).await?.is_some_and(|x| x.state == "running") {
            transition(tx, actor, &key, false).await?;
        }
    }
    Ok(())
}

/// Moves the plan to step `to` (writing it) or completes it after its last.
async fn advance<T: Queries + IngestQueries>(
    tx: &mut T,
    r: &mut RampRecord,
    steps: &[RampStep],
    to: usize,
    actor: &str,
    now: i64,
) -> Result<(), Error> {
    let Some(step) = steps.get(to) else {
        r.state = RampState::Completed.as_str().into();
        r.next_at = None;
        r.reason = None;
        save(tx, r, actor, now).await?;
        stop_experiment(tx, r, actor).await?;
        return audit_ramp(tx, actor, "ramp.complete", r, &serde_json::json!({"step": r.step}).to_string()).await;
    };
    let current: Rule = from_json("rule", &r.rule)?;
    let next = stepped_rule(r, &current, step)?;
    write_rule(tx, &plan_actor(r.id), r, &next, "ramp.step").await?;
    metrics::counter!("flagyard_ramp_steps_total").increment(1);
    r.rule = to_json(&next)?;
    r.step = i64::try_from(to).unwrap_or(i64::MAX);
    r.step_started_at = now;
    r.next_at = Some(now + step.hold_ms);
    r.state = RampState::Running.as_str().into();
    r.reason = None;
    r.baseline = super::ramp_guard::baseline(tx, r).await?;
    save(tx, r, actor, now).await?;
    audit_ramp(tx, actor, "ramp.advance", r, &serde_json::json!({"step": to, "rule": next}).to_string()).await
}

/// Sets the rule back (to `rule`), ends the plan in `state` with `why`.
async fn set_back<T: Queries>(
    tx: &mut T,
    r: &mut RampRecord,
    rule: &Rule,
    state: RampState,
    why: String,
    actor: &str,
    now: i64,
) -> Result<(), Error> {
    let action = if state == RampState::RolledBack { "ramp.rollback" } else { "ramp.abort" };
    write_rule(tx, &plan_actor(r.id), r, rule, action).await?;
    r.rule = to_json(rule)?;
    r.state = state.as_str().into();
    r.next_at = None;
    r.reason = Some(why);
    save(tx, r, actor, now).await?;
    stop_experiment(tx, r, actor).await?;
    let reason = if state == RampState::RolledBack { "regression" } else { "aborted" };
    metrics::counter!("flagyard_rollbacks_total", "reason" => reason).increment(1);
    Ok(())
}

/// What a look at a plan did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Looked {
    /// Nothing to do yet.
    Waiting,
    Advanced,
    Completed,
    Paused,
    RolledBack,
}

/// One look at a running plan at `now`: roll back on a regression, pause
/// on an edit or an SRM warning, advance when the hold is over and the step
/// has what it waits for, pause when it waited too long.
async fn look<T: Queries + IngestQueries>(tx: &mut T, r: &mut RampRecord, now: i64) -> Result<Looked, Error> {
    if r.state != RampState::Running.as_str() {
        return Ok(Looked::Waiting);
    }
    let actor = plan_actor(r.id);
    let steps = steps_of(r)?;
    let step =
        usize::try_from(r.step).ok().and_then(|i| steps.get(i)).cloned().ok_or_else(|| Error::corrupt("ramp step"))?;
    let guard = match r.experiment_id {
        Some(_) => Some(evaluate(tx, r, now).await?),
        None => None,
    };
    if let Some(g) = &guard {
        record_point(r, g, now)?;
        match g.verdict {
            Verdict::Regression => {
                let before: Rule = from_json("rule", &r.before_rule)?;
                let why = g.summary.clone();
                set_back(tx, r, &before, RampState::RolledBack, why.clone(), &actor, now).await?;
                let after = serde_json::json!({"reason": why, "guard": g}).to_string();
                audit_ramp(tx, &actor, "ramp.rollback", r, &after).await?;
                return Ok(Looked::RolledBack);
            }
            Verdict::Srm => {
                pause_for(tx, r, &actor, g.summary.clone(), now).await?;
                return Ok(Looked::Paused);
            }
            _ => {}
        }
    }
    let hold_end = r.step_started_at + step.hold_ms;
    if now < hold_end {
        r.next_at = Some(hold_end);
        tx.update_ramp(r).await?;
        return Ok(Looked::Waiting);
    }
    let ready = match &guard {
        None => true,
        Some(g) => {
            let units = g.units.canary.min(g.units.control);
            units >= step.min_units && (!step.require_evidence || g.verdict == Verdict::Healthy)
        }
    };
    let index = usize::try_from(r.step).unwrap_or(usize::MAX);
    if ready {
        advance(tx, r, &steps, index + 1, &actor, now).await?;
        return Ok(if r.state == RampState::Completed.as_str() { Looked::Completed } else { Looked::Advanced });
    }
    let max_end = r.step_started_at + step.max_hold_ms;
    if now >= max_end {
        let waited = match &guard {
            Some(g) if g.units.canary.min(g.units.control) < step.min_units => {
                format!("{} units per arm", step.min_units)
            }
            _ => "evidence that every guardrail is non-inferior".to_owned(),
        };
        let why = format!(
            "step {} held its longest ({} s) without {waited}; a person decides",
            r.step,
            step.max_hold_ms / 1000
        );
        pause_for(tx, r, &actor, why, now).await?;
        return Ok(Looked::Paused);
    }
    r.next_at = Some(max_end.min(now + RECHECK_MS));
    tx.update_ramp(r).await?;
    Ok(Looked::Waiting)
}

/// The scheduler's step at `now`: the earliest due running plan looked at;
/// `None` when none is due.
pub async fn run_due_ramp<T: Queries + IngestQueries>(tx: &mut T, now: i64) -> Result<Option<(i64, Looked)>, Error> {
    let Some(mut r) = tx.due_ramps(now, 1).await?.into_iter().next() else { return Ok(None) };
    let looked = look(tx, &mut r, now).await?;
    Ok(Some((r.id, looked)))
}

/// The guardrail task's look at plan `id` (after ingest stored events).
pub async fn check_ramp<T: Queries + IngestQueries>(tx: &mut T, id: i64, now: i64) -> Result<Looked, Error> {
    let mut r = ramp_of(tx, id).await?;
    look(tx, &mut r, now).await
}

/// The earliest instant a running plan is due.
pub async fn next_ramp_at<T: Queries>(tx: &mut T) -> Result<Option<i64>, Error> {
    Ok(tx.next_ramp_at().await?)
}

/// What a person does to a plan.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RampAction {
    /// Skip: the step to go to (later than the current one).
    #[serde(default)]
    pub step: Option<i64>,
    /// Abort: `before` (default; the rule as it was before the plan) or
    /// `zero` (the canary at 0 %).
    #[serde(default)]
    pub to: Option<String>,
    /// Pause, abort: why (shown with the plan).
    #[serde(default)]
    pub reason: Option<String>,
    /// The plan's revision this is based on (or `If-Match`).
    #[serde(default)]
    pub base_revision: Option<i64>,
}

/// Which person's action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RampCommand {
    Pause,
    Resume,
    Skip,
    Abort,
}

/// Pauses, resumes, skips ahead or aborts plan `id`; `now` is the scheduler's clock.
pub async fn act_on_ramp<T: Queries + IngestQueries>(
    tx: &mut T,
    actor: &str,
    id: i64,
    command: RampCommand,
    input: RampAction,
    now: i64,
) -> Result<RampView, Error> {
    let mut r = ramp_of(tx, id).await?;
    check_revision("the ramp", input.base_revision, r.revision)?;
    let state = RampState::parse(&r.state)?;
    let active = matches!(state, RampState::Running | RampState::Paused);
    if !active {
        return Err(Error::Conflict(format!("ramp {id} is {}: it is over", state.as_str())));
    }
    let steps = steps_of(&r)?;
    match command {
        RampCommand::Pause => {
            if state == RampState::Paused {
                return Err(Error::Conflict(format!("ramp {id} is already paused")));
            }
            let why = input.reason.unwrap_or_else(|| format!("paused by {actor}"));
            pause_for(tx, &mut r, actor, why, now).await?;
        }
        RampCommand::Resume => {
            if state == RampState::Running {
                return Err(Error::Conflict(format!("ramp {id} is running")));
            }
            // The rule as it is now (a person's edit accepted) is the base;
            // the current step holds again from now.
            let current = configs::get_config(tx, &r.flag_key, &r.environment_key).await?.config;
            let rule = rule_of(&current, &r.rule_id)
                .ok_or_else(|| Error::Conflict(format!("the flag no longer has rule `{}`", r.rule_id)))?;
            r.rule = to_json(rule)?;
            let step =
                usize::try_from(r.step).ok().and_then(|i| steps.get(i)).ok_or_else(|| Error::corrupt("ramp step"))?;
            r.state = RampState::Running.as_str().into();
            r.reason = None;
            r.step_started_at = now;
            r.next_at = Some(now + step.hold_ms);
            r.baseline = super::ramp_guard::baseline(tx, &r).await?;
            save(tx, &mut r, actor, now).await?;
            audit_ramp(tx, actor, "ramp.resume", &r, &serde_json::json!({"step": r.step}).to_string()).await?;
        }
        RampCommand::Skip => {
            let to = input.step.ok_or_else(|| Error::invalid("step", "required: the step to go to"))?;
            if to <= r.step || to >= i64::try_from(steps.len()).unwrap_or(i64::MAX) {
                return Err(Error::invalid(
                    "step",
                    format!(
                        "{to}: a later step than the current {} and below {} (going back would move units out of \
                         the canary; abort instead)",
                        r.step,
                        steps.len()
                    ),
                ));
            }
            advance(tx, &mut r, &steps, usize::try_from(to).unwrap_or(usize::MAX), actor, now).await?;
        }
        RampCommand::Abort => {
            let to = input.to.as_deref().unwrap_or("before");
            let rule = match to {
                "before" => from_json::<Rule>("rule", &r.before_rule)?,
                "zero" => {
                    let current: Rule = from_json("rule", &r.rule)?;
                    let weights = steps.iter().any(|s| s.weight.is_some());
                    let zero = RampStep {
                        coverage: (!weights).then_some(0),
                        weight: weights.then_some(0),
                        hold_ms: 0,
                        max_hold_ms: 0,
                        min_units: 0,
                        require_evidence: false,
                    };
                    stepped_rule(&r, &current, &zero)?
                }
                other => return Err(Error::invalid("to", format!("`{other}`: `before` or `zero`"))),
            };
            let why = input.reason.unwrap_or_else(|| format!("aborted by {actor} (rule set to `{to}`)"));
            set_back(tx, &mut r, &rule, RampState::Aborted, why.clone(), actor, now).await?;
            audit_ramp(tx, actor, "ramp.abort", &r, &serde_json::json!({"reason": why, "to": to}).to_string()).await?;
        }
    }
    let guard: Option<GuardStatus> = None;
    RampView::new(&r, guard)
}
