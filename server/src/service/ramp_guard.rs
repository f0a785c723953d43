//! Guardrails during a ramp (`STATS.md`, "Guardrails during a ramp"): the
//! canary arm against the control arm of the same split, per guardrail
//! metric, with the always-valid confidence sequence on the relative lift,
//! so looking after every ingest transaction keeps the false-alarm rate at
//! α. With k guardrails each is tested at α/k (Bonferroni), so the plan's
//! chance of a wrong rollback stays at α.
//!
//! - regression: the whole sequence beyond the tolerance δ in the bad
//!   direction (upper < −δ for a metric that should increase, lower > δ for
//!   one that should decrease): roll back;
//! - healthy: every guardrail non-inferior (lower > −δ, resp. upper < δ);
//! - otherwise collecting; no decision before each arm has the step's
//!   minimum units (default 100), and an SRM warning on the units first
//!   exposed during the step (against the step's weights) pauses instead.

use std::collections::BTreeMap;

use flagyard_stats::{MetricKind, SrmResult, VariantStats, sequential_relative};
use serde::{Deserialize, Serialize};

use super::error::Error;
use super::ramp_model::{
    DEFAULT_MIN_UNITS, Guardrail, RampStep, StepSrm, from_json, guardrails_of, step_srm, steps_of, to_json,
};
use super::results::variant_stats;
use super::rfc3339;
use crate::store::{IngestQueries, Queries, RampFilter, RampRecord};

/// The tuning N* of the confidence sequence (`STATS.md` item 7).
const TUNING: f64 = 5_000.0;
/// Most points kept in a plan's history; when full every other one goes.
const MAX_POINTS: usize = 240;
/// At most one history point per this much scheduler time, unless the verdict changed.
const POINT_EVERY_MS: i64 = 60_000;

/// The plan-level outcome of one evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// An arm has fewer units than the step's minimum: no decision.
    Waiting,
    /// Neither a regression nor every guardrail non-inferior yet.
    Collecting,
    /// Every guardrail non-inferior.
    Healthy,
    /// A guardrail regressed beyond its tolerance: roll back.
    Regression,
    /// The step's units do not match its weights: pause.
    Srm,
}

/// One guardrail's figures.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GuardMetric {
    pub metric: String,
    pub good_direction: String,
    pub tolerance: f64,
    /// The level this metric is tested at (α / guardrails).
    pub alpha: f64,
    pub control_mean: Option<f64>,
    pub canary_mean: Option<f64>,
    /// Relative lift of the canary over the control, and its always-valid interval.
    pub lift: Option<f64>,
    pub lower: Option<f64>,
    pub upper: Option<f64>,
    /// `regression`, `non_inferior` or `collecting`.
    pub verdict: &'static str,
}

/// Units per arm (first exposures kept in the analysis).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ArmUnits {
    pub canary: i64,
    pub control: i64,
}

/// The guardrails of a plan, evaluated.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GuardStatus {
    pub evaluated_at: String,
    pub verdict: Verdict,
    /// One line for people (the reason of a rollback or pause).
    pub summary: String,
    pub units: ArmUnits,
    /// Units each arm needs before a decision.
    pub min_units: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub srm: Option<StepSrm>,
    pub metrics: Vec<GuardMetric>,
}

/// One evaluation kept for the chart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GuardPoint {
    /// Epoch milliseconds (scheduler clock).
    pub at: i64,
    pub step: i64,
    pub units: ArmUnits,
    pub verdict: Verdict,
    /// Per guardrail: [lower, lift, upper] of the interval, when defined.
    pub intervals: Vec<Option<[f64; 3]>>,
}

/// One guardrail's data.
#[derive(Debug, Clone)]
pub struct GuardInput<'a> {
    pub guardrail: &'a Guardrail,
    pub control: VariantStats,
    pub canary: VariantStats,
}

fn kind_of(kind: &str) -> MetricKind {
    if kind == "conversion" { MetricKind::Conversion } else { MetricKind::Continuous }
}

fn percent(x: f64) -> String {
    format!("{:+.1} %", x * 100.0)
}

