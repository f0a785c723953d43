//! Invalid snapshots are refused with the exact path and reason of every
//! problem; nothing panics.

use flagyard_eval::{CompileErrorKind as K, Ruleset};
use serde_json::{Value, json};

fn snapshot(rules: Value) -> Value {
    json!({"environment": "production", "flags": {
        "new-checkout": {
            "type": "boolean",
            "variants": [{"key": "on", "value": true}, {"key": "off", "value": false}],
            "environments": {"production": {"enabled": true, "offVariant": "off", "defaultVariant": "off", "rules": rules}}
        }
    }, "segments": {"beta": {"included": ["u1"]}}})
}

/// The (path, kind) of every error compiling `doc`.
fn errors(doc: &Value) -> Vec<(String, K)> {
    match Ruleset::from_json(&doc.to_string()) {
        Ok(_) => panic!("expected errors for {doc}"),
        Err(e) => e.into_vec().into_iter().map(|e| (e.path, e.kind)).collect(),
    }
}

fn one_error(doc: &Value) -> (String, K) {
    let mut e = errors(doc);
    assert_eq!(e.len(), 1, "{e:?}");
    e.remove(0)
}

const RULE: &str = "flags.new-checkout.environments.production.rules";

#[test]
fn bad_regex_names_the_values() {
    let always = json!({"serve": {"variant": "on"}});
    let doc = snapshot(json!([always.clone(), always, {"conditions": [
        {"attribute": "email", "op": "matches", "values": ["(unclosed"]}
    ], "serve": {"variant": "on"}}]));
    let (path, kind) = one_error(&doc);
    assert_eq!(path, format!("{RULE}[2].conditions[0].values"));
    assert!(matches!(kind, K::Regex(_)), "{kind:?}");
}

#[test]
fn weights_must_add_to_10000() {
    let doc = snapshot(
        json!([{"serve": {"split": {"variants": [{"variant": "on", "weight": 5000}, {"variant": "off", "weight": 4000}]}}}]),
    );
    assert_eq!(one_error(&doc), (format!("{RULE}[0].serve.split.variants"), K::WeightSum(9000)));
    let doc =
        snapshot(json!([{"serve": {"split": {"variants": [{"variant": "on", "weight": 10000}], "coverage": 10001}}}]));
    assert_eq!(one_error(&doc), (format!("{RULE}[0].serve.split.coverage"), K::BasisPoints(10001)));
    let doc = snapshot(json!([{"serve": {"split": {"variants": []}}}]));
    assert_eq!(one_error(&doc), (format!("{RULE}[0].serve.split.variants"), K::EmptySplit));
    let doc = snapshot(json!([{"serve": {"split": {"variants": [{"variant": "on", "weight": -1}]}}}]));
    assert_eq!(one_error(&doc).0, format!("{RULE}[0].serve.split.variants[0].weight"));
}

#[test]
fn unknown_references() {
    let doc = snapshot(json!([{"serve": {"variant": "maybe"}}]));
    assert_eq!(one_error(&doc), (format!("{RULE}[0].serve.variant"), K::UnknownVariant("maybe".into())));
    let doc =
        snapshot(json!([{"conditions": [{"op": "segment", "values": ["beta", "gamma"]}], "serve": {"variant": "on"}}]));
    assert_eq!(one_error(&doc), (format!("{RULE}[0].conditions[0].values[1]"), K::UnknownSegment("gamma".into())));
    let doc = snapshot(
        json!([{"conditions": [{"op": "prerequisite", "flag": "ghost", "values": ["on"]}], "serve": {"variant": "on"}}]),
    );
    assert_eq!(one_error(&doc), (format!("{RULE}[0].conditions[0].flag"), K::UnknownFlag("ghost".into())));
    let mut doc = snapshot(json!([]));
    doc["flags"]["new-checkout"]["environments"]["production"]["offVariant"] = json!("gone");
    assert_eq!(
        one_error(&doc),
        ("flags.new-checkout.environments.production.offVariant".into(), K::UnknownVariant("gone".into()))
    );
}

