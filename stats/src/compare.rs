//! Every pairwise figure for one metric, treatment vs control.

use crate::bayes::{BayesResult, bayes_from};
use crate::effect::Effect;
use crate::error::StatsError;
use crate::options::{Options, PrimaryScale};
use crate::proportions::{ProportionTest, two_proportion_z};
use crate::relative::relative_from;
use crate::sequential::{SequentialResult, sequential_from};
use crate::summary::{MetricKind, Summary, VariantStats, summarize};
use crate::welch::{prepare, welch_from};
use serde::Serialize;

/// All figures comparing a treatment with the control on one metric.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Comparison {
    /// Metric kind the figures were computed for.
    pub kind: MetricKind,
    /// Control mean and variance.
    pub control: Summary,
    /// Treatment mean and variance.
    pub treatment: Summary,
    /// Welch test of m_B − m_A ([`welch`](crate::welch)).
    pub absolute: Effect,
    /// Delta-method relative lift ([`relative_lift`](crate::relative_lift)).
    pub relative: Effect,
    /// Pooled two-proportion z test; `None` for continuous metrics.
    pub proportions: Option<ProportionTest>,
    /// Gaussian posterior of the relative lift ([`BayesResult`]).
    pub bayesian: BayesResult,
    /// Confidence sequence on the relative lift ([`SequentialResult`]).
    pub sequential: SequentialResult,
}

impl Comparison {
    /// The two-sided p-value on `scale` (`None` when undefined).
    pub fn primary_p_value(&self, scale: PrimaryScale) -> Option<f64> {
        match scale {
            PrimaryScale::Relative => self.relative.p_value,
            PrimaryScale::Absolute => self.absolute.p_value,
        }
    }
}

/// Compares `treatment` with `control` on a metric of the given `kind`:
/// summaries, Welch absolute effect, relative lift, (conversion only) the
/// pooled z test, Bayesian and sequential figures, all at `options.alpha`.
///
/// Errors on invalid inputs or options; degenerate data give `None` figures
/// with a [`Status`](crate::Status) per section, never NaN or ±∞.
pub fn compare(
    control: &VariantStats,
    treatment: &VariantStats,
    kind: MetricKind,
    options: &Options,
) -> Result<Comparison, StatsError> {
    options.validate()?;
    let alpha = options.alpha;
    let prepared = prepare(control, treatment, kind)?;
    let relative = relative_from(&prepared, alpha)?;
    let proportions = match kind {
        MetricKind::Conversion => Some(two_proportion_z(control, treatment, alpha)?),
        MetricKind::Continuous => None,
    };
    let total_units = control.n as f64 + treatment.n as f64;
    Ok(Comparison {
        kind,
        control: summarize(control, kind)?,
        treatment: summarize(treatment, kind)?,
        absolute: welch_from(&prepared, alpha)?,
        bayesian: bayes_from(&relative, options.prior.as_ref(), alpha)?,
        sequential: sequential_from(&relative, total_units, alpha, options.sequential_tuning)?,
        relative,
        proportions,
    })
}

#[cfg(test)]
mod tests;
