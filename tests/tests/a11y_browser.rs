//! Every page of the web UI passes axe-core with no serious or critical
//! violation, in light and in dark mode: the flags list of an empty project
//! (its first steps), then with a project that has something on each page: flags with rules, a running ramp, a segment, metrics, an
//! experiment with results, a release, users, keys and an audit log.
//! Skipped (loudly) without Chromium or axe-core unless
//! `FLAGYARD_REQUIRE_BROWSER=1`.

use std::time::{SystemTime, UNIX_EPOCH};

use flagyard_tests::{Browser, Server, ServerOptions, axe_source, css, login, serious_violations};
use reqwest::Method;
use serde_json::json;

const PASSWORD: &str = "correct horse battery staple";

async fn server() -> Server {
    Server::start(ServerOptions::with_admin_password(PASSWORD)).await
}

/// Gives the project something on every page; the release's id.
async fn seed(server: &Server) -> i64 {
    server
        .admin(
            Method::POST,
            "/segments",
            Some(json!({"key": "beta", "description": "Beta testers", "included": ["user-1"],
                "conditions": [{"attribute": "plan", "op": "in", "values": ["pro", "enterprise"]}]})),
            201,
        )
        .await;
    for key in ["checkout", "pay"] {
        server.admin(Method::POST, "/flags", Some(json!({"key": key, "type": "boolean", "tags": ["web"]})), 201).await;
    }
    let checkout = json!({"enabled": true, "offVariant": "off", "defaultVariant": "off", "rules": [
        {"id": "staff", "conditions": [{"attribute": "email", "op": "ends_with", "values": ["@example.com"]}],
         "serve": {"variant": "on"}},
        {"id": "exp", "segments": ["beta"], "serve": {"split": {"variants": [
            {"variant": "on", "weight": 5000}, {"variant": "off", "weight": 5000}]}}}]});
    server.admin(Method::PUT, "/flags/checkout/environments/production", Some(checkout), 200).await;
    let pay = json!({"enabled": true, "offVariant": "off", "defaultVariant": "off", "rules": [
        {"id": "canary", "serve": {"split": {"coverage": 0,
            "variants": [{"variant": "on", "weight": 5000}, {"variant": "off", "weight": 5000}]}}}]});
    server.admin(Method::PUT, "/flags/pay/environments/production", Some(pay), 200).await;
    for metric in [
        json!({"key": "purchase", "name": "Purchases", "event": "buy", "kind": "conversion"}),
        json!({"key": "errors", "event": "error", "kind": "conversion", "goodDirection": "decrease", "guardrail": true}),
    ] {
        server.admin(Method::POST, "/metrics", Some(metric), 201).await;
    }
    let ramp = json!({"flag": "pay", "environment": "production", "ruleId": "canary", "canaryVariant": "on",
        "controlVariant": "off", "steps": [{"coverage": 1000, "hold": "1h"}, {"coverage": 10000, "hold": "1d"}],
        "guardrails": [{"metric": "errors"}]});
    server.admin(Method::POST, "/ramps", Some(ramp), 201).await;
    server
        .admin(
            Method::POST,
            "/experiments",
            Some(
                json!({"key": "checkout-test", "name": "New checkout", "flag": "checkout", "environment": "production",
                        "ruleId": "exp", "controlVariant": "off", "primaryMetric": "purchase",
                        "guardrailMetrics": ["errors"], "minimumDetectableEffect": 0.2,
                        "hypothesis": "The new checkout converts better"}),
            ),
            201,
        )
        .await;
    server.admin(Method::POST, "/experiments/checkout-test/start", None, 200).await;
    let key = server.sdk_key("production").await;
    let at = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_millis() as i64;
    let mut events = Vec::new();
    for i in 0..400 {
        let (variant, converts) = if i % 2 == 0 { ("on", i % 5 == 0) } else { ("off", i % 10 == 1) };
        events.push(json!({"kind": "exposure", "at": at, "flag": "checkout", "variant": variant, "rule": "exp", "unit": format!("u{i}")}));
        if converts {
            events.push(json!({"kind": "track", "at": at + 1, "event": "buy", "unit": format!("u{i}")}));
        }
    }
    server.send_events(&key, "seed", events).await;
    let release = server
        .admin(
            Method::POST,
            "/releases",
            Some(json!({"name": "Spring launch", "changes": [
                {"flag": "checkout", "environment": "staging", "enabled": true},
                {"flag": "pay", "environment": "staging", "enabled": true}]})),
            201,
        )
        .await;
    release["id"].as_i64().expect("release id")
}

