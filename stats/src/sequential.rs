//! Always-valid inference: asymptotic confidence sequences
//! (STATS.md item 7; Waudby-Smith, Arnold, Wu, Howard & Ramdas, 2021).

use crate::effect::{Effect, Interval, Status};
use crate::error::StatsError;
use crate::options::{validate_alpha, validate_tuning};
use crate::relative::relative_from;
use crate::summary::{MetricKind, VariantStats};
use crate::welch::prepare;
use serde::Serialize;

/// An always-valid (safe to peek at) interval and p-value.
///
/// With N units in the comparison, tuning N* and
/// ρ² = (−2 ln α + ln(1 − 2 ln α))/N*:
///
/// * half-width = se·√N·√[2(Nρ² + 1)/(N²ρ²) · ln(√(Nρ² + 1)/α)];
/// * p = min(1, √(Nρ² + 1)·exp(−ρ²N(L/se)² / (2(Nρ² + 1)))).
///
/// N* is the sample size at which the sequence is tightest; the interval is
/// wider than the fixed-horizon one at every N, the price of continuous
/// monitoring. Rules: se = 0 → [`Status::ZeroVariance`] with only the
/// estimate; an undefined relative lift propagates its [`Status`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SequentialResult {
    /// Why figures are missing, or [`Status::Ok`].
    pub status: Status,
    /// The estimate the sequence is centred on.
    pub estimate: Option<f64>,
    /// Confidence-sequence interval at the requested α.
    pub ci: Option<Interval>,
    /// Always-valid p-value.
    pub p_value: Option<f64>,
    /// N, units in the comparison.
    pub total_units: f64,
    /// N*.
    pub tuning: f64,
}

/// Confidence sequence for `estimate` with standard error `std_error`
/// after `total_units` units, at level `alpha` with tuning `n_star`.
pub fn confidence_sequence(
    estimate: f64,
    std_error: f64,
    total_units: f64,
    alpha: f64,
    n_star: f64,
) -> Result<SequentialResult, StatsError> {
    validate_alpha(alpha)?;
    validate_tuning(n_star)?;
    if !estimate.is_finite() {
        return Err(StatsError::NonFinite { field: "estimate", value: estimate });
    }
    if !(std_error.is_finite() && std_error >= 0.0) {
        return Err(StatsError::InvalidStdError(std_error));
    }
    if !(total_units.is_finite() && total_units > 0.0) {
        return Err(StatsError::NonFinite { field: "total_units", value: total_units });
    }
    let mut out = SequentialResult {
        status: Status::ZeroVariance,
        estimate: Some(estimate),
        ci: None,
        p_value: None,
        total_units,
        tuning: n_star,
    };
    if std_error == 0.0 {
        return Ok(out);
    }
    let ln_alpha = alpha.ln();
    let rho_sq = (-2.0 * ln_alpha + (1.0 - 2.0 * ln_alpha).ln()) / n_star;
    let a = total_units * rho_sq; // Nρ²
    // se·√N·√(2(a+1)/(N²ρ²)·ℓ) = se·√(2(a+1)/a·ℓ), ℓ = ½ln(1+a) − ln α.
    let log_term = 0.5 * a.ln_1p() - ln_alpha;
    let half_width = std_error * (2.0 * (a + 1.0) / a * log_term).sqrt();
    let z = estimate / std_error;
    let log_p = 0.5 * a.ln_1p() - a * z * z / (2.0 * (a + 1.0));
    out.p_value = Some(log_p.min(0.0).exp());
    out.ci = Interval::around(estimate, half_width);
    out.status = if out.ci.is_some() { Status::Ok } else { Status::NumericalLimit };
    Ok(out)
}

/// Sequential figures from an already computed relative effect.
pub(crate) fn sequential_from(
    relative: &Effect,
    total_units: f64,
    alpha: f64,
    n_star: f64,
) -> Result<SequentialResult, StatsError> {
    match (relative.status, relative.estimate, relative.std_error) {
        (Status::Ok | Status::ZeroVariance, Some(estimate), Some(se)) => {
            confidence_sequence(estimate, se, total_units, alpha, n_star)
        }
        (status, estimate, _) => {
            Ok(SequentialResult { status, estimate, ci: None, p_value: None, total_units, tuning: n_star })
        }
    }
}

/// Confidence sequence on the relative lift L with its delta-method se
/// (as in STATS.md's worked example), N = n_A + n_B.
pub fn sequential_relative(
    control: &VariantStats,
    treatment: &VariantStats,
    kind: MetricKind,
    alpha: f64,
    n_star: f64,
) -> Result<SequentialResult, StatsError> {
    validate_alpha(alpha)?;
    validate_tuning(n_star)?;
    let prepared = prepare(control, treatment, kind)?;
    let total_units = control.n as f64 + treatment.n as f64;
    let relative = relative_from(&prepared, alpha)?;
    sequential_from(&relative, total_units, alpha, n_star)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * b.abs()
    }

    #[test]
    fn worked_example_sequential() {
        let a = VariantStats::conversion(10_000, 1_000);
        let b = VariantStats::conversion(10_000, 1_100);
        let s = sequential_relative(&a, &b, MetricKind::Conversion, 0.05, 5000.0).unwrap();
        let ci = s.ci.unwrap();
        assert!(rel(ci.lower, -0.042_206_353_762_085_45));
        assert!(rel(ci.upper, 0.242_206_353_762_085_35));
        assert!(rel(s.p_value.unwrap(), 0.549_037_944_345_208));
    }

    #[test]
    fn no_effect_has_p_one_and_zero_se_is_flagged() {
        let s = confidence_sequence(0.0, 0.1, 100.0, 0.05, 5000.0).unwrap();
        assert_eq!(s.p_value, Some(1.0));
        let s = confidence_sequence(0.3, 0.0, 100.0, 0.05, 5000.0).unwrap();
        assert_eq!((s.status, s.ci, s.p_value), (Status::ZeroVariance, None, None));
        assert!(confidence_sequence(0.3, 0.1, 0.0, 0.05, 5000.0).is_err());
        assert!(confidence_sequence(0.3, 0.1, 10.0, 0.05, 0.0).is_err());
    }

    #[test]
    fn empty_arm_propagates() {
        let a = VariantStats::conversion(0, 0);
        let b = VariantStats::conversion(10, 3);
        let s = sequential_relative(&a, &b, MetricKind::Conversion, 0.05, 5000.0).unwrap();
        assert_eq!((s.status, s.total_units), (Status::EmptyVariant, 10.0));
    }
}
