//! The web UI in a real headless Chromium (WebDriver), against the real
//! binary: a product person logs in, creates a flag, adds a rule with two
//! conditions and a 25 % canary, toggles it in production while an SDK
//! watches; experiment results as displayed match the results API; stale
//! forms and viewers are refused. Screenshots of each main page are kept in
//! `target/ui-screenshots/`. Skipped (loudly) without Chromium unless
//! `FLAGYARD_REQUIRE_BROWSER=1`.

use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use flagyard::Context;
use flagyard_tests::{Browser, Server, ServerOptions, click, css, eventually, fill, pick, text};
use reqwest::Method;
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";

async fn server() -> Server {
    Server::start(ServerOptions::with_admin_password(PASSWORD)).await
}

async fn login(b: &Browser, server: &Server, user: &str, password: &str) {
    flagyard_tests::login(&b.client, &server.base, user, password).await;
}

/// Waits for the rules editor after an htmx swap (or a full reload).
async fn settle(c: &Client) {
    tokio::time::sleep(Duration::from_millis(300)).await;
    css(c, "#rules-editor").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_product_person_targets_rolls_out_and_toggles_a_flag() {
    let Some(b) = Browser::start("a_product_person_targets_rolls_out_and_toggles_a_flag").await else { return };
    let server = server().await;
    let c = &b.client;
    c.goto(&format!("{}/login", server.base)).await.expect("login page");
    b.screenshot("login").await;
    login(&b, &server, "admin", PASSWORD).await;

    // Create a flag (the form is folded away until asked for).
    click(c, "#new-flag summary").await;
    fill(c, "key", "new-checkout").await;
    fill(c, "name", "New checkout").await;
    click(c, "form[method=post][action=\"/flags\"] button[type=submit]").await;
    let created = Instant::now();
    loop {
        let res = server.http.get(format!("{}/api/v1/flags/new-checkout", server.base)).bearer_auth(&server.token);
        if res.send().await.expect("flag").status() == 200 {
            break;
        }
        assert!(created.elapsed() < Duration::from_secs(5), "the flag was not created");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Its page in production: a rule with two conditions serving `on`.
    c.goto(&format!("{}/flags/new-checkout?env=production", server.base)).await.expect("flag page");
    click(c, "button[name=action][value=add_rule]").await;
    settle(c).await;
    fill(c, "rules[0].id", "beta-nz").await;
    for _ in 0..2 {
        click(c, "button[name=action][value=\"add_condition:0\"]").await;
        settle(c).await;
    }
    fill(c, "rules[0].conditions[0].attribute", "country").await;
    pick(c, "rules[0].conditions[0].op", "in").await;
    settle(c).await;
    fill(c, "rules[0].conditions[0].values", "NZ\nAU").await;
    fill(c, "rules[0].conditions[1].attribute", "appVersion").await;
    pick(c, "rules[0].conditions[1].op", "semver_gte").await;
    settle(c).await;
    fill(c, "rules[0].conditions[1].values", "2.0.0").await;
    pick(c, "rules[0].serve.variant", "on").await;
    click(c, "#f-confirm").await;
    click(c, "#rules-editor .toolbar button[name=action][value=save]").await;
    settle(c).await;
    let config = server.admin(Method::GET, "/flags/new-checkout/environments/production", None, 200).await;
    let rule = &config["rules"][0];
    assert_eq!(rule["id"], "beta-nz", "{config}");
    assert_eq!(rule["conditions"].as_array().map(Vec::len), Some(2), "{config}");
    assert_eq!(rule["conditions"][0]["values"], json!(["NZ", "AU"]), "{config}");
    assert_eq!(rule["serve"]["variant"], "on", "{config}");

    // A 25 % canary for everyone else.
    click(c, "button[name=action][value=add_rule]").await;
    settle(c).await;
    click(c, "input[name=\"rules[1].serve.kind\"][value=split]").await;
    // The rollout starts with the flag's variants (off 100 %, on 0 %); one
    // control serves `on` to 25 %.
    assert_eq!(
        css(c, "[name=\"rules[1].serve.split.variants[0].variant\"]").await.prop("value").await.expect("v").as_deref(),
        Some("off")
    );
    assert_eq!(
        css(c, "[name=\"rules[1].serve.split.variants[1].variant\"]").await.prop("value").await.expect("v").as_deref(),
        Some("on")
    );
    fill(c, "rules[1].serve.split.canary", "25").await;
    click(c, "#f-confirm").await;
    click(c, "#rules-editor .toolbar button[name=action][value=save]").await;
    settle(c).await;
    let config = server.admin(Method::GET, "/flags/new-checkout/environments/production", None, 200).await;
    assert_eq!(
        config["rules"][1]["serve"]["split"]["variants"],
        json!([{"variant": "off", "weight": 7500}, {"variant": "on", "weight": 2500}]),
        "{config}"
    );
    b.screenshot("flag").await;

    // An SDK on the same server; the UI toggles production on.
    let key = server.sdk_key("production").await;
    let sdk = flagyard::Client::builder(server.base.clone(), &key)
        .send_events(false)
        .init_timeout(Duration::from_secs(5))
        .build()
        .await
        .expect("sdk");
    let kiwi = Context::new("kiwi").with("country", "NZ").with("appVersion", "2.1.0");
    assert!(!sdk.bool_value("new-checkout", &kiwi, false));
    c.goto(&format!("{}/flags", server.base)).await.expect("flags page");
    b.screenshot("flags").await;
    let toggle = "form[action=\"/flags/new-checkout/environments/production/toggle\"] button";
    click(c, toggle).await;
    // Production asks first (htmx's confirm dialog).
    tokio::time::sleep(Duration::from_millis(200)).await;
    c.accept_alert().await.expect("confirmation dialog");
    let clicked = Instant::now();
    while !sdk.bool_value("new-checkout", &kiwi, false) {
        assert!(clicked.elapsed() < Duration::from_secs(1), "the SDK did not see the UI toggle within 1 s");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    eprintln!("UI toggle -> SDK: {:?}", clicked.elapsed());
    let config = server.admin(Method::GET, "/flags/new-checkout/environments/production", None, 200).await;
    assert_eq!(config["enabled"], true);
    // The row was swapped; the keyboard focus is back on the same switch (issue 15).
    let switch = "flag-new-checkout-production-switch";
    flagyard_tests::eventually("the switch shows on", || async {
        c.find(Locator::Id(switch)).await.ok().is_some()
            && css(c, &format!("#{switch}")).await.attr("aria-pressed").await.ok().flatten().as_deref() == Some("true")
    })
    .await;
    let focused = c.execute("return document.activeElement && document.activeElement.id", vec![]).await.expect("focus");
    assert_eq!(focused.as_str(), Some(switch), "focus after the toggle");
    sdk.close().await;
    b.close().await;
}

/// Formats as the UI does (web/src/format.rs).
fn signed_pct(x: f64) -> String {
    let s = format!("{:.1}", (x * 100.0).abs());
    if s.bytes().all(|b| b == b'0' || b == b'.') {
        format!("{s}%")
    } else if x > 0.0 {
        format!("+{s}%")
    } else {
        format!("−{s}%")
    }
}

fn p_value(p: f64) -> String {
    if p < 0.001 { "< 0.001".to_owned() } else { format!("{p:.3}") }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn experiment_results_on_the_page_match_the_api() {
    let Some(b) = Browser::start("experiment_results_on_the_page_match_the_api").await else { return };
    let server = server().await;
    server.admin(Method::POST, "/flags", Some(json!({"key": "checkout", "type": "boolean"})), 201).await;
    server
        .admin(
            Method::PUT,
            "/flags/checkout/environments/production",
            Some(json!({"enabled": true, "offVariant": "off", "defaultVariant": "off", "rules": [
                {"id": "exp", "serve": {"split": {"variants": [{"variant": "on", "weight": 5000}, {"variant": "off", "weight": 5000}]}}}
            ]})),
            200,
        )
        .await;
    server
        .admin(Method::POST, "/metrics", Some(json!({"key": "purchase", "event": "buy", "kind": "conversion"})), 201)
        .await;
    server
        .admin(
            Method::POST,
            "/experiments",
            Some(json!({"key": "checkout-test", "flag": "checkout", "environment": "production", "ruleId": "exp",
                        "controlVariant": "off", "primaryMetric": "purchase", "minimumDetectableEffect": 0.2,
                        "hypothesis": "The new checkout converts better"})),
            201,
        )
        .await;
    server.admin(Method::POST, "/experiments/checkout-test/start", None, 200).await;
    // Seed: 600 units see `on` (20 % convert), 400 see `off` (10 %): an SRM too.
    let key = server.sdk_key("production").await;
    let at = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let mut events = Vec::new();
    for i in 0..1000 {
        let (variant, converts) = if i < 600 { ("on", i % 5 == 0) } else { ("off", i % 10 == 0) };
        events.push(json!({"kind": "exposure", "at": at, "flag": "checkout", "variant": variant, "rule": "exp", "unit": format!("u{i}")}));
        if converts {
            events.push(json!({"kind": "track", "at": at + 1, "event": "buy", "unit": format!("u{i}")}));
        }
    }
    server.send_events(&key, "seed", events).await;
    let api = server.admin(Method::GET, "/experiments/checkout-test/results", None, 200).await;

    login(&b, &server, "admin", PASSWORD).await;
    let c = &b.client;
    c.goto(&format!("{}/experiments/checkout-test", server.base)).await.expect("experiment page");
    let text = css(c, "main").await.text().await.expect("text");
    assert!(text.contains("Sample ratio mismatch"), "SRM banner missing:\n{text}");
    let row = css(c, "section.metric tbody tr:nth-child(2)").await.text().await.expect("row");
    let t: &Value = &api["metrics"][0]["variants"][1];
    assert_eq!(t["variant"], "on");
    let relative = &t["comparison"]["relative"];
    let expected = [
        "600".to_owned(),
        format!("{:.2}%", t["summary"]["mean"].as_f64().unwrap() * 100.0),
        format!(
            "{} ({} to {})",
            signed_pct(relative["estimate"].as_f64().unwrap()),
            signed_pct(relative["ci"]["lower"].as_f64().unwrap()),
            signed_pct(relative["ci"]["upper"].as_f64().unwrap())
        ),
        format!("p = {}", p_value(relative["pValue"].as_f64().unwrap())),
    ];
    for e in &expected {
        assert!(row.contains(e.as_str()), "expected {e:?} in the row {row:?} (API: {t})");
    }
    assert!(css(c, "section.metric svg").await.text().await.is_ok());
    b.screenshot("experiment").await;
    // At phone width the table stacks: the treatment's verdict is on screen,
    // not scrolled off to the right.
    c.set_window_size(390, 844).await.expect("phone width");
    let verdict = css(c, "section.metric tbody tr:nth-child(2) .verdict").await;
    let (x, _, width, _) = verdict.rectangle().await.expect("verdict box");
    let viewport: f64 =
        c.execute("return document.documentElement.clientWidth", vec![]).await.expect("width").as_f64().unwrap_or(0.0);
    assert!(
        verdict.is_displayed().await.expect("shown") && x >= 0.0 && x + width <= viewport,
        "verdict at {x}+{width} of {viewport}"
    );
    b.screenshot("experiment-phone").await;
    c.set_window_size(1280, 1000).await.expect("desktop width");
    for (path, name) in [
        ("/experiments", "experiments"),
        ("/segments", "segments"),
        ("/environments", "environments"),
        ("/tokens", "tokens"),
        ("/users", "users"),
        ("/audit", "audit"),
    ] {
        c.goto(&format!("{}{path}", server.base)).await.expect("page");
        css(c, "main h1").await;
        b.screenshot(name).await;
    }
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_forms_and_viewers_are_refused() {
    let Some(b) = Browser::start("stale_forms_and_viewers_are_refused").await else { return };
    let server = server().await;
    server.admin(Method::POST, "/flags", Some(json!({"key": "guarded", "type": "boolean"})), 201).await;
    server
        .admin(Method::POST, "/users", Some(json!({"username": "vera", "password": PASSWORD, "role": "viewer"})), 201)
        .await;
    login(&b, &server, "admin", PASSWORD).await;
    let c = &b.client;
    // A change made elsewhere (the API) shows on the open list without a reload.
    let marker = "live-marker";
    c.execute(&format!("window['{marker}'] = true;"), vec![]).await.expect("mark the page");
    let switch = "form[action=\"/flags/guarded/environments/staging/toggle\"] button";
    assert_eq!(css(c, switch).await.attr("aria-pressed").await.expect("attr").as_deref(), Some("false"));
    server.admin(Method::PATCH, "/flags/guarded/environments/staging", Some(json!({"enabled": true})), 200).await;
    let changed = Instant::now();
    loop {
        let pressed = css(c, switch).await.attr("aria-pressed").await.ok().flatten();
        if pressed.as_deref() == Some("true") {
            break;
        }
        assert!(changed.elapsed() < Duration::from_secs(5), "the list did not show the API change");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("API change -> open flags list: {:?}", changed.elapsed());
    let same_page = c.execute(&format!("return window['{marker}'] === true;"), vec![]).await.expect("marker");
    assert_eq!(same_page, json!(true), "the page was reloaded instead of updated in place");
    // Down to a phone's width.
    c.set_window_size(390, 844).await.expect("resize");
    b.screenshot("flags-phone").await;
    c.set_window_size(1280, 1000).await.expect("resize");
    // A stale page: its CSRF token no longer matches; submitted without htmx.
    let form = "form[action=\"/flags/guarded/environments/development/toggle\"]";
    css(c, form).await;
    c.execute(
        &format!("const f = document.querySelector('{form}'); f.querySelector('input[name=csrf]').value = 'stale'; f.submit();"),
        vec![],
    )
    .await
    .expect("submit");
    let text = css(c, "main").await.text().await.expect("text");
    assert!(text.contains("403") || text.to_lowercase().contains("forbidden"), "{text}");
    b.screenshot("csrf-refused").await;
    let config = server.admin(Method::GET, "/flags/guarded/environments/development", None, 200).await;
    assert_eq!(config["enabled"], false, "a stale form changed the flag");

    // A viewer sees no toggles, and a forged toggle with a valid token is refused.
    c.delete_all_cookies().await.expect("log out");
    login(&b, &server, "vera", PASSWORD).await;
    assert!(c.find(Locator::Css(&format!("{form} button"))).await.is_err(), "a viewer got a toggle");
    b.screenshot("viewer-flags").await;
    let status = c
        .execute(
            "const csrf = document.querySelector('meta[name=csrf-token]')?.content \
               ?? document.querySelector('input[name=csrf]')?.value ?? ''; \
             const body = new URLSearchParams({csrf, enabled: 'true', baseRevision: '1'}); \
             return fetch('/flags/guarded/environments/development/toggle', {method: 'POST', body}).then(r => r.status);",
            vec![],
        )
        .await
        .expect("forged toggle");
    assert_eq!(status, json!(403), "a viewer's toggle was not refused");
    let config = server.admin(Method::GET, "/flags/guarded/environments/development", None, 200).await;
    assert_eq!(config["enabled"], false);
    b.close().await;
}

/// Waits until the flag's `enabled` in `env` is `want` (the API's view).
async fn wait_enabled(server: &Server, flag: &str, env: &str, want: bool) -> Value {
    let started = Instant::now();
    loop {
        let config = server.admin(Method::GET, &format!("/flags/{flag}/environments/{env}"), None, 200).await;
        if config["enabled"] == want {
            return config;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "{flag} in {env} never became enabled={want}: {config}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Issue 15, defect 2: after saving rules, the kill switch works at once
/// (on, then off again), and the page shows the new revision.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kill_switch_works_right_after_saving_rules() {
    let Some(b) = Browser::start("the_kill_switch_works_right_after_saving_rules").await else { return };
    let server = server().await;
    server.admin(Method::POST, "/flags", Some(json!({"key": "kill", "type": "boolean"})), 201).await;
    let c = &b.client;
    login(&b, &server, "admin", PASSWORD).await;
    c.goto(&format!("{}/flags/kill?env=staging", server.base)).await.expect("flag page");
    assert_eq!(text(c, "#env-revision").await, "Revision 1");
    click(c, "button[name=action][value=add_rule]").await;
    settle(c).await;
    fill(c, "rules[0].id", "everyone").await;
    pick(c, "rules[0].serve.variant", "on").await;
    click(c, "#rules-editor .toolbar button[name=action][value=save]").await;
    settle(c).await;
    let config = server.admin(Method::GET, "/flags/kill/environments/staging", None, 200).await;
    assert_eq!((config["revision"].clone(), config["rules"][0]["id"].clone()), (json!(2), json!("everyone")));
    assert_eq!(text(c, "#env-revision").await, "Revision 2", "the page shows the saved revision");
    let toggle = "form[action=\"/flags/kill/environments/staging/toggle\"] button";
    click(c, toggle).await;
    wait_enabled(&server, "kill", "staging", true).await;
    // The page came back with the switch on; off again at once.
    tokio::time::sleep(Duration::from_millis(300)).await;
    click(c, toggle).await;
    let config = wait_enabled(&server, "kill", "staging", false).await;
    assert_eq!(config["rules"][0]["id"], "everyone", "the toggle changed nothing else");
    b.close().await;
}

/// Issue 15, defect 4: with JavaScript off, a production toggle asks on a
/// page of its own, then ends on the flag's page (HTML), done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_javascript_a_production_toggle_confirms_and_ends_on_the_flag_page() {
    let test = "without_javascript_a_production_toggle_confirms_and_ends_on_the_flag_page";
    let Some(b) = Browser::start_without_js(test).await else { return };
    let server = server().await;
    server.admin(Method::POST, "/flags", Some(json!({"key": "nojs", "type": "boolean"})), 201).await;
    let c = &b.client;
    login(&b, &server, "admin", PASSWORD).await;
    let page = format!("{}/flags/nojs?env=production", server.base);
    c.goto(&page).await.expect("flag page");
    click(c, "form[action=\"/flags/nojs/environments/production/toggle\"] button").await;
    // The confirmation page, not a dialog.
    let question = text(c, "section.confirm h1").await;
    assert_eq!(question, "Turn nojs on in production?");
    assert!(
        !server.admin(Method::GET, "/flags/nojs/environments/production", None, 200).await["enabled"]
            .as_bool()
            .unwrap()
    );
    b.screenshot("confirm-nojs").await;
    click(c, "section.confirm button[type=submit]").await;
    wait_enabled(&server, "nojs", "production", true).await;
    // Back on the flag's page, with the message; not a JSON error.
    let started = Instant::now();
    while c.current_url().await.expect("url").as_str() != page {
        assert!(started.elapsed() < Duration::from_secs(5), "ended on {}", c.current_url().await.expect("url"));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let body = text(c, "main").await;
    assert!(body.contains("Turned nojs on in production"), "{body}");
    b.close().await;
}

/// A running experiment `exp` on flag `f` (split rule `split`), and two
/// revisions of `f` in production (the audit log has one to restore).
async fn restorable_and_stoppable(server: &Server) {
    server.admin(Method::POST, "/flags", Some(json!({"key": "f", "type": "boolean"})), 201).await;
    let split = json!({"enabled": true, "offVariant": "off", "defaultVariant": "off", "rules": [
        {"id": "split", "serve": {"split": {"variants": [{"variant": "on", "weight": 5000}, {"variant": "off", "weight": 5000}]}}}
    ]});
    server.admin(Method::PUT, "/flags/f/environments/production", Some(split), 200).await;
    server.admin(Method::PATCH, "/flags/f/environments/production", Some(json!({"defaultVariant": "on"})), 200).await;
    server
        .admin(Method::POST, "/metrics", Some(json!({"key": "buy", "event": "buy", "kind": "conversion"})), 201)
        .await;
    let experiment = json!({"key": "exp", "flag": "f", "environment": "production", "ruleId": "split",
                            "controlVariant": "off", "primaryMetric": "buy", "hypothesis": "h"});
    server.admin(Method::POST, "/experiments", Some(experiment), 201).await;
    server.admin(Method::POST, "/experiments/exp/start", None, 200).await;
}

async fn revision(server: &Server) -> i64 {
    server.admin(Method::GET, "/flags/f/environments/production", None, 200).await["revision"].as_i64().unwrap()
}

async fn experiment_state(server: &Server) -> String {
    server.admin(Method::GET, "/experiments/exp", None, 200).await["state"].as_str().unwrap().to_owned()
}

/// Issue 15, defect 1, with JavaScript: "Restore this version" and "Stop"
/// ask in a dialog; dismissed, nothing happens; accepted, it is done.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_and_stop_ask_first_in_a_dialog() {
    let Some(b) = Browser::start("restore_and_stop_ask_first_in_a_dialog").await else { return };
    let server = server().await;
    restorable_and_stoppable(&server).await;
    let c = &b.client;
    login(&b, &server, "admin", PASSWORD).await;
    c.goto(&format!("{}/audit?flag=f", server.base)).await.expect("audit page");
    let restore = "form[action$=\"/rollback\"] button";
    click(c, restore).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let question = c.get_alert_text().await.expect("a confirmation dialog");
    assert!(question.starts_with("Restore revision 2 of f in production?"), "{question}");
    c.dismiss_alert().await.expect("dismiss");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(revision(&server).await, 3, "dismissed: nothing restored");
    click(c, restore).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    c.accept_alert().await.expect("accept");
    eventually("restored", || async { revision(&server).await == 4 }).await;

    c.goto(&format!("{}/experiments/exp", server.base)).await.expect("experiment page");
    let stop = "form[action=\"/experiments/exp/stop\"] button";
    click(c, stop).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(c.get_alert_text().await.expect("a dialog").contains("cannot be started again"));
    c.dismiss_alert().await.expect("dismiss");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(experiment_state(&server).await, "running");
    click(c, stop).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    c.accept_alert().await.expect("accept");
    eventually("stopped", || async { experiment_state(&server).await == "stopped" }).await;
    b.close().await;
}

/// Issue 15, defect 1, without JavaScript: the same two actions ask on a
/// page of their own; "Cancel" leaves things as they are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_javascript_restore_and_stop_ask_on_a_page() {
    let Some(b) = Browser::start_without_js("without_javascript_restore_and_stop_ask_on_a_page").await else {
        return;
    };
    let server = server().await;
    restorable_and_stoppable(&server).await;
    let c = &b.client;
    login(&b, &server, "admin", PASSWORD).await;
    c.goto(&format!("{}/audit?flag=f", server.base)).await.expect("audit page");
    click(c, "form[action$=\"/rollback\"] button").await;
    assert_eq!(text(c, "section.confirm h1").await, "Restore revision 2 of f in production?");
    click(c, "section.confirm a.button").await;
    eventually("back on the audit log", || async { c.current_url().await.expect("url").path() == "/audit" }).await;
    assert_eq!(revision(&server).await, 3, "cancelled: nothing restored");
    click(c, "form[action$=\"/rollback\"] button").await;
    click(c, "section.confirm button[type=submit]").await;
    eventually("restored", || async { revision(&server).await == 4 }).await;

    c.goto(&format!("{}/experiments/exp", server.base)).await.expect("experiment page");
    click(c, "form[action=\"/experiments/exp/stop\"] button").await;
    assert_eq!(text(c, "section.confirm h1").await, "Stop exp?");
    assert_eq!(experiment_state(&server).await, "running");
    b.screenshot("confirm-stop-nojs").await;
    click(c, "section.confirm button[type=submit]").await;
    eventually("stopped", || async { experiment_state(&server).await == "stopped" }).await;
    eventually("back on the experiment", || async { c.current_url().await.expect("url").path() == "/experiments/exp" })
        .await;
    b.close().await;
}
