//! Distribution functions (standard normal, Student's t, χ²) on top of statrs.
//!
//! statrs' Student's t is accurate for moderate degrees of freedom but its
//! incomplete-beta based `inverse_cdf` loses digits from ν ≈ 10⁵ and fails
//! outright near 10⁸, which Welch ν reaches with millions of units. For
//! ν ≥ [`LARGE_DF`] both the quantile and the survival function use the
//! Cornish–Fisher expansion of the t quantile in powers of 1/ν (Abramowitz &
//! Stegun 26.7.5, four terms): its truncation error there is below 10⁻¹⁵
//! relative, verified against scipy.

use crate::error::StatsError;
use statrs::distribution::{ChiSquared, Continuous, ContinuousCDF, Normal, StudentsT};

/// Degrees of freedom from which the Cornish–Fisher expansion replaces statrs.
const LARGE_DF: f64 = 1e4;

/// Beyond this |t| (with ν ≥ [`LARGE_DF`]) the tail mass underflows f64.
const TAIL_CUTOFF: f64 = 50.0;

fn distribution_error(distribution: &'static str) -> impl Fn(String) -> StatsError {
    move |message| StatsError::Distribution { distribution, message }
}

fn std_normal() -> Result<Normal, StatsError> {
    Normal::new(0.0, 1.0).map_err(|e| distribution_error("normal")(e.to_string()))
}

fn check_probability(p: f64, distribution: &'static str) -> Result<(), StatsError> {
    if p > 0.0 && p < 1.0 {
        Ok(())
    } else {
        Err(distribution_error(distribution)(format!("quantile probability {p} outside (0, 1)")))
    }
}

/// Φ(x).
pub(crate) fn norm_cdf(x: f64) -> Result<f64, StatsError> {
    Ok(std_normal()?.cdf(x))
}

/// 1 − Φ(x), accurate in the upper tail.
pub(crate) fn norm_sf(x: f64) -> Result<f64, StatsError> {
    Ok(std_normal()?.sf(x))
}

/// φ(x).
pub(crate) fn norm_pdf(x: f64) -> Result<f64, StatsError> {
    Ok(std_normal()?.pdf(x))
}

/// Φ⁻¹(p) for p ∈ (0, 1).
pub(crate) fn norm_quantile(p: f64) -> Result<f64, StatsError> {
    check_probability(p, "normal")?;
    Ok(std_normal()?.inverse_cdf(p))
}

fn student(df: f64) -> Result<StudentsT, StatsError> {
    StudentsT::new(0.0, 1.0, df).map_err(|e| distribution_error("student's t")(e.to_string()))
}

/// Cornish–Fisher t quantile: the t value whose tail matches the normal `z`.
fn cornish_fisher(z: f64, df: f64) -> f64 {
    let z2 = z * z;
    let g1 = (z2 + 1.0) * z / 4.0;
    let g2 = ((5.0 * z2 + 16.0) * z2 + 3.0) * z / 96.0;
    let g3 = (((3.0 * z2 + 19.0) * z2 + 17.0) * z2 - 15.0) * z / 384.0;
    let g4 = ((((79.0 * z2 + 776.0) * z2 + 1482.0) * z2 - 1920.0) * z2 - 945.0) * z / 92160.0;
    z + (g1 + (g2 + (g3 + g4 / df) / df) / df) / df
}

/// d/dz of [`cornish_fisher`].
fn cornish_fisher_slope(z: f64, df: f64) -> f64 {
    let z2 = z * z;
    let d1 = (3.0 * z2 + 1.0) / 4.0;
    let d2 = ((25.0 * z2 + 48.0) * z2 + 3.0) / 96.0;
    let d3 = (((21.0 * z2 + 95.0) * z2 + 51.0) * z2 - 15.0) / 384.0;
    let d4 = ((((711.0 * z2 + 5432.0) * z2 + 7410.0) * z2 - 5760.0) * z2 - 945.0) / 92160.0;
    1.0 + (d1 + (d2 + (d3 + d4 / df) / df) / df) / df
}

/// The normal deviate z with `cornish_fisher(z, df) = t`, for t ≥ 0.
///
/// The map is increasing and convex on z ≥ 0 for ν ≥ [`LARGE_DF`] and lies
/// above the identity, so Newton's method from z = t converges monotonically.
fn normal_equivalent(t: f64, df: f64) -> f64 {
    if t > TAIL_CUTOFF {
        return t;
    }
    let mut z = t;
    for _ in 0..100 {
        let step = (cornish_fisher(z, df) - t) / cornish_fisher_slope(z, df);
        z -= step;
        if step.abs() <= 1e-16 * z.abs().max(1.0) {
            break;
        }
    }
    z
}

