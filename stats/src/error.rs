//! Input-validation and parameter errors.

/// Why a computation refused its input.
///
/// Every public entry point validates its inputs and returns one of these
/// instead of producing a meaningless (NaN / infinite) figure or panicking.
/// Inputs that are *valid* but statistically degenerate (an empty arm, zero
/// variance, a zero control mean, …) are not errors: they yield results whose
/// undefined figures are `None`, with a [`Status`](crate::Status) explaining why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum StatsError {
    /// A unit count was negative.
    #[error("unit count must be non-negative, got {0}")]
    NegativeCount(i64),
    /// A numeric input was NaN or infinite.
    #[error("{field} must be finite, got {value}")]
    NonFinite {
        /// Name of the offending input.
        field: &'static str,
        /// The value received.
        value: f64,
    },
    /// `n = 0` but `sum` or `sum_sq` is non-zero.
    #[error("a variant with n = 0 must have sum = 0 and sum_sq = 0, got sum = {sum}, sum_sq = {sum_sq}")]
    EmptyWithData {
        /// Σx received.
        sum: f64,
        /// Σx² received.
        sum_sq: f64,
    },
    /// `sum_sq` is negative or smaller than `sum²/n` (Cauchy–Schwarz), so no
    /// data set has these sufficient statistics.
    #[error("sum_sq = {sum_sq} is inconsistent with sum = {sum} over n = {n} units (needs 0 ≤ sum²/n ≤ sum_sq)")]
    InconsistentSumSq {
        /// Units.
        n: i64,
        /// Σx.
        sum: f64,
        /// Σx².
        sum_sq: f64,
    },
    /// Conversion metric with a negative number of conversions.
    #[error("conversions must be non-negative, got {0}")]
    NegativeConversions(f64),
    /// Conversion metric with more conversions than units.
    #[error("conversions ({conversions}) exceed units ({n})")]
    ConversionsExceedUnits {
        /// Units.
        n: i64,
        /// Conversions (Σx).
        conversions: f64,
    },
    /// Conversion metric whose `sum_sq` differs from `sum` (x ∈ {0,1} implies x² = x).
    #[error("for a conversion metric sum_sq must equal sum, got sum = {sum}, sum_sq = {sum_sq}")]
    ConversionSumSqMismatch {
        /// Σx.
        sum: f64,
        /// Σx².
        sum_sq: f64,
    },
    /// Significance level outside (0, 1).
    #[error("alpha must be in (0, 1), got {0}")]
    InvalidAlpha(f64),
    /// Power outside (0, 1).
    #[error("power must be in (0, 1), got {0}")]
    InvalidPower(f64),
    /// Prior with a non-finite mean or a standard deviation that is not finite and > 0.
    #[error("prior needs a finite mean and a finite standard deviation > 0, got N({mean}, {std_dev}²)")]
    InvalidPrior {
        /// Prior mean μ₀.
        mean: f64,
        /// Prior standard deviation τ.
        std_dev: f64,
    },
    /// Sequential tuning parameter N* not finite and > 0.
    #[error("sequential tuning N* must be finite and > 0, got {0}")]
    InvalidTuning(f64),
    /// A standard error passed to a generic routine was negative or non-finite.
    #[error("standard error must be finite and ≥ 0, got {0}")]
    InvalidStdError(f64),
    /// A p-value outside [0, 1].
    #[error("p-value at index {index} must be in [0, 1], got {value}")]
    InvalidPValue {
        /// Position in the input slice.
        index: usize,
        /// The value received.
        value: f64,
    },
    /// Fewer than two variants where a comparison needs at least two.
    #[error("need at least 2 variants, got {0}")]
    TooFewVariants(usize),
    /// Two per-variant inputs disagree on the number of variants.
    #[error("{what}: expected {expected} variants, got {got}")]
    VariantCountMismatch {
        /// Which input disagreed.
        what: String,
        /// Number of variants expected.
        expected: usize,
        /// Number received.
        got: usize,
    },
    /// A traffic weight that is not finite and > 0.
    #[error("weight at index {index} must be finite and > 0, got {value}")]
    InvalidWeight {
        /// Position in the weight slice.
        index: usize,
        /// The value received.
        value: f64,
    },
    /// Minimum detectable effect that is zero, non-finite or ≤ −1.
    #[error("minimum detectable relative effect must be finite, non-zero and > -1, got {0}")]
    InvalidMde(f64),
    /// Baseline for a power calculation that cannot support one.
    #[error("invalid power baseline: {0}")]
    InvalidBaseline(&'static str),
    /// The required sample size exceeds 10¹⁵ units per variant.
    #[error("required sample size ({0:e} units per variant) is beyond any feasible experiment")]
    SampleSizeTooLarge(f64),
    /// statrs rejected distribution parameters (guarded against; not expected).
    #[error("statrs rejected {distribution} parameters: {message}")]
    Distribution {
        /// Distribution family.
        distribution: &'static str,
        /// statrs' message.
        message: String,
    },
}
