//! Issue 15, item 3, in a real headless Chromium against the real binary:
//! metrics are created in the UI, and an experiment is set up from lists
//! (flag → environment → split rule → control → metrics) with the
//! sample-size estimate updating as the form is filled in — with
//! JavaScript (htmx swaps) and without (the "Update" button). Skipped
//! (loudly) without Chromium unless `FLAGYARD_REQUIRE_BROWSER=1`.

use fantoccini::Client;
use flagyard_tests::{
    Browser, Server, ServerOptions, click, css, eventually, fill, main_says, pick, text, text_now, value_now,
};
use reqwest::Method;
use serde_json::json;

const PASSWORD: &str = "correct horse battery staple";

/// A server with `checkout` (rule 3 `exp` splits 20/80, rule 2 splits
/// without a name), `aaa-plain` (no rules) and the metric `latency`.
async fn server() -> Server {
    let server = Server::start(ServerOptions::with_admin_password(PASSWORD)).await;
    for key in ["checkout", "aaa-plain"] {
        server.admin(Method::POST, "/flags", Some(json!({"key": key, "type": "boolean"})), 201).await;
    }
    let rules = json!({"enabled": true, "offVariant": "off", "defaultVariant": "off", "rules": [
        {"id": "beta", "conditions": [{"attribute": "plan", "op": "eq", "values": ["beta"]}], "serve": {"variant": "on"}},
        {"serve": {"split": {"variants": [{"variant": "on", "weight": 5000}, {"variant": "off", "weight": 5000}]}}},
        {"id": "exp", "serve": {"split": {"variants": [{"variant": "on", "weight": 2000}, {"variant": "off", "weight": 8000}]}}}
    ]});
    server.admin(Method::PUT, "/flags/checkout/environments/production", Some(rules), 200).await;
    let latency =
        json!({"key": "latency", "event": "req", "kind": "mean", "goodDirection": "decrease", "guardrail": true});
    server.admin(Method::POST, "/metrics", Some(latency), 201).await;
    server
}

async fn value(c: &Client, selector: &str) -> String {
    css(c, selector).await.prop("value").await.expect("value").unwrap_or_default()
}

/// Creates metric `purchase` through its form.
async fn create_purchase(b: &Browser, server: &Server) {
    let c = &b.client;
    c.goto(&format!("{}/experiment-metrics", server.base)).await.expect("metrics");
    assert!(text(c, "main").await.contains("latency"));
    click(c, "a[href=\"/experiment-metrics/new\"]").await;
    fill(c, "key", "purchase").await;
    fill(c, "event", "buy").await;
    pick(c, "kind", "conversion").await;
    click(c, "form[action=\"/experiment-metrics\"] button[type=submit]").await;
    main_says(c, "Metric purchase saved").await;
    let m = server.admin(Method::GET, "/metrics/purchase", None, 200).await;
    assert_eq!((m["event"].as_str(), m["kind"].as_str()), (Some("buy"), Some("conversion")));
}

/// Fills the form for `checkout-test` and checks the estimate once it shows.
async fn fill_and_estimate(c: &Client, refresh: impl AsyncFn()) {
    fill(c, "key", "checkout-test").await;
    fill(c, "minimumDetectableEffect", "10").await;
    fill(c, "baseline", "5").await;
    fill(c, "dailyUnits", "1000").await;
    refresh().await;
    let n = flagyard_stats::sample_size(
        flagyard_stats::Baseline::Conversion { rate: 0.05 },
        0.10,
        0.05,
        flagyard_stats::DEFAULT_POWER,
    )
    .expect("sample size")
    .units_per_variant;
    let want = format!("About {} units per variant", flagyard_web::thousands(n));
    let days = format!("fills in about {} days", (n as f64 / 200.0).ceil());
    eventually(&format!("the estimate says {want}, {days}"), || async {
        text_now(c, "#estimate").await.is_some_and(|t| t.contains(&want) && t.contains(&days))
    })
    .await;
}

async fn run(b: Browser, js: bool) {
    let server = server().await;
    let c = &b.client;
    flagyard_tests::login(c, &server.base, "admin", PASSWORD).await;
    create_purchase(&b, &server).await;
    if js {
        b.screenshot("metrics").await;
    }
    c.goto(&format!("{}/experiments/new", server.base)).await.expect("new experiment");
    assert_eq!(value(c, "#f-environment").await, "production");
    assert_eq!(value(c, "#f-ruleId").await, "exp");
    assert_eq!(value(c, "#f-controlVariant").await, "off");
    // Without JavaScript the "Update" button refreshes; with it, a change does.
    let update = || async {
        if !js {
            click(c, "button[value=\"refresh\"]").await;
        }
    };
    pick(c, "flag", "aaa-plain").await;
    update().await;
    eventually("the other flag's rules (none)", || async {
        text_now(c, "#f-ruleId-help").await.is_some_and(|t| t.contains("This flag has no rules in production"))
    })
    .await;
    pick(c, "flag", "checkout").await;
    update().await;
    eventually("checkout's split rule again", || async { value_now(c, "#f-ruleId").await.as_deref() == Some("exp") })
        .await;
    let help = text(c, "#f-ruleId-help").await;
    assert!(help.contains("Rule 2: on 50 %, off 50 % splits traffic but has no name"), "{help}");
    fill_and_estimate(c, update).await;
    if js {
        b.screenshot("experiment-new").await;
    }
    click(c, "#experiment-form button:not([value])").await;
    eventually("the experiment's page", || async {
        c.current_url().await.is_ok_and(|u| u.path() == "/experiments/checkout-test")
    })
    .await;
    let x = server.admin(Method::GET, "/experiments/checkout-test", None, 200).await;
    assert_eq!((x["ruleId"].as_str(), x["controlVariant"].as_str()), (Some("exp"), Some("off")));
    assert_eq!((x["primaryMetric"].as_str(), x["guardrailMetrics"].clone()), (Some("purchase"), json!(["latency"])));
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_experiment_is_set_up_in_the_ui_with_javascript() {
    let Some(b) = Browser::start("an_experiment_is_set_up_in_the_ui_with_javascript").await else { return };
    run(b, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_experiment_is_set_up_in_the_ui_without_javascript() {
    let test = "an_experiment_is_set_up_in_the_ui_without_javascript";
    let Some(b) = Browser::start_without_js(test).await else { return };
    run(b, false).await;
}
