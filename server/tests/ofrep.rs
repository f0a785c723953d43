//! OFREP 0.3: single and bulk evaluation, reasons, error codes, ETag/304,
//! and the refetch event stream.

mod support;

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::app::TestApp;

async fn setup(app: &TestApp) -> String {
    for key in ["static", "off", "targeted", "canary"] {
        app.post("/api/v1/flags", json!({"key": key, "type": "boolean"})).await.expect(201);
    }
    let base = "/api/v1/flags";
    app.patch(&format!("{base}/static/environments/production"), json!({"enabled": true, "defaultVariant": "on"}))
        .await
        .expect(200);
    app.put(&format!("{base}/targeted/environments/production"), json!({"enabled": true, "offVariant": "off", "defaultVariant": "off",
        "rules": [{"id": "staff", "conditions": [{"attribute": "email", "op": "ends_with", "values": ["@flagyard.dev"]}], "serve": {"variant": "on"}}]}))
        .await
        .expect(200);
    app.put(
        &format!("{base}/canary/environments/production"),
        json!({"enabled": true, "offVariant": "off", "defaultVariant": "off",
        "rules": [{"serve": {"split": {"variants": [{"variant": "on", "weight": 10000}]}}}]}),
    )
    .await
    .expect(200);
    let key = app.post("/api/v1/environments/production/sdk-keys", json!({"name": "ofrep"})).await.expect(201);
    key["secret"].as_str().unwrap().to_owned()
}

async fn eval(app: &TestApp, key: &str, flag: &str, body: Value) -> (StatusCode, Value) {
    let r = app.call(Method::POST, &format!("/ofrep/v1/evaluate/flags/{flag}"), Some(key), Some(&body)).await;
    (r.status, r.body)
}

api_test!(single_flag_reasons_and_errors, |app| async move {
    let key = setup(app).await;
    let ctx = json!({"context": {"targetingKey": "user-1", "email": "me@flagyard.dev"}});
    let cases = [
        ("static", "STATIC", true),
        ("off", "DISABLED", false),
        ("targeted", "TARGETING_MATCH", true),
        ("canary", "SPLIT", true),
    ];
    for (flag, reason, value) in cases {
        let (status, body) = eval(app, &key, flag, ctx.clone()).await;
        assert_eq!(status, 200, "{flag}: {body}");
        assert_eq!(
            (body["key"].as_str(), body["reason"].as_str(), body["value"].as_bool()),
            (Some(flag), Some(reason), Some(value)),
            "{body}"
        );
        assert!(body["variant"].is_string());
    }
    let (_, body) = eval(app, &key, "targeted", json!({"context": {"targetingKey": "u", "email": "x@y.z"}})).await;
    assert_eq!((body["reason"].as_str(), body["value"].as_bool()), (Some("DEFAULT"), Some(false)));
    let (status, body) = eval(app, &key, "missing", ctx.clone()).await;
    assert_eq!((status.as_u16(), body["errorCode"].as_str()), (404, Some("FLAG_NOT_FOUND")));
    let (status, body) = eval(app, &key, "canary", json!({"context": {"email": "a"}})).await;
    assert_eq!((status.as_u16(), body["errorCode"].as_str()), (400, Some("TARGETING_KEY_MISSING")));
    let (status, body) = eval(app, &key, "static", json!({"context": {"nested": {"x": 1}}})).await;
    assert_eq!((status.as_u16(), body["errorCode"].as_str()), (400, Some("INVALID_CONTEXT")));
    let raw = app
        .http
        .post(format!("{}/ofrep/v1/evaluate/flags/static", app.base))
        .bearer_auth(&key)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    assert_eq!(raw.json::<Value>().await.unwrap()["errorCode"], "PARSE_ERROR");
    // Unauthorized: no body.
    let none = app.http.post(format!("{}/ofrep/v1/evaluate/flags/static", app.base)).json(&ctx).send().await.unwrap();
    assert_eq!(none.status(), 401);
    assert!(none.text().await.unwrap().is_empty());
    let via_header =
        app.http.post(format!("{}/ofrep/v1/evaluate/flags/static", app.base)).header("X-API-Key", &key).json(&ctx);
    assert_eq!(via_header.send().await.unwrap().status(), 200);
});

api_test!(bulk_evaluation_with_etag, |app| async move {
    let key = setup(app).await;
    let ctx = json!({"context": {"targetingKey": "user-1"}});
    let r = app
        .http
        .post(format!("{}/ofrep/v1/evaluate/flags", app.base))
        .bearer_auth(&key)
        .json(&ctx)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["flags"].as_array().unwrap().len(), 4);
    assert!(body["eventStreams"][0]["url"].as_str().unwrap().ends_with("/ofrep/v1/stream"));
    let again = app
        .http
        .post(format!("{}/ofrep/v1/evaluate/flags", app.base))
        .bearer_auth(&key)
        .header("If-None-Match", &etag)
        .json(&ctx);
    assert_eq!(again.send().await.unwrap().status(), 304);
    let other =
        app.http.post(format!("{}/ofrep/v1/evaluate/flags", app.base)).bearer_auth(&key).header("If-None-Match", &etag);
    assert_eq!(
        other.json(&json!({"context": {"targetingKey": "user-2"}})).send().await.unwrap().status(),
        200,
        "another context"
    );
    app.patch("/api/v1/flags/off/environments/production", json!({"enabled": true})).await.expect(200);
    // The change reaches server-side evaluation promptly, and the ETag moves.
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    loop {
        let r = app
            .http
            .post(format!("{}/ofrep/v1/evaluate/flags", app.base))
            .bearer_auth(&key)
            .header("If-None-Match", &etag);
        if r.json(&ctx).send().await.unwrap().status() == 200 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the change did not reach OFREP");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
});

api_test!(event_stream_asks_for_refetch_on_change, |app| async move {
    let key = setup(app).await;
    let res = app.http.get(format!("{}/ofrep/v1/stream", app.base)).bearer_auth(&key).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let mut body = res.bytes_stream();
    use futures_util::StreamExt;
    let first = body.next().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&first).starts_with("retry:"));
    app.patch("/api/v1/flags/off/environments/production", json!({"enabled": true})).await.expect(200);
    let mut text = String::new();
    while !text.contains("refetchEvaluation") {
        let chunk =
            tokio::time::timeout(Duration::from_secs(5), body.next()).await.expect("an event").unwrap().unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    let data = text.lines().find_map(|l| l.strip_prefix("data: ")).unwrap();
    let event: Value = serde_json::from_str(data).unwrap();
    assert_eq!(event["type"], "refetchEvaluation");
});
