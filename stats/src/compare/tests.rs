//! Degenerate-data behaviour of [`compare`]: every section's status, and the
//! serialized output has `null` exactly where the [`Status`] rules allow it.

use super::*;
use crate::effect::Status;
use serde_json::Value;

const CONV: MetricKind = MetricKind::Conversion;
const CONT: MetricKind = MetricKind::Continuous;

/// Numeric fields each section may leave `null` under a given status.
fn allowed_nulls(section: &str, status: &str) -> &'static [&'static str] {
    const ALL: &[&str] = &[
        "estimate",
        "stdError",
        "df",
        "statistic",
        "pValue",
        "ci",
        "pooledStdError",
        "unpooledStdError",
        "posteriorMean",
        "posteriorStdDev",
        "chanceToWin",
        "riskControl",
        "riskTreatment",
    ];
    match (section, status) {
        (_, "ok") => &[],
        (_, "emptyVariant" | "zeroControlMean") => ALL,
        ("bayesian", "zeroVariance") => &["chanceToWin", "riskControl", "riskTreatment", "ci"],
        ("proportions", "zeroVariance") => &["statistic", "pValue", "ci"],
        (_, "zeroVariance") => &["df", "statistic", "pValue", "ci"],
        // The relative estimate is also missing when m_A = 0.
        (_, "tooFewUnits" | "numericalLimit") => &[
            "estimate",
            "stdError",
            "df",
            "statistic",
            "pValue",
            "ci",
            "posteriorMean",
            "posteriorStdDev",
            "chanceToWin",
            "riskControl",
            "riskTreatment",
        ],
        _ => &[],
    }
}

/// Serializes `c` and checks every `null` against the status rules; returns
/// the per-section statuses.
fn check_serialized(c: &Comparison) -> Vec<(String, String)> {
    let json = serde_json::to_value(c).expect("serializable");
    let Value::Object(top) = json else { panic!("not an object") };
    let mut statuses = Vec::new();
    for (section, value) in &top {
        match section.as_str() {
            "kind" => {}
            "control" | "treatment" => {
                let n = value["n"].as_i64().expect("n");
                let var_promised = n >= 2 || (n == 1 && c.kind == CONV);
                assert_eq!(value["mean"].is_null(), n == 0, "{section} mean: {value}");
                assert_eq!(value["variance"].is_null(), !var_promised, "{section}: {value}");
                assert_eq!(value["stdError"].is_null(), !var_promised, "{section}: {value}");
            }
            "proportions" if value.is_null() => assert_eq!(c.kind, CONT),
            _ => {
                let status = value["status"].as_str().expect("status").to_owned();
                let allowed = allowed_nulls(section, &status);
                for (field, v) in value.as_object().expect("section object") {
                    let special = section == "proportions" && field == "ci"; // se₁ = 0
                    if v.is_null() && !special {
                        assert!(allowed.contains(&field.as_str()), "{section}.{field} null under {status}");
                    }
                }
                statuses.push((section.clone(), status));
            }
        }
    }
    statuses
}

fn run(a: VariantStats, b: VariantStats, kind: MetricKind) -> Comparison {
    let c = compare(&a, &b, kind, &Options::default()).expect("valid input");
    check_serialized(&c);
    c
}

#[test]
fn regular_data_has_no_nulls() {
    let c = run(VariantStats::conversion(10_000, 1_000), VariantStats::conversion(10_000, 1_100), CONV);
    let json = serde_json::to_string(&c).expect("serializable");
    assert!(!json.contains("null"), "{json}");
    let c = run(VariantStats::new(5, 10.0, 30.0), VariantStats::new(7, 21.0, 77.0), CONT);
    assert!(c.proportions.is_none());
    for s in check_serialized(&c) {
        assert_eq!(s.1, "ok", "{s:?}");
    }
}

#[test]
fn empty_arm() {
    let c = run(VariantStats::conversion(0, 0), VariantStats::conversion(100, 10), CONV);
    assert_eq!(c.absolute.status, Status::EmptyVariant);
    assert_eq!(c.relative.status, Status::EmptyVariant);
    assert_eq!(c.proportions.as_ref().map(|p| p.status), Some(Status::EmptyVariant));
    assert_eq!(c.bayesian.status, Status::EmptyVariant);
    assert_eq!(c.sequential.status, Status::EmptyVariant);
    let c = run(VariantStats::new(0, 0.0, 0.0), VariantStats::new(0, 0.0, 0.0), CONT);
    assert_eq!(c.absolute.status, Status::EmptyVariant);
}

#[test]
fn single_units() {
    let c = run(VariantStats::new(1, 2.0, 4.0), VariantStats::new(1, 3.0, 9.0), CONT);
    assert_eq!((c.absolute.status, c.absolute.estimate), (Status::TooFewUnits, Some(1.0)));
    assert_eq!(c.relative.estimate, Some(0.5));
    assert_eq!(c.bayesian.status, Status::TooFewUnits);
    let c = run(VariantStats::conversion(1, 0), VariantStats::conversion(1, 1), CONV);
    assert_eq!(c.absolute.status, Status::TooFewUnits);
    assert_eq!((c.relative.status, c.relative.estimate), (Status::TooFewUnits, None));
    assert_eq!(c.proportions.as_ref().map(|p| p.status), Some(Status::Ok));
}

