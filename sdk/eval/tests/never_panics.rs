//! Arbitrary snapshots and contexts: compiling either succeeds or reports
//! errors, and evaluation of whatever compiled returns a value for every
//! flag and context. Nothing panics.

use flagyard_eval::{
    Condition, Context, EvalError, Flag, FlagConfig, FlagType, Operator, Prerequisite, Reason, Rule, Ruleset, Segment,
    Serve, Snapshot, Split, Value, Variant, WeightedVariant,
};
use proptest::prelude::*;
use serde_json::{Value as Json, json};

const FLAGS: [&str; 4] = ["f0", "f1", "f2", "f3"];
const SEGMENTS: [&str; 2] = ["s0", "s1"];
const VARIANTS: [&str; 3] = ["v0", "v1", "v2"];
const ATTRS: [&str; 5] = ["key", "a", "b", "c", "d"];

fn operand() -> impl Strategy<Value = Json> {
    prop_oneof![
        "[a-c0-9.\\-]{0,6}".prop_map(Json::from),
        any::<i32>().prop_map(Json::from),
        (-1e6f64..1e6).prop_map(Json::from),
        any::<bool>().prop_map(Json::from),
        Just(json!("1.2.3-rc.1")),
        Just(json!("2025-01-01T00:00:00+01:00")),
        Just(json!("^a.*$")),
        Just(json!("(")),
        prop::sample::select(&SEGMENTS[..]).prop_map(Json::from),
        prop::sample::select(&VARIANTS[..]).prop_map(Json::from),
    ]
}

fn operator() -> impl Strategy<Value = Operator> {
    prop::sample::select(vec![
        Operator::Eq,
        Operator::Neq,
        Operator::In,
        Operator::NotIn,
        Operator::Contains,
        Operator::StartsWith,
        Operator::EndsWith,
        Operator::Matches,
        Operator::Lt,
        Operator::Lte,
        Operator::Gt,
        Operator::Gte,
        Operator::SemverLt,
        Operator::SemverLte,
        Operator::SemverEq,
        Operator::SemverGte,
        Operator::SemverGt,
        Operator::Before,
        Operator::After,
        Operator::Exists,
        Operator::Segment,
        Operator::NotSegment,
        Operator::Prerequisite,
    ])
}

/// Operands that fit the operator (so most snapshots compile).
fn fitting(op: Operator) -> BoxedStrategy<Vec<Json>> {
    use Operator::*;
    match op {
        Eq | Neq => operand().prop_map(|v| vec![v]).boxed(),
        In | NotIn => prop::collection::vec(
            prop_oneof!["[a-c]{0,3}".prop_map(Json::from), any::<i8>().prop_map(Json::from)],
            0..12,
        )
        .boxed(),
        Contains | StartsWith | EndsWith => prop::collection::vec("[a-c]{0,3}".prop_map(Json::from), 1..3).boxed(),
        Matches => {
            prop::collection::vec(prop::sample::select(vec!["^a", "b+", "c$", "."]).prop_map(Json::from), 1..3).boxed()
        }
        Lt | Lte | Gt | Gte => (-100i32..100).prop_map(|n| vec![json!(n)]).boxed(),
        SemverLt | SemverLte | SemverEq | SemverGte | SemverGt => {
            prop::sample::select(vec!["1.2.3", "1.2.3-rc.1", "0.1", "v2"]).prop_map(|v| vec![json!(v)]).boxed()
        }
        Before | After => prop_oneof![Just(json!("2025-01-01T00:00:00+01:00")), any::<i64>().prop_map(Json::from)]
            .prop_map(|v| vec![v])
            .boxed(),
        Exists => Just(vec![]).boxed(),
        Segment | NotSegment => {
            prop::collection::vec(prop::sample::select(&SEGMENTS[..]).prop_map(Json::from), 1..3).boxed()
        }
        Prerequisite => prop::collection::vec(prop::sample::select(&VARIANTS[..]).prop_map(Json::from), 1..3).boxed(),
    }
}

fn condition() -> impl Strategy<Value = Condition> {
    let values = operator().prop_flat_map(|op| {
        // Mostly fitting operands; sometimes arbitrary ones, to exercise errors.
        let any_values = prop::collection::vec(operand(), 0..3);
        (Just(op), prop_oneof![9 => fitting(op), 1 => any_values])
    });
    (values, prop::sample::select(&ATTRS[..]), prop::sample::select(&FLAGS[..])).prop_map(
        |((op, values), attr, flag)| {
            let (attribute, flag) = match op {
                Operator::Segment | Operator::NotSegment => (None, None),
                Operator::Prerequisite => (None, Some(flag.to_owned())),
                _ => (Some(attr.to_owned()), None),
            };
            Condition { attribute, op, values, flag }
        },
    )
}

fn serve() -> impl Strategy<Value = Serve> {
    prop_oneof![
        prop::sample::select(&VARIANTS[..]).prop_map(|v| Serve::Variant(v.to_owned())),
        (
            0u32..=10_000,
            0u32..=10_000,
            prop::option::of(prop::sample::select(&ATTRS[..])),
            prop::option::of("[a-z]{0,5}")
        )
            .prop_map(|(w, coverage, by, salt)| Serve::Split(Split {
                variants: vec![
                    WeightedVariant { variant: "v0".into(), weight: w },
                    WeightedVariant { variant: "v1".into(), weight: 10_000 - w },
                ],
                coverage,
                bucket_by: by.map(str::to_owned),
                salt,
            })),
    ]
}