/// The pages checked, signed in as an admin.
fn pages(release: i64) -> Vec<String> {
    [
        "/flags",
        "/flags?tag=web",
        "/flags/checkout?env=production",
        "/flags/pay?env=production",
        "/segments",
        "/segments/new",
        "/segments/beta",
        "/experiment-metrics",
        "/experiment-metrics/new",
        "/experiment-metrics/purchase",
        "/experiments",
        "/experiments/new",
        "/experiments/checkout-test",
        "/environments",
        "/tokens",
        "/users",
        "/account",
        "/audit",
        "/releases",
    ]
    .iter()
    .map(|p| (*p).to_owned())
    .chain([format!("/releases/{release}")])
    .collect()
}

async fn check_all(b: &Browser, server: &Server, release: i64, mode: &str) -> Vec<String> {
    let axe = axe_source().expect("checked by the caller");
    let c = &b.client;
    let mut failures = Vec::new();
    c.goto(&format!("{}/login", server.base)).await.expect("login page");
    css(c, "main").await;
    for v in serious_violations(c, axe).await {
        failures.push(format!("{mode} /login: {v}"));
    }
    login(c, &server.base, "admin", PASSWORD).await;
    // The check can fail: an image without a text alternative is critical.
    let probe = "document.querySelector('main').insertAdjacentHTML('beforeend', '<img src=\"data:,\" id=\"probe\">')";
    c.execute(probe, vec![]).await.expect("add an unlabelled image");
    let found = serious_violations(c, axe).await;
    assert!(found.iter().any(|v| v.contains("image-alt") && v.contains("#probe")), "axe-core missed it: {found:?}");
    for path in pages(release) {
        c.goto(&format!("{}{path}", server.base)).await.expect("page");
        if c.find(fantoccini::Locator::Css("main h1")).await.is_err() {
            let body = c.source().await.unwrap_or_default();
            panic!("{path} is not a page: {}", body.chars().take(600).collect::<String>());
        }
        for v in serious_violations(c, axe).await {
            failures.push(format!("{mode} {path}: {v}"));
        }
    }
    // A confirmation page (what a production action shows without
    // JavaScript): the stop form posted without the dialog's confirmation.
    c.goto(&format!("{}/experiments/checkout-test", server.base)).await.expect("experiment");
    c.execute("document.querySelector('form[action$=\"/stop\"]').submit()", vec![]).await.expect("post stop");
    css(c, "section.confirm input[name=confirm]").await;
    for v in serious_violations(c, axe).await {
        failures.push(format!("{mode} stop confirmation: {v}"));
    }
    failures
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_passes_axe_core_in_light_and_dark_mode() {
    let Some(b) = Browser::start("every_page_passes_axe_core_in_light_and_dark_mode").await else { return };
    if axe_source().is_none() {
        return;
    }
    let server = server().await;
    // An empty project: the flags list shows the first steps and their snippets.
    login(&b.client, &server.base, "admin", PASSWORD).await;
    css(&b.client, ".onboarding textarea").await;
    let mut failures: Vec<String> = serious_violations(&b.client, axe_source().unwrap_or_default())
        .await
        .into_iter()
        .map(|v| format!("light /flags (empty): {v}"))
        .collect();
    b.screenshot("onboarding").await;
    b.client.delete_all_cookies().await.expect("sign out");
    let release = seed(&server).await;
    failures.extend(check_all(&b, &server, release, "light").await);
    // Two metrics: the page says how Holm's method decided.
    b.client.goto(&format!("{}/experiments/checkout-test", server.base)).await.expect("experiment");
    let rule = flagyard_tests::text(&b.client, ".decision-rule").await;
    assert!(rule.contains("Holm"), "{rule}");
    b.screenshot("experiment-holm").await;
    b.close().await;

    let Some(b) = Browser::start_dark("every_page_passes_axe_core_in_light_and_dark_mode").await else { return };
    let dark = b.client.execute("return matchMedia('(prefers-color-scheme: dark)').matches", vec![]).await;
    assert_eq!(dark.ok(), Some(json!(true)), "the browser is in dark mode");
    failures.extend(check_all(&b, &server, release, "dark").await);
    b.close().await;
    assert!(failures.is_empty(), "{} serious or critical violations:\n{}", failures.len(), failures.join("\n"));
}
