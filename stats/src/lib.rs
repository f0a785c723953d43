//! Experiment statistics for Flagyard: pure functions (no I/O, no async) that
//! turn per-variant sufficient statistics into the figures of an experiment
//! report.
//!
//! # Inputs
//!
//! Each variant of each metric is summarised over units (users, not events)
//! by [`VariantStats`]: n, S = Σx and Q = Σx² of every unit's metric value x.
//! A [`MetricKind::Conversion`] metric has x ∈ {0, 1} (S = Q = conversions);
//! a [`MetricKind::Continuous`] metric has any real x.
//!
//! # What is computed
//!
//! The formulas follow GrowthBook's gbstats (the project reference,
//! `STATS.md`); each is documented on its function and checked against scipy
//! in `tests/reference.rs` (data from `tests/data/gen_reference.py`).
//!
//! | # | Figure | Function |
//! |---|--------|----------|
//! | 1 | mean m = S/n; variance m(1 − m) or (Q − S²/n)/(n − 1) | [`summarize`] |
//! | 2 | Welch Δ = m_B − m_A, se, ν, p, CI | [`welch`] |
//! | 3 | relative lift Δ/\|m_A\|, delta-method se, p, CI | [`relative_lift`] |
//! | 4 | pooled two-proportion z test (unpooled Wald CI) | [`two_proportion_z`] |
//! | 5 | sample-ratio mismatch, Pearson χ² on k − 1 df | [`srm`] |
//! | 6 | Gaussian posterior of the lift: chance to win, risks | [`bayesian`], [`gaussian_posterior`] |
//! | 7 | always-valid confidence sequence and p-value | [`sequential_relative`], [`confidence_sequence`] |
//! | 8 | Holm and Benjamini–Hochberg adjusted p-values | [`holm`], [`benjamini_hochberg`] |
//! | 9 | units per variant for an MDE at α and power; progress | [`sample_size`], [`progress`] |
//! | 10 | everything for one pair; a whole experiment | [`compare`], [`analyze_experiment`] |
//!
//! All tests are two-sided; intervals use the significance level α of
//! [`Options`] (default 0.05). Student's t and normal tails use survival
//! functions so small p-values keep their precision; for ν ≥ 10⁴ the t
//! distribution is evaluated with a Cornish–Fisher expansion because statrs'
//! incomplete-beta inversion degrades there.
//!
//! # Degenerate data
//!
//! Invalid input (negative n, Σx² inconsistent with Σx, conversions > n,
//! α ∉ (0, 1), …) is a [`StatsError`]. Valid but degenerate data (an empty or
//! single-unit arm, zero variance in both arms, a zero control mean, f64
//! overflow) is not an error: the figures that are undefined are `None` and a
//! [`Status`] says why (see its documentation for the precedence of the
//! rules). No result ever contains NaN or ±∞, and nothing panics.
//!
//! ```
//! use flagyard_stats::{compare, MetricKind, Options, VariantStats};
//!
//! let control = VariantStats::conversion(10_000, 1_000);
//! let treatment = VariantStats::conversion(10_000, 1_100);
//! let c = compare(&control, &treatment, MetricKind::Conversion, &Options::default())?;
//! assert!((c.relative.p_value.unwrap_or(1.0) - 0.0278895).abs() < 1e-6);
//! assert!((c.bayesian.chance_to_win.unwrap_or(0.0) - 0.986061).abs() < 1e-6);
//! # Ok::<(), flagyard_stats::StatsError>(())
//! ```

mod adjust;
mod bayes;
mod compare;
mod dist;
mod effect;
mod error;
mod experiment;
mod options;
mod power;
mod proportions;
mod relative;
mod sequential;
mod srm;
mod summary;
mod welch;

pub use adjust::{benjamini_hochberg, holm};
pub use bayes::{BayesResult, bayesian, gaussian_posterior};
pub use compare::{Comparison, compare};
pub use effect::{Effect, Interval, Status};
pub use error::StatsError;
pub use experiment::{ExperimentResult, MetricData, MetricResult, VariantResult, analyze_experiment};
pub use options::{DEFAULT_ALPHA, DEFAULT_POWER, DEFAULT_SEQUENTIAL_TUNING, Options, PrimaryScale, Prior};
pub use power::{Baseline, SampleSize, progress, sample_size};
pub use proportions::{ProportionTest, two_proportion_z};
pub use relative::relative_lift;
pub use sequential::{SequentialResult, confidence_sequence, sequential_relative};
pub use srm::{SRM_MIN_UNITS, SRM_P_THRESHOLD, SrmResult, srm};
pub use summary::{MetricKind, Summary, VariantStats, summarize};
pub use welch::welch;
