//! Event ingest and attribution end to end, on SQLite and on Postgres:
//! per-event validation, batch idempotence, first-exposure attribution,
//! exclusion of multi-variant units, metric windows, and the results API
//! (JSON and CSV) computed from the incremental per-variant statistics.

mod support;

use std::time::{SystemTime, UNIX_EPOCH};

use reqwest::Method;
use serde_json::{Value, json};
use support::app::TestApp;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// A flag with a 50/50 split rule `exp`, metrics of every kind, a started
/// experiment `exp-test` on it, and an SDK key for production.
async fn setup(app: &TestApp) -> String {
    app.checkout_with_split().await;
    for (key, event, kind) in [
        ("purchase", "buy", "conversion"),
        ("clicks", "click", "count"),
        ("revenue", "buy", "sum"),
        ("basket", "buy", "mean"),
    ] {
        app.post("/api/v1/metrics", json!({"key": key, "event": event, "kind": kind})).await.expect(201);
    }
    app.post(
        "/api/v1/experiments",
        json!({"key": "exp-test", "flag": "checkout", "environment": "production", "ruleId": "exp",
               "controlVariant": "off", "primaryMetric": "purchase", "secondaryMetrics": ["clicks", "revenue", "basket"],
               "minimumDetectableEffect": 0.1}),
    )
    .await
    .expect(201);
    app.post("/api/v1/experiments/exp-test/start", json!({})).await.expect(200);
    let key = app.post("/api/v1/environments/production/sdk-keys", json!({"name": "svc"})).await.expect(201);
    key["secret"].as_str().unwrap().to_owned()
}

fn exposure(unit: &str, variant: &str, at: i64) -> Value {
    json!({"kind": "exposure", "at": at, "flag": "checkout", "variant": variant, "rule": "exp", "version": 1,
           "bucketBy": "key", "unit": unit})
}

fn track(unit: &str, event: &str, value: Option<f64>, at: i64) -> Value {
    let mut e = json!({"kind": "track", "at": at, "event": event, "unit": unit});
    if let Some(v) = value {
        e["value"] = json!(v);
    }
    e
}

async fn send(app: &TestApp, key: &str, batch_id: &str, events: Vec<Value>) -> support::app::Answer {
    let body = json!({"batchId": batch_id, "sentAt": now(), "events": events});
    app.call(Method::POST, "/sdk/v1/events", Some(key), Some(&body)).await
}

/// Reads an answer's head and its `Content-Length` body off a raw connection; returns the head.
async fn read_head(conn: &mut tokio::net::TcpStream) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = conn.read(&mut buf).await.unwrap();
        assert!(n > 0, "connection closed after {} bytes", got.len());
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got).into_owned();
        let Some(end) = text.find("\r\n\r\n") else { continue };
        let head = text[..end].to_owned();
        let length = head
            .lines()
            .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse::<usize>()))
            .and_then(Result::ok)
            .unwrap_or(0);
        if got.len() >= end + 4 + length {
            return head;
        }
    }
}

async fn results(app: &TestApp) -> Value {
    app.get("/api/v1/experiments/exp-test/results").await.expect(200)
}

fn metric<'a>(r: &'a Value, key: &str) -> &'a Value {
    r["metrics"].as_array().unwrap().iter().find(|m| m["metric"] == key).unwrap()
}

/// (n, Σx, Σx²) of a variant on a metric.
fn sums(r: &Value, key: &str, variant: &str) -> (i64, f64, f64) {
    let v = metric(r, key)["variants"].as_array().unwrap().iter().find(|v| v["variant"] == variant).unwrap().clone();
    (v["n"].as_i64().unwrap(), v["sum"].as_f64().unwrap(), v["sumSq"].as_f64().unwrap())
}

fn units(r: &Value, variant: &str) -> (i64, i64) {
    let v = r["variants"].as_array().unwrap().iter().find(|v| v["variant"] == variant).unwrap();
    (v["units"].as_i64().unwrap(), v["excluded"].as_i64().unwrap())
}

