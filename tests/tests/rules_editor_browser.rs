//! Issue 15, item 8, in a real headless Chromium: a rollout's weight total
//! follows the weights as they are typed, before any "Update form" or save;
//! a two-variant rollout's single control sets both weights; and the save's
//! result shows beside the button at the bottom of the editor. Skipped
//! (loudly) without Chromium unless `FLAGYARD_REQUIRE_BROWSER=1`.

use fantoccini::Client;
use flagyard_tests::{Browser, Server, ServerOptions, css, eventually};
use reqwest::Method;
use serde_json::json;

const PASSWORD: &str = "correct horse battery staple";

/// The toolbar at the bottom of the rules editor.
const BOTTOM_TOOLBAR: &str = "#rules-editor > fieldset > .toolbar:last-of-type";

/// Replaces what the field at `selector` holds with `typed`, as a person would.
async fn retype(c: &Client, selector: &str, typed: &str) {
    let field = css(c, selector).await;
    field.clear().await.expect("clear");
    field.send_keys(typed).await.expect("type");
}

/// Presses the bottom "Save rules" button.
async fn save_rules(c: &Client) {
    flagyard_tests::click(c, &format!("{BOTTOM_TOOLBAR} button[value=\"save\"]")).await;
}

/// Waits until the element at `selector` says `needle`.
async fn eventually_says(c: &Client, what: &str, selector: &str, needle: &str) {
    eventually(what, || async { flagyard_tests::text_now(c, selector).await.is_some_and(|t| t.contains(needle)) })
        .await;
}

/// A boolean flag `canary` whose rule `canary` splits on / off 50 / 50 in staging.
async fn canary_flag(server: &Server) {
    server.admin(Method::POST, "/flags", Some(json!({"key": "canary", "type": "boolean"})), 201).await;
    let rules = json!({"enabled": true, "offVariant": "off", "defaultVariant": "off", "rules": [
        {"id": "canary", "serve": {"split": {"variants": [{"variant": "on", "weight": 5000}, {"variant": "off", "weight": 5000}]}}}]});
    server.admin(Method::PUT, "/flags/canary/environments/staging", Some(rules), 200).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_weight_total_follows_the_weights_as_they_are_typed() {
    let Some(b) = Browser::start("the_weight_total_follows_the_weights_as_they_are_typed").await else { return };
    let server = Server::start(ServerOptions::with_admin_password(PASSWORD)).await;
    canary_flag(&server).await;
    let c = &b.client;
    flagyard_tests::login(c, &server.base, "admin", PASSWORD).await;
    c.goto(&format!("{}/flags/canary?env=staging", server.base)).await.expect("flag page");
    let total = || async { css(c, "[data-weights-total]").await.text().await.unwrap_or_default() };
    assert_eq!(total().await, "Weights add up to 100%.");
    for (typed, says) in [
        ("30", "Weights add up to 80%: 20% left to assign."),
        ("70.5", "Weights add up to 120.5%: 20.5% too much."),
        ("half", "Weights: enter a percentage in every row."),
        ("50", "Weights add up to 100%."),
    ] {
        retype(c, "[data-weight]", typed).await;
        eventually(&format!("after typing {typed:?}: {says}"), || async { total().await == says }).await;
    }
    // The single canary control sets both weights: "serve off to 25 %".
    retype(c, "[data-canary]", "25").await;
    eventually("both weights follow the canary control", || async {
        let first = flagyard_tests::value_now(c, "[data-weight]").await;
        first.as_deref() == Some("75") && total().await == "Weights add up to 100%."
    })
    .await;
    // The save's result shows beside the bottom "Save rules" too (issue 15, item 8).
    save_rules(c).await;
    eventually_says(
        c,
        "the result beside the bottom save button",
        &format!("{BOTTOM_TOOLBAR} .save-result"),
        "revision",
    )
    .await;
    let saved = server.admin(Method::GET, "/flags/canary/environments/staging", None, 200).await;
    assert_eq!(
        saved["rules"][0]["serve"]["split"]["variants"],
        json!([{"variant": "on", "weight": 7500}, {"variant": "off", "weight": 2500}])
    );
    b.close().await;
}

/// Issue 15, item 9: a weight change refused because an experiment runs on
/// the split is said next to the split's weights, not on a hidden field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_running_experiment_guard_speaks_next_to_the_weights() {
    let Some(b) = Browser::start("the_running_experiment_guard_speaks_next_to_the_weights").await else { return };
    let server = Server::start(ServerOptions::with_admin_password(PASSWORD)).await;
    server.admin(Method::POST, "/flags", Some(json!({"key": "pay", "type": "boolean"})), 201).await;
    let rules = json!({"enabled": true, "offVariant": "off", "defaultVariant": "off", "rules": [
        {"id": "staff", "conditions": [{"attribute": "email", "op": "ends_with", "values": ["@example.com"]}], "serve": {"variant": "on"}},
        {"id": "exp", "serve": {"split": {"variants": [{"variant": "on", "weight": 5000}, {"variant": "off", "weight": 5000}]}}}]});
    server.admin(Method::PUT, "/flags/pay/environments/staging", Some(rules), 200).await;
    server
        .admin(Method::POST, "/metrics", Some(json!({"key": "buy", "event": "buy", "kind": "conversion"})), 201)
        .await;
    let experiment = json!({"key": "pay-test", "flag": "pay", "environment": "staging", "ruleId": "exp",
        "controlVariant": "off", "primaryMetric": "buy"});
    server.admin(Method::POST, "/experiments", Some(experiment), 201).await;
    server.admin(Method::POST, "/experiments/pay-test/start", None, 200).await;
    let c = &b.client;
    flagyard_tests::login(c, &server.base, "admin", PASSWORD).await;
    c.goto(&format!("{}/flags/pay?env=staging", server.base)).await.expect("flag page");
    retype(c, "li.rule:nth-of-type(2) [data-canary]", "25").await;
    save_rules(c).await;
    eventually_says(
        c,
        "the refusal next to the second rule's weights",
        "li.rule:nth-of-type(2) #f-rules-1-serve-split-variants",
        "experiment “pay-test” is running on rule “exp”",
    )
    .await;
    // The summary at the top names the place in the editor's words and links to it.
    let link = css(c, "#rules-errors a").await;
    assert_eq!(link.attr("href").await.expect("href").as_deref(), Some("#f-rules-1-serve-split-variants"));
    let place = link.text().await.expect("text");
    assert!(place.contains("exp"), "the rule by its name: {place}");
    let saved = server.admin(Method::GET, "/flags/pay/environments/staging", None, 200).await;
    assert_eq!(saved["rules"][1]["serve"]["split"]["variants"][0]["weight"], 5000, "not saved");
    b.screenshot("rules-guarded-by-experiment").await;
    b.close().await;
}

