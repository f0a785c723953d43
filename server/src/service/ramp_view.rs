//! A plan as the API and the UI show it.

use serde::Serialize;

use super::error::Error;
use super::ramp_guard::{GuardPoint, GuardStatus};
use super::ramp_model::{Guardrail, RampState, RampStep, experiment_key, from_json, guardrails_of, steps_of};
use super::rfc3339;
use crate::store::RampRecord;

/// A plan.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RampView {
    pub id: i64,
    pub flag: String,
    pub environment: String,
    pub rule_id: String,
    pub canary_variant: String,
    pub control_variant: String,
    pub steps: Vec<RampStep>,
    pub guardrails: Vec<Guardrail>,
    pub alpha: f64,
    /// The experiment measuring the guardrails.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub experiment: Option<String>,
    pub state: RampState,
    /// The current step's index.
    pub step: i64,
    pub step_started_at: String,
    /// When the plan is looked at next (running plans).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_at: Option<String>,
    /// Why it is paused, was aborted or rolled back.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The guardrails now (guarded plans that still run or are paused).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guard: Option<GuardStatus>,
    /// Guardrail evaluations over time, oldest first.
    pub history: Vec<GuardPoint>,
    pub revision: i64,
    pub created_at: String,
    pub created_by: String,
    pub updated_at: String,
    pub updated_by: String,
}

impl RampView {
    pub(super) fn new(r: &RampRecord, guard: Option<GuardStatus>) -> Result<Self, Error> {
        Ok(RampView {
            id: r.id,
            flag: r.flag_key.clone(),
            environment: r.environment_key.clone(),
            rule_id: r.rule_id.clone(),
            canary_variant: r.canary_variant.clone(),
            control_variant: r.control_variant.clone(),
            steps: steps_of(r)?,
            guardrails: guardrails_of(r)?,
            alpha: r.alpha,
            experiment: r.experiment_id.map(|_| experiment_key(r.id)),
            state: RampState::parse(&r.state)?,
            step: r.step,
            step_started_at: rfc3339(r.step_started_at),
            next_at: r.next_at.map(rfc3339),
            reason: r.reason.clone(),
            guard,
            history: from_json("history", &r.history)?,
            revision: r.revision,
            created_at: rfc3339(r.created_at),
            created_by: r.created_by.clone(),
            updated_at: rfc3339(r.updated_at),
            updated_by: r.updated_by.clone(),
        })
    }
}
