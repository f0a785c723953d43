//! Result types shared by the pairwise tests: [`Status`], [`Interval`], [`Effect`].

use crate::dist;
use crate::error::StatsError;
use serde::Serialize;

/// Whether a figure could be computed and, if not, why.
///
/// Rules, checked in this order (the first that applies wins):
/// 1. [`EmptyVariant`](Status::EmptyVariant): some arm has n = 0, so it has no
///    mean; nothing is computed.
/// 2. [`TooFewUnits`](Status::TooFewUnits): some arm has n = 1; the estimate is
///    reported, inference (standard error, df, p, intervals) is not, because
///    Welch's ν divides by n − 1.
/// 3. [`ZeroControlMean`](Status::ZeroControlMean): relative figures only; the
///    control mean is 0 (e.g. zero conversions in control), so Δ/|m_A| is
///    undefined; nothing relative is computed.
/// 4. [`ZeroVariance`](Status::ZeroVariance): the standard error is 0 (both
///    arms constant: all or no conversions; or, for the relative lift, a
///    treatment with mean and variance 0). The estimate and the zero standard
///    error are reported; the statistic, p-value and intervals are not, since
///    they would be 0/0 or ±∞.
/// 5. [`NumericalLimit`](Status::NumericalLimit): an intermediate value
///    overflowed f64 (inputs near 10³⁰⁸); only figures that stayed finite
///    before the overflow are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Status {
    /// Every figure is defined.
    Ok,
    /// An arm has no units.
    EmptyVariant,
    /// An arm has a single unit.
    TooFewUnits,
    /// Relative lift undefined: control mean is zero.
    ZeroControlMean,
    /// Standard error is zero.
    ZeroVariance,
    /// Floating-point overflow.
    NumericalLimit,
}

/// A two-sided interval `[lower, upper]`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Interval {
    /// Lower bound.
    pub lower: f64,
    /// Upper bound.
    pub upper: f64,
}

impl Interval {
    /// `center ± half_width`, or `None` if a bound is not finite.
    pub(crate) fn around(center: f64, half_width: f64) -> Option<Self> {
        let (lower, upper) = (center - half_width, center + half_width);
        (lower.is_finite() && upper.is_finite()).then_some(Self { lower, upper })
    }
}

/// A frequentist effect estimate with its test: absolute (Welch) or relative
/// (delta method) difference of treatment vs control.
///
/// `statistic` is estimate/std_error; `p_value` is two-sided,
/// 2·T_ν.sf(|statistic|) capped at 1; `ci` is
/// estimate ± T_ν⁻¹(1 − α/2)·std_error. Which fields are `None` follows
/// [`Status`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Effect {
    /// Why figures are missing, or [`Status::Ok`].
    pub status: Status,
    /// Δ = m_B − m_A (absolute) or Δ/|m_A| (relative).
    pub estimate: Option<f64>,
    /// Standard error of the estimate.
    pub std_error: Option<f64>,
    /// Welch–Satterthwaite degrees of freedom ν.
    pub df: Option<f64>,
    /// t statistic, estimate/std_error.
    pub statistic: Option<f64>,
    /// Two-sided p-value.
    pub p_value: Option<f64>,
    /// Confidence interval at the requested α.
    pub ci: Option<Interval>,
}

impl Effect {
    /// Nothing beyond (possibly) the estimate is defined.
    pub(crate) fn undefined(status: Status, estimate: Option<f64>) -> Self {
        let finite = estimate.filter(|e| e.is_finite());
        let status = if finite == estimate { status } else { Status::NumericalLimit };
        Self { status, estimate: finite, std_error: None, df: None, statistic: None, p_value: None, ci: None }
    }

    /// The t-based test and interval for `estimate` with standard error `se`
    /// and `df` degrees of freedom, applying the [`Status`] rules for se = 0
    /// and overflow.
    pub(crate) fn from_t(estimate: f64, se: f64, df: f64, alpha: f64) -> Result<Self, StatsError> {
        if !(estimate.is_finite() && se.is_finite()) {
            return Ok(Self::undefined(Status::NumericalLimit, Some(estimate)));
        }
        if se <= 0.0 {
            return Ok(Self { std_error: Some(0.0), ..Self::undefined(Status::ZeroVariance, Some(estimate)) });
        }
        let statistic = estimate / se;
        if !(df.is_finite() && df > 0.0 && statistic.is_finite()) {
            return Ok(Self { std_error: Some(se), ..Self::undefined(Status::NumericalLimit, Some(estimate)) });
        }
        let p_value = (2.0 * dist::t_sf(statistic.abs(), df)?).min(1.0);
        let quantile = dist::t_critical(alpha, df)?;
        let ci = Interval::around(estimate, quantile * se);
        Ok(Self {
            status: if ci.is_some() { Status::Ok } else { Status::NumericalLimit },
            estimate: Some(estimate),
            std_error: Some(se),
            df: Some(df),
            statistic: Some(statistic),
            p_value: Some(p_value),
            ci,
        })
    }
}
