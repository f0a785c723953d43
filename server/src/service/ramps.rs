//! Timed ramps: a rollout plan on one split rule, a list of steps (the
//! rule's coverage or its canary's weight, each held for a time), advanced
//! by the scheduler as ordinary configuration writes whose actor names the
//! plan (`ramp:<id>`).
//!
//! Raising coverage or the first-listed variant's weight never moves a unit
//! out of the canary (`BUCKETING.md`), so a plan's steps may only rise, and
//! a weight ramp needs the canary listed first. A person can pause, resume,
//! skip ahead or abort (back to 0 % or to the rule before the plan); an
//! edit of the rule by anyone else pauses the plan and says why.
//!
//! A plan with guardrails is a guarded rollout: an experiment of its own
//! (`ramp-<id>`) attributes exposures and events to the canary and control
//! arms, and [`super::ramp_guard`] decides after every ingest transaction.
//! Running a plan is [`super::ramp_run`]; the model is in
//! [`super::ramp_model`].

use flagyard_eval::Split;
use serde::Deserialize;

use super::error::Error;
use super::experiments::{ExperimentInput, create_experiment, transition};
use super::ramp_guard::evaluate;
use super::ramp_model::{
    Guardrail, RampState, RampStep, experiment_key, plan_actor, ramp_of, rule_of, split_mut, stepped_rule, to_json,
};
use super::ramp_run::write_rule;
use super::ramp_view::RampView;
use super::{audit, configs, environment};
use crate::store::{IngestQueries, Queries, RampFilter, RampRecord};

/// Most steps in a plan.
const MAX_STEPS: usize = 20;
/// Most guardrail metrics in a plan.
const MAX_GUARDRAILS: usize = 10;
/// The longest hold of a step.
const MAX_HOLD_MS: i64 = 90 * 24 * 3_600_000;
/// How long past its hold a step that waits for evidence or units may wait
/// before the plan pauses for a person, unless the step says.
pub const DEFAULT_EXTRA_HOLD_MS: i64 = 24 * 3_600_000;

/// One step as written: exactly one of `coverage` and `weight` (basis
/// points), and how long to hold it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StepInput {
    /// The split's coverage, 0–10000.
    #[serde(default)]
    pub coverage: Option<u32>,
    /// The canary's weight, 0–10000 (the control gets the rest).
    #[serde(default)]
    pub weight: Option<u32>,
    /// How long the step holds before the next: `90s`, `15m`, `2h`, `1d`.
    pub hold: String,
    /// A step that waits for units or evidence pauses the plan after this
    /// (default: its hold plus a day).
    #[serde(default)]
    pub max_hold: Option<String>,
    /// Units each arm needs before the plan advances (guarded plans).
    #[serde(default)]
    pub min_units: Option<i64>,
    /// Advance only when every guardrail is shown non-inferior (guarded plans).
    #[serde(default)]
    pub require_evidence: bool,
}

/// A guardrail as written.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GuardrailInput {
    /// A metric's key; its kind and good direction come from its definition.
    pub metric: String,
    /// Tolerated relative degradation, e.g. `0.02`; default 0.
    #[serde(default)]
    pub tolerance: f64,
}

/// A plan as written.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RampInput {
    pub flag: String,
    pub environment: String,
    /// The id of the rule whose split the plan ramps.
    pub rule_id: String,
    /// The variant being rolled out.
    pub canary_variant: String,
    /// The variant it is compared with (and that weight steps take from).
    pub control_variant: String,
    pub steps: Vec<StepInput>,
    #[serde(default)]
    pub guardrails: Vec<GuardrailInput>,
    /// The guardrails' error rate (split among them); default 0.05.
    #[serde(default)]
    pub alpha: Option<f64>,
}

/// A duration such as `90s`, `15m`, `2h` or `1d`, in milliseconds.
pub(super) fn parse_duration(text: &str) -> Option<i64> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (digits, unit) = text.split_at(split);
    let n: i64 = digits.parse().ok()?;
    let unit_ms = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    n.checked_mul(unit_ms)
}

