//! Timed ramps end to end, on SQLite and on Postgres, under the test clock:
//! a whole ramp with 10,000 units checked at every step (none ever leaves
//! the canary), pause on a manual edit, resume, skip, abort, and the
//! checks on a plan.

mod support;

use std::collections::BTreeSet;

use flagyard_eval::{Context, Ruleset};
use serde_json::{Value, json};
use support::app::TestApp;

/// The test clock's start: 2030-01-01T00:00:00Z.
const T0: &str = "2030-01-01T00:00:00Z";

async fn clock_app(url: String, guard: Box<dyn std::any::Any + Send>) -> TestApp {
    TestApp::start_with(url, guard, &[("FLAGYARD_TEST_CLOCK", T0)]).await
}

async fn set_clock(app: &TestApp, hours: i64, minutes: i64) {
    let now = format!("2030-01-01T{hours:02}:{minutes:02}:00Z");
    app.post("/api/v1/test/clock", json!({"now": now})).await.expect(200);
}

/// A boolean flag `key` whose rule `canary` splits `on` (first) / `off`.
async fn flag_with_split(app: &TestApp, key: &str, on: u32, coverage: u32) {
    app.post("/api/v1/flags", json!({"key": key, "type": "boolean"})).await.expect(201);
    app.put(
        &format!("/api/v1/flags/{key}/environments/production"),
        json!({"enabled": true, "offVariant": "off", "defaultVariant": "off", "rules": [
            {"id": "canary", "serve": {"split": {"coverage": coverage,
                "variants": [{"variant": "on", "weight": on}, {"variant": "off", "weight": 10000 - on}]}}}
        ]}),
    )
    .await
    .expect(200);
}

async fn sdk_key(app: &TestApp) -> String {
    let key = app.post("/api/v1/environments/production/sdk-keys", json!({"name": "svc"})).await.expect(201);
    key["secret"].as_str().unwrap().to_owned()
}

/// The units among `user-0` … `user-9999` that get `on`, as an SDK holding the rules now.
async fn canary(app: &TestApp, key: &str, flag: &str) -> BTreeSet<usize> {
    let res = app.http.get(format!("{}/sdk/v1/snapshot", app.base)).bearer_auth(key).send().await.unwrap();
    let rules = Ruleset::from_json(&res.text().await.unwrap()).unwrap();
    (0..10_000).filter(|i| rules.evaluate(flag, &Context::new(format!("user-{i}"))).variant() == Some("on")).collect()
}

async fn ramp(app: &TestApp, id: i64) -> Value {
    app.get(&format!("/api/v1/ramps/{id}")).await.expect(200)
}

async fn rule(app: &TestApp, flag: &str) -> Value {
    let c = app.get(&format!("/api/v1/flags/{flag}/environments/production")).await.expect(200);
    c["rules"][0]["serve"]["split"].clone()
}

