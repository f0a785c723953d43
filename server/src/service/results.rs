//! Experiment results: the per-variant sufficient statistics maintained by
//! ingest, analysed with `flagyard-stats` — O(variants × metrics), whatever
//! the number of events.

use std::collections::HashMap;

use flagyard_eval::WeightedVariant;
use flagyard_stats::{
    Baseline, Comparison, DEFAULT_POWER, ExperimentResult, MetricData, MetricKind, Options, SrmResult, Summary,
    VariantStats, analyze_experiment, progress, sample_size, summarize,
};
use serde::Serialize;

use super::decision::{Correction, Decision, decide_all};
use super::error::Error;
use super::experiment_guards::{SplitSnapshot, corrupt, snapshot_of};
use super::now_ms;
use super::views::rfc3339;
use crate::store::{ExperimentRecord, IngestQueries, MetricRecord, Queries};

/// Results of an experiment.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResultsView {
    pub experiment: String,
    pub flag: String,
    pub environment: String,
    /// `running` or `stopped`.
    pub state: String,
    /// `frequentist`, `sequential` or `bayesian`: which figures the verdicts use.
    pub analysis: String,
    pub alpha: f64,
    pub started_at: Option<String>,
    pub stopped_at: Option<String>,
    /// When these figures were computed.
    pub computed_at: String,
    pub control: String,
    /// Allocation and units, control first.
    pub variants: Vec<VariantUnits>,
    /// Units exposed to more than one variant, left out of every figure.
    pub excluded_units: i64,
    /// Sample-ratio-mismatch check (`warning` when p < 0.001): every unit
    /// against the weights at start, or, for the experiment of a ramp whose
    /// steps change the weights, see `srmScope`.
    #[schema(value_type = Object)]
    pub srm: SrmResult,
    /// What `srm` compares: `experiment` (every unit against the weights at
    /// start) or `rampStep` (a ramp that changes the weights: the units first
    /// exposed in its current step against that step's weights; pooled over
    /// steps, the shares would not match any one allocation).
    pub srm_scope: SrmScope,
    /// Comparisons in the Holm / Benjamini–Hochberg family (treatments × metrics).
    pub family_size: usize,
    /// How the verdicts account for the family.
    pub correction: Correction,
    /// Primary metric first, then secondary, then guardrail metrics.
    pub metrics: Vec<MetricResults>,
    /// Sample size for the minimum detectable effect on the primary metric.
    pub power: Option<Power>,
}

/// What an SRM check compares (see [`ResultsView::srm_scope`]).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", tag = "scope")]
pub enum SrmScope {
    Experiment,
    #[serde(rename_all = "camelCase")]
    RampStep {
        ramp: i64,
        /// 0-based index of the ramp's current (or last) step.
        step: i64,
        /// The step's live variants, their weights (basis points) and the
        /// units first exposed since the step began.
        variants: Vec<String>,
        weights: Vec<u32>,
        units: Vec<i64>,
    },
}

/// The check of a ramp's experiment whose steps set the canary's weight:
/// the units first exposed in the current step against its weights.
async fn ramp_step_srm<T: Queries>(
    tx: &mut T,
    x: &ExperimentRecord,
    units: &HashMap<String, (i64, i64)>,
) -> Result<Option<(SrmResult, SrmScope)>, Error> {
    let Some(id) = super::ramp_model::plan_of_experiment_key(&x.key) else { return Ok(None) };
    let Some(r) = tx.ramp(id).await?.filter(|r| r.experiment_id == Some(x.id)) else { return Ok(None) };
    if !super::ramp_model::steps_of(&r)?.iter().any(|s| s.weight.is_some()) {
        return Ok(None);
    }
    let now = units.iter().map(|(v, (kept, excluded))| (v.clone(), kept + excluded)).collect();
    Ok(super::ramp_model::step_srm(&r, &now)?.map(|(result, view)| {
        let scope = SrmScope::RampStep {
            ramp: r.id,
            step: r.step,
            variants: view.variants,
            weights: view.weights,
            units: view.units,
        };
        (result, scope)
    }))
}