#[test]
fn prerequisite_cycles() {
    let flag = |dep: &str| {
        json!({"type": "boolean", "variants": [{"key": "on", "value": true}],
               "environments": {"production": {"enabled": true, "offVariant": "on", "defaultVariant": "on",
                                                "prerequisites": [{"flag": dep, "variants": ["on"]}]}}})
    };
    let doc = json!({"environment": "production", "flags": {"a": flag("b"), "b": flag("c"), "c": flag("a")}});
    let at = |f: &str| format!("flags.{f}.environments.production.prerequisites[0].flag");
    assert_eq!(
        errors(&doc),
        vec![
            (at("a"), K::Cycle("a -> b -> c -> a".into())),
            (at("b"), K::Cycle("b -> c -> a -> b".into())),
            (at("c"), K::Cycle("c -> a -> b -> c".into())),
        ],
        "a cycle is reported at every member, at the field leading on"
    );
    let doc = json!({"environment": "production", "flags": {"a": flag("a")}});
    assert_eq!(one_error(&doc), (at("a"), K::Cycle("a -> a".into())));
    let doc = json!({"environment": "production", "segments": {
        "s1": {"conditions": [{"op": "segment", "values": ["s2"]}]},
        "s2": {"conditions": [{"op": "not_segment", "values": ["s1"]}]}
    }});
    assert_eq!(
        errors(&doc),
        vec![
            ("segments.s1.conditions[0].values[0]".into(), K::Cycle("s1 -> s2 -> s1".into())),
            ("segments.s2.conditions[0].values[0]".into(), K::Cycle("s2 -> s1 -> s2".into())),
        ]
    );
    // A cycle through a rule's prerequisite condition names that condition.
    let mut doc = json!({"environment": "production", "flags": {"a": flag("b"), "b": flag("a")}});
    doc["flags"]["b"]["environments"]["production"]["prerequisites"] = json!([]);
    doc["flags"]["b"]["environments"]["production"]["rules"] =
        json!([{"conditions": [{"op": "prerequisite", "flag": "a", "values": ["on"]}], "serve": {"variant": "on"}}]);
    assert_eq!(errors(&doc)[1].0, "flags.b.environments.production.rules[0].conditions[0].flag");
}

#[test]
fn duplicate_keys() {
    let raw = r#"{"environment": "e", "flags": {"a": {"type": "boolean", "variants": [], "environments": {}},
                                             "a": {"type": "boolean", "variants": [], "environments": {}}}}"#;
    let e = Ruleset::from_json(raw).unwrap_err().into_vec();
    assert_eq!(e[0].path, "flags");
    assert!(e[0].to_string().contains("duplicate key `a`"), "{}", e[0]);
    let mut doc = snapshot(json!([]));
    doc["flags"]["new-checkout"]["variants"] = json!([{"key": "off", "value": true}, {"key": "off", "value": false}]);
    assert_eq!(one_error(&doc), ("flags.new-checkout.variants[1].key".into(), K::DuplicateKey("off".into())));
    let doc = snapshot(json!([{"id": "r", "serve": {"variant": "on"}}, {"id": "r", "serve": {"variant": "on"}}]));
    assert_eq!(one_error(&doc), (format!("{RULE}[1].id"), K::DuplicateKey("r".into())));
}

#[test]
fn wrong_value_types() {
    let mut doc = snapshot(json!([]));
    doc["flags"]["new-checkout"]["variants"][1]["value"] = json!("false");
    let (path, kind) = one_error(&doc);
    assert_eq!(path, "flags.new-checkout.variants[1].value");
    assert!(matches!(kind, K::WrongValueType { .. }), "{kind:?}");
    let mut doc = snapshot(json!([]));
    doc["flags"]["new-checkout"]["type"] = json!("boolean-ish");
    assert_eq!(one_error(&doc).0, "flags.new-checkout.type");
    let mut doc = snapshot(json!([]));
    doc["flags"]["new-checkout"]["environments"]["production"]["enabled"] = json!("yes");
    assert_eq!(one_error(&doc).0, "flags.new-checkout.environments.production.enabled");
}

