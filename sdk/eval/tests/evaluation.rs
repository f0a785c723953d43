//! Reasons, values and errors of `evaluate`.

mod common {
    pub mod fixtures;
}

use common::fixtures::{bench_context, bench_ruleset};
use flagyard_eval::{Context, EvalError, FlagType, Reason, Ruleset, evaluate, evaluate_typed};
use serde_json::json;

fn rules() -> Ruleset {
    Ruleset::from_json(
        &json!({"environment": "production", "version": 42, "flags": {
            "killed": {"type": "boolean", "variants": [{"key": "on", "value": true}, {"key": "off", "value": false}],
                       "environments": {"production": {"enabled": false, "offVariant": "off", "defaultVariant": "on",
                                                        "rules": [{"serve": {"variant": "on"}}]}}},
            "banner": {"type": "json", "variants": [{"key": "none", "value": null}, {"key": "sale", "value": {"pct": 20}}],
                       "environments": {"production": {"enabled": true, "offVariant": "none", "defaultVariant": "none",
                           "rules": [
                               {"id": "by-company", "serve": {"split": {"bucketBy": "company", "variants": [{"variant": "sale", "weight": 10000}]}}},
                               {"id": "staff", "conditions": [{"attribute": "email", "op": "ends_with", "values": ["@flagyard.dev"]}],
                                "serve": {"variant": "sale"}}
                           ]}}}
        }})
        .to_string(),
    )
    .unwrap()
}

#[test]
fn off_serves_the_off_variant() {
    let r = rules();
    let d = r.evaluate("killed", &Context::new("u"));
    assert_eq!((d.variant(), d.value(), d.reason()), (Some("off"), Some(&json!(false)), Reason::Off));
    assert!(!d.served_by_split());
    assert_eq!(d.to_string(), "the flag is off");
}

#[test]
fn rule_match_and_split_reasons() {
    let r = rules();
    let d = r.evaluate("banner", &Context::new("u").with("email", "me@flagyard.dev"));
    assert_eq!(d.reason(), Reason::RuleMatch { rule: 1, id: Some("staff") });
    assert_eq!(d.value(), Some(&json!({"pct": 20})));
    // The split on `company` was skipped for lack of the attribute, and the detail says so.
    assert_eq!(d.unbucketed().map(|u| (u.rule, u.attribute)), Some((0, "company")));
    assert!(d.to_string().contains("no bucketable \"company\""), "{d}");
    // Rules are named as the editor shows them: by name, else by 1-based position.
    assert!(d.to_string().starts_with("rule \"staff\" matched"), "{d}");
    assert!(d.to_string().contains("the split of rule 1 was skipped"), "{d}");
    assert_eq!(flagyard_eval::RuleLabel { index: 2, id: None }.to_string(), "rule 3");

    let d = r.evaluate("banner", &Context::new("u").with("company", "acme"));
    assert_eq!(
        d.reason(),
        Reason::Split { rule: 0, id: Some("by-company"), bucket: flagyard_eval::bucket("banner", "acme") }
    );
    assert!(d.served_by_split());
    assert_eq!(d.bucket(), Some(flagyard_eval::bucket("banner", "acme")));
    assert_eq!(d.unbucketed(), None);
    assert_eq!(r.split_attribute("banner", 0), Some("company"));
    assert_eq!(r.split_attribute("banner", 1), None);
    assert_eq!(r.split_attribute("banner", 9), None);
    assert_eq!(r.split_attribute("nope", 0), None);

    let d = r.evaluate("banner", &Context::new("u"));
    assert_eq!((d.reason(), d.variant()), (Reason::Default, Some("none")));
    assert_eq!(d.value(), Some(&serde_json::Value::Null));
}

#[test]
fn errors_are_values_not_panics() {
    let r = rules();
    let d = r.evaluate("nope", &Context::new("u"));
    assert_eq!((d.value(), d.variant(), d.reason()), (None, None, Reason::Error(EvalError::FlagNotFound)));
    assert!(d.is_error());
    let d = evaluate_typed(&r, "killed", &Context::new("u"), FlagType::String);
    assert_eq!(
        d.reason(),
        Reason::Error(EvalError::WrongType { requested: FlagType::String, actual: FlagType::Boolean })
    );
    assert_eq!(d.to_string(), "error: requested a string but the flag is a boolean");
    assert_eq!(evaluate_typed(&r, "killed", &Context::new("u"), FlagType::Boolean).variant(), Some("off"));
    assert_eq!(evaluate_typed(&r, "killed", &Context::new("u"), FlagType::Json).variant(), Some("off"));
}

#[test]
fn ruleset_metadata() {
    let r = rules();
    assert_eq!((r.environment(), r.version(), r.len()), ("production", 42, 2));
    assert_eq!(r.flag_keys().collect::<Vec<_>>(), vec!["banner", "killed"]);
    assert_eq!(r.flag_type("banner"), Some(FlagType::Json));
    assert_eq!(r.flag_type("x"), None);
}

#[test]
fn benchmark_flags_behave_as_described() {
    let r = bench_ruleset();
    let mut canary = 0;
    let mut split = [0usize; 3];
    for i in 0..10_000 {
        let ctx = bench_context(i);
        canary += usize::from(evaluate(&r, "canary", &ctx).variant() == Some("on"));
        let d = evaluate(&r, "experiment", &ctx);
        if d.served_by_split() {
            split[["control", "blue", "green"].iter().position(|v| Some(*v) == d.variant()).unwrap()] += 1;
        }
        assert_eq!(evaluate(&r, "plain", &ctx).variant(), Some("on"));
    }
    assert!((2300..2700).contains(&canary), "canary share {canary}");
    // 50 % coverage of 50/30/20.
    for (got, want) in split.iter().zip([2500, 1500, 1000]) {
        assert!(got.abs_diff(want) < 200, "{split:?}");
    }
    // Failing any of the three conditions skips the split.
    let young = bench_context(1).with("age", 17);
    assert_eq!(evaluate(&r, "experiment", &young).reason(), Reason::Default);
    let old_app = bench_context(1).with("app_version", "1.2.0");
    assert_eq!(evaluate(&r, "experiment", &old_app).reason(), Reason::Default);
    let elsewhere = bench_context(1).with("country", "BR");
    assert_eq!(evaluate(&r, "experiment", &elsewhere).reason(), Reason::Default);
}

#[test]
fn snapshot_round_trips_through_json() {
    let snap = flagyard_eval::parse_snapshot(common::fixtures::BENCH_SNAPSHOT).unwrap();
    let text = serde_json::to_string(&snap).unwrap();
    assert_eq!(flagyard_eval::parse_snapshot(&text).unwrap(), snap);
}

#[test]
fn constant_flags_are_the_off_ones_and_those_without_rules() {
    let r = rules();
    let index = |key| r.flag_index(key).unwrap();
    assert!(r.is_constant(index("killed")), "off: the off variant whatever the context");
    assert!(!r.is_constant(index("banner")), "rules read the context");
    assert_eq!(r.flag_index("nope"), None);
    assert!(!r.is_constant(99));
    let bench = bench_ruleset();
    let keys: Vec<&str> = bench.flag_keys().collect();
    let constant: Vec<bool> = (0..keys.len()).map(|i| bench.is_constant(i)).collect();
    assert_eq!(keys.iter().zip(constant).filter(|(_, c)| *c).map(|(k, _)| *k).collect::<Vec<_>>(), ["plain"]);
    for (i, key) in keys.iter().enumerate() {
        assert_eq!(bench.flag_index(key), Some(i));
    }
}
