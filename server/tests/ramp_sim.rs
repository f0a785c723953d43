//! Guarded rollouts by simulation through the real ingest path (SQLite,
//! test clock): units are allocated by the engine from the served rules, as
//! an SDK would, and send an `error` track event at a known rate; the
//! guardrail is that error rate (a conversion metric that should decrease).
//!
//! * 50 canaries whose error rate is 30 % worse (13 % against 10 %) are all
//!   rolled back; the units per arm at the rollback are reported (median);
//! * 200 A/A canaries ramp 20 % → 50 % → 100 %: the share wrongly rolled
//!   back stays within the binomial tolerance of α = 0.05, and the healthy
//!   ones reach 100 %;
//! * a 55/45 allocation on a 50/50 split pauses the plan (SRM).

mod support;

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use flagyard_eval::{Context, Ruleset};
use futures_util::StreamExt;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::{Value, json};
use support::app::TestApp;

const T0: &str = "2030-01-01T00:00:00Z";

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

async fn app() -> (TestApp, String) {
    let db = support::db::SqliteTestDb::new();
    let app = TestApp::start_with(
        db.url.clone(),
        Box::new(db),
        &[("FLAGYARD_LOG", "error"), ("FLAGYARD_MAX_BODY_BYTES", "2097152"), ("FLAGYARD_TEST_CLOCK", T0)],
    )
    .await;
    let key = app.post("/api/v1/environments/production/sdk-keys", json!({"name": "sim"})).await.expect(201);
    (app, key["secret"].as_str().unwrap().to_owned())
}

/// Flag `flag` with a 50/50 split rule `canary` (`on` first) at 0 %, its
/// error metric `flag-err` (event `flag-err`), and a guarded ramp; its id.
async fn guarded(app: &TestApp, flag: &str, steps: Value) -> i64 {
    app.post("/api/v1/flags", json!({"key": flag, "type": "boolean"})).await.expect(201);
    app.put(
        &format!("/api/v1/flags/{flag}/environments/production"),
        json!({"enabled": true, "offVariant": "off", "defaultVariant": "off", "rules": [
            {"id": "canary", "serve": {"split": {"coverage": 0,
                "variants": [{"variant": "on", "weight": 5000}, {"variant": "off", "weight": 5000}]}}}
        ]}),
    )
    .await
    .expect(200);
    let metric = format!("{flag}-err");
    app.post(
        "/api/v1/metrics",
        json!({"key": metric, "event": metric, "kind": "conversion", "goodDirection": "decrease"}),
    )
    .await
    .expect(201);
    let r = app
        .post(
            "/api/v1/ramps",
            json!({"flag": flag, "environment": "production", "ruleId": "canary", "canaryVariant": "on",
                   "controlVariant": "off", "steps": steps, "guardrails": [{"metric": metric}]}),
        )
        .await
        .expect(201);
    r["id"].as_i64().unwrap()
}

async fn rules(app: &TestApp, key: &str) -> Ruleset {
    let res = app.http.get(format!("{}/sdk/v1/snapshot", app.base)).bearer_auth(key).send().await.unwrap();
    Ruleset::from_json(&res.text().await.unwrap()).unwrap()
}

/// One unit's events: its exposure when the split serves it, and an error
/// with probability `rate(variant)`; `allocate` overrides the engine.
fn visit(
    flag: &str,
    unit: &str,
    variant: Option<String>,
    rng: &mut StdRng,
    rate: impl Fn(&str) -> f64,
    events: &mut Vec<Value>,
) {
    let Some(variant) = variant else { return };
    let t = now();
    events.push(json!({"kind": "exposure", "at": t, "flag": flag, "variant": variant, "rule": "canary",
                       "version": 1, "bucketBy": "key", "unit": unit}));
    if rng.random_bool(rate(&variant)) {
        events.push(json!({"kind": "track", "at": t + 1, "event": format!("{flag}-err"), "unit": unit}));
    }
}

fn served(rules: &Ruleset, flag: &str, unit: &str) -> Option<String> {
    let d = rules.evaluate(flag, &Context::new(unit.to_owned()));
    if d.served_by_split() { d.variant().map(str::to_owned) } else { None }
}