/// The decision on `inputs` (pure): see the module documentation.
pub fn judge(
    inputs: &[GuardInput<'_>],
    units: ArmUnits,
    min_units: i64,
    step_srm: Option<&SrmResult>,
    alpha: f64,
) -> (Verdict, String, Vec<GuardMetric>) {
    let each = alpha / inputs.len().max(1) as f64;
    let mut metrics = Vec::with_capacity(inputs.len());
    let mut regressed: Option<String> = None;
    let mut all_fine = true;
    for input in inputs {
        let g = input.guardrail;
        let kind = kind_of(&g.kind);
        let mean = |s: &VariantStats| (s.n > 0).then(|| s.sum / s.n as f64);
        let seq = sequential_relative(&input.control, &input.canary, kind, each, TUNING).ok();
        let ci = seq.as_ref().and_then(|s| s.ci);
        let up = g.good_direction != "decrease";
        let verdict = match ci {
            Some(ci) if up && ci.upper < -g.tolerance => "regression",
            Some(ci) if !up && ci.lower > g.tolerance => "regression",
            Some(ci) if up && ci.lower > -g.tolerance => "non_inferior",
            Some(ci) if !up && ci.upper < g.tolerance => "non_inferior",
            _ => "collecting",
        };
        let lift = seq.as_ref().and_then(|s| s.estimate);
        if verdict == "regression" && regressed.is_none() {
            let (lo, hi) = ci.map_or((0.0, 0.0), |c| (c.lower, c.upper));
            regressed = Some(format!(
                "guardrail `{}` regressed: canary {} against control (always-valid {:.0} % interval {} to {}), \
                 beyond the tolerated {} in the bad direction ({}), after {} canary and {} control units",
                g.metric,
                lift.map_or_else(|| "?".into(), percent),
                (1.0 - each) * 100.0,
                percent(lo),
                percent(hi),
                percent(if up { -g.tolerance } else { g.tolerance }),
                g.good_direction,
                units.canary,
                units.control
            ));
        }
        all_fine &= verdict == "non_inferior";
        metrics.push(GuardMetric {
            metric: g.metric.clone(),
            good_direction: g.good_direction.clone(),
            tolerance: g.tolerance,
            alpha: each,
            control_mean: mean(&input.control),
            canary_mean: mean(&input.canary),
            lift,
            lower: ci.map(|c| c.lower),
            upper: ci.map(|c| c.upper),
            verdict,
        });
    }
    if units.canary.min(units.control) < min_units {
        let why = format!(
            "waiting for {min_units} units per arm before any decision ({} canary, {} control)",
            units.canary, units.control
        );
        return (Verdict::Waiting, why, metrics);
    }
    if let Some(s) = step_srm.filter(|s| s.warning) {
        let why = format!(
            "sample ratio mismatch in this step (p = {:.2e} < 0.001): the units do not match the split's weights; \
             the plan pauses until a person looks",
            s.p_value.unwrap_or(0.0)
        );
        return (Verdict::Srm, why, metrics);
    }
    if let Some(why) = regressed {
        return (Verdict::Regression, why, metrics);
    }
    if all_fine {
        (Verdict::Healthy, "every guardrail is non-inferior".into(), metrics)
    } else {
        (Verdict::Collecting, "collecting evidence".into(), metrics)
    }
}

/// Units first exposed per variant (kept or later excluded) of the plan's experiment.
async fn first_exposed<T: IngestQueries>(tx: &mut T, experiment_id: i64) -> Result<BTreeMap<String, i64>, Error> {
    Ok(tx.variant_units(experiment_id).await?.into_iter().map(|v| (v.variant, v.units + v.excluded)).collect())
}

/// The baseline of a step that begins now (JSON: variant → units first exposed).
pub(super) async fn baseline<T: IngestQueries>(tx: &mut T, r: &RampRecord) -> Result<String, Error> {
    match r.experiment_id {
        Some(id) => to_json(&first_exposed(tx, id).await?),
        None => Ok("{}".into()),
    }
}

/// The guardrails of plan `r` now (`now` on the scheduler clock).
pub(super) async fn evaluate<T: Queries + IngestQueries>(
    tx: &mut T,
    r: &RampRecord,
    now: i64,
) -> Result<GuardStatus, Error> {
    let guardrails = guardrails_of(r)?;
    let steps: Vec<RampStep> = steps_of(r)?;
    let step = usize::try_from(r.step).ok().and_then(|i| steps.get(i));
    let min_units = step.map_or(DEFAULT_MIN_UNITS, |s| if s.min_units > 0 { s.min_units } else { DEFAULT_MIN_UNITS });
    let Some(experiment) = r.experiment_id else {
        return Err(Error::Conflict(format!("ramp {} has no guardrails", r.id)));
    };
    let rows = tx.variant_units(experiment).await?;
    let kept = |v: &str| rows.iter().find(|x| x.variant == v).map_or(0, |x| x.units);
    let units = ArmUnits { canary: kept(&r.canary_variant), control: kept(&r.control_variant) };
    let sums = tx.variant_metrics(experiment).await?;
    let stats = |g: &Guardrail, variant: &str, arm: i64| {
        let row = sums.iter().find(|s| s.metric_id == g.metric_id && s.variant == variant);
        let (n, sum, sum_sq) = row.map_or((0, 0.0, 0.0), |s| (s.n, s.sum, s.sum_sq));
        variant_stats(&g.kind, if g.kind == "mean" { n } else { arm }, sum, sum_sq)
    };
    let inputs: Vec<GuardInput<'_>> = guardrails
        .iter()
        .map(|g| GuardInput {
            guardrail: g,
            control: stats(g, &r.control_variant, units.control),
            canary: stats(g, &r.canary_variant, units.canary),
        })
        .collect();
    let step_srm = step_srm(r, &rows.iter().map(|v| (v.variant.clone(), v.units + v.excluded)).collect())?;
    let result = step_srm.as_ref().map(|s| s.0.clone());
    let (verdict, summary, metrics) = judge(&inputs, units, min_units, result.as_ref(), r.alpha);
    Ok(GuardStatus {
        evaluated_at: rfc3339(now),
        verdict,
        summary,
        units,
        min_units,
        srm: step_srm.map(|(s, view)| StepSrm { p_value: s.p_value, warning: s.warning, ..view }),
        metrics,
    })
}

/// Appends `g` to the plan's history when a point is due (a minute of
/// scheduler time since the last, or another verdict); the caller saves.
pub(super) fn record_point(r: &mut RampRecord, g: &GuardStatus, now: i64) -> Result<(), Error> {
    let mut points: Vec<GuardPoint> = from_json("history", &r.history)?;
    let due = points.last().is_none_or(|p| now - p.at >= POINT_EVERY_MS || p.verdict != g.verdict || p.step != r.step);
    if !due {
        return Ok(());
    }
    if points.len() >= MAX_POINTS {
        points = points.into_iter().enumerate().filter(|(i, _)| i % 2 == 1).map(|(_, p)| p).collect();
    }
    points.push(GuardPoint {
        at: now,
        step: r.step,
        units: g.units,
        verdict: g.verdict,
        intervals: g
            .metrics
            .iter()
            .map(|m| match (m.lower, m.lift, m.upper) {
                (Some(l), Some(e), Some(u)) => Some([l, e, u]),
                _ => None,
            })
            .collect(),
    });
    r.history = to_json(&points)?;
    Ok(())
}

/// The running guarded ramps measured by one of `experiments` (whose
/// figures ingest just moved) that a look at `now` may change (the
/// guardrail task's read): a regression or SRM warning, a hold that is over
/// with what the step waits for, or a history point due. Each evaluation
/// counts in `flagyard_guard_evaluations_total`.
pub async fn guarded_ramps_to_look_at<T: Queries + IngestQueries>(
    tx: &mut T,
    experiments: &std::collections::BTreeSet<i64>,
    now: i64,
) -> Result<Vec<i64>, Error> {
    let running = ["running"];
    let filter = RampFilter { states: &running, ..RampFilter::default() };
    let mut out = Vec::new();
    for r in tx.ramps(filter, 1_000).await? {
        if !r.experiment_id.is_some_and(|x| experiments.contains(&x)) {
            continue;
        }
        let g = evaluate(tx, &r, now).await?;
        metrics::counter!("flagyard_guard_evaluations_total").increment(1);
        let steps = steps_of(&r)?;
        let Some(step) = usize::try_from(r.step).ok().and_then(|i| steps.get(i)) else { continue };
        let ready = g.units.canary.min(g.units.control) >= step.min_units
            && (!step.require_evidence || g.verdict == Verdict::Healthy);
        let hold_over = now >= r.step_started_at + step.hold_ms;
        let points: Vec<GuardPoint> = from_json("history", &r.history)?;
        let point_due =
            points.last().is_none_or(|p| now - p.at >= POINT_EVERY_MS || p.verdict != g.verdict || p.step != r.step);
        if matches!(g.verdict, Verdict::Regression | Verdict::Srm) || (hold_over && ready) || point_due {
            out.push(r.id);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(direction: &str, tolerance: f64) -> Guardrail {
        Guardrail {
            metric_id: 1,
            metric: "errors".into(),
            kind: "conversion".into(),
            good_direction: direction.into(),
            tolerance,
        }
    }

    fn one(g: &Guardrail, control: (i64, i64), canary: (i64, i64)) -> Vec<GuardInput<'_>> {
        vec![GuardInput {
            guardrail: g,
            control: VariantStats::conversion(control.0, control.1),
            canary: VariantStats::conversion(canary.0, canary.1),
        }]
    }

    fn arms(c: i64, t: i64) -> ArmUnits {
        ArmUnits { canary: t, control: c }
    }

    #[test]
    fn a_clearly_worse_error_rate_is_a_regression() {
        let g = guard("decrease", 0.0);
        let (v, why, m) = judge(&one(&g, (20_000, 2_000), (20_000, 2_600)), arms(20_000, 20_000), 100, None, 0.05);
        assert_eq!(v, Verdict::Regression, "{why}");
        assert!(m[0].lower.unwrap() > 0.0);
        assert!(why.contains("errors"), "{why}");
    }

    #[test]
    fn equal_arms_are_healthy_within_a_tolerance_and_collecting_without() {
        let g = guard("decrease", 0.10);
        let data = one(&g, (50_000, 5_000), (50_000, 5_000));
        assert_eq!(judge(&data, arms(50_000, 50_000), 100, None, 0.05).0, Verdict::Healthy);
        let strict = guard("decrease", 0.0);
        let data = one(&strict, (50_000, 5_000), (50_000, 5_000));
        assert_eq!(judge(&data, arms(50_000, 50_000), 100, None, 0.05).0, Verdict::Collecting);
    }

    #[test]
    fn nothing_is_decided_below_the_minimum_units() {
        let g = guard("decrease", 0.0);
        let data = one(&g, (99, 1), (99, 90));
        assert_eq!(judge(&data, arms(99, 99), 100, None, 0.05).0, Verdict::Waiting);
    }

    #[test]
    fn the_good_direction_decides_which_side_is_a_regression() {
        let g = guard("increase", 0.0);
        let (v, _, _) = judge(&one(&g, (20_000, 2_600), (20_000, 2_000)), arms(20_000, 20_000), 100, None, 0.05);
        assert_eq!(v, Verdict::Regression);
        let (v, _, _) = judge(&one(&g, (20_000, 2_000), (20_000, 2_600)), arms(20_000, 20_000), 100, None, 0.05);
        assert_ne!(v, Verdict::Regression);
    }

    #[test]
    fn an_srm_warning_pauses_before_any_verdict() {
        let g = guard("decrease", 0.0);
        let bad = flagyard_stats::srm(&[1_000, 1_300], &[5_000.0, 5_000.0]).unwrap();
        assert!(bad.warning);
        let data = one(&g, (20_000, 2_000), (20_000, 2_600));
        assert_eq!(judge(&data, arms(20_000, 20_000), 100, Some(&bad), 0.05).0, Verdict::Srm);
    }

    #[test]
    fn each_of_several_guardrails_is_tested_at_its_share_of_alpha() {
        let (a, b) = (guard("decrease", 0.0), guard("increase", 0.0));
        let data = vec![
            GuardInput {
                guardrail: &a,
                control: VariantStats::conversion(1_000, 100),
                canary: VariantStats::conversion(1_000, 100),
            },
            GuardInput {
                guardrail: &b,
                control: VariantStats::conversion(1_000, 100),
                canary: VariantStats::conversion(1_000, 100),
            },
        ];
        let (_, _, m) = judge(&data, arms(1_000, 1_000), 100, None, 0.05);
        assert!(m.iter().all(|m| (m.alpha - 0.025).abs() < 1e-12));
    }
}
