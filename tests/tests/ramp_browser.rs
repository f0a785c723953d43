//! A ramp in a real headless Chromium, against the real binary on the test
//! clock: a product person starts a ramp from the flag page and watches it
//! advance step by step as the clock moves, down to completion; then a
//! guarded ramp rolled back by its guardrail is shown on the flag page and
//! in the flag list. Skipped (loudly) without Chromium unless
//! `FLAGYARD_REQUIRE_BROWSER=1`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fantoccini::{Client, Locator};
use flagyard_tests::{Browser, Server, ServerOptions, css, login};
use reqwest::Method;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";

async fn server() -> Server {
    Server::start(ServerOptions {
        env: vec![
            ("FLAGYARD_ADMIN_PASSWORD".into(), PASSWORD.into()),
            ("FLAGYARD_TEST_CLOCK".into(), "2030-01-01T00:00:00Z".into()),
        ],
        ..ServerOptions::default()
    })
    .await
}

async fn split_flag(server: &Server, key: &str) {
    server.admin(Method::POST, "/flags", Some(json!({"key": key, "type": "boolean"})), 201).await;
    let config = json!({"enabled": true, "offVariant": "off", "defaultVariant": "off", "rules": [
        {"id": "canary", "serve": {"split": {"coverage": 0,
            "variants": [{"variant": "on", "weight": 5000}, {"variant": "off", "weight": 5000}]}}}]});
    server.admin(Method::PUT, &format!("/flags/{key}/environments/production"), Some(config), 200).await;
}

/// The ramp panel's state and current step, as shown.
async fn shown(c: &Client, server: &Server, flag: &str) -> (String, String) {
    c.goto(&format!("{}/flags/{flag}?env=production", server.base)).await.expect("flag page");
    let ramp = css(c, "#ramp .ramp").await;
    let state = ramp.attr("data-state").await.expect("attr").unwrap_or_default();
    let current = match c.find(Locator::Css("#ramp li[aria-current=step]")).await {
        Ok(li) => li.text().await.expect("text"),
        Err(_) => String::new(),
    };
    (state, current)
}

async fn set_clock(server: &Server, now: &str) {
    server.admin(Method::POST, "/test/clock", Some(json!({"now": now})), 200).await;
}

fn coverage(config: &Value) -> &Value {
    &config["rules"][0]["serve"]["split"]["coverage"]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ramp_started_in_the_browser_advances_under_the_test_clock() {
    let Some(b) = Browser::start("a_ramp_started_in_the_browser_advances_under_the_test_clock").await else { return };
    let server = server().await;
    split_flag(&server, "new-search").await;
    let c = &b.client;
    login(c, &server.base, "admin", PASSWORD).await;
    c.goto(&format!("{}/flags/new-search?env=production", server.base)).await.expect("flag page");
    css(c, "#ramp summary").await.click().await.expect("open the form");
    let steps = css(c, "#f-ramp-steps").await;
    steps.clear().await.expect("clear");
    steps.send_keys("10%:1h, 50%:1h, 100%:0s").await.expect("type");
    css(c, "#f-ramp-control").await.select_by_value("off").await.expect("control");
    css(c, "#ramp form[action$=\"/ramps\"] button[type=submit]").await.click().await.expect("start");
    css(c, "#ramp .ramp[data-state=running]").await;
    b.screenshot("ramp-started").await;
    let config = server.admin(Method::GET, "/flags/new-search/environments/production", None, 200).await;
    assert_eq!(coverage(&config), 1000, "{config}");
    assert_eq!(shown(c, &server, "new-search").await, ("running".into(), "coverage 10 % · 1h".into()));

    set_clock(&server, "2030-01-01T01:00:00Z").await;
    assert_eq!(shown(c, &server, "new-search").await, ("running".into(), "coverage 50 % · 1h".into()));
    b.screenshot("ramp-step-2").await;
    set_clock(&server, "2030-01-01T02:00:00Z").await;
    let (state, _) = shown(c, &server, "new-search").await;
    assert_eq!(state, "completed");
    let config = server.admin(Method::GET, "/flags/new-search/environments/production", None, 200).await;
    assert_eq!(coverage(&config), 10_000, "{config}");
    let text = css(c, "#ramp").await.text().await.expect("text");
    assert!(text.contains("ramp.step"), "the automatic steps are listed: {text}");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_automatic_rollback_shows_on_the_flag_page_and_in_the_list() {
    let Some(b) = Browser::start("an_automatic_rollback_shows_on_the_flag_page_and_in_the_list").await else { return };
    let server = server().await;
    split_flag(&server, "pay").await;
    let metric = json!({"key": "errors", "event": "error", "kind": "conversion", "goodDirection": "decrease"});
    server.admin(Method::POST, "/metrics", Some(metric), 201).await;
    let ramp = json!({"flag": "pay", "environment": "production", "ruleId": "canary", "canaryVariant": "on",
        "controlVariant": "off", "steps": [{"coverage": 10000, "hold": "1d"}], "guardrails": [{"metric": "errors"}]});
    server.admin(Method::POST, "/ramps", Some(ramp), 201).await;
    // The canary fails every request, the control one in twenty.
    let key = server.sdk_key("production").await;
    let t = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_millis() as i64;
    let mut events = Vec::new();
    for i in 0..600 {
        let (unit, variant) = (format!("u{i}"), if i % 2 == 0 { "on" } else { "off" });
        events.push(
            json!({"kind": "exposure", "at": t, "flag": "pay", "variant": variant, "rule": "canary", "unit": unit}),
        );
        if variant == "on" || i % 40 == 1 {
            events.push(json!({"kind": "track", "at": t + 1, "event": "error", "unit": unit}));
        }
    }
    for (i, chunk) in events.chunks(200).enumerate() {
        let body = json!({"batchId": format!("b{i}"), "events": chunk});
        let res = server.http.post(format!("{}/sdk/v1/events", server.base)).bearer_auth(&key).json(&body);
        assert_eq!(res.send().await.expect("events").status(), 200);
    }
    let mut state = Value::Null;
    for _ in 0..100 {
        state = server.admin(Method::GET, "/ramps/1", None, 200).await;
        if state["state"] == "rolled_back" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(state["state"], "rolled_back", "{state}");
    let c = &b.client;
    login(c, &server.base, "admin", PASSWORD).await;
    c.goto(&format!("{}/flags/pay?env=production", server.base)).await.expect("flag page");
    let banner = css(c, ".flash-error[role=alert]").await.text().await.expect("text");
    assert!(banner.contains("Rolled back automatically") && banner.contains("regressed"), "{banner}");
    css(c, "#ramp svg.guard-chart").await;
    b.screenshot("ramp-rolled-back").await;
    c.goto(&format!("{}/flags", server.base)).await.expect("flags");
    let row = css(c, "#flag-pay").await.text().await.expect("text");
    assert!(row.contains("rolled back"), "{row}");
    b.close().await;
}
