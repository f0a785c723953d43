//! Sample size for a fixed-horizon test and progress towards it.

use crate::dist;
use crate::error::StatsError;
use crate::options::validate_alpha;
use crate::summary::{MetricKind, Moments, VariantStats};
use serde::{Deserialize, Serialize};

/// Largest sample size per variant reported (beyond it: an error).
const MAX_UNITS: f64 = 1e15;

/// The control metric the effect is relative to.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Baseline {
    /// Baseline conversion rate p₁ ∈ (0, 1).
    Conversion {
        /// p₁.
        rate: f64,
    },
    /// Baseline mean μ (≠ 0) and per-unit variance σ² (≥ 0).
    Continuous {
        /// μ.
        mean: f64,
        /// σ².
        variance: f64,
    },
}

impl Baseline {
    /// Baseline from a control variant's statistics (its mean, and its
    /// variance for continuous metrics). Errors if the control has no units,
    /// or fewer than 2 for a continuous metric.
    pub fn from_variant(stats: &VariantStats, kind: MetricKind) -> Result<Self, StatsError> {
        stats.validate(kind)?;
        let moments = Moments::of(stats, kind).ok_or(StatsError::InvalidBaseline("control has no units"))?;
        match kind {
            MetricKind::Conversion => Ok(Self::Conversion { rate: moments.mean }),
            MetricKind::Continuous => Ok(Self::Continuous {
                mean: moments.mean,
                variance: moments.variance.ok_or(StatsError::InvalidBaseline("control needs at least 2 units"))?,
            }),
        }
    }
}

/// Units per variant for a two-arm, equal-allocation, two-sided test.
///
/// Normal approximation: n = (z₁₋α/₂ + z_power)² · V / δ², where δ is the
/// absolute effect implied by the relative minimum detectable effect (MDE) and
/// V the sum of the two arms' per-unit variances:
///
/// * conversion: p₂ = p₁(1 + MDE), δ = p₂ − p₁, V = p₁(1 − p₁) + p₂(1 − p₂)
///   (unpooled, matching the Welch/Wald analysis);
/// * continuous: δ = MDE·|μ|, V = 2σ² (equal variances assumed).
///
/// `units_per_variant` is ⌈n⌉, at least 2 (Welch needs two units per arm).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SampleSize {
    /// ⌈n⌉ (≥ 2).
    pub units_per_variant: u64,
    /// n before rounding.
    pub unrounded: f64,
    /// z₁₋α/₂.
    pub z_alpha: f64,
    /// z_power.
    pub z_power: f64,
    /// δ, the absolute effect to detect.
    pub absolute_effect: f64,
}

/// Computes the [`SampleSize`] to detect relative effect `mde` (0.05 = +5 %,
/// may be negative, must be > −1 and ≠ 0) at level `alpha` with probability
/// `power` (conventionally [`DEFAULT_POWER`](crate::DEFAULT_POWER)).
///
/// Errors: α or power outside (0, 1); a conversion rate outside (0, 1) or a
/// target rate p₂ above 1; a continuous mean of 0 or non-finite, or a negative
/// variance; more than 10¹⁵ units needed.
pub fn sample_size(baseline: Baseline, mde: f64, alpha: f64, power: f64) -> Result<SampleSize, StatsError> {
    validate_alpha(alpha)?;
    if !(power > 0.0 && power < 1.0) {
        return Err(StatsError::InvalidPower(power));
    }
    if !(mde.is_finite() && mde != 0.0 && mde > -1.0) {
        return Err(StatsError::InvalidMde(mde));
    }
    let (delta, variance_sum) = match baseline {
        Baseline::Conversion { rate } => {
            if !(rate > 0.0 && rate < 1.0) {
                return Err(StatsError::InvalidBaseline("conversion rate must be in (0, 1)"));
            }
            let target = rate * (1.0 + mde);
            if target > 1.0 {
                return Err(StatsError::InvalidMde(mde));
            }
            (target - rate, rate * (1.0 - rate) + target * (1.0 - target))
        }
        Baseline::Continuous { mean, variance } => {
            if !(mean.is_finite() && mean != 0.0) {
                return Err(StatsError::InvalidBaseline("mean must be finite and non-zero"));
            }
            if !(variance.is_finite() && variance >= 0.0) {
                return Err(StatsError::InvalidBaseline("variance must be finite and ≥ 0"));
            }
            (mde * mean.abs(), 2.0 * variance)
        }
    };
    let z_alpha = dist::z_critical(alpha)?;
    let z_power = dist::norm_quantile(power)?;
    let z_sum = z_alpha + z_power;
    let unrounded = z_sum * z_sum * variance_sum / (delta * delta);
    if !(unrounded.is_finite() && unrounded <= MAX_UNITS) {
        return Err(StatsError::SampleSizeTooLarge(unrounded));
    }
    Ok(SampleSize {
        // In [0, 1e15]: the cast is exact.
        units_per_variant: (unrounded.ceil() as u64).max(2),
        unrounded,
        z_alpha,
        z_power,
        absolute_effect: delta,
    })
}

/// Fraction of the required sample collected: `current_units /
/// required.units_per_variant`, clamped to [0, 1]. Pass the smallest arm's
/// unit count so that the fraction reflects the slowest variant.
pub fn progress(current_units: i64, required: &SampleSize) -> f64 {
    (current_units as f64 / required.units_per_variant as f64).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversion_textbook() {
        // p₁ = 0.10 → 0.11, α = 0.05, power 0.8:
        // (1.959964 + 0.841621)²·(0.09 + 0.0979)/0.0001 = 14 748.05 (scipy)
        let s = sample_size(Baseline::Conversion { rate: 0.1 }, 0.1, 0.05, 0.8).unwrap();
        assert_eq!(s.units_per_variant, 14_749);
        assert!((s.unrounded - 14_748.045_020_841_91).abs() < 1e-6);
        assert!((progress(7_000, &s) - 7_000.0 / 14_749.0).abs() < 1e-15);
        assert_eq!(progress(-3, &s), 0.0);
        assert_eq!(progress(20_000, &s), 1.0);
    }

    #[test]
    fn continuous_and_floor() {
        let s = sample_size(Baseline::Continuous { mean: 10.0, variance: 0.0 }, 0.01, 0.05, 0.8).unwrap();
        assert_eq!((s.unrounded, s.units_per_variant), (0.0, 2));
    }

    #[test]
    fn invalid_inputs() {
        let conv = Baseline::Conversion { rate: 0.6 };
        assert!(matches!(sample_size(conv, 1.0, 0.05, 0.8), Err(StatsError::InvalidMde(_))));
        assert!(sample_size(conv, 0.0, 0.05, 0.8).is_err());
        assert!(sample_size(conv, 0.1, 0.05, 1.0).is_err());
        assert!(sample_size(Baseline::Conversion { rate: 0.0 }, 0.1, 0.05, 0.8).is_err());
        assert!(matches!(sample_size(conv, 1e-9, 0.05, 0.8), Err(StatsError::SampleSizeTooLarge(_))));
        let b = Baseline::from_variant(&VariantStats::new(1, 1.0, 1.0), MetricKind::Continuous);
        assert!(b.is_err());
        let b = Baseline::from_variant(&VariantStats::conversion(100, 7), MetricKind::Conversion);
        assert_eq!(b, Ok(Baseline::Conversion { rate: 0.07 }));
    }
}
