//! Absolute difference of means with Welch's unequal-variance t test
//! (STATS.md item 2).

use crate::effect::{Effect, Status};
use crate::error::StatsError;
use crate::options::validate_alpha;
use crate::summary::{MetricKind, Moments, VariantStats};

/// A validated control/treatment pair with enough units for inference.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pair {
    /// Control (A) moments.
    pub control: Moments,
    /// Treatment (B) moments.
    pub treatment: Moments,
    /// s_A²/n_A.
    pub var_control: f64,
    /// s_B²/n_B.
    pub var_treatment: f64,
    /// Welch–Satterthwaite ν; `None` when both variances are 0.
    pub df: Option<f64>,
}

impl Pair {
    /// Δ = m_B − m_A.
    pub fn difference(&self) -> f64 {
        self.treatment.mean - self.control.mean
    }
}

/// Why a pair is not ready for inference, with the means when both exist.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Unready {
    /// [`Status::EmptyVariant`] or [`Status::TooFewUnits`].
    pub status: Status,
    /// (m_A, m_B) when both arms have units.
    pub means: Option<(f64, f64)>,
}

/// A pair ready for inference, or why it is not.
pub(crate) type Prepared = Result<Pair, Unready>;

/// Welch–Satterthwaite ν = (a + b)² / (a²/(n_A − 1) + b²/(n_B − 1)) with
/// a = s_A²/n_A, b = s_B²/n_B, scaled by max(a, b) so that squaring cannot
/// underflow or overflow. `None` when a = b = 0.
fn welch_df(a: f64, b: f64, n_a: f64, n_b: f64) -> Option<f64> {
    let scale = a.max(b);
    if scale <= 0.0 {
        return None;
    }
    let (a, b) = (a / scale, b / scale);
    Some((a + b) * (a + b) / (a * a / (n_a - 1.0) + b * b / (n_b - 1.0)))
}

/// Validates both arms and applies the n = 0 and n = 1 rules of [`Status`].
pub(crate) fn prepare(
    control: &VariantStats,
    treatment: &VariantStats,
    kind: MetricKind,
) -> Result<Prepared, StatsError> {
    control.validate(kind)?;
    treatment.validate(kind)?;
    let (Some(a), Some(b)) = (Moments::of(control, kind), Moments::of(treatment, kind)) else {
        return Ok(Err(Unready { status: Status::EmptyVariant, means: None }));
    };
    let too_few = Unready { status: Status::TooFewUnits, means: Some((a.mean, b.mean)) };
    let (Some(var_a), Some(var_b)) = (a.variance, b.variance) else {
        return Ok(Err(too_few));
    };
    if a.n < 2.0 || b.n < 2.0 {
        return Ok(Err(too_few));
    }
    let (var_control, var_treatment) = (var_a / a.n, var_b / b.n);
    Ok(Ok(Pair {
        control: a,
        treatment: b,
        var_control,
        var_treatment,
        df: welch_df(var_control, var_treatment, a.n, b.n),
    }))
}

/// Welch test of Δ = m_B − m_A (treatment minus control).
///
/// se² = s_A²/n_A + s_B²/n_B; ν by Welch–Satterthwaite;
/// p = 2·T_ν.sf(|Δ/se|); CI = Δ ± T_ν⁻¹(1 − α/2)·se. Identical to
/// `scipy.stats.ttest_ind_from_stats(..., equal_var=False)` given the variances
/// of [`summarize`](crate::summarize). Undefined figures follow [`Status`].
pub fn welch(
    control: &VariantStats,
    treatment: &VariantStats,
    kind: MetricKind,
    alpha: f64,
) -> Result<Effect, StatsError> {
    validate_alpha(alpha)?;
    welch_from(&prepare(control, treatment, kind)?, alpha)
}

/// Absolute figures from a prepared pair (shared with [`compare`](crate::compare)).
pub(crate) fn welch_from(prepared: &Prepared, alpha: f64) -> Result<Effect, StatsError> {
    match prepared {
        Err(unready) => Ok(Effect::undefined(unready.status, unready.means.map(|(a, b)| b - a))),
        Ok(pair) => {
            let se = (pair.var_control + pair.var_treatment).sqrt();
            Effect::from_t(pair.difference(), se, pair.df.unwrap_or(0.0), alpha)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONV: MetricKind = MetricKind::Conversion;
    const CONT: MetricKind = MetricKind::Continuous;

    #[test]
    fn worked_example_absolute() {
        let a = VariantStats::conversion(10_000, 1_000);
        let b = VariantStats::conversion(10_000, 1_100);
        let e = welch(&a, &b, CONV, 0.05).unwrap();
        assert_eq!(e.status, Status::Ok);
        let ci = e.ci.unwrap();
        assert!((e.p_value.unwrap() - 0.021_068_257_468_733_9).abs() < 1e-12);
        assert!((ci.lower - 0.001_503_543_981_086_27).abs() < 1e-12);
        assert!((ci.upper - 0.018_496_456_018_913_7).abs() < 1e-12);
    }

    #[test]
    fn empty_and_single_unit_arms() {
        let empty = VariantStats::new(0, 0.0, 0.0);
        let one = VariantStats::new(1, 2.0, 4.0);
        let many = VariantStats::new(5, 10.0, 30.0);
        let e = welch(&empty, &many, CONT, 0.05).unwrap();
        assert_eq!((e.status, e.estimate), (Status::EmptyVariant, None));
        let e = welch(&many, &one, CONT, 0.05).unwrap();
        assert_eq!((e.status, e.estimate, e.p_value), (Status::TooFewUnits, Some(0.0), None));
        let one = VariantStats::conversion(1, 1);
        let e = welch(&VariantStats::conversion(5, 1), &one, CONV, 0.05).unwrap();
        assert_eq!(e.status, Status::TooFewUnits);
    }

    #[test]
    fn zero_variance_in_both_arms() {
        let all = VariantStats::conversion(100, 100);
        let e = welch(&all, &all, CONV, 0.05).unwrap();
        assert_eq!(e.status, Status::ZeroVariance);
        assert_eq!((e.estimate, e.std_error, e.p_value, e.ci), (Some(0.0), Some(0.0), None, None));
        let a = VariantStats::new(4, 8.0, 16.0);
        let b = VariantStats::new(6, 18.0, 54.0);
        let e = welch(&a, &b, CONT, 0.05).unwrap();
        assert_eq!((e.status, e.estimate), (Status::ZeroVariance, Some(1.0)));
    }

    #[test]
    fn one_constant_arm_uses_the_other_arms_df() {
        let a = VariantStats::conversion(1000, 30);
        let b = VariantStats::conversion(1000, 0);
        let e = welch(&a, &b, CONV, 0.05).unwrap();
        assert_eq!(e.status, Status::Ok);
        assert!((e.df.unwrap() - 999.0).abs() < 1e-9);
    }

    #[test]
    fn rejects_bad_alpha() {
        let a = VariantStats::conversion(10, 1);
        assert_eq!(welch(&a, &a, CONV, 0.0), Err(StatsError::InvalidAlpha(0.0)));
    }
}
