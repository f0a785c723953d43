//! Inputs (per-variant sufficient statistics), their validation, and the
//! per-variant mean and variance (STATS.md item 1).

use crate::error::StatsError;
use serde::{Deserialize, Serialize};

/// How a metric's per-unit value is distributed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum MetricKind {
    /// x ∈ {0, 1} per unit; `sum` counts conversions; variance m(1 − m).
    Conversion,
    /// Any real x per unit; sample variance (Q − S²/n)/(n − 1).
    Continuous,
}

/// Sufficient statistics of one variant over units (users, not events).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VariantStats {
    /// Number of units n (≥ 0).
    pub n: i64,
    /// S = Σx over units.
    pub sum: f64,
    /// Q = Σx² over units (equals `sum` for conversion metrics).
    pub sum_sq: f64,
}

impl VariantStats {
    /// Sufficient statistics from n, Σx and Σx².
    pub fn new(n: i64, sum: f64, sum_sq: f64) -> Self {
        Self { n, sum, sum_sq }
    }

    /// Conversion-metric statistics: `conversions` of `n` units converted
    /// (Σx = Σx² = conversions).
    pub fn conversion(n: i64, conversions: i64) -> Self {
        let c = conversions as f64;
        Self::new(n, c, c)
    }

    /// Checks that some data set of `n` units of this `kind` has these
    /// sufficient statistics.
    ///
    /// Rejects negative `n`, non-finite sums, non-zero sums with `n = 0`;
    /// for conversions, conversions outside `[0, n]` or `sum_sq ≠ sum`
    /// (relative tolerance 10⁻⁹); for continuous metrics, `sum_sq < 0` or
    /// `sum² > n·sum_sq` beyond rounding (relative tolerance 10⁻¹⁰).
    pub fn validate(&self, kind: MetricKind) -> Result<(), StatsError> {
        let Self { n, sum, sum_sq } = *self;
        if n < 0 {
            return Err(StatsError::NegativeCount(n));
        }
        for (field, value) in [("sum", sum), ("sum_sq", sum_sq)] {
            if !value.is_finite() {
                return Err(StatsError::NonFinite { field, value });
            }
        }
        if n == 0 && (sum != 0.0 || sum_sq != 0.0) {
            return Err(StatsError::EmptyWithData { sum, sum_sq });
        }
        let n_f = n as f64;
        match kind {
            MetricKind::Conversion => {
                if sum < 0.0 {
                    return Err(StatsError::NegativeConversions(sum));
                }
                if sum > n_f {
                    return Err(StatsError::ConversionsExceedUnits { n, conversions: sum });
                }
                if (sum_sq - sum).abs() > 1e-9 * sum.max(1.0) {
                    return Err(StatsError::ConversionSumSqMismatch { sum, sum_sq });
                }
            }
            MetricKind::Continuous => {
                // sum² ≤ n·sum_sq, compared as |sum|/√n ≤ √sum_sq to avoid overflow.
                let lhs = if n == 0 { 0.0 } else { sum.abs() / n_f.sqrt() };
                if sum_sq < 0.0 || lhs > sum_sq.sqrt() * (1.0 + 1e-10) {
                    return Err(StatsError::InconsistentSumSq { n, sum, sum_sq });
                }
            }
        }
        Ok(())
    }
}

/// Mean and variance of one variant.
///
/// Rules: `mean` is `None` when n = 0. `variance` is `None` when n = 0, and
/// for continuous metrics also when n = 1 (the sample variance needs n − 1 > 0);
/// a conversion variant with n = 1 has variance m(1 − m) = 0. `std_error`
/// (√(variance/n), the standard error of the mean) is defined with `variance`.
///
/// Precision: the continuous variance is computed without cancellation (see
/// `centered_sum_sq`), so it is accurate to a few ulps *for the sums given*.
/// It cannot recover what was lost upstream: when Σ(x − m)² is below about
/// 10⁻¹⁶·Q (a large mean with a tiny spread), an f64 Q has already rounded the
/// spread away. Producers of such metrics should accumulate sums of x − c for
/// a reference value c; the mean shifts by c and the variance is unchanged.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Units.
    pub n: i64,
    /// m = S/n.
    pub mean: Option<f64>,
    /// s² (conversion: m(1 − m); continuous: (Q − S²/n)/(n − 1), clamped at 0).
    pub variance: Option<f64>,
    /// √(s²/n).
    pub std_error: Option<f64>,
}

/// Validated moments of a variant with at least one unit.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Moments {
    pub n: f64,
    pub mean: f64,
    /// `None` for a continuous variant with n = 1.
    pub variance: Option<f64>,
}

/// Q − S²/n without the cancellation of the naive formula.
///
/// With m = fl(S/n), S²/n = S·m + S·(S − n·m)/n, where S − n·m and the
/// rounding error of S·m are recovered exactly with fused multiply-adds (the
/// remainder of a correctly rounded division and the error of a product are
/// representable). The naive formula loses every digit of Q − S²/n that lies
/// below the rounding of S² — 1 % of the variance already for integer data
/// around 3·10⁶ (see the tests); this one stays within a few ulps.
fn centered_sum_sq(n: f64, sum: f64, sum_sq: f64) -> f64 {
    let m = sum / n;
    let residual = (-m).mul_add(n, sum); // S − n·m, exact
    let product = sum * m;
    let product_err = sum.mul_add(m, -product); // S·m − fl(S·m), exact
    ((sum_sq - product) - product_err) - sum * (residual / n)
}