async fn full_ramp(app: &TestApp) {
    flag_with_split(app, "checkout", 0, 10_000).await;
    let key = sdk_key(app).await;
    let weights = [100u32, 500, 2_500, 5_000, 10_000];
    let steps: Vec<Value> = weights.iter().map(|w| json!({"weight": w, "hold": "1h"})).collect();
    let r = app
        .post(
            "/api/v1/ramps",
            json!({"flag": "checkout", "environment": "production", "ruleId": "canary",
                   "canaryVariant": "on", "controlVariant": "off", "steps": steps}),
        )
        .await
        .expect(201);
    let id = r["id"].as_i64().unwrap();
    assert_eq!((r["state"].clone(), r["step"].clone()), (json!("running"), json!(0)));
    assert_eq!(r["nextAt"], "2030-01-01T01:00:00.000Z");
    // The first step is written at once, by the plan.
    let history = app.get("/api/v1/flags/checkout/environments/production/history").await.expect(200);
    assert_eq!(history[0]["updatedBy"], format!("ramp:{id}"));
    let mut before = canary(app, &key, "checkout").await;
    assert!((60..=140).contains(&before.len()), "1 % of 10,000: {}", before.len());
    for (step, w) in weights.iter().enumerate().skip(1) {
        // Nothing moves before the hold is over.
        set_clock(app, step as i64 - 1, 59).await;
        assert_eq!(ramp(app, id).await["step"], step - 1);
        set_clock(app, step as i64, 0).await;
        let r = ramp(app, id).await;
        assert_eq!((r["state"].clone(), r["step"].clone()), (json!("running"), json!(step)), "{r}");
        assert_eq!(rule(app, "checkout").await["variants"][0]["weight"], *w);
        let now = canary(app, &key, "checkout").await;
        assert!(before.is_subset(&now), "step {step}: {} units left the canary", before.difference(&now).count());
        let share = now.len() as f64 / 10_000.0;
        assert!((share - f64::from(*w) / 10_000.0).abs() < 0.03, "step {step}: {share}");
        before = now;
    }
    assert_eq!(before.len(), 10_000);
    // The last step's hold over: the plan is complete.
    set_clock(app, 5, 0).await;
    let r = ramp(app, id).await;
    assert_eq!(r["state"], "completed", "{r}");
    assert!(r.get("nextAt").is_none());
    // Each step is an ordinary configuration write by the plan, in the audit log.
    let audit = app.get("/api/v1/audit?limit=1000").await.expect(200);
    let steps: Vec<_> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["actor"] == format!("ramp:{id}") && a["action"] == "ramp.step")
        .collect();
    assert_eq!(steps.len(), 5);
    assert!(audit.as_array().unwrap().iter().any(|a| a["action"] == "ramp.complete"));
    let metrics = app.http.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("flagyard_ramp_steps_total"), "{metrics}");
    // Listed, by flag and by state.
    let listed = app.get("/api/v1/ramps?flag=checkout&state=completed").await.expect(200);
    assert_eq!(listed.as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_ramp_never_moves_a_unit_out_of_the_canary_sqlite() {
    let db = support::db::SqliteTestDb::new();
    let app = clock_app(db.url.clone(), Box::new(db)).await;
    full_ramp(&app).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_ramp_never_moves_a_unit_out_of_the_canary_postgres() {
    let Some(db) = support::db::PgTestDb::create("ramps::full").await else { return };
    let app = clock_app(db.url.clone(), Box::new(db)).await;
    full_ramp(&app).await;
    app.stop().await;
}

async fn people_and_plans(app: &TestApp) {
    flag_with_split(app, "search", 5_000, 0).await;
    let key = sdk_key(app).await;
    let steps = json!([{"coverage": 100, "hold": "1h"}, {"coverage": 1000, "hold": "1h"},
                       {"coverage": 5000, "hold": "1h"}, {"coverage": 10000, "hold": "0s"}]);
    let r = app
        .post(
            "/api/v1/ramps",
            json!({"flag": "search", "environment": "production", "ruleId": "canary",
                   "canaryVariant": "on", "controlVariant": "off", "steps": steps}),
        )
        .await
        .expect(201);
    let id = r["id"].as_i64().unwrap();
    assert_eq!(rule(app, "search").await["coverage"], 100);
    // One plan per flag and environment at a time.
    let again = app
        .post(
            "/api/v1/ramps",
            json!({"flag": "search", "environment": "production", "ruleId": "canary",
                   "canaryVariant": "on", "controlVariant": "off", "steps": steps}),
        )
        .await
        .expect(409);
    assert!(again["detail"].as_str().unwrap().contains(&format!("ramp {id}")), "{again}");

    // A person edits the rule: the plan pauses and says why.
    let mut edited = app.get("/api/v1/flags/search/environments/production").await.expect(200);
    edited["rules"][0]["serve"]["split"]["coverage"] = json!(300);
    app.patch("/api/v1/flags/search/environments/production", json!({"rules": edited["rules"]})).await.expect(200);
    let r = ramp(app, id).await;
    assert_eq!(r["state"], "paused", "{r}");
    assert!(r["reason"].as_str().unwrap().contains("edited by"), "{r}");
    // Paused: time passes, nothing moves.
    set_clock(app, 3, 0).await;
    assert_eq!(rule(app, "search").await["coverage"], 300);
    // Resumed from the edited rule; the step holds again from now.
    let r = app.post(&format!("/api/v1/ramps/{id}/resume"), json!({})).await.expect(200);
    assert_eq!((r["state"].clone(), r["nextAt"].clone()), (json!("running"), json!("2030-01-01T04:00:00.000Z")));
    set_clock(app, 4, 0).await;
    assert_eq!(rule(app, "search").await["coverage"], 1000);
    let at_step_1 = canary(app, &key, "search").await;
    // Pause and resume by hand (the body is optional).
    let paused = app.call(reqwest::Method::POST, &format!("/api/v1/ramps/{id}/pause"), Some(&app.token), None).await;
    assert_eq!(paused.expect(200)["reason"], "paused by token:bootstrap");
    app.post(&format!("/api/v1/ramps/{id}/pause"), json!({})).await.expect(409);
    app.post(&format!("/api/v1/ramps/{id}/resume"), json!({})).await.expect(200);
    // Skip ahead; never back.
    let back = app.post(&format!("/api/v1/ramps/{id}/skip"), json!({"step": 0})).await.expect(422);
    assert_eq!(back["errors"][0]["path"], "step");
    let r = app.post(&format!("/api/v1/ramps/{id}/skip"), json!({"step": 2})).await.expect(200);
    assert_eq!(r["step"], 2);
    assert_eq!(rule(app, "search").await["coverage"], 5000);
    assert!(at_step_1.is_subset(&canary(app, &key, "search").await));
    // Abort to 0 %, then the plan is over.
    let r = app.post(&format!("/api/v1/ramps/{id}/abort"), json!({"to": "zero"})).await.expect(200);
    assert_eq!(r["state"], "aborted");
    assert_eq!(rule(app, "search").await["coverage"], 0);
    app.post(&format!("/api/v1/ramps/{id}/resume"), json!({})).await.expect(409);
    // A new plan may start; aborting it "before" restores the rule as it was.
    let r = app
        .post(
            "/api/v1/ramps",
            json!({"flag": "search", "environment": "production", "ruleId": "canary",
                   "canaryVariant": "on", "controlVariant": "off", "steps": [{"coverage": 2000, "hold": "1h"}]}),
        )
        .await
        .expect(201);
    let second = r["id"].as_i64().unwrap();
    assert_eq!(rule(app, "search").await["coverage"], 2000);
    app.post(&format!("/api/v1/ramps/{second}/abort"), json!({})).await.expect(200);
    assert_eq!(rule(app, "search").await["coverage"], 0);
    let audit = app.get("/api/v1/audit?limit=1000").await.expect(200);
    let actions: Vec<_> =
        audit.as_array().unwrap().iter().filter(|a| a["entity"] == "ramp").map(|a| a["action"].clone()).collect();
    for a in ["ramp.start", "ramp.pause", "ramp.resume", "ramp.advance", "ramp.abort"] {
        assert!(actions.contains(&json!(a)), "{a} in {actions:?}");
    }
    let metrics = app.http.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("flagyard_rollbacks_total{reason=\"aborted\"}"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manual_edit_pauses_and_people_resume_skip_and_abort_sqlite() {
    let db = support::db::SqliteTestDb::new();
    let app = clock_app(db.url.clone(), Box::new(db)).await;
    people_and_plans(&app).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manual_edit_pauses_and_people_resume_skip_and_abort_postgres() {
    let Some(db) = support::db::PgTestDb::create("ramps::people").await else { return };
    let app = clock_app(db.url.clone(), Box::new(db)).await;
    people_and_plans(&app).await;
    app.stop().await;
}

api_test!(a_plan_is_checked_before_it_starts, |app| async move {
    flag_with_split(app, "pay", 5_000, 10_000).await;
    let post = |body: Value| async move { app.post("/api/v1/ramps", body).await };
    let base = json!({"flag": "pay", "environment": "production", "ruleId": "canary",
                      "canaryVariant": "on", "controlVariant": "off", "steps": [{"coverage": 100, "hold": "1h"}]});
    let with = |field: &str, value: Value| {
        let mut b = base.clone();
        b[field] = value;
        b
    };
    let cases = [
        (with("ruleId", json!("nope")), "ruleId"),
        (with("canaryVariant", json!("maybe")), "canaryVariant"),
        (with("controlVariant", json!("on")), "controlVariant"),
        (with("steps", json!([])), "steps"),
        (with("steps", json!([{"coverage": 500, "hold": "1h"}, {"coverage": 100, "hold": "1h"}])), "steps[1].coverage"),
        (with("steps", json!([{"coverage": 500, "weight": 100, "hold": "1h"}])), "steps[0].coverage"),
        (with("steps", json!([{"coverage": 20000, "hold": "1h"}])), "steps[0].coverage"),
        (with("steps", json!([{"coverage": 100, "hold": "soon"}])), "steps[0].hold"),
        (with("steps", json!([{"coverage": 100, "hold": "1h", "minUnits": 500}])), "steps[0].minUnits"),
        (with("guardrails", json!([{"metric": "nope"}])), "guardrails[0].metric"),
        (with("alpha", json!(0.9)), "alpha"),
    ];
    for (body, path) in cases {
        let r = post(body.clone()).await.expect(422);
        assert_eq!(r["errors"][0]["path"], path, "{body} → {r}");
    }
    let mut weights = with("steps", json!([{"weight": 100, "hold": "1h"}]));
    weights["canaryVariant"] = json!("off");
    weights["controlVariant"] = json!("on");
    let r = post(weights).await.expect(422);
    assert!(r["errors"][0]["message"].as_str().unwrap().contains("listed first"), "{r}");
    app.get("/api/v1/ramps/999").await.expect(404);
    assert_eq!(app.get("/api/v1/ramps").await.expect(200), json!([]));
});

api_test!(a_release_that_edits_the_rule_pauses_the_ramp, |app| async move {
    flag_with_split(app, "feed", 5_000, 0).await;
    app.post("/api/v1/flags", json!({"key": "other", "type": "boolean"})).await.expect(201);
    let r = app
        .post(
            "/api/v1/ramps",
            json!({"flag": "feed", "environment": "production", "ruleId": "canary",
                   "canaryVariant": "on", "controlVariant": "off", "steps": [{"coverage": 100, "hold": "1h"}]}),
        )
        .await
        .expect(201);
    let id = r["id"].as_i64().unwrap();
    // A release that leaves the rule alone does not pause it.
    let untouched = json!({"name": "other", "changes": [{"flag": "other", "environment": "production", "enabled": true},
                                                        {"flag": "feed", "environment": "production", "defaultVariant": "on"}]});
    let rel = app.post("/api/v1/releases", untouched).await.expect(201)["id"].as_i64().unwrap();
    app.post(&format!("/api/v1/releases/{rel}/apply"), json!(null)).await.expect(200);
    assert_eq!(ramp(app, id).await["state"], "running");
    // One that rewrites the rule does.
    let mut rules = app.get("/api/v1/flags/feed/environments/production").await.expect(200)["rules"].clone();
    rules[0]["serve"]["split"]["coverage"] = json!(2000);
    let edit = json!({"name": "edit", "changes": [{"flag": "feed", "environment": "production", "rules": rules}]});
    let rel = app.post("/api/v1/releases", edit).await.expect(201)["id"].as_i64().unwrap();
    app.post(&format!("/api/v1/releases/{rel}/apply"), json!(null)).await.expect(200);
    let r = ramp(app, id).await;
    assert_eq!(r["state"], "paused", "{r}");
    assert!(r["reason"].as_str().unwrap().contains("edited by token:bootstrap"), "{r}");
});

/// Sends exposures of `on` and `off` units numbered from `from`, and waits
/// until the ramp's experiment counts them.
async fn expose(app: &TestApp, key: &str, from: usize, on: usize, off: usize, expected_total: i64) {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let mut events = Vec::new();
    for i in 0..on + off {
        // Spread evenly, so every batch has the shares of the whole.
        let variant = if (i + 1) * on / (on + off) > i * on / (on + off) { "on" } else { "off" };
        events.push(json!({"kind": "exposure", "at": now, "flag": "w", "variant": variant,
                           "rule": "canary", "unit": format!("u{}", from + i)}));
    }
    for (i, chunk) in events.chunks(500).enumerate() {
        let body = json!({"batchId": format!("e{from}-{i}"), "events": chunk});
        app.call(reqwest::Method::POST, "/sdk/v1/events", Some(key), Some(&body)).await.expect(200);
    }
    for _ in 0..200 {
        let r = app.get("/api/v1/experiments/ramp-1/results").await.expect(200);
        let total: i64 = r["variants"].as_array().unwrap().iter().map(|v| v["units"].as_i64().unwrap()).sum();
        if total == expected_total {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the experiment never counted {expected_total} units");
}

/// A ramp that raises the canary's weight: the experiment's SRM check
/// looks at the units of the current step against its weights (all units
/// together, 10 % then 50 %, match no single allocation).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_weight_ramps_experiment_checks_the_sample_ratio_of_its_step() {
    let db = support::db::SqliteTestDb::new();
    let app = clock_app(db.url.clone(), Box::new(db)).await;
    flag_with_split(&app, "w", 1_000, 10_000).await;
    app.post(
        "/api/v1/metrics",
        json!({"key": "errors", "event": "error", "kind": "conversion", "goodDirection": "decrease"}),
    )
    .await
    .expect(201);
    let key = sdk_key(&app).await;
    app.post(
        "/api/v1/ramps",
        json!({"flag": "w", "environment": "production", "ruleId": "canary", "canaryVariant": "on",
               "controlVariant": "off", "guardrails": [{"metric": "errors"}],
               "steps": [{"weight": 1000, "hold": "1h"}, {"weight": 5000, "hold": "1h"}, {"weight": 10000, "hold": "0s"}]}),
    )
    .await
    .expect(201);
    // Step 1 at 10 %: 100 / 900.
    expose(&app, &key, 0, 100, 900, 1_000).await;
    let r = app.get("/api/v1/experiments/ramp-1/results").await.expect(200);
    assert_eq!((r["srmScope"]["scope"].clone(), r["srmScope"]["step"].clone()), (json!("rampStep"), json!(0)), "{r}");
    assert_eq!(r["srm"]["warning"], false, "{r}");
    // Step 2 at 50 %: 500 / 500. Over all units (600 / 1,400 against the
    // start's 10 / 90) that would be a mismatch; the step's check is clean.
    set_clock(&app, 1, 0).await;
    let st = ramp(&app, 1).await;
    assert_eq!(st["step"], 1, "{st}");
    expose(&app, &key, 1_000, 500, 500, 2_000).await;
    let r = app.get("/api/v1/experiments/ramp-1/results").await.expect(200);
    assert_eq!(r["srmScope"]["step"], 1, "{r}");
    assert_eq!(r["srmScope"]["weights"], json!([5000, 5000]), "{r}");
    assert_eq!(r["srmScope"]["units"], json!([500, 500]), "{r}");
    assert_eq!(r["srm"]["warning"], false, "{r}");
    // The page says what the check compares.
    let admin = support::ui_client::Browser::admin(&app).await;
    let html = admin.get("/experiments/ramp-1").await.expect(200).to_owned();
    assert!(html.contains("units first exposed in step 2 of ramp 1"), "{html}");
    // A real mismatch within the step still warns.
    expose(&app, &key, 2_000, 300, 0, 2_300).await;
    let r = app.get("/api/v1/experiments/ramp-1/results").await.expect(200);
    assert_eq!((r["srmScope"]["units"].clone(), r["srm"]["warning"].clone()), (json!([800, 500]), json!(true)), "{r}");
    app.stop().await;
}
