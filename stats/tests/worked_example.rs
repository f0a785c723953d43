//! STATS.md's worked example D1 (conversions 1000/10000 vs 1100/10000),
//! every figure it lists.
//!
//! STATS.md prints six significant digits, so each figure is checked twice:
//! against the full-precision value recomputed with scipy (1e-6 relative; the
//! actual agreement is ~1e-12), and against the printed value rounded to the
//! printed number of significant digits.

use flagyard_stats::{MetricKind, Options, VariantStats, compare};

/// (name, computed, scipy full precision, STATS.md printed).
type Figure = (&'static str, f64, f64, f64);

/// STATS.md prints six significant digits throughout the example.
const PRINTED_DIGITS: i32 = 6;

fn round_sig(x: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits - 1 - x.abs().log10().floor() as i32);
    (x * scale).round() / scale
}

#[test]
fn reproduces_every_figure_of_the_worked_example() {
    let control = VariantStats::conversion(10_000, 1_000);
    let treatment = VariantStats::conversion(10_000, 1_100);
    let c = compare(&control, &treatment, MetricKind::Conversion, &Options::default()).expect("valid input");
    let abs_ci = c.absolute.ci.expect("absolute CI");
    let rel_ci = c.relative.ci.expect("relative CI");
    let seq_ci = c.sequential.ci.expect("sequential CS");
    let got = |x: Option<f64>| x.expect("figure defined");
    let figures: [Figure; 13] = [
        ("Welch p (abs)", got(c.absolute.p_value), 0.021_068_257_468_733_906, 0.021_068_3),
        ("CI abs lower", abs_ci.lower, 0.001_503_543_981_086_272_5, 0.001_503_54),
        ("CI abs upper", abs_ci.upper, 0.018_496_456_018_913_72, 0.018_496_5),
        ("relative lift", got(c.relative.estimate), 0.1, 0.1),
        ("relative se", got(c.relative.std_error), 0.045_475_268_003_608_287, 0.045_475_3),
        ("CI rel lower", rel_ci.lower, 0.010_864_708_144_846_927, 0.010_864_7),
        ("CI rel upper", rel_ci.upper, 0.189_135_291_855_153, 0.189_135),
        ("relative p", got(c.relative.p_value), 0.027_889_528_764_600_59, 0.027_889_5),
        ("chance to win", got(c.bayesian.chance_to_win), 0.986_060_949_457_331_8, 0.986_061),
        ("risk control", got(c.bayesian.risk_control), 0.100_222_872_676_917_17, 0.100_223),
        ("risk treatment", got(c.bayesian.risk_treatment), 0.000_222_872_676_917_216_33, 0.000_222_873),
        ("CS lower", seq_ci.lower, -0.042_206_353_762_085_45, -0.042_206_4),
        ("CS upper", seq_ci.upper, 0.242_206_353_762_085_35, 0.242_206),
    ];
    for (name, value, full, printed) in figures {
        let rel = (value - full).abs() / full.abs();
        assert!(rel <= 1e-6, "{name}: {value} vs scipy {full} (rel {rel:e})");
        assert_eq!(
            round_sig(value, PRINTED_DIGITS),
            round_sig(printed, PRINTED_DIGITS),
            "{name}: {value} vs printed {printed}"
        );
    }
    let p = got(c.sequential.p_value);
    assert!((p - 0.549_037_944_345_208).abs() <= 1e-6 * 0.549_037_944_345_208);
    assert_eq!(round_sig(p, PRINTED_DIGITS), 0.549_038);
}