fn flag() -> impl Strategy<Value = Flag> {
    (
        any::<bool>(),
        prop::collection::vec((prop::collection::vec(condition(), 0..3), serve()), 0..4),
        prop::collection::vec(prop::sample::select(&FLAGS[..]), 0..2),
    )
        .prop_map(|(enabled, rules, prereqs)| Flag {
            kind: FlagType::Number,
            variants: VARIANTS.iter().enumerate().map(|(i, k)| Variant { key: (*k).into(), value: json!(i) }).collect(),
            environments: [(
                "e".to_owned(),
                FlagConfig {
                    enabled,
                    off_variant: "v0".into(),
                    default_variant: "v2".into(),
                    prerequisites: prereqs
                        .into_iter()
                        .map(|f| Prerequisite { flag: f.into(), variants: vec!["v1".into()] })
                        .collect(),
                    rules: rules.into_iter().map(|(conditions, serve)| Rule { id: None, conditions, serve }).collect(),
                },
            )]
            .into(),
        })
}

fn snapshot() -> impl Strategy<Value = Snapshot> {
    (prop::collection::vec(flag(), 1..=4), prop::collection::vec(prop::collection::vec(condition(), 0..3), 0..=2))
        .prop_map(|(flags, segments)| Snapshot {
            environment: "e".into(),
            version: 1,
            flags: FLAGS.iter().map(|k| (*k).to_owned()).zip(flags).collect(),
            segments: SEGMENTS
                .iter()
                .map(|k| (*k).to_owned())
                .zip(segments)
                .map(|(k, conditions)| (k, Segment { included: vec!["u1".into()], excluded: vec![], conditions }))
                .collect(),
        })
}

fn value() -> impl Strategy<Value = Value<'static>> {
    prop_oneof![
        "\\PC{0,8}".prop_map(Value::from),
        any::<i64>().prop_map(Value::Int),
        any::<f64>().prop_map(Value::Float),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::DateTime),
        prop::collection::vec("[a-c]{0,3}", 0..3).prop_map(Value::from),
        Just(Value::from("1.2.3-rc.1")),
        Just(Value::from("2025-01-01T00:00:00Z")),
    ]
}

fn context() -> impl Strategy<Value = Context<'static>> {
    (prop::option::of("\\PC{0,8}"), prop::collection::vec((prop::sample::select(&ATTRS[1..]), value()), 0..5)).prop_map(
        |(key, attrs)| {
            let mut c = key.map_or_else(Context::anonymous, Context::new);
            for (name, v) in attrs {
                c.set(name, v);
            }
            c
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_snapshots_and_contexts_never_panic(snap in snapshot(), contexts in prop::collection::vec(context(), 1..6)) {
        match Ruleset::compile(&snap) {
            Ok(rules) => {
                for ctx in &contexts {
                    prop_assert_eq!(rules.evaluate_index(rules.len(), ctx).reason(), Reason::Error(EvalError::FlagNotFound));
                    for key in FLAGS.iter().chain(["missing"].iter()) {
                        let d = rules.evaluate(key, ctx);
                        // Every existing flag yields a value; only unknown flags are errors.
                        prop_assert_eq!(d.value().is_none(), rules.flag_type(key).is_none());
                        let _ = d.to_string();
                        // By index, the same answer as by key.
                        if let Some(i) = rules.flag_index(key) {
                            let by_index = rules.evaluate_index(i, ctx);
                            prop_assert_eq!((d.value(), d.variant(), d.reason(), d.unbucketed()), (by_index.value(), by_index.variant(), by_index.reason(), by_index.unbucketed()));
                            prop_assert_eq!(rules.rule_count_at(i), rules.rule_count(key));
                        }
                        // A flag said to be constant answers every context as the anonymous one.
                        if rules.flag_index(key).is_some_and(|i| rules.is_constant(i)) {
                            let anonymous = rules.evaluate(key, &Context::anonymous());
                            prop_assert_eq!((d.value(), d.variant(), d.reason(), d.unbucketed()), (anonymous.value(), anonymous.variant(), anonymous.reason(), anonymous.unbucketed()));
                            prop_assert_eq!(d.to_string(), anonymous.to_string());
                        }
                    }
                }
            }
            Err(errors) => {
                prop_assert!(!errors.errors().is_empty());
                for e in errors.errors() {
                    prop_assert!(!e.path.is_empty(), "{}", e);
                }
            }
        }
    }

    #[test]
    fn arbitrary_json_never_panics(text in "\\PC{0,200}") {
        let _ = Ruleset::from_json(&text);
    }

    #[test]
    fn arbitrary_json_contexts_never_panic(v in any::<Option<i64>>().prop_map(|i| json!({"targetingKey": i.map(|x| x.to_string()), "n": i, "l": ["x"]}))) {
        let ctx = Context::from_json(&v).unwrap();
        let _ = ctx.key();
    }
}

#[test]
fn the_generator_produces_mostly_valid_snapshots() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strategy = snapshot();
    let compiled =
        (0..300).filter(|_| Ruleset::compile(&strategy.new_tree(&mut runner).unwrap().current()).is_ok()).count();
    assert!(compiled > 30, "only {compiled}/300 generated snapshots compiled: the property test would test little");
}
