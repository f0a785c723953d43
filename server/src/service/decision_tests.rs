//! Verdicts and intervals agree, and the verdict is the analysis's own
//! test: Holm-adjusted p ≤ α, Bonferroni for sequences, chance to beat
//! control ≥ 1 − α for a Bayesian analysis.

use flagyard_stats::{MetricData, MetricKind, Options, VariantStats, analyze_experiment};
use proptest::prelude::*;

use super::*;

fn conversion(name: &str, counts: &[(i64, i64)]) -> MetricData {
    MetricData {
        name: name.to_owned(),
        kind: MetricKind::Conversion,
        variants: counts.iter().map(|&(n, c)| VariantStats::conversion(n, c)).collect(),
    }
}

fn decided(
    analysis: &str,
    alpha: f64,
    data: &[MetricData],
    decrease: &[bool],
) -> (Correction, Vec<Vec<Decision>>, ExperimentResult) {
    let units: Vec<i64> = data[0].variants.iter().map(|v| v.n).collect();
    let weights = vec![1.0; units.len()];
    let analysed = analyze_experiment(&units, &weights, data, &Options { alpha, ..Options::default() }).unwrap();
    let (correction, decisions) = decide_all(analysis, alpha, data, &analysed, decrease).unwrap();
    (correction, decisions, analysed)
}

#[test]
fn holm_levels_follow_the_step_down() {
    // Holm-adjusted: [0.03, 0.06, 0.06, 0.02]: the first and last are kept at α = 0.05.
    let levels = holm_levels(&[0.01, 0.04, 0.03, 0.005], 0.05);
    let want = [0.05 / 3.0, 0.025, 0.025, 0.0125];
    for (got, want) in levels.iter().zip(want) {
        assert!((got - want).abs() < 1e-15, "{levels:?}");
    }
    // Every comparison tested: each at its own step.
    let levels = holm_levels(&[0.001, 0.002], 0.05);
    assert_eq!(levels, vec![0.025, 0.05]);
    // p = 0.04 is under its own step's 0.05 but Holm stopped at 0.03 > 0.025:
    // it is shown at 0.025 too, where its interval holds zero.
    assert_eq!(holm_levels(&[0.03, 0.04], 0.05), vec![0.025, 0.025]);
}

#[test]
fn an_unadjusted_significant_lift_is_inconclusive_under_holm_and_its_interval_says_so() {
    // Three metrics; `b` alone has p ≈ 0.028 (10 % → 11 % of 10,000), which
    // Holm does not keep among 3 (0.028 × 3 > 0.05).
    let data = [
        conversion("a", &[(10_000, 1000), (10_000, 1100)]),
        conversion("b", &[(10_000, 1000), (10_000, 1000)]),
        conversion("c", &[(10_000, 1000), (10_000, 1010)]),
    ];
    let (one, alone, _) = decided("frequentist", 0.05, &data[..1], &[false]);
    assert_eq!(one.method, "none");
    let d = &alone[0][0];
    assert_eq!(d.verdict, EffectVerdict::Better);
    assert!((d.level - 0.95).abs() < 1e-12 && d.ci.unwrap().lower > 0.0);
    let (three, all, analysed) = decided("frequentist", 0.05, &data, &[false; 3]);
    assert_eq!((three.method.as_str(), three.family_size), ("holm", 3));
    let d = &all[0][0];
    let holm = analysed.metrics[0].variants[0].holm_p_value.unwrap();
    assert!(holm > 0.05, "{holm}");
    assert_eq!(d.verdict, EffectVerdict::Inconclusive);
    assert_eq!(d.p_value, Some(holm));
    let ci = d.ci.unwrap();
    assert!(ci.lower <= 0.0 && ci.upper >= 0.0, "the interval shown holds zero: {ci:?}");
    assert!((d.level - (1.0 - 0.05 / 3.0)).abs() < 1e-12);
}

#[test]
fn a_relative_lift_that_cannot_be_computed_is_not_enough_data_under_a_correction() {
    let data = [conversion("a", &[(1000, 0), (1000, 12)]), conversion("b", &[(1000, 100), (1000, 100)])];
    let (_, one, _) = decided("frequentist", 0.05, &data[..1], &[false]);
    assert_eq!(one[0][0].scale, "absolute", "one comparison falls back to the absolute difference");
    let (_, two, _) = decided("frequentist", 0.05, &data, &[false, false]);
    assert_eq!(two[0][0].verdict, EffectVerdict::NotEnoughData);
    assert_eq!(two[0][0].ci, None);
}

fn arm() -> impl Strategy<Value = (i64, i64)> {
    (50i64..5000).prop_flat_map(|n| (Just(n), 0..=n / 3))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// For every analysis and family: better/worse exactly when the interval
    /// shown excludes zero (in the good direction), and exactly when the
    /// analysis's own test says so.
    #[test]
    fn verdict_interval_and_test_agree(
        control in arm(),
        treatments in proptest::collection::vec(arm(), 1..3),
        metrics in 1usize..4,
        decrease in proptest::collection::vec(any::<bool>(), 3),
        analysis in prop_oneof![Just("frequentist"), Just("sequential"), Just("bayesian")],
        alpha in prop_oneof![Just(0.05), Just(0.1), Just(0.01)],
    ) {
        let data: Vec<MetricData> = (0..metrics)
            .map(|j| {
                let shift = |(n, c): (i64, i64)| (n, (c + j as i64 * 7).min(n));
                let mut arms = vec![shift(control)];
                arms.extend(treatments.iter().map(|t| shift(*t)));
                conversion(&format!("m{j}"), &arms)
            })
            .collect();
        let (correction, decisions, analysed) = decided(analysis, alpha, &data, &decrease[..metrics]);
        let m = metrics * treatments.len();
        prop_assert_eq!(correction.family_size, m);
        for ((metric, r), dec) in decisions.iter().zip(&analysed.metrics).zip(&decrease) {
            for (d, v) in metric.iter().zip(&r.variants) {
                let sign = match d.verdict {
                    EffectVerdict::Better => Some(if *dec { -1 } else { 1 }),
                    EffectVerdict::Worse => Some(if *dec { 1 } else { -1 }),
                    EffectVerdict::Inconclusive => Some(0),
                    EffectVerdict::NotEnoughData => None,
                };
                let Some(sign) = sign else {
                    prop_assert!(d.ci.is_none());
                    continue;
                };
                let ci = d.ci.unwrap();
                prop_assert_eq!(sign, i32::from(ci.lower > 0.0) - i32::from(ci.upper < 0.0), "{:?}", d);
                // The analysis's own test, away from its boundary.
                let c = &v.comparison;
                let test = match (analysis, correction.method.as_str()) {
                    ("bayesian", _) => c.bayesian.chance_to_win.map(|w| (w.max(1.0 - w), 1.0 - alpha, true)),
                    ("frequentist", "holm") => v.holm_p_value.map(|p| (p, alpha, false)),
                    ("frequentist", _) => d.p_value.map(|p| (p, alpha, false)),
                    _ => d.p_value.map(|p| (p, alpha, false)),
                };
                if let Some((x, threshold, at_least)) = test
                    && (x - threshold).abs() > 1e-6
                {
                    let significant = if at_least { x >= threshold } else { x <= threshold };
                    prop_assert_eq!(significant, sign != 0, "{} {} x={} {:?}", analysis, correction.method, x, d);
                }
            }
        }
    }
}
