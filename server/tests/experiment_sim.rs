//! Simulated experiments through the real ingest, rollups and results API
//! (SQLite): units are allocated by the engine from the served rules, as an
//! SDK would, and convert at known rates.
//!
//! * 200 A/A experiments of 2,000 units: false positives at α = 0.05 stay
//!   within the binomial tolerance of 10 expected;
//! * an A/B test with a true +10 % relative lift on ~20,000 units per arm is
//!   detected, and every count matches the simulation exactly;
//! * resending every batch of it (same batch ids) changes no number;
//! * a 52/48 allocation on a 50/50 split trips the SRM warning.

mod support;

use std::time::{SystemTime, UNIX_EPOCH};

use flagyard_eval::{Context, Reason, Ruleset};
use futures_util::StreamExt;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::{Value, json};
use support::app::TestApp;

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// A boolean flag `key` with a 50/50 split rule `exp` in production, a
/// conversion metric `key-conv` on event `key-buy`, and a started experiment `key`.
async fn experiment(app: &TestApp, key: &str) {
    app.post("/api/v1/flags", json!({"key": key, "type": "boolean"})).await.expect(201);
    app.put(
        &format!("/api/v1/flags/{key}/environments/production"),
        json!({"enabled": true, "offVariant": "off", "defaultVariant": "off", "rules": [
            {"id": "exp", "serve": {"split": {"variants": [{"variant": "on", "weight": 5000}, {"variant": "off", "weight": 5000}]}}}
        ]}),
    )
    .await
    .expect(200);
    app.post(
        "/api/v1/metrics",
        json!({"key": format!("{key}-conv"), "event": format!("{key}-buy"), "kind": "conversion"}),
    )
    .await
    .expect(201);
    app.post(
        "/api/v1/experiments",
        json!({"key": key, "flag": key, "environment": "production", "ruleId": "exp", "controlVariant": "off",
               "primaryMetric": format!("{key}-conv"), "minimumDetectableEffect": 0.1}),
    )
    .await
    .expect(201);
    app.post(&format!("/api/v1/experiments/{key}/start"), json!({})).await.expect(200);
}

async fn sdk_key(app: &TestApp) -> String {
    let key = app.post("/api/v1/environments/production/sdk-keys", json!({"name": "sim"})).await.expect(201);
    key["secret"].as_str().unwrap().to_owned()
}

/// The rules as an SDK holds them.
async fn rules(app: &TestApp, key: &str) -> Ruleset {
    let res = app.http.get(format!("{}/sdk/v1/snapshot", app.base)).bearer_auth(key).send().await.unwrap();
    Ruleset::from_json(&res.text().await.unwrap()).unwrap()
}

/// Events of `units` units of experiment `flag`: each exposed to the variant
/// `allocate` picks, converting with the probability `rate` gives for it.
/// Returns the events and, per variant (on, off), (units, conversions).
fn simulate(
    flag: &str,
    units: usize,
    rng: &mut StdRng,
    mut allocate: impl FnMut(&str, &mut StdRng) -> String,
    rate: impl Fn(&str) -> f64,
) -> (Vec<Value>, [(i64, i64); 2]) {
    let t = now();
    let mut events = Vec::with_capacity(units * 2);
    let mut counts = [(0, 0); 2];
    for i in 0..units {
        let unit = format!("{flag}-user-{i}");
        let variant = allocate(&unit, rng);
        let slot = usize::from(variant == "off");
        counts[slot].0 += 1;
        events.push(json!({"kind": "exposure", "at": t, "flag": flag, "variant": variant, "rule": "exp",
                           "version": 1, "bucketBy": "key", "unit": unit}));
        if rng.random_bool(rate(&variant)) {
            counts[slot].1 += 1;
            events.push(json!({"kind": "track", "at": t + 1, "event": format!("{flag}-buy"), "unit": unit}));
        }
    }
    (events, counts)
}

/// The engine's allocation, as an SDK computes it.
fn engine(rules: &Ruleset, flag: &str) -> impl FnMut(&str, &mut StdRng) -> String {
    move |unit, _| {
        let d = rules.evaluate(flag, &Context::new(unit.to_owned()));
        assert!(matches!(d.reason(), Reason::Split { .. }), "{d:?}");
        d.variant().unwrap().to_owned()
    }
}

/// Sends `events` in batches of at most 500, four at a time; returns the
/// batch bodies. A unit's events stay in one batch: batches in flight
/// together may be applied in any order, and a track event that reaches the
/// server before its unit's exposure is not counted (`docs/experiments.md`,
/// "Known limits"), which an SDK avoids by sending its queue in order.
async fn ingest(app: &TestApp, key: &str, prefix: &str, events: &[Value]) -> Vec<Value> {
    let mut chunks: Vec<&[Value]> = Vec::new();
    let mut start = 0;
    while start < events.len() {
        let mut end = (start + 500).min(events.len());
        // Back up to the last exposure so that no unit straddles the cut.
        while end < events.len() && end > start + 1 && events[end]["kind"] != "exposure" {
            end -= 1;
        }
        chunks.push(&events[start..end]);
        start = end;
    }
    let bodies: Vec<Value> = chunks
        .into_iter()
        .enumerate()
        .map(|(i, chunk)| json!({"batchId": format!("{prefix}-{i}"), "sentAt": now(), "events": chunk}))
        .collect();
    resend(app, key, &bodies, false).await;
    bodies
}

