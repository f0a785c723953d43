//! Every operator, with its edge cases: missing attribute, wrong type, empty
//! list, unicode, pre-release semvers, time zones, list attributes.

use flagyard_eval::{Context, Reason, Ruleset, Value};
use serde_json::{Value as Json, json};

fn rules_with(conditions: Json, segments: Json) -> Ruleset {
    let snap = json!({
        "environment": "e",
        "segments": segments,
        "flags": {
            "f": {"type": "boolean", "variants": [{"key": "on", "value": true}, {"key": "off", "value": false}],
                  "environments": {"e": {"enabled": true, "offVariant": "off", "defaultVariant": "off",
                                          "rules": [{"id": "r", "conditions": conditions, "serve": {"variant": "on"}}]}}},
            "color": {"type": "string", "variants": [{"key": "red", "value": "red"}, {"key": "blue", "value": "blue"}],
                  "environments": {"e": {"enabled": true, "offVariant": "red", "defaultVariant": "red",
                                          "rules": [{"conditions": [{"attribute": "plan", "op": "eq", "values": ["pro"]}],
                                                     "serve": {"variant": "blue"}}]}}}
        }
    });
    Ruleset::from_json(&snap.to_string()).unwrap_or_else(|e| panic!("{e}"))
}

/// Whether a single condition holds for `ctx`.
fn holds(condition: Json, ctx: &Context<'_>) -> bool {
    let rules = rules_with(json!([condition]), json!({}));
    let d = rules.evaluate("f", ctx);
    assert!(matches!(d.reason(), Reason::RuleMatch { .. } | Reason::Default), "{d}");
    d.reason() == (Reason::RuleMatch { rule: 0, id: Some("r") })
}

fn cond(attribute: &str, op: &str, values: Json) -> Json {
    json!({"attribute": attribute, "op": op, "values": values})
}

fn ctx() -> Context<'static> {
    Context::new("user-1")
        .with("email", "ana@example.com")
        .with("city", "Zürich")
        .with("age", 31)
        .with("score", 2.5)
        .with("beta", true)
        .with("tags", vec!["alpha".to_owned(), "früh".to_owned()])
        .with("version", "2.1.0-rc.2")
        .with("signup", "2024-06-01T10:00:00+02:00")
        .with("seen", Value::DateTime(1_700_000_000_000))
}

#[test]
fn equality() {
    let c = ctx();
    assert!(holds(cond("email", "eq", json!(["ana@example.com"])), &c));
    assert!(!holds(cond("email", "eq", json!(["ANA@example.com"])), &c), "case sensitive");
    assert!(holds(cond("city", "eq", json!(["Zürich"])), &c), "unicode");
    assert!(holds(cond("age", "eq", json!([31])), &c));
    assert!(holds(cond("age", "eq", json!([31.0])), &c), "numbers compare by value");
    assert!(holds(cond("beta", "eq", json!([true])), &c));
    assert!(!holds(cond("beta", "eq", json!([false])), &c));
    assert!(holds(cond("key", "eq", json!(["user-1"])), &c), "targeting key");
    assert!(holds(cond("targetingKey", "eq", json!(["user-1"])), &c), "OpenFeature name");
    assert!(holds(cond("tags", "eq", json!(["früh"])), &c), "any list element");
    assert!(holds(cond("email", "neq", json!(["bob@example.com"])), &c));
    assert!(!holds(cond("email", "neq", json!(["ana@example.com"])), &c));
    assert!(!holds(cond("tags", "neq", json!(["alpha"])), &c), "neq: no element equals");
    // Wrong type or missing attribute: neither eq nor neq holds.
    for op in ["eq", "neq"] {
        assert!(!holds(cond("age", op, json!(["31"])), &c), "{op} string vs number");
        assert!(!holds(cond("missing", op, json!(["x"])), &c), "{op} missing");
        assert!(!holds(cond("seen", op, json!([1])), &c), "{op} date-time");
    }
}

#[test]
fn membership() {
    let c = ctx();
    let many: Vec<String> = (0..50).map(|i| format!("c{i}@example.com")).chain(["ana@example.com".into()]).collect();
    assert!(holds(cond("email", "in", json!(many)), &c), "hashed set");
    assert!(holds(cond("email", "in", json!(["x", "ana@example.com"])), &c), "linear set");
    assert!(holds(cond("age", "in", json!([1, 31, "x"])), &c), "mixed list");
    assert!(holds(cond("beta", "in", json!([true])), &c));
    assert!(holds(cond("tags", "in", json!(["zeta", "alpha"])), &c));
    assert!(!holds(cond("email", "not_in", json!(many)), &c));
    assert!(holds(cond("email", "not_in", json!(["x"])), &c));
    assert!(!holds(cond("tags", "not_in", json!(["alpha"])), &c));
    // Empty list: `in` never holds, `not_in` holds for any present attribute.
    assert!(!holds(cond("email", "in", json!([])), &c));
    assert!(holds(cond("email", "not_in", json!([])), &c));
    assert!(holds(cond("age", "not_in", json!([])), &c));
    assert!(!holds(cond("missing", "not_in", json!([])), &c), "missing attribute never holds");
    assert!(!holds(cond("age", "not_in", json!(["31"])), &c), "type mismatch never holds");
}