impl Moments {
    /// Moments of a validated variant; `None` when n = 0.
    pub(crate) fn of(stats: &VariantStats, kind: MetricKind) -> Option<Self> {
        if stats.n <= 0 {
            return None;
        }
        let n = stats.n as f64;
        let mean = stats.sum / n;
        let variance = match kind {
            MetricKind::Conversion => Some((mean * (1.0 - mean)).max(0.0)),
            MetricKind::Continuous if stats.n >= 2 => {
                Some((centered_sum_sq(n, stats.sum, stats.sum_sq) / (n - 1.0)).max(0.0))
            }
            MetricKind::Continuous => None,
        };
        Some(Self { n, mean, variance })
    }
}

/// Validates `stats` and returns its mean and variance (STATS.md item 1).
pub fn summarize(stats: &VariantStats, kind: MetricKind) -> Result<Summary, StatsError> {
    stats.validate(kind)?;
    let moments = Moments::of(stats, kind);
    let mean = moments.map(|m| m.mean);
    let variance = moments.and_then(|m| m.variance);
    let std_error = moments.and_then(|m| m.variance.map(|v| (v / m.n).sqrt()));
    Ok(Summary { n: stats.n, mean, variance, std_error })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversion_and_continuous_moments() {
        let s = summarize(&VariantStats::conversion(10_000, 1_000), MetricKind::Conversion).unwrap();
        assert_eq!(s.mean, Some(0.1));
        assert!((s.variance.unwrap() - 0.09).abs() < 1e-15);
        // x = 1, 2, 3, 4: mean 2.5, sample variance 5/3.
        let s = summarize(&VariantStats::new(4, 10.0, 30.0), MetricKind::Continuous).unwrap();
        assert_eq!(s.mean, Some(2.5));
        assert!((s.variance.unwrap() - 5.0 / 3.0).abs() < 1e-15);
    }

    #[test]
    fn degenerate_sizes() {
        let empty = summarize(&VariantStats::new(0, 0.0, 0.0), MetricKind::Continuous).unwrap();
        assert_eq!((empty.mean, empty.variance, empty.std_error), (None, None, None));
        let one = summarize(&VariantStats::new(1, 3.0, 9.0), MetricKind::Continuous).unwrap();
        assert_eq!((one.mean, one.variance), (Some(3.0), None));
        let one = summarize(&VariantStats::conversion(1, 1), MetricKind::Conversion).unwrap();
        assert_eq!((one.mean, one.variance), (Some(1.0), Some(0.0)));
    }

    #[test]
    fn near_constant_variance_keeps_precision() {
        // 100 of 777 units at 3 333 334, the rest at 3 333 333 (integer data,
        // Q exact < 2⁵³). The naive (Q − S²/n)/(n − 1) returns 0.11340 (1 %
        // off) because S² ≈ 6.7·10¹⁸ rounds to a multiple of 1024.
        let (n, base, k) = (777.0, 3_333_333.0, 100.0);
        let v = VariantStats::new(777, n * base + k, n * base * base + 2.0 * base * k + k);
        let s = summarize(&v, MetricKind::Continuous).unwrap();
        let exact = k * (n - k) / n / (n - 1.0);
        assert!((s.variance.unwrap() - exact).abs() <= 1e-13 * exact);
    }

    #[test]
    fn validation_errors() {
        let conv = MetricKind::Conversion;
        let cont = MetricKind::Continuous;
        assert_eq!(VariantStats::new(-1, 0.0, 0.0).validate(cont), Err(StatsError::NegativeCount(-1)));
        assert!(matches!(
            VariantStats::conversion(10, 11).validate(conv),
            Err(StatsError::ConversionsExceedUnits { .. })
        ));
        assert!(matches!(VariantStats::conversion(10, -1).validate(conv), Err(StatsError::NegativeConversions(_))));
        assert!(matches!(
            VariantStats::new(10, 3.0, 2.0).validate(conv),
            Err(StatsError::ConversionSumSqMismatch { .. })
        ));
        // Σx = 10 over 2 units forces Σx² ≥ 50.
        assert!(matches!(VariantStats::new(2, 10.0, 49.0).validate(cont), Err(StatsError::InconsistentSumSq { .. })));
        assert!(matches!(VariantStats::new(2, 1.0, -1.0).validate(cont), Err(StatsError::InconsistentSumSq { .. })));
        assert!(matches!(VariantStats::new(0, 1.0, 1.0).validate(cont), Err(StatsError::EmptyWithData { .. })));
        assert!(matches!(
            VariantStats::new(3, f64::NAN, 1.0).validate(cont),
            Err(StatsError::NonFinite { field: "sum", .. })
        ));
        assert!(VariantStats::new(2, 10.0, 50.0).validate(cont).is_ok());
    }
}