api_test!(events_are_attributed_to_first_exposures, |app| async move {
    let key = setup(app).await;
    let t = now();
    let answer = send(
        app,
        &key,
        "batch-1",
        vec![
            exposure("u1", "on", t),
            exposure("u2", "on", t),
            exposure("u3", "off", t),
            exposure("u4", "off", t),
            // Before its exposure: not counted.
            track("u1", "buy", Some(100.0), t - 1),
            track("u1", "buy", Some(10.0), t + 1),
            track("u1", "buy", Some(30.0), t + 2),
            track("u1", "click", None, t + 1),
            track("u2", "click", None, t + 1),
            track("u2", "click", None, t + 2),
            track("u3", "buy", Some(5.0), t + 1),
            // Without a value: a conversion, not part of revenue or basket.
            track("u4", "buy", None, t + 1),
            // Never exposed: not attributed.
            track("stranger", "buy", Some(1.0), t + 1),
            // Exposure to a variant the split does not have, and to another rule: ignored.
            exposure("u9", "blue", t),
            json!({"kind": "exposure", "at": t, "flag": "checkout", "variant": "on", "rule": "other", "unit": "u8"}),
        ],
    )
    .await
    .expect(200);
    assert_eq!(answer, json!({"accepted": 15, "rejected": [], "duplicate": false}));
    let r = results(app).await;
    assert_eq!(r["control"], "off");
    assert_eq!(r["variants"][0]["variant"], "off", "control first");
    assert_eq!((units(&r, "on"), units(&r, "off")), ((2, 0), (2, 0)));
    assert_eq!(sums(&r, "purchase", "on"), (2, 1.0, 1.0));
    assert_eq!(sums(&r, "purchase", "off"), (2, 2.0, 2.0));
    assert_eq!(sums(&r, "clicks", "on"), (2, 3.0, 5.0));
    assert_eq!(sums(&r, "revenue", "on"), (2, 40.0, 1600.0));
    assert_eq!(sums(&r, "revenue", "off"), (2, 5.0, 25.0));
    // mean: u1's mean value is 20; u4 has no value, so only u3 counts in off.
    assert_eq!(sums(&r, "basket", "on"), (1, 20.0, 400.0));
    assert_eq!(sums(&r, "basket", "off"), (1, 5.0, 25.0));
    // Later batches add to the same units: u1 buys once more (x: 40 → 45).
    send(app, &key, "batch-2", vec![track("u1", "buy", Some(5.0), t + 3)]).await.expect(200);
    let r = results(app).await;
    assert_eq!(sums(&r, "revenue", "on"), (2, 45.0, 2025.0));
    assert_eq!(sums(&r, "basket", "on"), (1, 15.0, 225.0));
    assert_eq!(sums(&r, "purchase", "on"), (2, 1.0, 1.0));
    // Figures are there, with verdicts, power and SRM.
    let on = &metric(&r, "purchase")["variants"][1];
    assert_eq!(on["variant"], "on");
    assert!(on["comparison"]["relative"].is_object(), "{on}");
    assert_eq!(on["verdict"], "inconclusive");
    // Four metrics, one treatment: Holm over four comparisons, and the
    // verdict reads the Holm-adjusted p with an interval at Holm's level.
    assert_eq!((r["correction"]["method"].as_str(), r["correction"]["familySize"].as_u64()), (Some("holm"), Some(4)));
    let d = &on["decision"];
    assert_eq!(d["verdict"], on["verdict"]);
    assert_eq!(d["pValue"], on["holmPValue"], "{on}");
    let level = d["level"].as_f64().unwrap_or_default();
    assert!((0.95 + 1e-9..1.0).contains(&level), "Holm tests at α/4 … α: {d}");
    let (lower, upper) = (d["ci"]["lower"].as_f64().unwrap_or(1.0), d["ci"]["upper"].as_f64().unwrap_or(-1.0));
    assert!(lower <= 0.0 && upper >= 0.0, "inconclusive: the interval holds 0: {d}");
    assert_eq!(r["srm"]["warning"], false);
    // Every control unit converted: no baseline rate to plan with yet, and the answer says so.
    assert_eq!(r["power"]["minimumDetectableEffect"], 0.1);
    assert!(r["power"]["unitsPerVariant"].is_null() && r["power"]["note"].is_string(), "{}", r["power"]);
    assert!(r["computedAt"].is_string());
});

api_test!(a_second_variant_excludes_the_unit_and_takes_back_its_events, |app| async move {
    let key = setup(app).await;
    let t = now();
    send(
        app,
        &key,
        "b1",
        vec![
            exposure("u1", "on", t),
            exposure("u2", "on", t),
            track("u1", "buy", Some(7.0), t + 1),
            track("u2", "buy", Some(3.0), t + 1),
            // Both variants in one batch: excluded from the start.
            exposure("u5", "on", t),
            exposure("u5", "off", t + 1),
        ],
    )
    .await
    .expect(200);
    send(app, &key, "b2", vec![exposure("u1", "off", t + 5), track("u1", "buy", Some(1.0), t + 6)]).await.expect(200);
    let r = results(app).await;
    assert_eq!(units(&r, "on"), (1, 2), "u1 and u5 excluded under their first variant");
    assert_eq!(r["excludedUnits"], 2);
    assert_eq!(sums(&r, "purchase", "on"), (1, 1.0, 1.0));
    assert_eq!(sums(&r, "revenue", "on"), (1, 3.0, 9.0));
    assert_eq!(sums(&r, "basket", "on"), (1, 3.0, 9.0));
    assert_eq!(units(&r, "off"), (0, 0));
});

