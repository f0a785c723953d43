//! Results over time, on SQLite and on Postgres: the scheduler's hourly
//! snapshot of each running experiment (moved by the test clock), one point
//! per day whose last copy wins, and the last day equal to the results;
//! stopping an experiment takes its final snapshot.

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use support::app::TestApp;

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

async fn setup(app: &TestApp) -> String {
    app.checkout_with_split().await;
    app.post("/api/v1/metrics", json!({"key": "purchase", "event": "buy", "kind": "conversion"})).await.expect(201);
    app.post(
        "/api/v1/metrics",
        json!({"key": "errors", "event": "error", "kind": "conversion", "goodDirection": "decrease"}),
    )
    .await
    .expect(201);
    app.post(
        "/api/v1/experiments",
        json!({"key": "exp-test", "flag": "checkout", "environment": "production", "ruleId": "exp",
               "controlVariant": "off", "primaryMetric": "purchase", "guardrailMetrics": ["errors"]}),
    )
    .await
    .expect(201);
    app.post("/api/v1/experiments/exp-test/start", json!({})).await.expect(200);
    let key = app.post("/api/v1/environments/production/sdk-keys", json!({"name": "svc"})).await.expect(201);
    key["secret"].as_str().unwrap().to_owned()
}

/// Units `from..to` half on each side; `on` converts at `on_rate` of 100, `off` at 10 %.
async fn send(app: &TestApp, key: &str, batch: &str, from: usize, to: usize, on_rate: usize) {
    for (n, start) in (from..to).step_by(200).enumerate() {
        send_chunk(app, key, &format!("{batch}-{n}"), start, to.min(start + 200), on_rate).await;
    }
}

async fn send_chunk(app: &TestApp, key: &str, batch: &str, from: usize, to: usize, on_rate: usize) {
    let t = now();
    let mut events = Vec::new();
    for i in from..to {
        let (variant, converts) = if i % 2 == 0 { ("on", i % 100 < on_rate) } else { ("off", i % 100 < 10) };
        let unit = format!("u{i}");
        events.push(
            json!({"kind": "exposure", "at": t, "flag": "checkout", "variant": variant, "rule": "exp", "unit": unit}),
        );
        if converts {
            events.push(json!({"kind": "track", "at": t + 1, "event": "buy", "unit": unit}));
        }
    }
    let body = json!({"batchId": batch, "sentAt": t, "events": events});
    app.call(Method::POST, "/sdk/v1/events", Some(key), Some(&body)).await.expect(200);
}

async fn set_clock(app: &TestApp, at: &str) {
    app.post("/api/v1/test/clock", json!({"now": at})).await.expect(200);
}

fn decision<'a>(day: &'a Value, metric: &str) -> &'a Value {
    let m = day["metrics"].as_array().unwrap().iter().find(|m| m["metric"] == metric).unwrap();
    &m["variants"][0]["decision"]
}

async fn day_by_day(app: &TestApp) {
    let key = setup(app).await;
    // Nothing yet: the first snapshot is taken at the next hour.
    let h = app.get("/api/v1/experiments/exp-test/history").await.expect(200);
    assert_eq!((h["experiment"].as_str(), h["days"].as_array().map(Vec::len)), (Some("exp-test"), Some(0)), "{h}");

    send(app, &key, "b1", 0, 400, 10).await;
    set_clock(app, "2030-01-01T12:00:00Z").await;
    // A second, stronger batch the same day: copied at the next hour, it
    // replaces the day's first copy.
    send(app, &key, "b2", 400, 2400, 30).await;
    set_clock(app, "2030-01-01T12:30:00Z").await;
    let h = app.get("/api/v1/experiments/exp-test/history").await.expect(200);
    assert_eq!(h["days"][0]["units"], json!([200, 200]), "the same hour: not copied again: {h}");
    set_clock(app, "2030-01-01T13:05:00Z").await;
    send(app, &key, "b3", 2400, 4400, 30).await;
    set_clock(app, "2030-01-02T00:10:00Z").await;

    let h = app.get("/api/v1/experiments/exp-test/history").await.expect(200);
    let days = h["days"].as_array().unwrap();
    assert_eq!(days.len(), 2, "{h}");
    assert_eq!((days[0]["day"].as_str(), days[1]["day"].as_str()), (Some("2030-01-01"), Some("2030-01-02")));
    assert_eq!(days[0]["units"], json!([1200, 1200]), "the day's last copy: {h}");
    assert_eq!(days[1]["units"], json!([2200, 2200]));
    // The last day is the results, decision for decision.
    let r = app.get("/api/v1/experiments/exp-test/results").await.expect(200);
    for m in r["metrics"].as_array().unwrap() {
        let key = m["metric"].as_str().unwrap();
        assert_eq!(decision(&days[1], key), &m["variants"][1]["decision"], "{key}");
    }
    assert_eq!(decision(&days[1], "purchase")["verdict"], "better");
    // Day one had fewer units: its interval is wider.
    let width = |d: &Value| d["ci"]["upper"].as_f64().unwrap() - d["ci"]["lower"].as_f64().unwrap();
    assert!(width(decision(&days[0], "purchase")) > width(decision(&days[1], "purchase")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_are_daily_and_the_last_is_the_results_sqlite() {
    let db = support::db::SqliteTestDb::new();
    let app =
        TestApp::start_with(db.url.clone(), Box::new(db), &[("FLAGYARD_TEST_CLOCK", "2030-01-01T00:00:00Z")]).await;
    day_by_day(&app).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_are_daily_and_the_last_is_the_results_postgres() {
    let Some(db) = support::db::PgTestDb::create("result_history::daily").await else { return };
    let app =
        TestApp::start_with(db.url.clone(), Box::new(db), &[("FLAGYARD_TEST_CLOCK", "2030-01-01T00:00:00Z")]).await;
    day_by_day(&app).await;
    app.stop().await;
}

api_test!(stopping_takes_the_final_snapshot, |app| async move {
    let key = setup(app).await;
    send(app, &key, "b1", 0, 1000, 30).await;
    app.post("/api/v1/experiments/exp-test/stop", json!({})).await.expect(200);
    let h = app.get("/api/v1/experiments/exp-test/history").await.expect(200);
    let days = h["days"].as_array().unwrap();
    assert_eq!(days.len(), 1, "{h}");
    assert_eq!(days[0]["units"], json!([500, 500]));
    let r = app.get("/api/v1/experiments/exp-test/results").await.expect(200);
    assert_eq!(decision(&days[0], "purchase"), &r["metrics"][0]["variants"][1]["decision"]);
    // A deleted experiment takes its snapshots along (a new one with the
    // same key starts without history).
    app.delete("/api/v1/experiments/exp-test").await.expect(204);
    app.post(
        "/api/v1/experiments",
        json!({"key": "exp-test", "flag": "checkout", "environment": "production", "ruleId": "exp",
               "controlVariant": "off", "primaryMetric": "purchase"}),
    )
    .await
    .expect(201);
    let h = app.get("/api/v1/experiments/exp-test/history").await.expect(200);
    assert_eq!(h["days"], json!([]));
});
