//! Two-proportion z test with a pooled standard error (STATS.md item 4).

use crate::dist;
use crate::effect::{Interval, Status};
use crate::error::StatsError;
use crate::options::validate_alpha;
use crate::summary::{MetricKind, VariantStats};
use serde::Serialize;

/// Pooled two-proportion z test of p_B − p_A.
///
/// * Test: p̂ = (x_A + x_B)/(n_A + n_B), se₀ = √(p̂(1 − p̂)(1/n_A + 1/n_B)),
///   z = Δ/se₀, p = 2·(1 − Φ(|z|)). The pooled se is the standard error under
///   the null p_A = p_B (`statsmodels` `proportions_ztest`, prop_var=False).
/// * Interval: Wald, Δ ± Φ⁻¹(1 − α/2)·se₁ with the **unpooled**
///   se₁ = √(p_A(1 − p_A)/n_A + p_B(1 − p_B)/n_B), because away from the
///   null the arms' variances differ. The interval and the test can therefore
///   disagree slightly at the boundary.
///
/// Rules: n = 0 in an arm → [`Status::EmptyVariant`], nothing computed
/// (n = 1 is allowed: the z test needs no degrees of freedom). p̂ ∈ {0, 1}
/// (no conversions anywhere, or all) → se₀ = 0 → [`Status::ZeroVariance`]
/// with only Δ and the standard errors. If se₁ = 0 while se₀ > 0 (one arm all
/// and the other none converting) the z test is reported but `ci` is `None`
/// (a zero-width Wald interval would be meaningless).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProportionTest {
    /// Why figures are missing, or [`Status::Ok`].
    pub status: Status,
    /// Δ = p_B − p_A.
    pub estimate: Option<f64>,
    /// se₀ (pooled, used for z).
    pub pooled_std_error: Option<f64>,
    /// se₁ (unpooled, used for the interval).
    pub unpooled_std_error: Option<f64>,
    /// z = Δ/se₀.
    pub statistic: Option<f64>,
    /// Two-sided p-value.
    pub p_value: Option<f64>,
    /// Wald interval with the unpooled se.
    pub ci: Option<Interval>,
}

/// Runs the pooled two-proportion z test; `sum` of each arm is its
/// conversions, validated as a [`MetricKind::Conversion`] metric.
pub fn two_proportion_z(
    control: &VariantStats,
    treatment: &VariantStats,
    alpha: f64,
) -> Result<ProportionTest, StatsError> {
    validate_alpha(alpha)?;
    control.validate(MetricKind::Conversion)?;
    treatment.validate(MetricKind::Conversion)?;
    let mut out = ProportionTest {
        status: Status::EmptyVariant,
        estimate: None,
        pooled_std_error: None,
        unpooled_std_error: None,
        statistic: None,
        p_value: None,
        ci: None,
    };
    if control.n <= 0 || treatment.n <= 0 {
        return Ok(out);
    }
    let (n_a, n_b) = (control.n as f64, treatment.n as f64);
    let (p_a, p_b) = (control.sum / n_a, treatment.sum / n_b);
    let pooled = (control.sum + treatment.sum) / (n_a + n_b);
    let estimate = p_b - p_a;
    let se0 = (pooled * (1.0 - pooled) * (1.0 / n_a + 1.0 / n_b)).max(0.0).sqrt();
    let se1 = (p_a * (1.0 - p_a) / n_a + p_b * (1.0 - p_b) / n_b).max(0.0).sqrt();
    out.estimate = Some(estimate);
    out.pooled_std_error = Some(se0);
    out.unpooled_std_error = Some(se1);
    if se0 <= 0.0 {
        out.status = Status::ZeroVariance;
        return Ok(out);
    }
    let z = estimate / se0;
    out.statistic = Some(z);
    out.p_value = Some((2.0 * dist::norm_sf(z.abs())?).min(1.0));
    if se1 > 0.0 {
        out.ci = Interval::around(estimate, dist::z_critical(alpha)? * se1);
    }
    out.status = Status::Ok;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worked_example_matches_hand_computation() {
        let a = VariantStats::conversion(10_000, 1_000);
        let b = VariantStats::conversion(10_000, 1_100);
        let t = two_proportion_z(&a, &b, 0.05).unwrap();
        // p̂ = 0.105, se₀ = √(0.105·0.895·2e-4); scipy: 2·norm.sf(z).
        let se0 = (0.105_f64 * 0.895 * 2e-4).sqrt();
        assert!((t.pooled_std_error.unwrap() - se0).abs() < 1e-15);
        assert!((t.statistic.unwrap() - 0.01 / se0).abs() < 1e-9);
        assert!((t.p_value.unwrap() - 0.021_075_189_273_797_743).abs() < 1e-10);
        assert_eq!(t.status, Status::Ok);
    }

    #[test]
    fn degenerate_pools() {
        let none = VariantStats::conversion(50, 0);
        let t = two_proportion_z(&none, &none, 0.05).unwrap();
        assert_eq!((t.status, t.estimate, t.p_value), (Status::ZeroVariance, Some(0.0), None));
        let all = VariantStats::conversion(50, 50);
        let t = two_proportion_z(&none, &all, 0.05).unwrap();
        assert_eq!((t.status, t.unpooled_std_error, t.ci), (Status::Ok, Some(0.0), None));
        assert!(t.p_value.unwrap() < 1e-20);
        let empty = VariantStats::conversion(0, 0);
        assert_eq!(two_proportion_z(&empty, &all, 0.05).unwrap().status, Status::EmptyVariant);
    }

    #[test]
    fn rejects_non_conversion_data() {
        let a = VariantStats::new(10, 3.0, 9.0);
        assert!(two_proportion_z(&a, &a, 0.05).is_err());
    }
}