#[test]
fn string_operators() {
    let c = ctx();
    assert!(holds(cond("email", "contains", json!(["@example"])), &c));
    assert!(holds(cond("email", "starts_with", json!(["bob", "ana"])), &c), "any of");
    assert!(holds(cond("email", "ends_with", json!([".com"])), &c));
    assert!(!holds(cond("email", "ends_with", json!([".org"])), &c));
    assert!(holds(cond("city", "starts_with", json!(["Zü"])), &c), "unicode prefix");
    assert!(holds(cond("tags", "contains", json!(["rü"])), &c), "list element");
    assert!(holds(cond("email", "contains", json!([""])), &c), "empty substring");
    assert!(!holds(cond("age", "contains", json!(["3"])), &c), "numbers are not strings");
    assert!(!holds(cond("missing", "starts_with", json!(["a"])), &c));
}

#[test]
fn regex() {
    let c = ctx();
    assert!(holds(cond("email", "matches", json!(["^[a-z]+@example\\.com$"])), &c));
    assert!(holds(cond("email", "matches", json!(["example"])), &c), "unanchored search");
    assert!(holds(cond("city", "matches", json!(["^Z\\w+h$"])), &c), "unicode word class");
    assert!(holds(cond("tags", "matches", json!(["^fr"])), &c));
    assert!(!holds(cond("email", "matches", json!(["^bob"])), &c));
    assert!(!holds(cond("age", "matches", json!(["3"])), &c));
}

#[test]
fn numeric() {
    let c = ctx();
    assert!(holds(cond("age", "gt", json!([18])), &c));
    assert!(!holds(cond("age", "gt", json!([31])), &c));
    assert!(holds(cond("age", "gte", json!([31])), &c));
    assert!(holds(cond("age", "lt", json!([31.5])), &c));
    assert!(holds(cond("age", "lte", json!([31])), &c));
    assert!(holds(cond("score", "lt", json!([3])), &c), "float attribute");
    assert!(holds(cond("score", "gt", json!([-1e300])), &c));
    assert!(!holds(cond("email", "gt", json!([0])), &c), "string never compares");
    assert!(!holds(cond("missing", "lt", json!([0])), &c));
    let nan = Context::new("u").with("x", f64::NAN);
    for op in ["lt", "lte", "gt", "gte", "eq"] {
        assert!(!holds(cond("x", op, json!([0])), &nan), "NaN {op}");
    }
}

#[test]
fn semver() {
    let c = ctx();
    assert!(holds(cond("version", "semver_gt", json!(["2.1.0-rc.1"])), &c));
    assert!(holds(cond("version", "semver_gt", json!(["2.1.0-beta.11"])), &c));
    assert!(holds(cond("version", "semver_lt", json!(["2.1.0"])), &c), "pre-release below release");
    assert!(holds(cond("version", "semver_eq", json!(["v2.1.0-rc.2+build.9"])), &c), "build metadata ignored");
    assert!(holds(cond("version", "semver_gte", json!(["2.1.0-rc.2"])), &c));
    assert!(holds(cond("version", "semver_lte", json!(["2.1"])), &c), "2.1 is 2.1.0");
    assert!(!holds(cond("version", "semver_gt", json!(["2.1.0-rc.10"])), &c), "numeric identifiers compare as numbers");
    let bad = Context::new("u").with("version", "not-a-version");
    assert!(!holds(cond("version", "semver_lt", json!(["9.9.9"])), &bad), "unparseable never holds");
    let num = Context::new("u").with("version", 2);
    assert!(!holds(cond("version", "semver_eq", json!(["2.0.0"])), &num), "numbers are not versions");
}

#[test]
fn dates_and_time_zones() {
    let c = ctx();
    // signup is 2024-06-01T08:00:00Z.
    assert!(holds(cond("signup", "after", json!(["2024-06-01T07:59:59Z"])), &c));
    assert!(holds(cond("signup", "before", json!(["2024-06-01T08:00:00.001Z"])), &c));
    assert!(!holds(cond("signup", "before", json!(["2024-06-01T09:00:00+01:00"])), &c), "same instant is not before");
    assert!(holds(cond("signup", "before", json!(["2024-06-01T04:00:01-04:00"])), &c), "offset applied");
    assert!(holds(cond("signup", "after", json!(["2024-06-01"])), &c), "date-only is midnight UTC");
    assert!(holds(cond("seen", "after", json!([1_699_999_999_999i64])), &c), "epoch millis operand");
    assert!(holds(cond("seen", "before", json!(["2023-11-14T22:13:20.001Z"])), &c));
    let ms = Context::new("u").with("t", 1_000i64);
    assert!(holds(cond("t", "before", json!(["1970-01-01T00:00:01.001Z"])), &ms), "number attribute is epoch millis");
    let bad = Context::new("u").with("t", "yesterday");
    assert!(!holds(cond("t", "before", json!(["2030-01-01T00:00:00Z"])), &bad));
    assert!(!holds(cond("t", "after", json!(["1970-01-01T00:00:00Z"])), &bad));
    assert!(!holds(cond("beta", "after", json!([0])), &c));
}