/// Sends `events` (a unit's events never split) in batches of at most 4,000.
async fn send(app: &TestApp, key: &str, prefix: &str, events: &[Value]) {
    let mut bodies = Vec::new();
    let mut start = 0;
    while start < events.len() {
        let mut end = (start + 4_000).min(events.len());
        while end < events.len() && end > start + 1 && events[end]["kind"] != "exposure" {
            end -= 1;
        }
        let id = format!("{prefix}-{}", bodies.len());
        bodies.push(json!({"batchId": id, "sentAt": now(), "events": &events[start..end]}));
        start = end;
    }
    let answers: Vec<_> = futures_util::stream::iter(&bodies)
        .map(|b| app.call(Method::POST, "/sdk/v1/events", Some(key), Some(b)))
        .buffer_unordered(2)
        .collect()
        .await;
    for a in answers {
        assert_eq!(a.status, 200, "{}", a.body);
    }
}

/// Waits until the guardrail task has looked at what was ingested: no
/// ramp changes state or history for half a second.
async fn settle(app: &TestApp) -> Vec<Value> {
    let mut last = Value::Null;
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = app.get("/api/v1/ramps").await.expect(200);
        let sig: Vec<Value> = now
            .as_array()
            .unwrap()
            .iter()
            .map(|r| json!([r["state"], r["history"].as_array().unwrap().len()]))
            .collect();
        let sig = Value::from(sig);
        if sig == last {
            return now.as_array().unwrap().clone();
        }
        last = sig;
    }
}

