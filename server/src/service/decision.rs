//! The verdict on each treatment × metric, and the interval that says it:
//! one decision, taken once, which the API, the CSV and the web page all
//! show. A verdict is "better" or "worse" exactly when the interval shown
//! with it excludes no change; the level of that interval is chosen so
//! this is the experiment's own test:
//!
//! - **frequentist**, one comparison: the (1 − α) interval, p as computed.
//!   Several (treatments × metrics): Holm's step-down procedure on the
//!   relative-lift p-values. A comparison is significant when its
//!   Holm-adjusted p ≤ α; its interval is shown at the level Holm tested it
//!   at (1 − α/(m − k + 1) for the k-th smallest p, or the level of the
//!   first comparison Holm kept for those after it), which excludes zero
//!   exactly then.
//! - **sequential**: the always-valid confidence sequence; several
//!   comparisons: Bonferroni (each sequence at α/m, p multiplied by m),
//!   since Holm's ordering has no always-valid counterpart.
//! - **bayesian**: better when the chance to beat control ≥ 1 − α, worse
//!   when ≤ α, so the credible interval shown is the (1 − 2α) one, whose
//!   ends are the α and 1 − α quantiles. A chance to beat control is not a
//!   p-value: no multiple-comparison correction.

use flagyard_stats::{Comparison, ExperimentResult, MetricData, Options, compare};
use serde::Serialize;

use super::error::Error;
use super::experiment_guards::corrupt;

/// How the verdicts of an experiment account for testing several
/// treatments × metrics at once.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Correction {
    /// `none`, `holm` or `bonferroni`.
    pub method: String,
    /// Comparisons tested together (treatments × metrics).
    pub family_size: usize,
    /// The rule in words, as the page shows it.
    pub description: String,
}

/// What a treatment's effect on a metric means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum EffectVerdict {
    /// Significantly better, given the metric's good direction.
    Better,
    /// Significantly worse.
    Worse,
    /// The interval still holds no change.
    Inconclusive,
    /// No defined interval yet (no units, a control at zero...).
    NotEnoughData,
}

impl EffectVerdict {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            EffectVerdict::Better => "better",
            EffectVerdict::Worse => "worse",
            EffectVerdict::Inconclusive => "inconclusive",
            EffectVerdict::NotEnoughData => "notEnoughData",
        }
    }
}

/// One treatment × metric decision.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    pub verdict: EffectVerdict,
    /// `relative` (the lift), `absolute` (when the lift is undefined and
    /// nothing is corrected) or `posterior` (the Bayesian lift).
    pub scale: String,
    pub estimate: Option<f64>,
    /// The interval the verdict reads, at `level`.
    #[schema(value_type = Option<Object>)]
    pub ci: Option<flagyard_stats::Interval>,
    /// The absolute difference's interval at the same level.
    #[schema(value_type = Option<Object>)]
    pub absolute_ci: Option<flagyard_stats::Interval>,
    /// The relative lift's interval at the same level (`ci` when the scale is relative).
    #[schema(value_type = Option<Object>)]
    pub relative_ci: Option<flagyard_stats::Interval>,
    /// Coverage of the intervals, e.g. 0.95.
    pub level: f64,
    /// The p-value the verdict corresponds to: adjusted when corrected;
    /// none for a Bayesian analysis.
    pub p_value: Option<f64>,
}

/// One comparison's place in the experiment: its data and good direction.
pub(super) struct Compared<'a> {
    pub data: &'a MetricData,
    /// 1-based index of the treatment in `data.variants`.
    pub treatment: usize,
    pub decrease_is_good: bool,
    pub comparison: &'a Comparison,
    pub holm_p_value: Option<f64>,
}

/// Per comparison, the significance level it is tested at under Holm:
/// α/(m − k + 1) for the k-th smallest p (1-based), and from the first
/// comparison Holm keeps on, that comparison's level.
pub(super) fn holm_levels(p_values: &[f64], alpha: f64) -> Vec<f64> {
    let m = p_values.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p_values[a].total_cmp(&p_values[b]));
    let mut levels = vec![alpha; m];
    let mut kept: Option<f64> = None;
    for (k, &i) in order.iter().enumerate() {
        let level = kept.unwrap_or(alpha / (m - k) as f64);
        if kept.is_none() && p_values[i] > level {
            kept = Some(level);
        }
        levels[i] = level;
    }
    levels
}

fn excludes_zero(ci: Option<flagyard_stats::Interval>) -> Option<i8> {
    let ci = ci.filter(|c| c.lower.is_finite() && c.upper.is_finite() && c.lower <= c.upper)?;
    Some(i8::from(ci.lower > 0.0) - i8::from(ci.upper < 0.0))
}

