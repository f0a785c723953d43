//! A whole experiment: k variants × m metrics, SRM, and multiple-comparison
//! adjustment across every variant × metric primary p-value.

use crate::adjust::{benjamini_hochberg, holm};
use crate::compare::{Comparison, compare};
use crate::error::StatsError;
use crate::options::{Options, PrimaryScale};
use crate::srm::{SrmResult, srm};
use crate::summary::{MetricKind, VariantStats};
use serde::{Deserialize, Serialize};

/// One metric's sufficient statistics for every variant; index 0 is control.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricData {
    /// Metric name, echoed in the result.
    pub name: String,
    /// Conversion or continuous.
    pub kind: MetricKind,
    /// Per-variant statistics, control first.
    pub variants: Vec<VariantStats>,
}

/// One treatment's comparison with control on one metric.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VariantResult {
    /// Variant index (≥ 1; 0 is control).
    pub variant: usize,
    /// All pairwise figures.
    pub comparison: Comparison,
    /// The p-value entering the family ([`Options::primary`] scale).
    pub primary_p_value: Option<f64>,
    /// Holm-adjusted primary p-value.
    pub holm_p_value: Option<f64>,
    /// Benjamini–Hochberg-adjusted primary p-value.
    pub bh_p_value: Option<f64>,
}

/// Results for one metric.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MetricResult {
    /// Metric name.
    pub name: String,
    /// Metric kind.
    pub kind: MetricKind,
    /// One entry per treatment (variants 1..k).
    pub variants: Vec<VariantResult>,
}

/// Results for a whole experiment.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExperimentResult {
    /// Sample-ratio-mismatch check of the unit counts.
    pub srm: SrmResult,
    /// Scale of the adjusted p-values.
    pub primary: PrimaryScale,
    /// m, the number of variant × metric comparisons in the family.
    pub family_size: usize,
    /// Per-metric results, in input order.
    pub metrics: Vec<MetricResult>,
}

/// Analyses an experiment: `units` are the units exposed per variant (control
/// first) tested for SRM against `weights`; each metric's treatments are
/// compared with its control; Holm and Benjamini–Hochberg are applied across
/// all (k − 1)·m primary p-values together.
///
/// A comparison whose primary p-value is undefined (see
/// [`Status`](crate::Status)) stays in the family as p = 1, so the family size
/// does not depend on the data (conservative), and its adjusted p-values are
/// `None`.
///
/// Errors: fewer than 2 variants; a metric whose variant count differs from
/// `units`; any invalid statistics, weights or options.
pub fn analyze_experiment(
    units: &[i64],
    weights: &[f64],
    metrics: &[MetricData],
    options: &Options,
) -> Result<ExperimentResult, StatsError> {
    options.validate()?;
    let srm = srm(units, weights)?;
    let mut results = Vec::with_capacity(metrics.len());
    for metric in metrics {
        if metric.variants.len() != units.len() {
            return Err(StatsError::VariantCountMismatch {
                what: format!("metric {:?}", metric.name),
                expected: units.len(),
                got: metric.variants.len(),
            });
        }
        let Some(control) = metric.variants.first() else {
            return Err(StatsError::TooFewVariants(0));
        };
        let mut variants = Vec::with_capacity(metric.variants.len() - 1);
        for (variant, treatment) in metric.variants.iter().enumerate().skip(1) {
            let comparison = compare(control, treatment, metric.kind, options)?;
            variants.push(VariantResult {
                variant,
                primary_p_value: comparison.primary_p_value(options.primary),
                comparison,
                holm_p_value: None,
                bh_p_value: None,
            });
        }
        results.push(MetricResult { name: metric.name.clone(), kind: metric.kind, variants });
    }
    let family: Vec<f64> = results.iter().flat_map(|m| &m.variants).map(|v| v.primary_p_value.unwrap_or(1.0)).collect();
    let holm_adjusted = holm(&family)?;
    let bh_adjusted = benjamini_hochberg(&family)?;
    let slots = results.iter_mut().flat_map(|m| m.variants.iter_mut());
    for ((v, h), b) in slots.zip(holm_adjusted).zip(bh_adjusted) {
        if v.primary_p_value.is_some() {
            v.holm_p_value = Some(h);
            v.bh_p_value = Some(b);
        }
    }
    Ok(ExperimentResult { srm, primary: options.primary, family_size: family.len(), metrics: results })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conversion_metric(name: &str, counts: &[(i64, i64)]) -> MetricData {
        MetricData {
            name: name.to_owned(),
            kind: MetricKind::Conversion,
            variants: counts.iter().map(|&(n, c)| VariantStats::conversion(n, c)).collect(),
        }
    }

    #[test]
    fn family_spans_variants_and_metrics() {
        let units = [1000, 1000, 1000];
        let metrics = [
            conversion_metric("a", &[(1000, 100), (1000, 130), (1000, 100)]),
            conversion_metric("b", &[(1000, 0), (1000, 5), (1000, 0)]),
        ];
        let r = analyze_experiment(&units, &[1.0; 3], &metrics, &Options::default()).unwrap();
        assert_eq!(r.family_size, 4);
        let a1 = &r.metrics[0].variants[0];
        let p = a1.primary_p_value.unwrap();
        // Holm: smallest of 4 (two undefined count as p = 1) is multiplied by 4.
        assert!((a1.holm_p_value.unwrap() - (4.0 * p).min(1.0)).abs() < 1e-15);
        assert!((a1.bh_p_value.unwrap() - (4.0 * p).min(1.0)).abs() < 1e-15);
        // Zero control conversions: relative p undefined, so no adjusted p.
        let b1 = &r.metrics[1].variants[0];
        assert_eq!((b1.primary_p_value, b1.holm_p_value, b1.bh_p_value), (None, None, None));
        assert!(!r.srm.warning);
        let json = serde_json::to_string(&r).unwrap();
        assert!(json.contains("\"familySize\":4"));
    }

    #[test]
    fn shape_errors() {
        let metric = conversion_metric("a", &[(10, 1), (10, 2)]);
        let opts = Options::default();
        assert!(matches!(
            analyze_experiment(&[10, 10, 10], &[1.0; 3], std::slice::from_ref(&metric), &opts),
            Err(StatsError::VariantCountMismatch { .. })
        ));
        assert_eq!(analyze_experiment(&[10], &[1.0], &[], &opts), Err(StatsError::TooFewVariants(1)));
        let r = analyze_experiment(&[10, 10], &[1.0, 1.0], &[metric], &opts).unwrap();
        assert_eq!(r.family_size, 1);
    }
}