/// One variant's allocation and units.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VariantUnits {
    pub variant: String,
    /// Basis points of the split at start.
    pub weight: u32,
    /// Exposed units kept in the analysis.
    pub units: i64,
    /// Units first exposed to this variant, then to another.
    pub excluded: i64,
}

/// One metric's figures per variant.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetricResults {
    pub metric: String,
    pub name: String,
    /// `primary`, `secondary` or `guardrail`.
    pub role: String,
    /// `conversion`, `count`, `sum` or `mean`.
    pub kind: String,
    /// `increase` or `decrease`.
    pub good_direction: String,
    /// Control first.
    pub variants: Vec<MetricVariant>,
}

/// One variant on one metric.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MetricVariant {
    pub variant: String,
    pub control: bool,
    /// n, Σx and Σx² over units.
    pub n: i64,
    pub sum: f64,
    pub sum_sq: f64,
    /// Rate (conversion) or mean, variance and standard error.
    #[schema(value_type = Object)]
    pub summary: Summary,
    /// Everything against control (absent for control): Welch absolute,
    /// delta-method relative, pooled z (conversion), Bayesian, sequential.
    #[schema(value_type = Option<Object>)]
    pub comparison: Option<Comparison>,
    /// Holm-adjusted relative-lift p-value across the family.
    pub holm_p_value: Option<f64>,
    /// Benjamini–Hochberg-adjusted relative-lift p-value across the family.
    pub bh_p_value: Option<f64>,
    /// `better`, `worse`, `inconclusive` (no detectable difference yet) or
    /// `notEnoughData`, by the experiment's analysis, its multiple-comparison
    /// correction and the metric's good direction: `decision.verdict`.
    pub verdict: Option<String>,
    /// The verdict with the interval that says it (see [`Decision`]).
    pub decision: Option<Decision>,
}

/// Required sample size and progress toward it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Power {
    pub metric: String,
    pub minimum_detectable_effect: f64,
    /// 1 − β.
    pub power: f64,
    /// Units needed in each variant; `None` when the control has no usable baseline yet.
    pub units_per_variant: Option<u64>,
    /// Smallest variant's units over the units needed, in [0, 1].
    pub progress: Option<f64>,
    /// Why `units_per_variant` is missing.
    pub note: Option<String>,
}

fn stats_kind(kind: &str) -> MetricKind {
    if kind == "conversion" { MetricKind::Conversion } else { MetricKind::Continuous }
}

/// Statistics as stored, made consistent against the rounding of
/// incremental sums (Σx² ≥ (Σx)²/n; conversions whole and within n).
pub(super) fn variant_stats(kind: &str, n: i64, sum: f64, sum_sq: f64) -> VariantStats {
    if n <= 0 {
        return VariantStats::new(0, 0.0, 0.0);
    }
    if kind == "conversion" {
        let conversions = (sum.round() as i64).clamp(0, n);
        return VariantStats::conversion(n, conversions);
    }
    let floor = sum * sum / n as f64;
    VariantStats::new(n, sum, if sum_sq < floor { floor } else { sum_sq })
}

