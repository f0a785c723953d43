//! Relative lift L = Δ/|m_A| with a delta-method standard error
//! (STATS.md item 3).

use crate::effect::{Effect, Status};
use crate::error::StatsError;
use crate::options::validate_alpha;
use crate::summary::{MetricKind, VariantStats};
use crate::welch::{Prepared, prepare};

/// L = (m_B − m_A)/|m_A|, or `None` when m_A = 0.
fn lift(control_mean: f64, treatment_mean: f64) -> Option<f64> {
    (control_mean != 0.0).then(|| (treatment_mean - control_mean) / control_mean.abs())
}

/// Relative figures from a prepared pair (shared with [`compare`](crate::compare)).
pub(crate) fn relative_from(prepared: &Prepared, alpha: f64) -> Result<Effect, StatsError> {
    let pair = match prepared {
        Err(unready) => {
            let estimate = unready.means.and_then(|(a, b)| lift(a, b));
            return Ok(Effect::undefined(unready.status, estimate));
        }
        Ok(pair) => pair,
    };
    let (m_a, m_b) = (pair.control.mean, pair.treatment.mean);
    let Some(estimate) = lift(m_a, m_b) else {
        return Ok(Effect::undefined(Status::ZeroControlMean, None));
    };
    // se_L² = s_B²/(n_B·m_A²) + s_A²·m_B²/(n_A·m_A⁴) = (b + a·(m_B/m_A)²)/m_A².
    let ratio = m_b / m_a;
    let se = (pair.var_treatment + pair.var_control * ratio * ratio).sqrt() / m_a.abs();
    Effect::from_t(estimate, se, pair.df.unwrap_or(0.0), alpha)
}

/// Relative lift of treatment over control, L = Δ/|m_A|, tested with the
/// delta method.
///
/// se_L² = s_B²/(n_B·m_A²) + s_A²·m_B²/(n_A·m_A⁴); the Welch ν of the absolute
/// test and its quantile are reused, so p = 2·T_ν.sf(|L/se_L|) and
/// CI = L ± T_ν⁻¹(1 − α/2)·se_L (a symmetric interval on the lift scale, as in
/// gbstats). Dividing by |m_A| keeps the sign of L equal to the sign of Δ for
/// metrics with a negative mean.
///
/// When m_A = 0 (e.g. no conversions in control) the lift is undefined and
/// every figure is `None` with [`Status::ZeroControlMean`]; use the absolute
/// effect instead. A treatment with mean 0 and variance 0 (no conversions)
/// gives L = −1 with se_L = 0: [`Status::ZeroVariance`]. Other rules follow
/// [`Status`].
pub fn relative_lift(
    control: &VariantStats,
    treatment: &VariantStats,
    kind: MetricKind,
    alpha: f64,
) -> Result<Effect, StatsError> {
    validate_alpha(alpha)?;
    relative_from(&prepare(control, treatment, kind)?, alpha)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONV: MetricKind = MetricKind::Conversion;

    fn rel(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * b.abs()
    }

    #[test]
    fn worked_example_relative() {
        let a = VariantStats::conversion(10_000, 1_000);
        let b = VariantStats::conversion(10_000, 1_100);
        let e = relative_lift(&a, &b, CONV, 0.05).unwrap();
        let ci = e.ci.unwrap();
        assert!(rel(e.estimate.unwrap(), 0.1));
        assert!(rel(e.std_error.unwrap(), 0.045_475_268_003_608_29));
        assert!(rel(ci.lower, 0.010_864_708_144_846_93));
        assert!(rel(ci.upper, 0.189_135_291_855_153));
        assert!(rel(e.p_value.unwrap(), 0.027_889_528_764_600_59));
    }

    #[test]
    fn zero_conversions_in_control_is_undefined() {
        let a = VariantStats::conversion(1000, 0);
        let b = VariantStats::conversion(1000, 12);
        let e = relative_lift(&a, &b, CONV, 0.05).unwrap();
        assert_eq!(e, Effect::undefined(Status::ZeroControlMean, None));
    }

    #[test]
    fn zero_conversions_in_treatment_has_zero_se() {
        let a = VariantStats::conversion(1000, 30);
        let b = VariantStats::conversion(1000, 0);
        let e = relative_lift(&a, &b, CONV, 0.05).unwrap();
        assert_eq!(e.status, Status::ZeroVariance);
        assert_eq!((e.estimate, e.std_error, e.p_value), (Some(-1.0), Some(0.0), None));
    }

    #[test]
    fn negative_control_mean_keeps_sign() {
        // Control mean −2, treatment mean −1: the metric went up, so L = +0.5.
        let a = VariantStats::new(3, -6.0, 14.0);
        let b = VariantStats::new(3, -3.0, 5.0);
        let e = relative_lift(&a, &b, MetricKind::Continuous, 0.05).unwrap();
        assert_eq!(e.estimate, Some(0.5));
        assert_eq!(e.status, Status::Ok);
    }

    #[test]
    fn single_unit_reports_the_lift_only() {
        let a = VariantStats::conversion(1, 1);
        let b = VariantStats::conversion(10, 5);
        let e = relative_lift(&a, &b, CONV, 0.05).unwrap();
        assert_eq!((e.status, e.estimate, e.std_error), (Status::TooFewUnits, Some(-0.5), None));
    }
}