/// Issue 15, item 9: messages in the unit the person typed, next to the
/// field, said once: weights that add up to 90 % are refused in percent
/// beside the split; a flag key's rule is in the field's help text, and a
/// bad key (sent past the browser's own check) is refused once, by field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_in_the_unit_typed_and_next_to_the_field() {
    let Some(b) = Browser::start("errors_are_in_the_unit_typed_and_next_to_the_field").await else { return };
    let server = Server::start(ServerOptions::with_admin_password(PASSWORD)).await;
    canary_flag(&server).await;
    let c = &b.client;
    flagyard_tests::login(c, &server.base, "admin", PASSWORD).await;
    c.goto(&format!("{}/flags/canary?env=staging", server.base)).await.expect("flag page");
    retype(c, "[data-weight]", "40").await;
    save_rules(c).await;
    eventually_says(
        c,
        "the refusal in percent beside the split",
        "li.rule #f-rules-0-serve-split-variants",
        "the weights add up to 90%, not 100%",
    )
    .await;
    let editor = flagyard_tests::text(c, "#rules-editor").await;
    assert!(!editor.contains("9000") && !editor.contains("10000"), "no basis points: {editor}");

    // A flag key: the rule is in the help text the field points to.
    c.goto(&format!("{}/flags", server.base)).await.expect("flags");
    flagyard_tests::click(c, "#new-flag summary").await;
    let key = css(c, "#f-key").await;
    let described = key.attr("aria-describedby").await.expect("attr").unwrap_or_default();
    assert!(described.split(' ').any(|id| id == "f-key-help"), "{described}");
    let help = flagyard_tests::text(c, "#f-key-help").await;
    assert!(help.contains("1 to 128 letters, digits"), "{help}");
    // Sent past the browser's check (form.submit() skips it): refused once,
    // next to the field, without code quotes.
    key.send_keys("-starts-with-a-dash").await.expect("type");
    c.execute("document.querySelector('form[action=\"/flags\"]').submit()", vec![]).await.expect("submit");
    let error = flagyard_tests::text(c, "#f-key-err").await;
    assert!(!error.starts_with("key:") && !error.contains('`'), "{error}");
    let page = flagyard_tests::text(c, "main").await;
    assert_eq!(
        page.matches(error.as_str()).count(),
        2,
        "the message beside the field and in the summary, once each:\n{page}"
    );
    b.screenshot("flag-key-error").await;
    b.close().await;
}