async fn resend(app: &TestApp, key: &str, bodies: &[Value], duplicate: bool) {
    let answers: Vec<_> = futures_util::stream::iter(bodies)
        .map(|b| app.call(Method::POST, "/sdk/v1/events", Some(key), Some(b)))
        .buffer_unordered(4)
        .collect()
        .await;
    for a in answers {
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(a.body["rejected"], json!([]));
        assert_eq!(a.body["duplicate"], duplicate);
    }
}

async fn results(app: &TestApp, key: &str) -> Value {
    app.get(&format!("/api/v1/experiments/{key}/results")).await.expect(200)
}

/// The treatment (`on`) row of the primary metric.
fn treatment(r: &Value) -> &Value {
    &r["metrics"][0]["variants"][1]
}

async fn app() -> (TestApp, String) {
    let db = support::db::SqliteTestDb::new();
    let app = TestApp::start_with(
        db.url.clone(),
        Box::new(db),
        &[("FLAGYARD_LOG", "error"), ("FLAGYARD_MAX_BODY_BYTES", "1048576")],
    )
    .await;
    let key = sdk_key(&app).await;
    (app, key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aa_experiments_keep_the_false_positive_rate() {
    let (app, key) = app().await;
    const EXPERIMENTS: usize = 200;
    for i in 0..EXPERIMENTS {
        experiment(&app, &format!("aa{i}")).await;
    }
    let rules = rules(&app, &key).await;
    let mut rng = StdRng::seed_from_u64(20261126);
    let mut events = Vec::new();
    for i in 0..EXPERIMENTS {
        let flag = format!("aa{i}");
        let (e, _) = simulate(&flag, 2000, &mut rng, engine(&rules, &flag), |_| 0.1);
        events.extend(e);
    }
    ingest(&app, &key, "aa", &events).await;
    let mut positives = 0;
    for i in 0..EXPERIMENTS {
        let r = results(&app, &format!("aa{i}")).await;
        let units: i64 = r["variants"].as_array().unwrap().iter().map(|v| v["units"].as_i64().unwrap()).sum();
        assert_eq!(units, 2000);
        let p = treatment(&r)["comparison"]["relative"]["pValue"].as_f64().unwrap();
        if p < 0.05 {
            positives += 1;
        }
    }
    // X ~ Binomial(200, 0.05): mean 10; P(X ≤ 1) ≈ 4e-4 and P(X ≥ 21) ≈ 1e-3.
    eprintln!("A/A: {positives} of {EXPERIMENTS} significant at α = 0.05");
    assert!((2..=20).contains(&positives), "{positives} false positives of {EXPERIMENTS}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ab_lift_is_detected_counted_exactly_and_retries_change_nothing() {
    let (app, key) = app().await;
    experiment(&app, "ab").await;
    let rules = rules(&app, &key).await;
    let mut rng = StdRng::seed_from_u64(7);
    let (events, counts) =
        simulate("ab", 40_000, &mut rng, engine(&rules, "ab"), |v| if v == "on" { 0.11 } else { 0.10 });
    let bodies = ingest(&app, &key, "ab", &events).await;
    let r = results(&app, "ab").await;
    // Exact counts: units and conversions per variant.
    for (slot, variant) in ["on", "off"].iter().enumerate() {
        let v = r["variants"].as_array().unwrap().iter().find(|v| v["variant"] == *variant).unwrap();
        assert_eq!(v["units"], counts[slot].0, "{variant}");
        let m = r["metrics"][0]["variants"].as_array().unwrap().iter().find(|m| m["variant"] == *variant).unwrap();
        assert_eq!((m["n"].as_i64(), m["sum"].as_f64()), (Some(counts[slot].0), Some(counts[slot].1 as f64)));
    }
    let t = treatment(&r);
    let lift = t["comparison"]["relative"]["estimate"].as_f64().unwrap();
    let p = t["comparison"]["relative"]["pValue"].as_f64().unwrap();
    eprintln!("A/B: units {counts:?}, lift {lift:.4}, p {p:.2e}");
    assert!(p < 0.05 && lift > 0.0, "lift {lift}, p {p}");
    assert_eq!(t["verdict"], "better");
    assert!(t["comparison"]["bayesian"]["chanceToWin"].as_f64().unwrap() > 0.95);
    assert_eq!(r["srm"]["warning"], false);
    assert!(r["power"]["progress"].as_f64().unwrap() > 0.9, "{}", r["power"]);
    // The SDK retries everything: every batch is recognised, no figure moves.
    resend(&app, &key, &bodies, true).await;
    let mut again = results(&app, "ab").await;
    again["computedAt"] = r["computedAt"].clone();
    assert_eq!(again, r);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_52_48_allocation_trips_the_srm_warning() {
    let (app, key) = app().await;
    experiment(&app, "srm").await;
    experiment(&app, "fair").await;
    let rules = rules(&app, &key).await;
    let mut rng = StdRng::seed_from_u64(11);
    let biased = |_: &str, rng: &mut StdRng| if rng.random_bool(0.52) { "off".to_owned() } else { "on".to_owned() };
    let (mut events, _) = simulate("srm", 20_000, &mut rng, biased, |_| 0.1);
    events.extend(simulate("fair", 20_000, &mut rng, engine(&rules, "fair"), |_| 0.1).0);
    ingest(&app, &key, "srm", &events).await;
    let r = results(&app, "srm").await;
    assert_eq!(r["srm"]["warning"], true, "{}", r["srm"]);
    assert!(r["srm"]["pValue"].as_f64().unwrap() < 0.001);
    let fair = results(&app, "fair").await;
    assert_eq!(fair["srm"]["warning"], false, "{}", fair["srm"]);
}
