//! Setting up an experiment from the UI alone (issue 15, item 3), on SQLite
//! and on Postgres: the Metrics pages (create, edit, delete, refused in
//! words while an experiment uses the metric) and the new-experiment form
//! that picks flag → environment → split rule → control variant → metrics
//! from lists, with a sample-size estimate while it is filled in.

mod support;

use reqwest::header::COOKIE;
use serde_json::json;
use support::app::TestApp;
use support::ui_client::{Browser, cookie_value};

/// `checkout` in production: rule 1 `beta` serves a variant, rule 2 splits
/// without a name, rule 3 `exp` splits 20/80.
async fn checkout(app: &TestApp) {
    app.post("/api/v1/flags", json!({"key": "checkout", "type": "boolean"})).await.expect(201);
    app.post("/api/v1/flags", json!({"key": "aaa-plain", "type": "boolean"})).await.expect(201);
    app.put(
        "/api/v1/flags/checkout/environments/production",
        json!({"enabled": true, "offVariant": "off", "defaultVariant": "off", "rules": [
            {"id": "beta", "conditions": [{"attribute": "plan", "op": "eq", "values": ["beta"]}], "serve": {"variant": "on"}},
            {"serve": {"split": {"variants": [{"variant": "on", "weight": 5000}, {"variant": "off", "weight": 5000}]}}},
            {"id": "exp", "serve": {"split": {"variants": [{"variant": "on", "weight": 2000}, {"variant": "off", "weight": 8000}]}}}
        ]}),
    )
    .await
    .expect(200);
}