/// Checks a plan's steps against the rule it ramps; the stored steps.
fn check_steps(input: &RampInput, split: &Split, guarded: bool) -> Result<Vec<RampStep>, Error> {
    let mut errors = Vec::new();
    let mut push = |path: String, message: String| errors.push(super::FieldError { path, message });
    if input.steps.is_empty() || input.steps.len() > MAX_STEPS {
        push("steps".into(), format!("1 to {MAX_STEPS} steps"));
    }
    let weights = input.steps.iter().any(|s| s.weight.is_some());
    if weights {
        let first = split.variants.first().map(|v| v.variant.as_str());
        if split.variants.len() != 2 || first != Some(input.canary_variant.as_str()) {
            push(
                "steps".into(),
                format!(
                    "weight steps need a split of exactly the canary and the control, the canary `{}` listed first \
                     (raising the first-listed variant's weight keeps every unit in the canary; BUCKETING.md)",
                    input.canary_variant
                ),
            );
        }
    }
    let (mut coverage, mut weight) = (0u32, 0u32);
    let mut out = Vec::with_capacity(input.steps.len());
    for (i, s) in input.steps.iter().enumerate() {
        let at = |f: &str| format!("steps[{i}].{f}");
        match (s.coverage, s.weight) {
            (Some(_), Some(_)) | (None, None) => push(at("coverage"), "exactly one of `coverage` and `weight`".into()),
            _ => {}
        }
        for (name, value, last) in [("coverage", s.coverage, &mut coverage), ("weight", s.weight, &mut weight)] {
            let Some(v) = value else { continue };
            if v > 10_000 {
                push(at(name), format!("{v}: basis points, 0 to 10000"));
            } else if v < *last {
                push(at(name), format!("{v} is below the previous step's {}: a ramp only rises", *last));
            }
            *last = v;
        }
        let hold = parse_duration(&s.hold).filter(|h| (0..=MAX_HOLD_MS).contains(h));
        if hold.is_none() {
            push(at("hold"), format!("`{}`: a duration such as `90s`, `15m`, `2h` or `1d`, at most 90 days", s.hold));
        }
        let hold = hold.unwrap_or(0);
        let max_hold = match &s.max_hold {
            None => hold + DEFAULT_EXTRA_HOLD_MS,
            Some(text) => match parse_duration(text).filter(|m| *m >= hold && *m <= 2 * MAX_HOLD_MS) {
                Some(m) => m,
                None => {
                    push(at("maxHold"), format!("`{text}`: a duration no shorter than `hold`"));
                    hold
                }
            },
        };
        if s.min_units.is_some_and(|n| !(0..=100_000_000).contains(&n)) {
            push(at("minUnits"), "0 to 100000000".into());
        }
        if !guarded && (s.min_units.is_some_and(|n| n > 0) || s.require_evidence) {
            push(at("minUnits"), "units and evidence are measured by guardrails: the plan has none".into());
        }
        out.push(RampStep {
            coverage: s.coverage,
            weight: s.weight,
            hold_ms: hold,
            max_hold_ms: max_hold,
            min_units: s.min_units.unwrap_or(0),
            require_evidence: s.require_evidence,
        });
    }
    super::Error::fields(errors)?;
    Ok(out)
}

async fn check_guardrails<T: Queries>(tx: &mut T, input: &RampInput) -> Result<Vec<Guardrail>, Error> {
    if input.guardrails.len() > MAX_GUARDRAILS {
        return Err(Error::invalid("guardrails", format!("at most {MAX_GUARDRAILS}")));
    }
    let metrics = tx.metrics().await?;
    let mut out: Vec<Guardrail> = Vec::new();
    for (i, g) in input.guardrails.iter().enumerate() {
        let m = metrics
            .iter()
            .find(|m| m.key == g.metric)
            .ok_or_else(|| Error::invalid(format!("guardrails[{i}].metric"), format!("no metric `{}`", g.metric)))?;
        if !(g.tolerance.is_finite() && (0.0..1.0).contains(&g.tolerance)) {
            return Err(Error::invalid(format!("guardrails[{i}].tolerance"), "a relative degradation in [0, 1)"));
        }
        if out.iter().any(|o| o.metric_id == m.id) {
            return Err(Error::invalid(format!("guardrails[{i}].metric"), format!("`{}` is listed twice", m.key)));
        }
        out.push(Guardrail {
            metric_id: m.id,
            metric: m.key.clone(),
            kind: m.kind.clone(),
            good_direction: m.good_direction.clone(),
            tolerance: g.tolerance,
        });
    }
    Ok(out)
}