#[test]
fn operand_errors_name_the_condition() {
    let cases = [
        (json!({"attribute": "a", "op": "gt", "values": ["ten"]}), "values"),
        (json!({"attribute": "a", "op": "gt", "values": [1, 2]}), "values"),
        (json!({"attribute": "a", "op": "eq", "values": []}), "values"),
        (json!({"attribute": "a", "op": "in", "values": [{"x": 1}]}), "values"),
        (json!({"attribute": "a", "op": "contains", "values": []}), "values"),
        (json!({"attribute": "a", "op": "semver_gt", "values": ["1.x"]}), "values"),
        (json!({"attribute": "a", "op": "before", "values": ["next tuesday"]}), "values"),
        (json!({"attribute": "a", "op": "before", "values": ["2025-02-30T00:00:00Z"]}), "values"),
        (json!({"attribute": "a", "op": "exists", "values": [1]}), "values"),
        (json!({"op": "eq", "values": [1]}), "attribute"),
        (json!({"attribute": "", "op": "eq", "values": [1]}), "attribute"),
        (json!({"attribute": "a", "op": "segment", "values": ["beta"]}), "attribute"),
        (json!({"op": "prerequisite", "values": ["on"]}), "flag"),
        (json!({"attribute": "a", "op": "eq", "values": [1], "flag": "x"}), "flag"),
        (json!({"attribute": "a", "op": "equals", "values": [1]}), "op"),
    ];
    for (c, field) in cases {
        let doc =
            snapshot(json!([{"serve": {"variant": "on"}}, {"conditions": [c.clone()], "serve": {"variant": "on"}}]));
        let (path, _) = one_error(&doc);
        assert_eq!(path, format!("{RULE}[1].conditions[0].{field}"), "{c}");
    }
}

#[test]
fn keys_and_structure() {
    let mut doc = snapshot(json!([]));
    doc["flags"]["bad key!"] = doc["flags"]["new-checkout"].clone();
    assert_eq!(one_error(&doc), ("flags.bad key!".into(), K::InvalidKey("bad key!".into())));
    let doc = json!({"environment": "staging", "flags": snapshot(json!([]))["flags"]});
    assert_eq!(one_error(&doc), ("flags.new-checkout.environments".into(), K::MissingEnvironment("staging".into())));
    let e = Ruleset::from_json("{not json").unwrap_err();
    assert!(matches!(e.errors()[0].kind, K::Malformed(_)));
    assert!(Ruleset::from_json("").is_err());
    assert!(Ruleset::from_json("[]").is_err());
}

#[test]
fn all_problems_are_reported_together() {
    let doc = snapshot(json!([
        {"serve": {"variant": "nope"}},
        {"conditions": [{"attribute": "a", "op": "matches", "values": ["["]}], "serve": {"variant": "on"}}
    ]));
    let e = errors(&doc);
    assert_eq!(e.len(), 2, "{e:?}");
    let text = Ruleset::from_json(&doc.to_string()).unwrap_err().to_string();
    assert!(text.contains("rules[0].serve.variant: unknown variant `nope`"), "{text}");
    assert!(text.contains("rules[1].conditions[0].values: invalid regular expression"), "{text}");
}

/// `n` rules of one `matches` condition each, with `per` patterns of the
/// form that costs the most to compile among realistic ones.
fn pattern_rules(n: usize, per: usize) -> Value {
    let rules: Vec<Value> = (0..n)
        .map(|r| {
            let values: Vec<String> =
                (0..per).map(|i| format!("^[a-z0-9._%+-]{{1,40}}@[a-z0-9-]{{1,20}}\\.(com|org|x{r}y{i})$")).collect();
            json!({"conditions": [{"attribute": "email", "op": "matches", "values": values}], "serve": {"variant": "on"}})
        })
        .collect();
    Value::Array(rules)
}

