//! Bayesian Gaussian analysis of the relative lift (STATS.md item 6).

use crate::dist;
use crate::effect::{Effect, Interval, Status};
use crate::error::StatsError;
use crate::options::{Prior, validate_alpha};
use crate::relative::relative_from;
use crate::summary::{MetricKind, VariantStats};
use crate::welch::prepare;
use serde::Serialize;

/// Posterior summary of the lift, with decision figures.
///
/// The likelihood of the lift is N(L, se_L²) (the delta-method estimate of
/// [`relative_lift`](crate::relative_lift)). With the flat prior the posterior
/// is that same normal; with a prior N(μ₀, τ²) precisions add:
/// 1/σ² = 1/se_L² + 1/τ², μ = σ²·(L/se_L² + μ₀/τ²).
///
/// * `chance_to_win` = P(lift > 0) = Φ(μ/σ).
/// * `risk_control`: expected loss of shipping control,
///   E[max(lift, 0)] = μΦ(μ/σ) + σφ(μ/σ).
/// * `risk_treatment`: expected loss of shipping treatment,
///   E[max(−lift, 0)] = −μΦ(−μ/σ) + σφ(μ/σ).
/// * `ci`: equal-tailed credible interval μ ± Φ⁻¹(1 − α/2)·σ.
///
/// Losses are in lift units (0.01 = one percentage point of relative lift)
/// and clamped at 0 against rounding. When the relative lift has no standard
/// error the posterior is undefined and the status of the relative effect is
/// reported (e.g. [`Status::ZeroControlMean`]); when se_L = 0
/// ([`Status::ZeroVariance`]) only `posterior_mean` (= L) and
/// `posterior_std_dev` (= 0) are given.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BayesResult {
    /// Why figures are missing, or [`Status::Ok`].
    pub status: Status,
    /// μ.
    pub posterior_mean: Option<f64>,
    /// σ.
    pub posterior_std_dev: Option<f64>,
    /// Φ(μ/σ).
    pub chance_to_win: Option<f64>,
    /// Expected loss of shipping control.
    pub risk_control: Option<f64>,
    /// Expected loss of shipping treatment.
    pub risk_treatment: Option<f64>,
    /// Credible interval at the requested α.
    pub ci: Option<Interval>,
}

impl BayesResult {
    fn undefined(status: Status) -> Self {
        Self {
            status,
            posterior_mean: None,
            posterior_std_dev: None,
            chance_to_win: None,
            risk_control: None,
            risk_treatment: None,
            ci: None,
        }
    }
}

/// Posterior of a quantity estimated as `estimate` with standard error
/// `std_error` under an optional Gaussian `prior` (flat when `None`).
///
/// Works on any scale; [`bayesian`] applies it to the relative lift.
pub fn gaussian_posterior(
    estimate: f64,
    std_error: f64,
    prior: Option<&Prior>,
    alpha: f64,
) -> Result<BayesResult, StatsError> {
    validate_alpha(alpha)?;
    if !estimate.is_finite() {
        return Err(StatsError::NonFinite { field: "estimate", value: estimate });
    }
    if !(std_error.is_finite() && std_error >= 0.0) {
        return Err(StatsError::InvalidStdError(std_error));
    }
    if let Some(p) = prior {
        p.validate()?;
    }
    if std_error == 0.0 {
        return Ok(BayesResult {
            posterior_mean: Some(estimate),
            posterior_std_dev: Some(0.0),
            ..BayesResult::undefined(Status::ZeroVariance)
        });
    }
    let (mean, sd) = match prior {
        None => (estimate, std_error),
        Some(p) => {
            // Precision-weighted mean written with ratios so that nothing overflows.
            let r = std_error / p.std_dev;
            let data_weight = 1.0 / (1.0 + r * r);
            let prior_weight = 1.0 / (1.0 + 1.0 / (r * r));
            let sd = std_error * p.std_dev / std_error.hypot(p.std_dev);
            (data_weight * estimate + prior_weight * p.mean, sd)
        }
    };
    let x = mean / sd;
    if !(x.is_finite() && sd > 0.0) {
        return Ok(BayesResult::undefined(Status::NumericalLimit));
    }
    let (cdf, sf, pdf) = (dist::norm_cdf(x)?, dist::norm_sf(x)?, dist::norm_pdf(x)?);
    let ci = Interval::around(mean, dist::z_critical(alpha)? * sd);
    Ok(BayesResult {
        status: Status::Ok,
        posterior_mean: Some(mean),
        posterior_std_dev: Some(sd),
        chance_to_win: Some(cdf),
        risk_control: Some((mean * cdf + sd * pdf).max(0.0)),
        risk_treatment: Some((-mean * sf + sd * pdf).max(0.0)),
        ci,
    })
}