/// Starts a plan: checks it, writes its first step now, and for a guarded
/// plan starts its experiment. `now` is the scheduler's clock.
pub async fn create_ramp<T: Queries>(tx: &mut T, actor: &str, input: RampInput, now: i64) -> Result<RampView, Error> {
    let env = environment(tx, &input.environment).await?;
    let current = configs::get_config(tx, &input.flag, &env.key).await?;
    let rule = rule_of(&current.config, &input.rule_id).cloned().ok_or_else(|| {
        Error::invalid("ruleId", format!("flag `{}` has no rule `{}` in `{}`", input.flag, input.rule_id, env.key))
    })?;
    let mut probe = rule.clone();
    let split = split_mut(&mut probe)
        .ok_or_else(|| {
            Error::invalid("ruleId", format!("rule `{}` serves a fixed variant, not a split", input.rule_id))
        })?
        .clone();
    for (field, v) in [("canaryVariant", &input.canary_variant), ("controlVariant", &input.control_variant)] {
        if !split.variants.iter().any(|w| &w.variant == v) {
            return Err(Error::invalid(field, format!("`{v}` is not a variant of rule `{}`'s split", input.rule_id)));
        }
    }
    if input.canary_variant == input.control_variant {
        return Err(Error::invalid("controlVariant", "the control must differ from the canary"));
    }
    let alpha = input.alpha.unwrap_or(0.05);
    if !(alpha > 0.0 && alpha < 0.5) {
        return Err(Error::invalid("alpha", "in (0, 0.5)"));
    }
    let guardrails = check_guardrails(tx, &input).await?;
    let steps = check_steps(&input, &split, !guardrails.is_empty())?;
    let flag = tx.flag(&input.flag).await?.ok_or_else(|| Error::NotFound(format!("flag `{}`", input.flag)))?;
    let active = [RampState::Running.as_str(), RampState::Paused.as_str()];
    let filter = RampFilter { flag_id: Some(flag.id), environment_id: Some(env.id), states: &active };
    if let Some(other) = tx.ramps(filter, 1).await?.first() {
        return Err(Error::Conflict(format!(
            "ramp {} is {} on flag `{}` in `{}`: finish or abort it first",
            other.id, other.state, flag.key, env.key
        )));
    }
    let before = to_json(&rule)?;
    let mut record = RampRecord {
        id: 0,
        flag_id: flag.id,
        flag_key: flag.key.clone(),
        environment_id: env.id,
        environment_key: env.key.clone(),
        rule_id: input.rule_id.clone(),
        canary_variant: input.canary_variant.clone(),
        control_variant: input.control_variant.clone(),
        steps: to_json(&steps)?,
        guardrails: to_json(&guardrails)?,
        alpha,
        experiment_id: None,
        state: RampState::Running.as_str().into(),
        step: 0,
        step_started_at: now,
        next_at: Some(now + steps[0].hold_ms),
        reason: None,
        before_rule: before.clone(),
        rule: before,
        baseline: "{}".into(),
        history: "[]".into(),
        revision: 1,
        created_at: now,
        created_by: actor.to_owned(),
        updated_at: now,
        updated_by: actor.to_owned(),
    };
    record.id = tx.insert_ramp(&record).await?;
    let written = stepped_rule(&record, &rule, &steps[0])?;
    write_rule(tx, &plan_actor(record.id), &record, &written, "ramp.step").await?;
    record.rule = to_json(&written)?;
    if let Some(first) = guardrails.first() {
        let key = experiment_key(record.id);
        let experiment = ExperimentInput {
            key: Some(key.clone()),
            name: Some(format!("Guardrails of ramp {} ({} in {})", record.id, flag.key, env.key)),
            hypothesis: format!(
                "`{}` does not degrade the guardrails against `{}`",
                input.canary_variant, input.control_variant
            ),
            flag: flag.key.clone(),
            environment: env.key.clone(),
            rule_id: input.rule_id.clone(),
            control_variant: input.control_variant.clone(),
            primary_metric: first.metric.clone(),
            secondary_metrics: Vec::new(),
            guardrail_metrics: guardrails.iter().skip(1).map(|g| g.metric.clone()).collect(),
            analysis: Some("sequential".into()),
            alpha: Some(alpha),
            minimum_detectable_effect: None,
            base_revision: None,
        };
        create_experiment(tx, actor, experiment).await?;
        transition(tx, actor, &key, true).await?;
        record.experiment_id = tx.experiment(&key).await?.map(|x| x.id);
    }
    tx.update_ramp(&record).await?;
    let view = RampView::new(&record, None)?;
    let after = to_json(&view)?;
    audit(tx, super::now_ms(), actor, "ramp.start", "ramp", &flag.key, Some(&env.key), None, Some(&after)).await?;
    Ok(view)
}

/// Plans, newest first; optionally of one flag (and environment) or in one state.
pub async fn list_ramps<T: Queries>(
    tx: &mut T,
    flag: Option<&str>,
    env: Option<&str>,
    state: Option<&str>,
) -> Result<Vec<RampView>, Error> {
    let flag_id = match flag {
        Some(k) => Some(tx.flag(k).await?.ok_or_else(|| Error::NotFound(format!("flag `{k}`")))?.id),
        None => None,
    };
    let environment_id = match env {
        Some(k) => Some(environment(tx, k).await?.id),
        None => None,
    };
    let states: Vec<&str> = state.into_iter().collect();
    if let Some(s) = state {
        RampState::parse(s).map_err(|_| Error::invalid("state", format!("`{s}` is not a ramp state")))?;
    }
    let filter = RampFilter { flag_id, environment_id, states: &states };
    tx.ramps(filter, 500).await?.iter().map(|r| RampView::new(r, None)).collect()
}

/// One plan, with its guardrails evaluated now.
pub async fn get_ramp<T: Queries + IngestQueries>(tx: &mut T, id: i64, now: i64) -> Result<RampView, Error> {
    let r = ramp_of(tx, id).await?;
    let active = matches!(RampState::parse(&r.state)?, RampState::Running | RampState::Paused);
    let guard = if active && r.experiment_id.is_some() { Some(evaluate(tx, &r, now).await?) } else { None };
    RampView::new(&r, guard)
}