api_test!(metrics_are_created_edited_and_deleted_in_the_ui, |app| async move {
    let admin = Browser::admin(app).await;
    let list = admin.get("/experiment-metrics").await.expect(200);
    assert!(list.contains("No metrics yet") && list.contains(r#"href="/experiment-metrics/new""#), "{list}");
    assert!(admin.get("/experiment-metrics/new").await.expect(200).contains("New metric"));

    // Refused as typed: the reasons next to the fields, the input kept.
    let bad = admin
        .post("/experiment-metrics", &[("key", "purchase"), ("event", "not an event"), ("kind", "conversion")])
        .await;
    let body = bad.expect(422);
    assert!(body.contains("The metric was not saved") && body.contains(r#"value="not an event""#), "{body}");
    assert!(!body.contains('`'), "no code quotes in messages: {body}");

    let created = admin
        .post(
            "/experiment-metrics",
            &[
                ("key", "purchase"),
                ("name", "Purchases"),
                ("event", "buy"),
                ("kind", "conversion"),
                ("goodDirection", "increase"),
            ],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    assert_eq!(created.location(), "/experiment-metrics/purchase");
    let api = app.get("/api/v1/metrics/purchase").await.expect(200);
    assert_eq!(
        (api["event"].as_str(), api["kind"].as_str(), api["guardrail"].as_bool()),
        (Some("buy"), Some("conversion"), Some(false))
    );
    assert_eq!(api["name"], "Purchases");

    // Edit: kind, direction and the guardrail box.
    let page = admin.get("/experiment-metrics/purchase").await.expect(200);
    assert!(
        page.contains(r#"name="baseRevision" value="1""#) && page.contains("No experiment uses this metric"),
        "{page}"
    );
    let saved = admin
        .post(
            "/experiment-metrics/purchase",
            &[
                ("baseRevision", "1"),
                ("event", "buy"),
                ("kind", "count"),
                ("goodDirection", "decrease"),
                ("guardrail", "on"),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let api = app.get("/api/v1/metrics/purchase").await.expect(200);
    assert_eq!(
        (api["kind"].as_str(), api["goodDirection"].as_str(), api["guardrail"].as_bool()),
        (Some("count"), Some("decrease"), Some(true))
    );
    assert_eq!(api["revision"], 2);
    // The same edit again is based on a revision that is gone.
    let stale =
        admin.post("/experiment-metrics/purchase", &[("baseRevision", "1"), ("event", "buy"), ("kind", "count")]).await;
    assert_eq!(stale.status, 409, "{}", stale.body);
    let list = admin.get("/experiment-metrics").await.expect(200);
    assert!(list.contains(r#"href="/experiment-metrics/purchase""#) && list.contains("decreases"), "{list}");

    // Used by an experiment: delete is refused in words.
    checkout(app).await;
    app.post(
        "/api/v1/experiments",
        json!({"key": "exp-1", "flag": "checkout", "environment": "production", "ruleId": "exp",
               "controlVariant": "off", "primaryMetric": "purchase"}),
    )
    .await
    .expect(201);
    let page = admin.get("/experiment-metrics/purchase").await.expect(200);
    assert!(
        page.contains("cannot be deleted while an experiment uses it") && page.contains(r#"href="/experiments/exp-1""#)
    );
    let ask = admin.post("/experiment-metrics/purchase/delete", &[]).await.expect(200);
    assert!(ask.contains("Delete metric purchase?") && ask.contains(r#"name="confirm" value="yes""#), "{ask}");
    let refused = admin.post("/experiment-metrics/purchase/delete", &[("confirm", "yes")]).await;
    assert_eq!(refused.status, 303);
    assert_eq!(refused.location(), "/experiment-metrics/purchase");
    // The page it goes back to shows why (the flash cookie, as a browser sends it).
    let flash = cookie_value(&refused.headers, "flagyard_flash").expect("a flash message");
    let back = admin
        .http
        .get(format!("{}/experiment-metrics/purchase", app.base))
        .header(COOKIE, format!("{}; flagyard_flash={flash}", admin.cookie))
        .send()
        .await
        .unwrap();
    let page = Browser::page(back).await.expect(200);
    assert!(page.contains("used by experiments: exp-1") && page.contains("“purchase”"), "the refusal in words: {page}");
    app.get("/api/v1/metrics/purchase").await.expect(200);

    // Unused: deleted once confirmed.
    app.post("/api/v1/metrics", json!({"key": "spare", "event": "x", "kind": "sum"})).await.expect(201);
    let deleted = admin.post("/experiment-metrics/spare/delete", &[("confirm", "yes")]).await;
    assert_eq!((deleted.status.as_u16(), deleted.location()), (303, "/experiment-metrics"));
    app.get("/api/v1/metrics/spare").await.expect(404);

    // A viewer reads but cannot write.
    let viewer = Browser::with_role(app, "vera", "viewer").await;
    assert!(viewer.get("/experiment-metrics").await.expect(200).contains("purchase"));
    viewer.post("/experiment-metrics", &[("key", "v"), ("event", "v"), ("kind", "sum")]).await.expect(403);
    viewer.post("/experiment-metrics/purchase/delete", &[("confirm", "yes")]).await.expect(403);
});

api_test!(an_experiment_is_set_up_from_lists_with_a_sample_size_estimate, |app| async move {
    checkout(app).await;
    app.post("/api/v1/metrics", json!({"key": "purchase", "event": "buy", "kind": "conversion"})).await.expect(201);
    app.post(
        "/api/v1/metrics",
        json!({"key": "latency", "event": "req", "kind": "mean", "goodDirection": "decrease", "guardrail": true}),
    )
    .await
    .expect(201);
    let admin = Browser::admin(app).await;

    // A fresh form: production, the first flag an experiment can run on,
    // its named split, the off variant as control, the guardrail preselected.
    let page = admin.get("/experiments/new").await.expect(200);
    assert!(page.contains(r#"<option value="production" selected>"#), "{page}");
    assert!(page.contains(r#"<option value="checkout" selected>"#), "{page}");
    assert!(page.contains(r#"<option value="exp" selected>Rule 3 “exp”: on 20 %, off 80 %</option>"#), "{page}");
    assert!(page.contains(r#"<option value="beta" disabled>Rule 1 “beta”: serves on</option>"#), "{page}");
    assert!(page.contains("Rule 2: on 50 %, off 50 % splits traffic but has no name"), "{page}");
    assert!(page.contains(r#"<option value="off" selected>off</option>"#), "{page}");
    assert!(page.contains(r#"<option value="purchase" selected>purchase (conversion of “buy”)</option>"#), "{page}");
    assert!(
        page.contains(r#"<option value="latency" selected>latency (mean of “req”, lower is better)</option>"#),
        "{page}"
    );
    assert!(page.contains("Enter the minimum detectable effect"), "{page}");

    // The estimate as the form is filled in: the stats crate's figure, and
    // days for the 20 % arm.
    let fields = [
        ("key", "checkout-test"),
        ("flag", "checkout"),
        ("environment", "production"),
        ("ruleId", "exp"),
        ("controlVariant", "off"),
        ("primaryMetric", "purchase"),
        ("guardrailMetrics", "latency"),
        ("minimumDetectableEffect", "10"),
        ("baseline", "5"),
        ("dailyUnits", "1,000"),
    ];
    let page = admin.post("/experiments/new", &fields).await.expect(200);
    let n = flagyard_stats::sample_size(
        flagyard_stats::Baseline::Conversion { rate: 0.05 },
        0.10,
        0.05,
        flagyard_stats::DEFAULT_POWER,
    )
    .unwrap()
    .units_per_variant;
    let days = (n as f64 / 200.0).ceil() as u64;
    let per_variant = flagyard_web::thousands(n);
    assert!(page.contains(&format!("About {per_variant} units per variant")), "{page}");
    assert!(
        page.contains(&format!("the smallest arm (20 % of the units reaching the rule) fills in about {days} days")),
        "{page}"
    );
    assert!(page.contains(r#"value="checkout-test""#), "what was typed is kept");
    // A continuous primary metric asks for its mean and standard deviation.
    let mut continuous = fields.to_vec();
    continuous.retain(|(k, _)| *k != "primaryMetric");
    continuous.push(("primaryMetric", "latency"));
    let page = admin.post("/experiments/new", &continuous).await.expect(200);
    assert!(page.contains("Standard deviation per unit") && page.contains("Enter the standard deviation"), "{page}");

    // Another flag: its rules, or the reason there are none.
    let mut other = fields.to_vec();
    other.retain(|(k, _)| *k != "flag");
    other.push(("flag", "aaa-plain"));
    let page = admin.post("/experiments/new", &other).await.expect(200);
    assert!(page.contains("This flag has no rules in production"), "{page}");
    assert!(!page.contains(r#"<option value="exp""#), "{page}");
    // Viewers cannot use the form's refresh (it is for creating).
    let viewer = Browser::with_role(app, "vic", "viewer").await;
    viewer.post("/experiments/new", &fields).await.expect(403);

    // Created from the form's choices.
    let created = admin.post("/experiments", &fields).await;
    assert_eq!((created.status.as_u16(), created.location()), (303, "/experiments/checkout-test"), "{}", created.body);
    let x = app.get("/api/v1/experiments/checkout-test").await.expect(200);
    assert_eq!(
        (x["environment"].as_str(), x["ruleId"].as_str(), x["controlVariant"].as_str()),
        (Some("production"), Some("exp"), Some("off"))
    );
    assert_eq!(x["guardrailMetrics"], json!(["latency"]));
    assert_eq!(x["minimumDetectableEffect"], 0.1);

    // Once the flag has run an experiment here, its traffic prefills the
    // daily units: 48 units within the first hour count as 48 an hour.
    app.post("/api/v1/experiments/checkout-test/start", json!({})).await.expect(200);
    let key = app.post("/api/v1/environments/production/sdk-keys", json!({"name": "svc"})).await.expect(201);
    let key = key["secret"].as_str().unwrap().to_owned();
    let at = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let events: Vec<_> = (0..48)
        .map(|i| {
            json!({"kind": "exposure", "at": at, "flag": "checkout", "variant": if i % 5 == 0 { "on" } else { "off" },
                   "rule": "exp", "version": 1, "bucketBy": "key", "unit": format!("u{i}")})
        })
        .collect();
    let body = json!({"batchId": "b1", "sentAt": at, "events": events});
    let sent = app.call(reqwest::Method::POST, "/sdk/v1/events", Some(&key), Some(&body)).await;
    assert!(sent.status.is_success(), "{}", sent.status);
    let started = std::time::Instant::now();
    loop {
        let r = app.get("/api/v1/experiments/checkout-test/results").await.expect(200);
        let units: i64 = r["variants"].as_array().unwrap().iter().map(|v| v["units"].as_i64().unwrap()).sum();
        if units == 48 {
            break;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "ingest never counted the units: {r}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let page = admin.get("/experiments/new").await.expect(200);
    assert!(
        page.contains(r#"name="dailyUnits" class="estimate" inputmode="numeric" placeholder="10000" value="1152""#),
        "{page}"
    );
    assert!(page.contains("From experiment checkout-test: 48 units in an hour"), "{page}");
});