api_test!(later_batches_fold_into_a_units_stored_aggregates, |app| async move {
    let key = setup(app).await;
    let t = now();
    // u1 exposed at t + 10; its click at t + 5 is before that and dropped.
    send(
        app,
        &key,
        "b1",
        vec![exposure("u1", "on", t + 10), track("u1", "click", None, t + 5), exposure("u2", "off", t)],
    )
    .await
    .expect(200);
    let r = results(app).await;
    assert_eq!(sums(&r, "clicks", "on"), (1, 0.0, 0.0));
    // An earlier-stamped exposure arriving later moves u1's exposure back to t:
    // a click at t + 6 now counts; purchases add to the stored aggregates.
    send(
        app,
        &key,
        "b2",
        vec![
            exposure("u1", "on", t),
            track("u1", "click", None, t + 6),
            track("u1", "buy", Some(10.0), t + 6),
            track("u2", "buy", Some(4.0), t + 1),
        ],
    )
    .await
    .expect(200);
    send(app, &key, "b3", vec![track("u1", "click", None, t + 7), track("u1", "buy", Some(20.0), t + 8)])
        .await
        .expect(200);
    let r = results(app).await;
    assert_eq!((units(&r, "on"), units(&r, "off")), ((1, 0), (1, 0)));
    // n: the kept units (a unit without events counts as 0), except for a mean.
    assert_eq!(sums(&r, "clicks", "on"), (1, 2.0, 4.0), "two clicks at or after the moved exposure");
    assert_eq!(sums(&r, "purchase", "on"), (1, 1.0, 1.0));
    assert_eq!(sums(&r, "revenue", "on"), (1, 30.0, 900.0));
    assert_eq!(sums(&r, "basket", "on"), (1, 15.0, 225.0), "mean of 10 and 20");
    assert_eq!(sums(&r, "revenue", "off"), (1, 4.0, 16.0));
    assert_eq!(sums(&r, "basket", "off"), (1, 4.0, 16.0));
});

api_test!(a_retried_batch_changes_nothing, |app| async move {
    let key = setup(app).await;
    let t = now();
    let events = vec![exposure("u1", "on", t), track("u1", "buy", Some(2.0), t + 1), json!({"kind": "nope"})];
    let first = send(app, &key, "retry-me", events.clone()).await.expect(200);
    assert_eq!(first["accepted"], 2);
    assert_eq!(first["rejected"][0]["index"], 2);
    let before = results(app).await;
    let again = send(app, &key, "retry-me", events).await.expect(200);
    assert_eq!(again["duplicate"], true);
    assert_eq!((&again["accepted"], &again["rejected"]), (&first["accepted"], &first["rejected"]));
    let mut after = results(app).await;
    after["computedAt"] = before["computedAt"].clone();
    assert_eq!(before, after);
    let counts = app.get("/api/v1/environments/production/event-counts").await.expect(200);
    assert_eq!(counts, json!({"environment": "production", "exposures": 1, "tracks": 1}));
});

api_test!(events_outside_the_window_do_not_count, |app| async move {
    let key = setup(app).await;
    let t = now();
    send(app, &key, "b1", vec![exposure("early", "on", t - 60_000), exposure("u1", "on", t)]).await.expect(200);
    app.post("/api/v1/experiments/exp-test/stop", json!({})).await.expect(200);
    let late = now() + 10;
    // Late delivery of an event before the stop counts; one after it does not.
    send(app, &key, "b2", vec![track("u1", "click", None, t + 1), track("u1", "click", None, late + 1000)])
        .await
        .expect(200);
    let r = results(app).await;
    assert_eq!(r["state"], "stopped");
    assert_eq!(units(&r, "on"), (1, 0));
    assert_eq!(sums(&r, "clicks", "on"), (1, 1.0, 1.0));
});