/// Posterior from an already computed relative effect.
pub(crate) fn bayes_from(relative: &Effect, prior: Option<&Prior>, alpha: f64) -> Result<BayesResult, StatsError> {
    match (relative.status, relative.estimate, relative.std_error) {
        (Status::Ok | Status::ZeroVariance, Some(estimate), Some(se)) => gaussian_posterior(estimate, se, prior, alpha),
        (status, _, _) => Ok(BayesResult::undefined(status)),
    }
}

/// Bayesian analysis of the relative lift of treatment over control; see
/// [`BayesResult`] for the formulas and the degenerate-case rules.
pub fn bayesian(
    control: &VariantStats,
    treatment: &VariantStats,
    kind: MetricKind,
    prior: Option<&Prior>,
    alpha: f64,
) -> Result<BayesResult, StatsError> {
    validate_alpha(alpha)?;
    if let Some(p) = prior {
        p.validate()?;
    }
    let relative = relative_from(&prepare(control, treatment, kind)?, alpha)?;
    bayes_from(&relative, prior, alpha)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * b.abs()
    }

    #[test]
    fn worked_example_bayes() {
        let a = VariantStats::conversion(10_000, 1_000);
        let b = VariantStats::conversion(10_000, 1_100);
        let r = bayesian(&a, &b, MetricKind::Conversion, None, 0.05).unwrap();
        assert!(rel(r.chance_to_win.unwrap(), 0.986_060_949_457_331_8));
        assert!(rel(r.risk_control.unwrap(), 0.100_222_872_676_917_17));
        assert!(rel(r.risk_treatment.unwrap(), 0.000_222_872_676_917_216_3));
    }

    #[test]
    fn prior_shrinks_towards_its_mean() {
        let prior = Prior { mean: 0.0, std_dev: 0.1 };
        // se = τ: the posterior mean is halfway, σ = τ/√2.
        let r = gaussian_posterior(0.2, 0.1, Some(&prior), 0.05).unwrap();
        assert!(rel(r.posterior_mean.unwrap(), 0.1));
        assert!(rel(r.posterior_std_dev.unwrap(), 0.1 / 2f64.sqrt()));
    }

    #[test]
    fn extreme_evidence_stays_finite() {
        let r = gaussian_posterior(1.0, 1e-3, None, 0.05).unwrap();
        assert_eq!(r.chance_to_win, Some(1.0));
        assert_eq!(r.risk_treatment, Some(0.0));
        assert!(rel(r.risk_control.unwrap(), 1.0));
        let r = gaussian_posterior(0.0, 0.0, None, 0.05).unwrap();
        assert_eq!((r.status, r.chance_to_win), (Status::ZeroVariance, None));
        assert!(gaussian_posterior(f64::NAN, 1.0, None, 0.05).is_err());
        assert!(gaussian_posterior(0.0, -1.0, None, 0.05).is_err());
    }

    #[test]
    fn undefined_lift_propagates() {
        let a = VariantStats::conversion(100, 0);
        let b = VariantStats::conversion(100, 3);
        let r = bayesian(&a, &b, MetricKind::Conversion, None, 0.05).unwrap();
        assert_eq!(r, BayesResult::undefined(Status::ZeroControlMean));
    }
}
