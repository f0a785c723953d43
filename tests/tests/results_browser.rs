//! The results page of an experiment with two treatments and two metrics,
//! in headless Chromium, under the server's test clock: Holm's correction
//! is named, each verdict agrees with the interval shown beside it, and
//! the effect over time is drawn day by day from the daily snapshots (and
//! the page, charts included, passes axe-core).
//! Skipped (loudly) without Chromium unless `FLAGYARD_REQUIRE_BROWSER=1`.

use std::time::{SystemTime, UNIX_EPOCH};

use fantoccini::Locator;
use flagyard_tests::{Browser, Server, ServerOptions, css, login};
use reqwest::Method;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";

/// Units `from..to` spread over control / blue / green; blue converts at
/// 30 %, green and control at 10 %; one in twenty errors everywhere.
fn events(from: usize, to: usize) -> Vec<Value> {
    let at = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_millis() as i64;
    let mut out = Vec::new();
    for i in from..to {
        let (variant, rate) = match i % 3 {
            0 => ("control", 10),
            1 => ("blue", 30),
            _ => ("green", 10),
        };
        let unit = format!("u{i}");
        out.push(
            json!({"kind": "exposure", "at": at, "flag": "color", "variant": variant, "rule": "exp", "unit": unit}),
        );
        if (i / 3) % 100 < rate {
            out.push(json!({"kind": "track", "at": at + 1, "event": "buy", "unit": unit}));
        }
        if i % 20 == 0 {
            out.push(json!({"kind": "track", "at": at + 1, "event": "error", "unit": unit}));
        }
    }
    out
}

async fn seed(server: &Server) {
    let variants = json!([{"key": "control", "value": "control"}, {"key": "blue", "value": "blue"}, {"key": "green", "value": "green"}]);
    server
        .admin(Method::POST, "/flags", Some(json!({"key": "color", "type": "string", "variants": variants})), 201)
        .await;
    let config = json!({"enabled": true, "offVariant": "control", "defaultVariant": "control", "rules": [
        {"id": "exp", "serve": {"split": {"variants": [
            {"variant": "control", "weight": 3334}, {"variant": "blue", "weight": 3333}, {"variant": "green", "weight": 3333}]}}}]});
    server.admin(Method::PUT, "/flags/color/environments/production", Some(config), 200).await;
    for metric in [
        json!({"key": "purchase", "name": "Purchases", "event": "buy", "kind": "conversion"}),
        json!({"key": "errors", "name": "Errors", "event": "error", "kind": "conversion", "goodDirection": "decrease"}),
    ] {
        server.admin(Method::POST, "/metrics", Some(metric), 201).await;
    }
    let experiment = json!({"key": "colors", "flag": "color", "environment": "production", "ruleId": "exp",
        "controlVariant": "control", "primaryMetric": "purchase", "guardrailMetrics": ["errors"]});
    server.admin(Method::POST, "/experiments", Some(experiment), 201).await;
    server.admin(Method::POST, "/experiments/colors/start", None, 200).await;
    let key = server.sdk_key("production").await;
    // Day one: 600 units; day two: 1,800 more. Snapshots at 12:00 each day.
    for (n, chunk) in (0..600).step_by(300).enumerate() {
        server.send_events(&key, &format!("d1-{n}"), events(chunk, chunk + 300)).await;
    }
    server.admin(Method::POST, "/test/clock", Some(json!({"now": "2030-01-01T12:00:00Z"})), 200).await;
    for (n, chunk) in (600..2400).step_by(300).enumerate() {
        server.send_events(&key, &format!("d2-{n}"), events(chunk, chunk + 300)).await;
    }
    server.admin(Method::POST, "/test/clock", Some(json!({"now": "2030-01-02T12:00:00Z"})), 200).await;
}

/// `+12.3% (−1.0% to +25.6%)` → (lower, upper) in percent.
fn bounds(cell: &str) -> Option<(f64, f64)> {
    let inside = cell.split_once('(')?.1.split_once(')')?.0;
    let (lower, upper) = inside.split_once(" to ")?;
    let number = |s: &str| s.trim().trim_end_matches('%').replace('−', "-").replace('+', "").parse::<f64>().ok();
    Some((number(lower)?, number(upper)?))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verdicts_follow_holm_and_the_effect_is_drawn_day_by_day() {
    let Some(b) = Browser::start("verdicts_follow_holm_and_the_effect_is_drawn_day_by_day").await else { return };
    let server = Server::start(ServerOptions {
        env: vec![
            ("FLAGYARD_ADMIN_PASSWORD".into(), PASSWORD.into()),
            ("FLAGYARD_TEST_CLOCK".into(), "2030-01-01T00:00:00Z".into()),
        ],
        ..ServerOptions::default()
    })
    .await;
    seed(&server).await;
    let api = server.admin(Method::GET, "/experiments/colors/results", None, 200).await;
    assert_eq!(api["correction"]["method"], "holm", "2 treatments x 2 metrics");
    login(&b.client, &server.base, "admin", PASSWORD).await;
    let c = &b.client;
    c.goto(&format!("{}/experiments/colors", server.base)).await.expect("experiment page");
    let rule = css(c, ".decision-rule").await.text().await.expect("text");
    assert!(rule.contains("4 comparisons") && rule.contains("Holm"), "{rule}");

    // Every treatment row: the verdict agrees with the interval shown.
    let rows = c.find_all(Locator::Css("section.metric table.results tbody tr:not(.control)")).await.expect("rows");
    assert_eq!(rows.len(), 4);
    let mut better = 0;
    for row in rows {
        let text = row.text().await.expect("row");
        let relative = row.find(Locator::Css("td[data-label='Relative effect']")).await.expect("cell");
        let cell = relative.text().await.expect("cell text");
        let (lower, upper) = bounds(&cell).unwrap_or_else(|| panic!("no interval in {cell:?}"));
        let verdict = row.find(Locator::Css(".verdict")).await.expect("verdict").text().await.expect("text");
        let holds_zero = lower <= 0.0 && upper >= 0.0;
        assert_eq!(verdict == "No detectable difference yet", holds_zero, "{text}");
        assert!(cell.contains("interval"), "a corrected interval says its level: {cell:?}");
        assert!(text.contains("(Holm)"), "the p-value says its correction: {text}");
        assert!(!text.contains("p = <"), "{text}");
        better += usize::from(verdict == "Better");
    }
    assert_eq!(better, 1, "blue's 30 % against 10 % survives Holm; nothing else differs");

    // The effect over time: one chart per metric, a point per treatment and day.
    let charts = c.find_all(Locator::Css("section.metric svg.trend")).await.expect("charts");
    assert_eq!(charts.len(), 2);
    for chart in charts {
        assert_eq!(chart.find_all(Locator::Css("circle.tc-point")).await.expect("points").len(), 4);
        let html = chart.html(false).await.expect("svg");
        assert!(html.contains("2030-01-01") && html.contains("2030-01-02"), "days on the axis");
    }
    if let Some(axe) = flagyard_tests::axe_source() {
        let found = flagyard_tests::serious_violations(c, axe).await;
        assert!(found.is_empty(), "axe-core on the page with its charts: {found:?}");
    }
    b.screenshot("experiment-over-time").await;
    // The first metric's card, charts included.
    c.set_window_size(1280, 2000).await.expect("taller window");
    let card = css(c, "section.metric").await.screenshot().await.expect("card screenshot");
    std::fs::write(flagyard_tests::screenshot_dir().join("experiment-over-time-card.png"), card).expect("write");
    b.close().await;
}
