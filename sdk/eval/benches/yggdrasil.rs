//! The peer group: the configuration of `fixtures::BENCH_SNAPSHOT` expressed
//! for Unleash's Rust engine (`unleash-yggdrasil` 0.21), benchmarked with the
//! same case names, contexts and loop shape as the `flagyard` group.
//!
//! - `canary`: `flexibleRollout` at 25 %, stickiness `userId`, groupId `canary`.
//! - `experiment`: one `flexibleRollout` strategy at 50 % (the 50 % coverage)
//!   with the same three constraints as Flagyard's rule and strategy variants
//!   control/blue/green weighted 500/300/200 (out of 1000), stickiness `userId`.
//! - `plain`: enabled, `default` strategy.
//!
//! Evaluation calls: `EngineState::is_enabled` for (a) and (c), and
//! `EngineState::get_variant` for (b). `get_variant` is 0.21's direct answer
//! to "which variant does this context get" (it evaluates the strategy, its
//! constraints and rollout, then picks the strategy variant); `resolve` would
//! additionally re-evaluate `enabled` and clone the project name, so it does
//! strictly more work than the question Flagyard's `evaluate` answers.
//! Neither call records metrics (that is the separate `count_toggle` /
//! `count_variant`), so no bookkeeping is measured on either side.

use std::collections::HashMap;
use std::hint::black_box;

use criterion::Criterion;
use serde_json::json;
use unleash_yggdrasil::{ClientFeatures, Context, EngineState, UpdateMessage};

/// The same three flags as `fixtures::BENCH_SNAPSHOT`, in Unleash's
/// client-features format.
fn client_features() -> ClientFeatures {
    let features = json!({
        "version": 2,
        "features": [
            {
                "name": "canary",
                "type": "release",
                "enabled": true,
                "strategies": [{
                    "name": "flexibleRollout",
                    "constraints": [],
                    "parameters": {"rollout": "25", "stickiness": "userId", "groupId": "canary"},
                    "variants": []
                }]
            },
            {
                "name": "experiment",
                "type": "experiment",
                "enabled": true,
                "strategies": [{
                    "name": "flexibleRollout",
                    "constraints": [
                        {
                            "contextName": "country",
                            "operator": "IN",
                            "values": ["US", "CA", "GB", "DE", "FR", "NL", "SE", "NO", "DK", "FI"]
                        },
                        {"contextName": "age", "operator": "NUM_GT", "value": "18"},
                        {"contextName": "app_version", "operator": "SEMVER_GT", "value": "1.2.0"}
                    ],
                    "parameters": {"rollout": "50", "stickiness": "userId", "groupId": "experiment"},
                    "variants": [
                        {"name": "control", "weight": 500, "stickiness": "userId"},
                        {"name": "blue", "weight": 300, "stickiness": "userId"},
                        {"name": "green", "weight": 200, "stickiness": "userId"}
                    ]
                }]
            },
            {
                "name": "plain",
                "type": "release",
                "enabled": true,
                "strategies": [{"name": "default", "constraints": [], "parameters": {}, "variants": []}]
            }
        ]
    });
    serde_json::from_value(features).expect("the Yggdrasil benchmark features are valid client features")
}

/// The equivalent of `fixtures::bench_context(i)`: user `user-{i}`, country
/// NL, age 31, app_version 1.4.2 (Unleash context properties are strings).
fn context(i: usize) -> Context {
    let properties = HashMap::from([
        ("country".to_string(), "NL".to_string()),
        ("age".to_string(), "31".to_string()),
        ("app_version".to_string(), "1.4.2".to_string()),
    ]);
    Context { user_id: Some(format!("user-{i}")), properties: Some(properties), ..Default::default() }
}

fn engine() -> EngineState {
    let engine = EngineState::default();
    if let Some(warnings) = engine.take_state(UpdateMessage::FullResponse(client_features())) {
        panic!("Yggdrasil failed to compile the benchmark features: {warnings:?}");
    }
    engine
}

/// Checks once, outside timing, that the peer really evaluates what the
/// Flagyard group evaluates, so the comparison is honest.
fn sanity_check(engine: &EngineState, many: &[Context]) {
    let n = many.len();
    let canary_on = many.iter().filter(|ctx| engine.is_enabled("canary", ctx, &None)).count();
    let share = canary_on as f64 / n as f64;
    assert!(
        (0.15..=0.35).contains(&share),
        "yggdrasil: canary enabled for {canary_on}/{n} contexts ({:.1} %), expected about 25 %",
        share * 100.0
    );

    let mut counts: HashMap<String, usize> = HashMap::new();
    for ctx in many {
        let v = engine.get_variant("experiment", ctx, &None);
        let name = if v.enabled { v.name } else { "<disabled>".to_string() };
        *counts.entry(name).or_default() += 1;
    }
    let disabled = counts.get("<disabled>").copied().unwrap_or(0);
    let served = n - disabled;
    let share = served as f64 / n as f64;
    assert!(
        (0.40..=0.60).contains(&share),
        "yggdrasil: experiment served a variant to {served}/{n} contexts ({:.1} %), expected about 50 %: {counts:?}",
        share * 100.0
    );
    for variant in ["control", "blue", "green"] {
        assert!(counts.contains_key(variant), "yggdrasil: experiment never served {variant:?}: {counts:?}");
    }
    assert!(
        counts.keys().all(|k| ["control", "blue", "green", "<disabled>"].contains(&k.as_str())),
        "yggdrasil: experiment served an unexpected variant: {counts:?}"
    );

    assert!(many.iter().all(|ctx| engine.is_enabled("plain", ctx, &None)), "yggdrasil: plain flag is not enabled");
    // A name that does not exist must be off, so `true` above is not a default.
    assert!(!engine.is_enabled("no-such-flag", &many[0], &None), "yggdrasil: unknown flag reported enabled");

    eprintln!("yggdrasil sanity check: canary enabled {canary_on}/{n}; experiment variants {counts:?}");
}

pub fn bench(c: &mut Criterion) {
    let engine = engine();
    let fixed = context(7);
    let many: Vec<Context> = (0..1024).map(context).collect();
    sanity_check(&engine, &many);

    let mut g = c.benchmark_group("yggdrasil");

    g.bench_function("a_canary_25/fixed", |b| b.iter(|| engine.is_enabled(black_box("canary"), &fixed, &None)));
    let mut i = 0usize;
    g.bench_function("a_canary_25/cycling", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            engine.is_enabled(black_box("canary"), &many[i], &None)
        })
    });

    g.bench_function("b_conditions_split/fixed", |b| {
        b.iter(|| engine.get_variant(black_box("experiment"), &fixed, &None))
    });
    let mut i = 0usize;
    g.bench_function("b_conditions_split/cycling", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            engine.get_variant(black_box("experiment"), &many[i], &None)
        })
    });

    g.bench_function("c_plain/fixed", |b| b.iter(|| engine.is_enabled(black_box("plain"), &fixed, &None)));
    let mut i = 0usize;
    g.bench_function("c_plain/cycling", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            engine.is_enabled(black_box("plain"), &many[i], &None)
        })
    });

    g.finish();
}