/// The correction an analysis applies to `family_size` comparisons.
pub(super) fn correction(analysis: &str, alpha: f64, family_size: usize) -> Correction {
    let method = match analysis {
        "bayesian" => "none",
        _ if family_size <= 1 => "none",
        "sequential" => "bonferroni",
        _ => "holm",
    };
    let description = match method {
        "holm" => format!(
            "{family_size} comparisons (treatments × metrics) tested together with Holm's method: a verdict needs a \
             Holm-adjusted p ≤ {alpha}, and each interval is shown at the level its comparison was tested at."
        ),
        "bonferroni" => format!(
            "{family_size} comparisons (treatments × metrics) tested together with Bonferroni's correction: each \
             confidence sequence is at level 1 − {alpha}/{family_size}, and p is multiplied by {family_size}."
        ),
        _ if analysis == "bayesian" => format!(
            "Better when the chance to beat control is at least {}, worse when at most {alpha}; intervals are the \
             matching credible intervals. A chance to beat control is not a p-value: no multiple-comparison correction.",
            1.0 - alpha
        ),
        _ => "One comparison: no multiple-comparison correction.".to_owned(),
    };
    Correction { method: method.to_owned(), family_size, description }
}

/// Decides every comparison of an analysed experiment, in the order of
/// `analysed` (metric by metric, treatments in order).
pub(super) fn decide_all(
    analysis: &str,
    alpha: f64,
    data: &[MetricData],
    analysed: &ExperimentResult,
    decrease_is_good: &[bool],
) -> Result<(Correction, Vec<Vec<Decision>>), Error> {
    let compared: Vec<Compared<'_>> = analysed
        .metrics
        .iter()
        .zip(data)
        .zip(decrease_is_good)
        .flat_map(|((r, d), &decrease_is_good)| {
            r.variants.iter().map(move |v| Compared {
                data: d,
                treatment: v.variant,
                decrease_is_good,
                comparison: &v.comparison,
                holm_p_value: v.holm_p_value,
            })
        })
        .collect();
    let correction = correction(analysis, alpha, analysed.family_size);
    let m = compared.len().max(1);
    let levels = match correction.method.as_str() {
        "holm" => {
            let p: Vec<f64> = compared.iter().map(|c| c.comparison.relative.p_value.unwrap_or(1.0)).collect();
            holm_levels(&p, alpha)
        }
        "bonferroni" => vec![alpha / m as f64; compared.len()],
        _ if analysis == "bayesian" => vec![2.0 * alpha; compared.len()],
        _ => vec![alpha; compared.len()],
    };
    let mut decisions = compared
        .iter()
        .zip(levels)
        .map(|(c, level)| decide(analysis, &correction, m, c, (alpha, level)))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter();
    let per_metric =
        analysed.metrics.iter().map(|r| decisions.by_ref().take(r.variants.len()).collect::<Vec<_>>()).collect();
    Ok((correction, per_metric))
}

/// Decides `c`, tested at `level`; the comparison already made at the
/// experiment's `alpha` is reused when the level is that α.
fn decide(
    analysis: &str,
    correction: &Correction,
    m: usize,
    c: &Compared<'_>,
    (alpha, level): (f64, f64),
) -> Result<Decision, Error> {
    let recomputed;
    let at = if level == alpha {
        c.comparison
    } else {
        let (Some(control), Some(treatment)) = (c.data.variants.first(), c.data.variants.get(c.treatment)) else {
            return Err(corrupt("experiment statistics", "a comparison without its variants"));
        };
        recomputed = compare(control, treatment, c.data.kind, &Options { alpha: level, ..Options::default() })
            .map_err(|e| corrupt("experiment statistics", e))?;
        &recomputed
    };
    let corrected = correction.method != "none";
    let (scale, estimate, ci, p_value) = match analysis {
        "bayesian" => ("posterior", at.bayesian.posterior_mean, at.bayesian.ci, None),
        "sequential" => {
            let p = at.sequential.p_value.map(|p| if corrected { (p * m as f64).min(1.0) } else { p });
            ("relative", at.sequential.estimate, at.sequential.ci, p)
        }
        _ if corrected => ("relative", at.relative.estimate, at.relative.ci, c.holm_p_value),
        _ if at.relative.ci.is_some() => ("relative", at.relative.estimate, at.relative.ci, at.relative.p_value),
        _ => ("absolute", at.absolute.estimate, at.absolute.ci, at.absolute.p_value),
    };
    let verdict = match excludes_zero(ci).map(|up| if c.decrease_is_good { -up } else { up }) {
        None => EffectVerdict::NotEnoughData,
        Some(1) => EffectVerdict::Better,
        Some(-1) => EffectVerdict::Worse,
        Some(_) => EffectVerdict::Inconclusive,
    };
    Ok(Decision {
        verdict,
        scale: scale.to_owned(),
        estimate,
        ci,
        absolute_ci: at.absolute.ci,
        relative_ci: at.relative.ci,
        level: 1.0 - level,
        p_value,
    })
}

#[cfg(test)]
#[path = "decision_tests.rs"]
mod tests;