/// The results of experiment `key`.
pub async fn experiment_results<T: Queries + IngestQueries>(tx: &mut T, key: &str) -> Result<ResultsView, Error> {
    let x = tx.experiment(key).await?.ok_or_else(|| Error::NotFound(format!("experiment `{key}`")))?;
    let split = snapshot_of(&x)?
        .ok_or_else(|| Error::Conflict(format!("experiment `{key}` has not started: it has no results yet")))?;
    let stored: HashMap<String, (i64, i64)> =
        tx.variant_units(x.id).await?.into_iter().map(|r| (r.variant, (r.units, r.excluded))).collect();
    let variants = control_first(&x, &split, &stored);
    let metrics = metrics_of(tx, &x).await?;
    let sums: HashMap<(i64, String), (i64, f64, f64)> = tx
        .variant_metrics(x.id)
        .await?
        .into_iter()
        .map(|r| ((r.metric_id, r.variant), (r.n, r.sum, r.sum_sq)))
        .collect();
    let Analysis { data, analysed, correction, decisions } = analyse(&x, &metrics, &variants, &sums)?;
    let units: Vec<i64> = variants.iter().map(|v| v.units).collect();
    let mut out = Vec::with_capacity(metrics.len());
    for ((((m, role), d), r), decided) in metrics.iter().zip(&data).zip(analysed.metrics).zip(decisions) {
        let mut rows = Vec::with_capacity(variants.len());
        for (i, (v, s)) in variants.iter().zip(&d.variants).enumerate() {
            let summary = summarize(s, d.kind).map_err(|e| corrupt("variant statistics", e))?;
            let treated = (i > 0).then(|| r.variants.get(i - 1)).flatten();
            let decision = (i > 0).then(|| decided.get(i - 1).cloned()).flatten();
            rows.push(MetricVariant {
                variant: v.variant.clone(),
                control: i == 0,
                n: s.n,
                sum: s.sum,
                sum_sq: s.sum_sq,
                summary,
                verdict: decision.as_ref().map(|d| d.verdict.as_str().to_owned()),
                decision,
                holm_p_value: treated.and_then(|t| t.holm_p_value),
                bh_p_value: treated.and_then(|t| t.bh_p_value),
                comparison: treated.map(|t| t.comparison.clone()),
            });
        }
        out.push(MetricResults {
            metric: m.key.clone(),
            name: m.name.clone(),
            role: (*role).to_owned(),
            kind: m.kind.clone(),
            good_direction: m.good_direction.clone(),
            variants: rows,
        });
    }
    let power = x.minimum_detectable_effect.zip(data.first()).map(|(mde, primary)| power(&x, mde, primary, &units));
    let (srm, srm_scope) = match ramp_step_srm(tx, &x, &stored).await? {
        Some(step) => step,
        None => (analysed.srm, SrmScope::Experiment),
    };
    Ok(ResultsView {
        experiment: x.key.clone(),
        flag: x.flag_key.clone(),
        environment: x.environment_key.clone(),
        state: x.state.clone(),
        analysis: x.analysis.clone(),
        alpha: x.alpha,
        started_at: x.started_at.map(rfc3339),
        stopped_at: x.stopped_at.map(rfc3339),
        computed_at: rfc3339(now_ms()),
        control: x.control_variant.clone(),
        excluded_units: variants.iter().map(|v| v.excluded).sum(),
        variants,
        srm,
        srm_scope,
        family_size: analysed.family_size,
        correction,
        metrics: out,
        power,
    })
}

/// The split's variants, control first, with their `stored` units and
/// excluded units (none when absent).
pub(super) fn control_first(
    x: &ExperimentRecord,
    split: &SplitSnapshot,
    stored: &HashMap<String, (i64, i64)>,
) -> Vec<VariantUnits> {
    let mut order: Vec<&WeightedVariant> = split.variants.iter().collect();
    order.sort_by_key(|v| v.variant != x.control_variant);
    order
        .into_iter()
        .map(|v| {
            let (units, excluded) = stored.get(&v.variant).copied().unwrap_or_default();
            VariantUnits { variant: v.variant.clone(), weight: v.weight, units, excluded }
        })
        .collect()
}

/// One set of statistics analysed: the metrics' data, the comparisons, and
/// every comparison decided.
pub(super) struct Analysis {
    pub data: Vec<MetricData>,
    pub analysed: ExperimentResult,
    pub correction: Correction,
    /// Per metric, per treatment.
    pub decisions: Vec<Vec<Decision>>,
}

