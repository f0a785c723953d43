//! Analysis options and their validation.

use crate::error::StatsError;
use serde::{Deserialize, Serialize};

/// Default significance level α.
pub const DEFAULT_ALPHA: f64 = 0.05;
/// Default power 1 − β for sample-size calculations.
pub const DEFAULT_POWER: f64 = 0.8;
/// Default tuning N* of the sequential confidence sequence.
pub const DEFAULT_SEQUENTIAL_TUNING: f64 = 5000.0;

/// Gaussian prior N(μ₀, τ²) on the relative lift (so 0.05 means +5 %).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Prior {
    /// μ₀.
    pub mean: f64,
    /// τ (> 0).
    pub std_dev: f64,
}

impl Prior {
    /// Checks μ₀ is finite and τ is finite and > 0.
    pub fn validate(&self) -> Result<(), StatsError> {
        if self.mean.is_finite() && self.std_dev.is_finite() && self.std_dev > 0.0 {
            Ok(())
        } else {
            Err(StatsError::InvalidPrior { mean: self.mean, std_dev: self.std_dev })
        }
    }
}

/// Which p-value of a comparison enters the multiple-comparison family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum PrimaryScale {
    /// The delta-method relative-lift p-value (GrowthBook's default).
    #[default]
    Relative,
    /// The Welch absolute-difference p-value.
    Absolute,
}

/// Options for [`compare`](crate::compare) and
/// [`analyze_experiment`](crate::analyze_experiment).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Options {
    /// Significance level α for every interval and the sequential test
    /// (default 0.05, giving 95 % intervals).
    pub alpha: f64,
    /// Prior on the relative lift; `None` (default) is the flat prior.
    pub prior: Option<Prior>,
    /// Sequential tuning N* (default 5000).
    pub sequential_tuning: f64,
    /// Scale of the p-value adjusted for multiple comparisons.
    pub primary: PrimaryScale,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            alpha: DEFAULT_ALPHA,
            prior: None,
            sequential_tuning: DEFAULT_SEQUENTIAL_TUNING,
            primary: PrimaryScale::default(),
        }
    }
}

impl Options {
    /// Checks α ∈ (0, 1), N* finite and > 0, and the prior.
    pub fn validate(&self) -> Result<(), StatsError> {
        validate_alpha(self.alpha)?;
        validate_tuning(self.sequential_tuning)?;
        self.prior.as_ref().map_or(Ok(()), Prior::validate)
    }
}

pub(crate) fn validate_alpha(alpha: f64) -> Result<(), StatsError> {
    if alpha > 0.0 && alpha < 1.0 { Ok(()) } else { Err(StatsError::InvalidAlpha(alpha)) }
}

pub(crate) fn validate_tuning(n_star: f64) -> Result<(), StatsError> {
    if n_star.is_finite() && n_star > 0.0 { Ok(()) } else { Err(StatsError::InvalidTuning(n_star)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_validation() {
        let o = Options::default();
        assert_eq!((o.alpha, o.sequential_tuning, o.prior), (0.05, 5000.0, None));
        assert!(o.validate().is_ok());
        let bad = Options { alpha: 1.0, ..Options::default() };
        assert_eq!(bad.validate(), Err(StatsError::InvalidAlpha(1.0)));
        let bad = Options { alpha: f64::NAN, ..Options::default() };
        assert!(bad.validate().is_err());
        let bad = Options { prior: Some(Prior { mean: 0.0, std_dev: 0.0 }), ..Options::default() };
        assert!(matches!(bad.validate(), Err(StatsError::InvalidPrior { .. })));
        let bad = Options { sequential_tuning: -1.0, ..Options::default() };
        assert_eq!(bad.validate(), Err(StatsError::InvalidTuning(-1.0)));
    }

    #[test]
    fn deserializes_partial_options() {
        let o: Options = serde_json::from_str(r#"{"alpha":0.1,"prior":{"mean":0,"stdDev":0.3}}"#).unwrap();
        assert_eq!(o.alpha, 0.1);
        assert_eq!(o.sequential_tuning, 5000.0);
        assert_eq!(o.prior.map(|p| p.std_dev), Some(0.3));
    }
}
