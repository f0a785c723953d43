//! The ramp model shared by the ramp modules: states, steps, guardrails,
//! the stored JSON, the rule a step writes, and the plan's actor.

use std::collections::BTreeMap;

use flagyard_eval::{FlagConfig, Rule, Split};
use flagyard_stats::{SrmResult, srm};
use serde::{Deserialize, Serialize};

use super::error::Error;
use crate::store::{Queries, RampRecord};

/// Units each arm needs before a guarded plan decides anything (`STATS.md`).
pub const DEFAULT_MIN_UNITS: i64 = 100;

/// A plan's lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RampState {
    Running,
    /// Waiting for a person (who paused it, an edit, an SRM warning, a step
    /// that waited too long): `reason` says which.
    Paused,
    /// Reached its last step.
    Completed,
    /// Stopped by a person; the rule was set back.
    Aborted,
    /// A guardrail regressed: the rule was set back as it was before the plan.
    RolledBack,
}

impl RampState {
    pub fn as_str(self) -> &'static str {
        match self {
            RampState::Running => "running",
            RampState::Paused => "paused",
            RampState::Completed => "completed",
            RampState::Aborted => "aborted",
            RampState::RolledBack => "rolled_back",
        }
    }

    pub(super) fn parse(s: &str) -> Result<Self, Error> {
        Ok(match s {
            "running" => RampState::Running,
            "paused" => RampState::Paused,
            "completed" => RampState::Completed,
            "aborted" => RampState::Aborted,
            "rolled_back" => RampState::RolledBack,
            other => return Err(Error::corrupt(format!("ramp state `{other}`"))),
        })
    }
}

/// One step as stored and shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RampStep {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coverage: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<u32>,
    pub hold_ms: i64,
    pub max_hold_ms: i64,
    /// Units per arm needed to advance (0: none).
    pub min_units: i64,
    pub require_evidence: bool,
}

/// One guardrail as stored and shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Guardrail {
    pub metric_id: i64,
    pub metric: String,
    /// `conversion`, `count`, `sum` or `mean`.
    pub kind: String,
    /// `increase` or `decrease`.
    pub good_direction: String,
    pub tolerance: f64,
}

pub(super) fn to_json<T: Serialize>(v: &T) -> Result<String, Error> {
    serde_json::to_string(v).map_err(|e| Error::corrupt(e.to_string()))
}

pub(super) fn from_json<T: for<'de> Deserialize<'de>>(what: &str, text: &str) -> Result<T, Error> {
    serde_json::from_str(text).map_err(|e| Error::corrupt(format!("ramp {what}: {e}")))
}

pub(super) fn steps_of(r: &RampRecord) -> Result<Vec<RampStep>, Error> {
    from_json("steps", &r.steps)
}

pub(super) fn guardrails_of(r: &RampRecord) -> Result<Vec<Guardrail>, Error> {
    from_json("guardrails", &r.guardrails)
}

/// The key of the experiment that measures plan `id`'s guardrails.
pub fn experiment_key(id: i64) -> String {
    format!("ramp-{id}")
}

/// The plan an [`experiment_key`] names (a person may also have named an
/// experiment so: callers check the plan's `experiment_id`).
pub(super) fn plan_of_experiment_key(key: &str) -> Option<i64> {
    key.strip_prefix("ramp-")?.parse().ok()
}

/// The split served by `rule`.
pub(super) fn split_mut(rule: &mut Rule) -> Option<&mut Split> {
    match &mut rule.serve {
        flagyard_eval::Serve::Split(s) => Some(s),
        flagyard_eval::Serve::Variant(_) => None,
    }
}

pub(super) fn rule_of<'a>(config: &'a FlagConfig, rule_id: &str) -> Option<&'a Rule> {
    config.rules.iter().find(|r| r.id.as_deref() == Some(rule_id))
}

pub(super) async fn ramp_of<T: Queries>(tx: &mut T, id: i64) -> Result<RampRecord, Error> {
    tx.ramp(id).await?.ok_or_else(|| Error::NotFound(format!("ramp {id}")))
}

/// The actor a plan writes as.
pub fn plan_actor(id: i64) -> String {
    format!("ramp:{id}")
}

/// `rule` with the step's coverage or canary weight.
pub(super) fn stepped_rule(r: &RampRecord, rule: &Rule, step: &RampStep) -> Result<Rule, Error> {
    let mut out = rule.clone();
    let split =
        split_mut(&mut out).ok_or_else(|| Error::Conflict(format!("rule `{}` no longer serves a split", r.rule_id)))?;
    if let Some(c) = step.coverage {
        split.coverage = c;
    }
    if let Some(w) = step.weight {
        for v in &mut split.variants {
            if v.variant == r.canary_variant {
                v.weight = w;
            } else if v.variant == r.control_variant {
                v.weight = 10_000 - w;
            }
        }
    }
    Ok(out)
}

/// The sample-ratio check of the units first exposed during a step.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StepSrm {
    pub variants: Vec<String>,
    pub units: Vec<i64>,
    pub weights: Vec<u32>,
    pub p_value: Option<f64>,
    pub warning: bool,
}

/// The SRM check of the units first exposed since the step began, against
/// the weights the plan wrote for it.
pub(super) fn step_srm(r: &RampRecord, now: &BTreeMap<String, i64>) -> Result<Option<(SrmResult, StepSrm)>, Error> {
    let mut rule: Rule = from_json("rule", &r.rule)?;
    let Some(split) = split_mut(&mut rule) else { return Ok(None) };
    let before: BTreeMap<String, i64> = from_json("baseline", &r.baseline)?;
    let live: Vec<_> = split.variants.iter().filter(|v| v.weight > 0).collect();
    if live.len() < 2 {
        return Ok(None);
    }
    let units: Vec<i64> = live
        .iter()
        .map(|v| (now.get(&v.variant).copied().unwrap_or(0) - before.get(&v.variant).copied().unwrap_or(0)).max(0))
        .collect();
    let weights: Vec<f64> = live.iter().map(|v| f64::from(v.weight)).collect();
    let Ok(result) = srm(&units, &weights) else { return Ok(None) };
    let view = StepSrm {
        variants: live.iter().map(|v| v.variant.clone()).collect(),
        units,
        weights: live.iter().map(|v| v.weight).collect(),
        p_value: None,
        warning: false,
    };
    Ok(Some((result, view)))
}
