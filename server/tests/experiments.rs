//! Experiment definitions end to end, on SQLite and on Postgres: metrics,
//! experiments bound to a split rule, their lifecycle, and the guards they
//! put on flag configurations and deletions.

mod support;

use serde_json::{Value, json};
use support::app::TestApp;

const CONFIG: &str = "/api/v1/flags/checkout/environments/production";

fn split(on: u32, coverage: u32) -> Value {
    json!({"enabled": true, "offVariant": "off", "defaultVariant": "off", "rules": [
        {"id": "fixed", "conditions": [{"attribute": "country", "op": "eq", "values": ["NZ"]}], "serve": {"variant": "on"}},
        {"id": "exp", "serve": {"split": {"coverage": coverage,
            "variants": [{"variant": "on", "weight": on}, {"variant": "off", "weight": 10000 - on}]}}}
    ]})
}

fn experiment() -> Value {
    json!({"key": "checkout-test", "flag": "checkout", "environment": "production", "ruleId": "exp",
           "controlVariant": "off", "primaryMetric": "purchase", "secondaryMetrics": ["revenue"],
           "guardrailMetrics": ["latency"], "hypothesis": "The new checkout converts better"})
}

/// A flag `checkout` with a split rule `exp` in production, and three metrics.
async fn setup(app: &TestApp) {
    app.post("/api/v1/flags", json!({"key": "checkout", "type": "boolean"})).await.expect(201);
    app.put(CONFIG, split(5000, 2000)).await.expect(200);
    for (key, kind, direction, guardrail) in [
        ("purchase", "conversion", "increase", false),
        ("revenue", "sum", "increase", false),
        ("latency", "mean", "decrease", true),
    ] {
        let m = app
            .post(
                "/api/v1/metrics",
                json!({"key": key, "event": format!("{key}-event"), "kind": kind, "goodDirection": direction,
                       "guardrail": guardrail}),
            )
            .await
            .expect(201);
        assert_eq!((m["kind"].as_str(), m["revision"].as_i64()), (Some(kind), Some(1)));
    }
}

fn with(mut body: Value, field: &str, value: Value) -> Value {
    body[field] = value;
    body
}

api_test!(metrics_are_created_validated_updated_and_deleted, |app| async move {
    setup(app).await;
    assert_eq!(app.get("/api/v1/metrics").await.expect(200).as_array().unwrap().len(), 3);
    let bad = app.post("/api/v1/metrics", json!({"key": "m", "event": "e", "kind": "median"})).await.expect(422);
    assert_eq!(bad["errors"][0]["path"], "kind");
    let bad = app.post("/api/v1/metrics", json!({"key": "m", "event": "e", "kind": "count", "goodDirection": "up"}));
    assert_eq!(bad.await.expect(422)["errors"][0]["path"], "goodDirection");
    let bad = app.post("/api/v1/metrics", json!({"key": "bad key", "event": "e", "kind": "count"})).await;
    assert_eq!(bad.expect(422)["errors"][0]["path"], "key");
    app.post("/api/v1/metrics", json!({"key": "purchase", "event": "e", "kind": "count"})).await.expect(409);
    let updated = app
        .put("/api/v1/metrics/revenue", json!({"event": "order", "kind": "mean", "name": "Revenue", "baseRevision": 1}))
        .await
        .expect(200);
    assert_eq!((updated["event"].as_str(), updated["revision"].as_i64()), (Some("order"), Some(2)));
    app.put("/api/v1/metrics/revenue", json!({"event": "o", "kind": "mean", "baseRevision": 1})).await.expect(409);
    app.delete("/api/v1/metrics/revenue").await.expect(204);
    app.get("/api/v1/metrics/revenue").await.expect(404);
});

api_test!(experiments_validate_their_binding, |app| async move {
    setup(app).await;
    let cases = [
        (with(experiment(), "flag", json!("nope")), "flag"),
        (with(experiment(), "environment", json!("nope")), "environment"),
        (with(experiment(), "ruleId", json!("missing")), "ruleId"),
        (with(experiment(), "ruleId", json!("fixed")), "ruleId"),
        (with(experiment(), "controlVariant", json!("blue")), "controlVariant"),
        (with(experiment(), "primaryMetric", json!("nope")), "primaryMetric"),
        (with(experiment(), "guardrailMetrics", json!(["latency", "nope"])), "guardrailMetrics[1]"),
        (with(experiment(), "alpha", json!(0.5)), "alpha"),
        (with(experiment(), "alpha", json!(0)), "alpha"),
        (with(experiment(), "analysis", json!("magic")), "analysis"),
        (with(experiment(), "key", json!("-x")), "key"),
    ];
    for (body, field) in cases {
        let bad = app.post("/api/v1/experiments", body).await.expect(422);
        assert_eq!(bad["errors"][0]["path"], field, "{bad}");
    }
    let x = app.post("/api/v1/experiments", experiment()).await.expect(201);
    assert_eq!(
        (x["state"].as_str(), x["alpha"].as_f64(), x["analysis"].as_str(), x["revision"].as_i64()),
        (Some("draft"), Some(0.05), Some("frequentist"), Some(1))
    );
    assert_eq!(
        (x["secondaryMetrics"].clone(), x["guardrailMetrics"].clone()),
        (json!(["revenue"]), json!(["latency"]))
    );
    app.post("/api/v1/experiments", experiment()).await.expect(409);
    // A draft can change anything.
    let changed = app
        .put("/api/v1/experiments/checkout-test", with(experiment(), "controlVariant", json!("on")))
        .await
        .expect(200);
    assert_eq!((changed["controlVariant"].as_str(), changed["revision"].as_i64()), (Some("on"), Some(2)));
    assert_eq!(app.get("/api/v1/experiments").await.expect(200).as_array().unwrap().len(), 1);
});