#[test]
fn exists() {
    let c = ctx();
    assert!(holds(json!({"attribute": "email", "op": "exists"}), &c));
    assert!(holds(json!({"attribute": "key", "op": "exists"}), &c));
    assert!(!holds(json!({"attribute": "nope", "op": "exists"}), &c));
    assert!(!holds(json!({"attribute": "key", "op": "exists"}), &Context::anonymous()));
}

#[test]
fn conditions_are_anded_and_empty_holds() {
    let c = ctx();
    let both = json!([cond("age", "gt", json!([18])), cond("beta", "eq", json!([true]))]);
    assert_eq!(rules_with(both, json!({})).evaluate("f", &c).variant(), Some("on"));
    let one_fails = json!([cond("age", "gt", json!([18])), cond("beta", "eq", json!([false]))]);
    assert_eq!(rules_with(one_fails, json!({})).evaluate("f", &c).variant(), Some("off"));
    assert_eq!(rules_with(json!([]), json!({})).evaluate("f", &c).variant(), Some("on"));
}

#[test]
fn segments() {
    let segments = json!({
        "adults": {"conditions": [cond("age", "gte", json!([18]))], "excluded": ["user-1"]},
        "vip": {"included": ["user-9"]},
        "adult-vip": {"conditions": [{"op": "segment", "values": ["adults"]}, cond("beta", "eq", json!([true]))]},
        "empty": {}
    });
    let check = |c: Json, ctx: &Context<'_>| {
        rules_with(json!([c]), segments.clone()).evaluate("f", ctx).variant() == Some("on")
    };
    let adult = Context::new("user-2").with("age", 40).with("beta", true);
    let excluded = Context::new("user-1").with("age", 40).with("beta", true);
    let vip = Context::new("user-9");
    assert!(check(json!({"op": "segment", "values": ["adults"]}), &adult));
    assert!(!check(json!({"op": "segment", "values": ["adults"]}), &excluded), "excluded key");
    assert!(check(json!({"op": "segment", "values": ["adults", "vip"]}), &vip), "member of any");
    assert!(check(json!({"op": "not_segment", "values": ["vip"]}), &adult));
    assert!(!check(json!({"op": "not_segment", "values": ["vip"]}), &vip));
    assert!(check(json!({"op": "segment", "values": ["adult-vip"]}), &adult), "nested segment");
    assert!(!check(json!({"op": "segment", "values": ["empty"]}), &adult), "no conditions: nobody");
    assert!(!check(json!({"op": "segment", "values": ["adults"]}), &Context::anonymous().with("age", 1)));
}

#[test]
fn prerequisites_as_conditions_and_flag_level() {
    let rules = rules_with(json!([{"op": "prerequisite", "flag": "color", "values": ["blue"]}]), json!({}));
    assert_eq!(rules.evaluate("f", &Context::new("u").with("plan", "pro")).variant(), Some("on"));
    assert_eq!(rules.evaluate("f", &Context::new("u").with("plan", "free")).variant(), Some("off"));

    let snap = json!({"environment": "e", "flags": {
        "base": {"type": "boolean", "variants": [{"key": "on", "value": true}, {"key": "off", "value": false}],
                 "environments": {"e": {"enabled": true, "offVariant": "off", "defaultVariant": "off",
                    "rules": [{"conditions": [cond("plan", "eq", json!(["pro"]))], "serve": {"variant": "on"}}]}}},
        "dependent": {"type": "string", "variants": [{"key": "off", "value": "none"}, {"key": "new", "value": "new-ui"}],
                 "environments": {"e": {"enabled": true, "offVariant": "off", "defaultVariant": "new",
                    "prerequisites": [{"flag": "base", "variants": ["on"]}]}}}
    }});
    let rules = Ruleset::from_json(&snap.to_string()).unwrap();
    let pro = rules.evaluate("dependent", &Context::new("u").with("plan", "pro"));
    assert_eq!((pro.variant(), pro.value()), (Some("new"), Some(&json!("new-ui"))));
    assert_eq!(pro.reason(), Reason::Default);
    let free = rules.evaluate("dependent", &Context::new("u").with("plan", "free"));
    assert_eq!(free.variant(), Some("off"));
    assert_eq!(free.reason(), Reason::PrerequisiteFailed { flag: "base" });
    assert_eq!(free.to_string(), "prerequisite \"base\" failed");
}
