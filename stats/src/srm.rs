//! Sample-ratio mismatch: Pearson χ² of observed units against the
//! configured traffic split (STATS.md item 5).

use crate::dist;
use crate::error::StatsError;
use serde::Serialize;

/// p-value below which a mismatch is flagged.
pub const SRM_P_THRESHOLD: f64 = 0.001;
/// Every variant needs at least this many units before a mismatch is flagged.
pub const SRM_MIN_UNITS: i64 = 8;

/// Result of the sample-ratio-mismatch check.
///
/// χ² = Σᵢ (Oᵢ − Eᵢ)²/Eᵢ with Eᵢ = N·wᵢ/Σw, on k − 1 degrees of freedom,
/// p = P(χ²_{k−1} > χ²) (`scipy.stats.chisquare`). `warning` is true when
/// p < [`SRM_P_THRESHOLD`] and every variant has at least [`SRM_MIN_UNITS`]
/// units. With no units at all (N = 0) there is nothing to test:
/// `statistic` and `p_value` are `None` and `warning` is false.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SrmResult {
    /// N, total units observed.
    pub total_units: f64,
    /// Eᵢ, expected units per variant.
    pub expected: Vec<f64>,
    /// Pearson χ².
    pub statistic: Option<f64>,
    /// k − 1.
    pub df: usize,
    /// P(χ²_{k−1} > statistic).
    pub p_value: Option<f64>,
    /// Mismatch flagged.
    pub warning: bool,
}

/// Tests observed `units` per variant against `weights` (any positive
/// weights, normalised; e.g. basis points summing to 10 000).
///
/// Errors: fewer than 2 variants, a length mismatch, negative counts, or a
/// weight that is not finite and > 0.
pub fn srm(units: &[i64], weights: &[f64]) -> Result<SrmResult, StatsError> {
    if units.len() < 2 {
        return Err(StatsError::TooFewVariants(units.len()));
    }
    if weights.len() != units.len() {
        return Err(StatsError::VariantCountMismatch {
            what: "SRM weights".to_owned(),
            expected: units.len(),
            got: weights.len(),
        });
    }
    if let Some(&n) = units.iter().find(|&&n| n < 0) {
        return Err(StatsError::NegativeCount(n));
    }
    if let Some((index, &value)) = weights.iter().enumerate().find(|(_, w)| !(w.is_finite() && **w > 0.0)) {
        return Err(StatsError::InvalidWeight { index, value });
    }
    let total_weight: f64 = weights.iter().sum();
    let total: f64 = units.iter().map(|&n| n as f64).sum();
    let expected: Vec<f64> = weights.iter().map(|w| total * (w / total_weight)).collect();
    let df = units.len() - 1;
    if total <= 0.0 {
        return Ok(SrmResult { total_units: total, expected, statistic: None, df, p_value: None, warning: false });
    }
    let statistic: f64 = units
        .iter()
        .zip(&expected)
        .map(|(&o, &e)| {
            let d = o as f64 - e;
            d * (d / e)
        })
        .sum();
    let p_value = dist::chi2_sf(statistic, df as f64)?;
    let warning = p_value < SRM_P_THRESHOLD && units.iter().all(|&n| n >= SRM_MIN_UNITS);
    Ok(SrmResult { total_units: total, expected, statistic: Some(statistic), df, p_value: Some(p_value), warning })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balanced_split_has_no_warning() {
        let r = srm(&[5000, 5000], &[5000.0, 5000.0]).unwrap();
        assert_eq!((r.statistic, r.p_value, r.warning), (Some(0.0), Some(1.0), false));
    }

    #[test]
    fn mismatch_is_flagged() {
        // scipy.stats.chisquare([5200, 4800], [5000, 5000]): χ² = 16, p = 6.334248366623988e-05.
        let r = srm(&[5200, 4800], &[1.0, 1.0]).unwrap();
        assert!((r.statistic.unwrap() - 16.0).abs() < 1e-12);
        assert!((r.p_value.unwrap() - 6.334_248_366_623_988e-5).abs() < 1e-15);
        assert!(r.warning);
    }

    #[test]
    fn small_arms_never_warn() {
        let r = srm(&[100, 7], &[1.0, 1.0]).unwrap();
        assert!(r.p_value.unwrap() < SRM_P_THRESHOLD);
        assert!(!r.warning);
    }

    #[test]
    fn empty_experiment_and_errors() {
        let r = srm(&[0, 0, 0], &[1.0, 1.0, 2.0]).unwrap();
        assert_eq!((r.statistic, r.p_value, r.warning, r.df), (None, None, false, 2));
        assert_eq!(srm(&[1], &[1.0]), Err(StatsError::TooFewVariants(1)));
        assert!(srm(&[1, 2], &[1.0]).is_err());
        assert!(srm(&[1, -2], &[1.0, 1.0]).is_err());
        assert!(srm(&[1, 2], &[1.0, 0.0]).is_err());
        assert!(srm(&[i64::MAX, i64::MAX], &[1.0, 1.0]).is_ok());
    }
}
