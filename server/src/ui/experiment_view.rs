//! The experiment page's figures, mapped from the results the admin API
//! serves (`service::experiment_results`): allocation and units, the SRM
//! check, sample-size progress, and per metric and variant the rate or
//! mean, and the server's decision: the absolute and relative effects with
//! the intervals the verdict reads (confidence, always-valid or credible, at
//! the level of the multiple-comparison correction), the p-value it
//! corresponds to (not for Bayesian analyses), the chance to beat control
//! and the verdict itself.

use flagyard_eval::WeightedVariant;
use flagyard_web::{
    AllocationRow, Analysis, Correction, GoodDirection, Interval, MetricResult, Progress, SrmCheck, TrendPoint,
    TrendSeries, VariantResult, Verdict,
};

use crate::service::{self, ExperimentView, HistoryView, ResultsView};

/// The analysis named `name` (frequentist when unknown).
pub fn analysis(name: &str) -> Analysis {
    match name {
        "sequential" => Analysis::Sequential,
        "bayesian" => Analysis::Bayesian,
        _ => Analysis::Frequentist,
    }
}

fn units(n: i64) -> u64 {
    u64::try_from(n).unwrap_or_default()
}

/// An interval from an estimate and optional bounds (undefined figures as
/// NaN, which the page shows as "—" and the chart as "not enough data").
fn interval(estimate: Option<f64>, ci: Option<flagyard_stats::Interval>) -> Option<Interval> {
    let estimate = estimate?;
    let (lower, upper) = ci.map_or((f64::NAN, f64::NAN), |c| (c.lower, c.upper));
    Some(Interval { estimate, lower, upper })
}

/// A treatment's figures as the server decided them: both intervals at the
/// decision's level, the p-value the verdict corresponds to, the verdict.
fn variant_result(v: &service::MetricVariantView) -> VariantResult {
    let c = v.comparison.as_ref();
    let d = v.decision.as_ref();
    let relative = d.and_then(|d| {
        if d.scale == "absolute" {
            interval(c.and_then(|c| c.relative.estimate), d.relative_ci)
        } else {
            interval(d.estimate, d.ci)
        }
    });
    VariantResult {
        variant: v.variant.clone(),
        units: units(v.n),
        value: v.summary.mean.unwrap_or(0.0),
        absolute: d.and_then(|d| interval(c.and_then(|c| c.absolute.estimate), d.absolute_ci)),
        relative,
        level: d.map_or(f64::NAN, |d| d.level),
        p_value: d.and_then(|d| d.p_value),
        // Shown in every analysis (it is cheap); only a Bayesian analysis
        // decides by it.
        chance_to_beat: c.and_then(|c| c.bayesian.chance_to_win),
        verdict: Verdict::from_wire(d.map_or("", |d| d.verdict.as_str())),
    }
}

/// Allocation rows of a draft: the split's current weights, control first.
pub fn draft_allocation(x: &ExperimentView, split: &[WeightedVariant]) -> Vec<AllocationRow> {
    let mut rows: Vec<AllocationRow> = split
        .iter()
        .map(|v| AllocationRow {
            variant: v.variant.clone(),
            weight_bp: v.weight,
            control: v.variant == x.control_variant,
            units: 0,
            excluded: 0,
        })
        .collect();
    rows.sort_by_key(|r| !r.control);
    rows
}

/// Everything the page shows from the results.
pub struct Figures {
    pub allocation: Vec<AllocationRow>,
    pub srm: Option<SrmCheck>,
    /// What the SRM check compares, when not the whole experiment.
    pub srm_basis: Option<String>,
    pub progress: Option<Progress>,
    pub metrics: Vec<MetricResult>,
    pub correction: Option<Correction>,
    /// How the verdicts are reached, in words.
    pub decision_rule: String,
}

/// Maps the results of a started experiment.
pub fn figures(r: &ResultsView) -> Figures {
    let allocation = r
        .variants
        .iter()
        .map(|v| AllocationRow {
            variant: v.variant.clone(),
            weight_bp: v.weight,
            control: v.variant == r.control,
            units: units(v.units),
            excluded: units(v.excluded),
        })
        .collect();
    let srm = r.srm.p_value.map(|p_value| SrmCheck { p_value, tripped: r.srm.warning });
    let srm_basis = match &r.srm_scope {
        service::SrmScope::Experiment => None,
        service::SrmScope::RampStep { ramp, step, variants, weights, .. } => {
            let shares: Vec<String> =
                variants.iter().zip(weights).map(|(v, w)| format!("{v} {} %", f64::from(*w) / 100.0)).collect();
            Some(format!(
                "units first exposed in step {} of ramp {ramp}, against its weights ({}): the ramp changes the weights, \
                 so all units together match no single allocation",
                step + 1,
                shares.join(", ")
            ))
        }
    };
    let smallest = r.variants.iter().map(|v| units(v.units)).min().unwrap_or(0);
    let progress =
        r.power.as_ref().and_then(|p| p.units_per_variant).map(|required| Progress { units: smallest, required });
    let metrics = r
        .metrics
        .iter()
        .map(|m| {
            let control = m.variants.iter().find(|v| v.control);
            let variants = m.variants.iter().filter(|v| !v.control).map(variant_result).collect();
            MetricResult {
                key: m.metric.clone(),
                name: if m.name.is_empty() { m.metric.clone() } else { m.name.clone() },
                kind: m.kind.clone(),
                role: m.role.clone(),
                good_direction: if m.good_direction == "decrease" {
                    GoodDirection::Decrease
                } else {
                    GoodDirection::Increase
                },
                control_variant: control.map_or_else(|| r.control.clone(), |c| c.variant.clone()),
                control_units: control.map_or(0, |c| units(c.n)),
                control_value: control.and_then(|c| c.summary.mean).unwrap_or(0.0),
                trend: Vec::new(),
                variants,
            }
        })
        .collect();
    let correction = match r.correction.method.as_str() {
        "holm" => Some("Holm"),
        "bonferroni" => Some("Bonferroni"),
        _ => None,
    }
    .map(|method| Correction { method: method.to_owned(), family_size: r.correction.family_size });
    Figures {
        allocation,
        srm,
        srm_basis,
        progress,
        metrics,
        correction,
        decision_rule: r.correction.description.clone(),
    }
}

/// Adds each metric's effect over time from the daily snapshots: one series
/// per treatment, one point per day (the decision's interval; a day whose
/// lift is undefined is a gap).
pub fn with_trends(metrics: &mut [MetricResult], history: &HistoryView) {
    for m in metrics {
        let treatments: Vec<String> = m.variants.iter().map(|v| v.variant.clone()).collect();
        m.trend = treatments
            .into_iter()
            .map(|variant| TrendSeries {
                points: history
                    .days
                    .iter()
                    .map(|day| {
                        let d = day
                            .metrics
                            .iter()
                            .find(|h| h.metric == m.key)
                            .and_then(|h| h.variants.iter().find(|p| p.variant == variant))
                            .map(|p| &p.decision)
                            .filter(|d| d.scale != "absolute");
                        let (estimate, lower, upper) = match d.and_then(|d| d.estimate.zip(d.ci)) {
                            Some((e, ci)) => (e, ci.lower, ci.upper),
                            None => (f64::NAN, f64::NAN, f64::NAN),
                        };
                        TrendPoint {
                            day: day.day.clone(),
                            estimate,
                            lower,
                            upper,
                            verdict: Verdict::from_wire(d.map_or("", |d| d.verdict.as_str())),
                        }
                    })
                    .collect(),
                label: variant,
            })
            .collect();
    }
}