#[test]
fn zero_variance_everywhere() {
    // All conversions in both arms.
    let c = run(VariantStats::conversion(100, 100), VariantStats::conversion(200, 200), CONV);
    for s in check_serialized(&c) {
        assert_eq!(s.1, "zeroVariance", "{s:?}");
    }
    assert_eq!(c.relative.estimate, Some(0.0));
    assert_eq!(c.bayesian.posterior_std_dev, Some(0.0));
    // Constant continuous arms with different means.
    let c = run(VariantStats::new(3, 6.0, 12.0), VariantStats::new(4, 12.0, 36.0), CONT);
    assert_eq!((c.absolute.status, c.absolute.estimate), (Status::ZeroVariance, Some(1.0)));
    assert_eq!(c.relative.estimate, Some(0.5));
}

#[test]
fn zero_conversions() {
    let none = VariantStats::conversion(500, 0);
    let c = run(none, none, CONV);
    assert_eq!(c.absolute.status, Status::ZeroVariance);
    assert_eq!(c.relative.status, Status::ZeroControlMean);
    assert_eq!(c.proportions.as_ref().map(|p| p.status), Some(Status::ZeroVariance));
    // Only control has none: absolute fine, relative undefined.
    let c = run(none, VariantStats::conversion(500, 9), CONV);
    assert_eq!(c.absolute.status, Status::Ok);
    assert_eq!(c.relative.status, Status::ZeroControlMean);
    assert_eq!(c.bayesian.status, Status::ZeroControlMean);
    assert_eq!(c.sequential.status, Status::ZeroControlMean);
    // Only treatment has none: lift −1 with no uncertainty.
    let c = run(VariantStats::conversion(500, 9), none, CONV);
    assert_eq!((c.relative.status, c.relative.estimate), (Status::ZeroVariance, Some(-1.0)));
    assert_eq!(c.absolute.status, Status::Ok);
    // None vs all: z test only, without a (zero-width) interval.
    let c = run(none, VariantStats::conversion(500, 500), CONV);
    let z = c.proportions.expect("conversion");
    assert_eq!((z.status, z.ci), (Status::Ok, None));
}

#[test]
fn huge_samples_stay_finite_and_accurate() {
    let a = VariantStats::conversion(1_000_000_000, 100_000_000);
    let b = VariantStats::conversion(1_000_000_000, 100_010_000);
    let c = run(a, b, CONV);
    for s in check_serialized(&c) {
        assert_eq!(s.1, "ok", "{s:?}");
    }
    // ν ≈ 2·10⁹ − 2: the t test equals the z test to ~10⁻⁹.
    let z = c.proportions.as_ref().and_then(|p| p.p_value).expect("p");
    assert!((c.absolute.p_value.expect("p") - z).abs() < 1e-6);
    assert!(c.absolute.df.expect("df") > 1.99e9);
    let a = VariantStats::new(1_000_000_000, 5e10, 3e12);
    let b = VariantStats::new(1_000_000_000, 5.0001e10, 3.0002e12);
    let c = run(a, b, CONT);
    assert_eq!(c.absolute.status, Status::Ok);
}

#[test]
fn overflow_is_reported_not_propagated() {
    // Control mean 10⁻³⁰⁰: the lift's ratio m_B/m_A squared overflows.
    let a = VariantStats::new(10, 1e-299, 1e-290);
    let b = VariantStats::new(10, 10.0, 20.0);
    let c = run(a, b, CONT);
    assert_eq!(c.absolute.status, Status::Ok);
    assert_eq!(c.relative.status, Status::NumericalLimit);
    assert_eq!(c.bayesian.status, Status::NumericalLimit);
    let json = serde_json::to_string(&c).expect("serializable");
    assert!(!json.contains("NaN") && !json.contains("inf"));
}

#[test]
fn invalid_input_is_an_error() {
    let ok = VariantStats::conversion(10, 1);
    let opts = Options::default();
    assert!(compare(&VariantStats::conversion(10, 11), &ok, CONV, &opts).is_err());
    assert!(compare(&VariantStats::new(-5, 0.0, 0.0), &ok, CONV, &opts).is_err());
    assert!(compare(&ok, &VariantStats::new(4, 10.0, 20.0), CONT, &opts).is_err());
    let bad = Options { alpha: 0.0, ..Options::default() };
    assert!(compare(&ok, &ok, CONV, &bad).is_err());
}

#[test]
fn tiny_alpha_keeps_finite_intervals() {
    let opts = Options { alpha: 1e-20, ..Options::default() };
    let a = VariantStats::conversion(10_000, 1_000);
    let b = VariantStats::conversion(10_000, 1_100);
    let c = compare(&a, &b, CONV, &opts).expect("valid");
    check_serialized(&c);
    let ci = c.absolute.ci.expect("interval");
    assert!(ci.lower < 0.0 && ci.upper > 0.02);
}