api_test!(experiments_start_stop_and_guard_their_split, |app| async move {
    setup(app).await;
    app.post("/api/v1/experiments", experiment()).await.expect(201);
    let path = "/api/v1/experiments/checkout-test";
    app.post(&format!("{path}/stop"), json!({})).await.expect(409);
    let started = app.post(&format!("{path}/start"), json!({})).await.expect(200);
    assert_eq!(started["state"], "running");
    assert!(started["startedAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(started["split"]["coverage"], 2000);
    assert_eq!(started["split"]["variants"][0], json!({"variant": "on", "weight": 5000}));
    app.post(&format!("{path}/start"), json!({})).await.expect(409);
    // Frozen while running: only the name and hypothesis may change.
    let frozen = app.put(path, with(experiment(), "alpha", json!(0.01))).await.expect(409);
    assert!(frozen["detail"].as_str().unwrap().contains("running"), "{frozen}");
    app.put(path, with(experiment(), "name", json!("Checkout v2"))).await.expect(200);
    app.delete(path).await.expect(409);
    // The allocated split's weights cannot change; its coverage can.
    let refused = app.put(CONFIG, split(6000, 2000)).await.expect(409);
    assert!(refused["detail"].as_str().unwrap().contains("checkout-test"), "{refused}");
    let removed = json!({"enabled": true, "offVariant": "off", "defaultVariant": "off", "rules": []});
    app.put(CONFIG, removed).await.expect(409);
    app.put(CONFIG, split(5000, 5000)).await.expect(200);
    // The flag and the metrics it uses cannot be deleted.
    let refused = app.delete("/api/v1/flags/checkout").await.expect(409);
    assert!(refused["detail"].as_str().unwrap().contains("checkout-test"), "{refused}");
    app.delete("/api/v1/metrics/purchase").await.expect(409);
    app.delete("/api/v1/metrics/latency").await.expect(409);
    let archived = app.patch("/api/v1/flags/checkout", json!({"archived": true})).await.expect(409);
    assert!(archived["detail"].as_str().unwrap().contains("checkout-test"), "{archived}");
    let stopped = app.post(&format!("{path}/stop"), json!({})).await.expect(200);
    assert_eq!(stopped["state"], "stopped");
    assert!(stopped["stoppedAt"].is_string());
    app.post(&format!("{path}/start"), json!({})).await.expect(409);
    app.post(&format!("{path}/stop"), json!({})).await.expect(409);
    // Stopped: the split is free again, and the experiment can go.
    app.put(CONFIG, split(6000, 5000)).await.expect(200);
    app.delete(path).await.expect(204);
    app.delete("/api/v1/metrics/purchase").await.expect(204);
    app.delete("/api/v1/flags/checkout").await.expect(204);
    let audit = app.get("/api/v1/audit?limit=100").await.expect(200);
    let actions: Vec<&str> = audit.as_array().unwrap().iter().map(|a| a["action"].as_str().unwrap()).collect();
    for action in [
        "metric.create",
        "metric.delete",
        "experiment.create",
        "experiment.update",
        "experiment.start",
        "experiment.stop",
        "experiment.delete",
    ] {
        assert!(actions.contains(&action), "{action} missing from {actions:?}");
    }
});

api_test!(viewers_read_and_editors_write_experiments, |app| async move {
    setup(app).await;
    let viewer = app.token_with("viewer").await;
    let editor = app.token_with("editor").await;
    let post = |token: String| async move {
        app.call(reqwest::Method::POST, "/api/v1/experiments", Some(&token), Some(&experiment())).await
    };
    assert_eq!(post(viewer.clone()).await.status, 403);
    assert_eq!(post(editor).await.status, 201);
    let list = app.call(reqwest::Method::GET, "/api/v1/experiments/checkout-test", Some(&viewer), None).await;
    assert_eq!(list.expect(200)["primaryMetric"], "purchase");
});