/// Upper tail P(T_ν > x).
pub(crate) fn t_sf(x: f64, df: f64) -> Result<f64, StatsError> {
    if df >= LARGE_DF {
        let z = normal_equivalent(x.abs(), df);
        return if x >= 0.0 { norm_sf(z) } else { norm_cdf(z) };
    }
    Ok(student(df)?.sf(x))
}

/// Quantile T_ν⁻¹(p) for p ∈ (0, 1).
pub(crate) fn t_quantile(p: f64, df: f64) -> Result<f64, StatsError> {
    check_probability(p, "student's t")?;
    if df >= LARGE_DF {
        return Ok(cornish_fisher(norm_quantile(p)?, df));
    }
    Ok(student(df)?.inverse_cdf(p))
}

/// Two-sided critical value T_ν⁻¹(1 − α/2), evaluated as −T_ν⁻¹(α/2) so that
/// α below 10⁻¹⁶ (where 1 − α/2 rounds to 1) still works.
pub(crate) fn t_critical(alpha: f64, df: f64) -> Result<f64, StatsError> {
    Ok(-t_quantile(alpha / 2.0, df)?)
}

/// Two-sided critical value Φ⁻¹(1 − α/2), evaluated as −Φ⁻¹(α/2).
pub(crate) fn z_critical(alpha: f64) -> Result<f64, StatsError> {
    Ok(-norm_quantile(alpha / 2.0)?)
}

/// Upper tail P(χ²_k > x).
pub(crate) fn chi2_sf(x: f64, df: f64) -> Result<f64, StatsError> {
    let chi2 = ChiSquared::new(df).map_err(|e| distribution_error("chi-squared")(e.to_string()))?;
    Ok(chi2.sf(x))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs().max(1e-300)
    }

    // Reference values: scipy.stats.t.ppf / t.sf (scipy 1.17).
    #[test]
    fn t_quantile_matches_scipy_across_df() {
        let cases = [
            (4.0, 2.776_445_105_197_793),
            (1e3, 1.962_339_080_826_408_3),
            (1e5, 1.959_987_707_534_609_5),
            (1e7, 1.959_964_221_767_205),
            (2e9, 1.959_963_985_726_189_5),
            (1e15, 1.959_963_984_540_056_3),
        ];
        for (df, want) in cases {
            let got = t_quantile(0.975, df).unwrap();
            assert!(close(got, want, 1e-12), "df {df}: {got} vs {want}");
        }
    }

    #[test]
    fn t_sf_matches_scipy_across_df() {
        let cases = [
            (30.0, 8.0, 3.132_911_237_850_379_5e-9),
            (1e5, 2.3, 1.072_513_455_466_011_2e-2),
            (1e6, 8.0, 6.227_531_716_601_252e-16),
            (2e9, 2.3, 1.072_411_007_290_172_5e-2),
        ];
        for (df, x, want) in cases {
            let got = t_sf(x, df).unwrap();
            assert!(close(got, want, 1e-9), "df {df} x {x}: {got} vs {want}");
            let lower = t_sf(-x, df).unwrap();
            assert!(close(lower, 1.0 - want, 1e-12));
        }
        assert_eq!(t_sf(1e6, 1e9).unwrap(), 0.0);
    }

    #[test]
    fn critical_values_survive_tiny_alpha() {
        // scipy.stats.norm.isf(5e-21), t.isf(5e-21, 50), t.isf(5e-21, 2e5), t.isf(0.025, ν).
        assert!(close(z_critical(1e-20).unwrap(), 9.336_044_849_234_06, 1e-9));
        assert!(close(t_critical(1e-20, 50.0).unwrap(), 15.495_328_433_344_671, 1e-6));
        assert!(close(t_critical(1e-20, 2e5).unwrap(), 9.337_073_797_363_532, 1e-9));
        assert!(close(t_critical(0.05, 19_962.712_558_123_232).unwrap(), 1.960_082_826_737_392_4, 1e-12));
    }

    #[test]
    fn quantile_rejects_probabilities_outside_unit_interval() {
        assert!(t_quantile(1.0, 10.0).is_err());
        assert!(norm_quantile(0.0).is_err());
        assert!(norm_quantile(f64::NAN).is_err());
    }
}