fn median(mut v: Vec<i64>) -> i64 {
    v.sort_unstable();
    v[v.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_30_percent_worse_is_rolled_back() {
    const RUNS: usize = 50;
    let (app, key) = app().await;
    let steps = json!([{"coverage": 10000, "hold": "30d"}]);
    let mut ids = BTreeMap::new();
    for i in 0..RUNS {
        ids.insert(guarded(&app, &format!("bad{i}"), steps.clone()).await, format!("bad{i}"));
    }
    let rules = rules(&app, &key).await;
    let mut rng = StdRng::seed_from_u64(20261204);
    let mut detected: BTreeMap<i64, i64> = BTreeMap::new();
    let mut sent = 0;
    for round in 0..60 {
        let mut events = Vec::new();
        for (id, flag) in &ids {
            if detected.contains_key(id) {
                continue;
            }
            for u in 0..400 {
                let unit = format!("{flag}-u{}", sent + u);
                let variant = served(&rules, flag, &unit);
                visit(flag, &unit, variant, &mut rng, |v| if v == "on" { 0.13 } else { 0.10 }, &mut events);
            }
        }
        sent += 400;
        if events.is_empty() {
            break;
        }
        send(&app, &key, &format!("bad-{round}"), &events).await;
        for r in settle(&app).await {
            let id = r["id"].as_i64().unwrap();
            if r["state"] == "rolled_back" && !detected.contains_key(&id) {
                let last = r["history"].as_array().unwrap().last().unwrap().clone();
                assert_eq!(last["verdict"], "regression", "{r}");
                let units = last["units"]["canary"].as_i64().unwrap().min(last["units"]["control"].as_i64().unwrap());
                detected.insert(id, units);
                assert!(r["reason"].as_str().unwrap().contains("regressed"), "{r}");
            }
        }
    }
    let units: Vec<i64> = detected.values().copied().collect();
    eprintln!(
        "rollback of a 30 % worse error rate (10 % → 13 %): {} of {RUNS} rolled back; units per arm at the rollback: \
         median {}, min {}, max {}",
        units.len(),
        median(units.clone()),
        units.iter().min().unwrap(),
        units.iter().max().unwrap()
    );
    assert_eq!(units.len(), RUNS, "every bad canary is rolled back");
    // The rule is back as it was before the plan, and the audit and metrics say so.
    let first = ids.values().next().unwrap();
    let c = app.get(&format!("/api/v1/flags/{first}/environments/production")).await.expect(200);
    assert_eq!(c["rules"][0]["serve"]["split"]["coverage"], 0);
    let metrics = app.http.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("flagyard_rollbacks_total{reason=\"regression\"} 50"), "{metrics}");
    let audit = app.get("/api/v1/audit?limit=1000").await.expect(200);
    let rollbacks =
        audit.as_array().unwrap().iter().filter(|a| a["action"] == "ramp.rollback" && a["entity"] == "ramp");
    assert_eq!(rollbacks.count(), RUNS);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aa_canaries_reach_100_percent_and_keep_the_false_rollback_rate() {
    const RUNS: usize = 200;
    let (app, key) = app().await;
    let steps = json!([{"coverage": 2000, "hold": "1h", "minUnits": 300},
                       {"coverage": 5000, "hold": "1h", "minUnits": 300},
                       {"coverage": 10000, "hold": "0s"}]);
    let mut flags = BTreeMap::new();
    for i in 0..RUNS {
        flags.insert(guarded(&app, &format!("aa{i}"), steps.clone()).await, format!("aa{i}"));
    }
    let mut rng = StdRng::seed_from_u64(4);
    let mut states: Vec<Value> = Vec::new();
    for round in 0..8 {
        let rules = rules(&app, &key).await;
        let done: Vec<i64> =
            states.iter().filter(|r| r["state"] != "running").map(|r| r["id"].as_i64().unwrap()).collect();
        let mut events = Vec::new();
        for (id, flag) in &flags {
            if done.contains(id) {
                continue;
            }
            for u in 0..1_500 {
                let unit = format!("{flag}-r{round}-u{u}");
                let variant = served(&rules, flag, &unit);
                visit(flag, &unit, variant, &mut rng, |_| 0.10, &mut events);
            }
        }
        if events.is_empty() {
            break;
        }
        send(&app, &key, &format!("aa-{round}"), &events).await;
        settle(&app).await;
        // An hour later: every hold is over.
        let at = format!("2030-01-01T{:02}:00:00Z", round + 1);
        app.post("/api/v1/test/clock", json!({"now": at})).await.expect(200);
        states = settle(&app).await;
    }
    let count = |s: &str| states.iter().filter(|r| r["state"] == s).count();
    let (completed, rolled_back, paused) = (count("completed"), count("rolled_back"), count("paused"));
    eprintln!(
        "A/A guarded ramps: {completed} of {RUNS} completed, {rolled_back} rolled back (α = 0.05), {paused} paused"
    );
    for r in states.iter().filter(|r| r["state"] == "paused") {
        eprintln!("  paused: {}", r["reason"]);
    }
    // Wrong rollbacks X ~ at most Binomial(200, 0.05): P(X ≥ 18) < 0.03.
    assert!(rolled_back <= 17, "{rolled_back} of {RUNS} A/A canaries rolled back");
    assert!(completed + rolled_back + paused == RUNS, "{states:?}");
    assert!(completed >= RUNS * 9 / 10, "{completed} of {RUNS} reached 100 %");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sample_ratio_mismatch_pauses_the_plan() {
    let (app, key) = app().await;
    let id = guarded(&app, "srm", json!([{"coverage": 10000, "hold": "1d"}])).await;
    let fair = guarded(&app, "fair", json!([{"coverage": 10000, "hold": "1d"}])).await;
    let rules = rules(&app, &key).await;
    let mut rng = StdRng::seed_from_u64(55);
    let mut events = Vec::new();
    for u in 0..8_000 {
        let unit = format!("srm-u{u}");
        let variant = Some(if rng.random_bool(0.55) { "off" } else { "on" }.to_owned());
        visit("srm", &unit, variant, &mut rng, |_| 0.1, &mut events);
        let unit = format!("fair-u{u}");
        let variant = served(&rules, "fair", &unit);
        visit("fair", &unit, variant, &mut rng, |_| 0.1, &mut events);
    }
    send(&app, &key, "srm", &events).await;
    settle(&app).await;
    let r = app.get(&format!("/api/v1/ramps/{id}")).await.expect(200);
    assert_eq!(r["state"], "paused", "{r}");
    assert!(r["reason"].as_str().unwrap().contains("sample ratio mismatch"), "{r}");
    let f = app.get(&format!("/api/v1/ramps/{fair}")).await.expect(200);
    assert_eq!(f["state"], "running", "{f}");
    assert_eq!(f["guard"]["srm"]["warning"], false, "{f}");
    app.stop().await;
}