api_test!(bad_requests_are_refused_whole, |app| async move {
    let key = setup(app).await;
    let ok = json!({"batchId": "b", "events": []});
    assert_eq!(app.call(Method::POST, "/sdk/v1/events", None, Some(&ok)).await.status, 401);
    let admin = app.token.clone();
    assert_eq!(app.call(Method::POST, "/sdk/v1/events", Some(&admin), Some(&ok)).await.status, 401);
    for (body, status) in [
        (json!({"events": []}), 422),
        (json!({"batchId": "has space", "events": []}), 422),
        (json!({"batchId": "b"}), 422),
        (json!([]), 400),
        (json!({"batchId": "b", "events": [1], "sentAt": "now"}), 400),
    ] {
        let answer = app.call(Method::POST, "/sdk/v1/events", Some(&key), Some(&body)).await;
        assert_eq!(answer.status.as_u16(), status, "{body}: {}", answer.body);
        assert_eq!(answer.headers["content-type"], "application/problem+json");
    }
    let text = app
        .http
        .post(format!("{}/sdk/v1/events", app.base))
        .bearer_auth(&key)
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(text.status(), 415);
    // Larger than the body limit (1 MiB).
    let big: Vec<Value> = (0..12_000).map(|i| track(&format!("unit-{i:0>80}"), "buy", Some(1.0), now())).collect();
    let answer = send(app, &key, "big", big).await;
    assert_eq!(answer.status, 413, "{}", answer.body);
    // A client that writes its whole request before reading gets the 413
    // too (the server reads an over-limit body on), and the connection
    // stays usable.
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let body = format!(r#"{{"batchId":"huge","events":[{}]}}"#, " ".repeat(8 << 20));
    let request = |body: &str| {
        format!(
            "POST /sdk/v1/events HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    conn.write_all(request(&body).as_bytes()).await.expect("the whole over-limit request is read");
    let head = read_head(&mut conn).await;
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
    let small = r#"{"batchId":"after","events":[]}"#;
    conn.write_all(request(small).as_bytes()).await.unwrap();
    let head = read_head(&mut conn).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    // Nothing was stored by any of them.
    assert_eq!(units(&results(app).await, "on"), (0, 0));
});

api_test!(results_come_as_csv, |app| async move {
    let key = setup(app).await;
    let t = now();
    send(app, &key, "b1", vec![exposure("u1", "on", t), exposure("u2", "off", t), track("u1", "buy", Some(2.0), t)])
        .await
        .expect(200);
    let res = app
        .http
        .get(format!("{}/api/v1/experiments/exp-test/results?format=csv", app.base))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    let text = res.text().await.unwrap();
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 1 + 4 * 2, "{text}");
    let header: Vec<&str> = lines[0].split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let row: Vec<&str> =
        lines.iter().find(|l| l.contains(",purchase,") && l.contains(",on,")).unwrap().split(',').collect();
    assert_eq!(row.len(), header.len());
    assert_eq!((row[col("units")], row[col("n")], row[col("sum")], row[col("mean")]), ("1", "1", "1", "1"));
    app.get("/api/v1/experiments/exp-test/results?format=xml").await.expect(400);
    app.get("/api/v1/experiments/nope/results").await.expect(404);
    app.post(
        "/api/v1/experiments",
        json!({"key": "draft", "flag": "checkout", "environment": "production", "ruleId": "exp",
               "controlVariant": "off", "primaryMetric": "purchase"}),
    )
    .await
    .expect(201);
    app.get("/api/v1/experiments/draft/results").await.expect(409);
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_answers_429_with_retry_after() {
    let db = support::db::SqliteTestDb::new();
    let app = &TestApp::start_with(
        db.url.clone(),
        Box::new(db),
        &[("FLAGYARD_INGEST_QUEUE_EVENTS", "5000"), ("FLAGYARD_MAX_BODY_BYTES", "4194304")],
    )
    .await;
    let key = setup(app).await;
    // Queue room is 5,000 events: two batches of 2,000; send many at once.
    let batches: Vec<_> = (0..12)
        .map(|b| {
            let events: Vec<Value> = (0..2000).map(|i| exposure(&format!("u{b}-{i}"), "on", now())).collect();
            json!({"batchId": format!("q{b}"), "events": events})
        })
        .collect();
    let answers = futures_util::future::join_all(
        batches.iter().map(|b| app.call(Method::POST, "/sdk/v1/events", Some(&key), Some(b))),
    )
    .await;
    let throttled: Vec<_> = answers.iter().filter(|a| a.status == 429).collect();
    assert!(answers.iter().all(|a| a.status == 200 || a.status == 429), "{answers:?}");
    assert!(!throttled.is_empty(), "no batch was throttled");
    assert!(throttled.iter().all(|a| a.headers.get("retry-after").is_some()));
    let accepted = answers.iter().filter(|a| a.status == 200).count() as i64;
    assert_eq!(units(&results(app).await, "on").0, accepted * 2000);
}