#[test]
fn regex_patterns_have_a_budget_per_snapshot() {
    use flagyard_eval::{MAX_PATTERN_BYTES, MAX_PATTERNS};
    // 1,000 patterns of about 50 bytes: the most a snapshot may hold.
    let largest = snapshot(pattern_rules(100, MAX_PATTERNS / 100));
    let json = largest.to_string();
    let snap = flagyard_eval::parse_snapshot(&json).unwrap();
    let (count, bytes) = flagyard_eval::pattern_totals(&snap);
    assert_eq!(count, MAX_PATTERNS);
    assert!(bytes <= MAX_PATTERN_BYTES, "{bytes}");
    let started = std::time::Instant::now();
    Ruleset::compile(&snap).expect("the largest accepted snapshot compiles");
    // The benchmark figure (docs/benchmarks.md); a loose bound here so a
    // regression to unbounded cost fails, not a slow machine.
    let took = started.elapsed();
    eprintln!("compiled {count} patterns ({bytes} bytes) in {took:?}");
    assert!(took < std::time::Duration::from_secs(30), "{took:?}");
    // One more pattern is refused at the condition that crosses the limit,
    // and nothing after it is compiled.
    let over = snapshot(pattern_rules(101, MAX_PATTERNS / 100));
    let errors = errors(&over);
    assert!(!errors.is_empty());
    assert!(errors.iter().all(|(_, k)| matches!(k, K::PatternBudget { .. })), "{errors:?}");
    assert_eq!(errors[0].0, format!("{RULE}[100].conditions[0].values"));
    // Few patterns but too many bytes.
    let long = "a".repeat(MAX_PATTERN_BYTES + 1);
    let doc = snapshot(
        json!([{"conditions": [{"attribute": "e", "op": "matches", "values": [long]}], "serve": {"variant": "on"}}]),
    );
    assert!(matches!(one_error(&doc).1, K::PatternBudget { patterns: 1, .. }));
}

/// Found by fuzzing (`fuzz/corpus/rules_compile/regression-split-weights-overflow.json`):
/// weights whose sum overflows a u32 panicked in debug builds instead of being refused.
#[test]
fn weights_that_overflow_are_refused_not_a_panic() {
    let doc = snapshot(json!([{"serve": {"split": {"variants": [
        {"variant": "on", "weight": 4294967295u64}, {"variant": "off", "weight": 1}
    ]}}}]));
    let found = errors(&doc);
    assert!(found.iter().any(|(_, k)| matches!(k, K::WeightSum(_) | K::BasisPoints(_))), "{found:?}");
}

/// A `Detail` packs the rule index in 14 bits: more rules than that are
/// refused with the path, and exactly that many compile and evaluate.
#[test]
fn rules_per_flag_are_bounded() {
    use flagyard_eval::{Context, MAX_RULES, Reason};
    let never =
        json!({"conditions": [{"attribute": "plan", "op": "in", "values": ["none"]}], "serve": {"variant": "on"}});
    let mut rules = vec![never; MAX_RULES - 1];
    rules.push(json!({"id": "last", "serve": {"variant": "on"}}));
    let compiled = Ruleset::from_json(&snapshot(Value::from(rules.clone())).to_string()).unwrap();
    let d = compiled.evaluate("new-checkout", &Context::new("u"));
    assert_eq!(d.reason(), Reason::RuleMatch { rule: MAX_RULES - 1, id: Some("last") });
    rules.push(json!({"serve": {"variant": "off"}}));
    let (path, kind) = one_error(&snapshot(Value::from(rules)));
    assert_eq!(path, RULE);
    assert!(matches!(kind, K::Field(m) if m.contains("16383")), "{kind:?}");
}