/// Analyses `variants` (control first) and `sums` as `x` asks: its α,
/// analysis and multiple-comparison correction, each metric's good direction.
pub(super) fn analyse(
    x: &ExperimentRecord,
    metrics: &[(MetricRecord, &'static str)],
    variants: &[VariantUnits],
    sums: &HashMap<(i64, String), (i64, f64, f64)>,
) -> Result<Analysis, Error> {
    let data = metric_data(metrics, variants, sums);
    let units: Vec<i64> = variants.iter().map(|v| v.units).collect();
    let weights: Vec<f64> = variants.iter().map(|v| f64::from(v.weight)).collect();
    let options = Options { alpha: x.alpha, ..Options::default() };
    let analysed =
        analyze_experiment(&units, &weights, &data, &options).map_err(|e| corrupt("experiment statistics", e))?;
    let decrease_is_good: Vec<bool> = metrics.iter().map(|(m, _)| m.good_direction == "decrease").collect();
    let (correction, decisions) = decide_all(&x.analysis, x.alpha, &data, &analysed, &decrease_is_good)?;
    Ok(Analysis { data, analysed, correction, decisions })
}

/// Each metric's per-variant statistics, in `variants`' order (control
/// first): a mean's n is its units with a value, every other metric's n is
/// the variant's units.
fn metric_data(
    metrics: &[(MetricRecord, &'static str)],
    variants: &[VariantUnits],
    sums: &HashMap<(i64, String), (i64, f64, f64)>,
) -> Vec<MetricData> {
    metrics
        .iter()
        .map(|(m, _)| MetricData {
            name: m.key.clone(),
            kind: stats_kind(&m.kind),
            variants: variants
                .iter()
                .map(|v| {
                    let (n, sum, sum_sq) = sums.get(&(m.id, v.variant.clone())).copied().unwrap_or_default();
                    let n = if m.kind == "mean" { n } else { v.units };
                    variant_stats(&m.kind, n, sum, sum_sq)
                })
                .collect(),
        })
        .collect()
}

/// The experiment's metrics with their roles, primary first.
pub(super) async fn metrics_of<T: Queries>(
    tx: &mut T,
    x: &ExperimentRecord,
) -> Result<Vec<(MetricRecord, &'static str)>, Error> {
    let all = tx.metrics().await?;
    let find = |id: i64| all.iter().find(|m| m.id == id).cloned();
    let mut out =
        vec![(find(x.primary_metric_id).ok_or_else(|| corrupt("experiment", "primary metric missing"))?, "primary")];
    let mut extra = tx.experiment_metrics(x.id).await?;
    extra.sort_by_key(|m| (m.role != "secondary", m.metric_key.clone()));
    for m in extra {
        if out.iter().any(|(o, _)| o.id == m.metric_id) {
            continue;
        }
        let role = if m.role == "guardrail" { "guardrail" } else { "secondary" };
        out.push((find(m.metric_id).ok_or_else(|| corrupt("experiment", "metric missing"))?, role));
    }
    Ok(out)
}

fn power(x: &ExperimentRecord, mde: f64, primary: &MetricData, units: &[i64]) -> Power {
    let mut p = Power {
        metric: primary.name.clone(),
        minimum_detectable_effect: mde,
        power: DEFAULT_POWER,
        units_per_variant: None,
        progress: None,
        note: None,
    };
    let control = primary.variants.first().cloned().unwrap_or_else(|| VariantStats::new(0, 0.0, 0.0));
    let needed = Baseline::from_variant(&control, primary.kind)
        .and_then(|baseline| sample_size(baseline, mde, x.alpha, DEFAULT_POWER));
    match needed {
        Ok(size) => {
            p.progress = Some(progress(units.iter().copied().min().unwrap_or(0), &size));
            p.units_per_variant = Some(size.units_per_variant);
        }
        Err(e) => p.note = Some(format!("no baseline from the control yet: {e}")),
    }
    p
}

/// Events accepted by ingest in one environment, per kind.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventCountsView {
    pub environment: String,
    /// Exposures accepted (retried batches counted once).
    pub exposures: i64,
    /// Track events accepted (retried batches counted once).
    pub tracks: i64,
}

/// The accepted-event counters of environment `key`.
pub async fn event_counts<T: Queries + IngestQueries>(tx: &mut T, key: &str) -> Result<EventCountsView, Error> {
    let env = tx.environment(key).await?.ok_or_else(|| Error::NotFound(format!("environment `{key}`")))?;
    let counts = tx.event_counts(env.id).await?;
    let of = |kind: &str| counts.iter().find(|(k, _)| k == kind).map_or(0, |(_, n)| *n);
    Ok(EventCountsView { environment: env.key.clone(), exposures: of("exposure"), tracks: of("track") })
}
