//! Multiple-comparison adjustment of p-values (STATS.md item 8).

use crate::error::StatsError;

fn validate(p_values: &[f64]) -> Result<(), StatsError> {
    match p_values.iter().enumerate().find(|(_, p)| !(0.0..=1.0).contains(*p)) {
        Some((index, &value)) => Err(StatsError::InvalidPValue { index, value }),
        None => Ok(()),
    }
}

/// Indices of `p_values` in ascending order of p (ties keep input order).
fn ascending(p_values: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..p_values.len()).collect();
    order.sort_by(|&i, &j| p_values[i].total_cmp(&p_values[j]));
    order
}

/// Holm step-down adjusted p-values (controls the family-wise error rate).
///
/// With p₍₁₎ ≤ … ≤ p₍ₘ₎: p̃₍ᵢ₎ = maxⱼ≤ᵢ min(1, (m − j + 1)·p₍ⱼ₎). Returned in
/// input order; equal to `statsmodels.stats.multitest.multipletests(p,
/// method="holm")`. Errors if a p-value is outside [0, 1] (or NaN).
pub fn holm(p_values: &[f64]) -> Result<Vec<f64>, StatsError> {
    validate(p_values)?;
    let m = p_values.len();
    let mut adjusted = vec![0.0; m];
    let mut running_max: f64 = 0.0;
    for (rank, &i) in ascending(p_values).iter().enumerate() {
        let scaled = ((m - rank) as f64 * p_values[i]).min(1.0);
        running_max = running_max.max(scaled);
        adjusted[i] = running_max;
    }
    Ok(adjusted)
}

/// Benjamini–Hochberg step-up adjusted p-values (controls the false
/// discovery rate under independence or positive dependence).
///
/// With p₍₁₎ ≤ … ≤ p₍ₘ₎: p̃₍ᵢ₎ = minⱼ≥ᵢ min(1, m·p₍ⱼ₎/j). Returned in input
/// order; equal to `scipy.stats.false_discovery_control(p, method="bh")`.
/// Errors if a p-value is outside [0, 1] (or NaN).
pub fn benjamini_hochberg(p_values: &[f64]) -> Result<Vec<f64>, StatsError> {
    validate(p_values)?;
    let m = p_values.len();
    let mut adjusted = vec![0.0; m];
    let mut running_min: f64 = 1.0;
    for (rank, &i) in ascending(p_values).iter().enumerate().rev() {
        let scaled = (m as f64 * p_values[i] / (rank + 1) as f64).min(1.0);
        running_min = running_min.min(scaled);
        adjusted[i] = running_min;
    }
    Ok(adjusted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_close(got: &[f64], want: &[f64]) {
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-12, "{got:?} vs {want:?}");
        }
    }

    #[test]
    fn holm_textbook() {
        // statsmodels multipletests([0.01, 0.04, 0.03, 0.005], method="holm").
        let got = holm(&[0.01, 0.04, 0.03, 0.005]).unwrap();
        assert_close(&got, &[0.03, 0.06, 0.06, 0.02]);
    }

    #[test]
    fn bh_textbook() {
        // scipy.stats.false_discovery_control([0.01, 0.04, 0.03, 0.005]).
        let got = benjamini_hochberg(&[0.01, 0.04, 0.03, 0.005]).unwrap();
        assert_close(&got, &[0.02, 0.04, 0.04, 0.02]);
    }

    #[test]
    fn capped_monotone_and_edge_cases() {
        assert_eq!(holm(&[]).unwrap(), Vec::<f64>::new());
        assert_eq!(benjamini_hochberg(&[0.3]).unwrap(), vec![0.3]);
        assert_close(&holm(&[0.6, 0.6, 0.9]).unwrap(), &[1.0, 1.0, 1.0]);
        assert_close(&benjamini_hochberg(&[0.0, 1.0]).unwrap(), &[0.0, 1.0]);
        assert!(matches!(holm(&[0.1, f64::NAN]), Err(StatsError::InvalidPValue { index: 1, .. })));
        assert!(benjamini_hochberg(&[1.5]).is_err());
    }
}
