//! The ramp panel of the flag page, through the UI's forms (no JavaScript):
//! start a ramp, pause, resume, abort; a guarded ramp rolled back by its
//! guardrail is shown where a person looks first (a banner on the flag
//! page, the automatic actions), with its guardrail chart.

mod support;

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::json;
use support::app::TestApp;
use support::ui_client::{Browser, cookie_value};

/// The flash message a redirect left (decoded enough to read).
fn flash(page: &support::ui_client::Page) -> String {
    cookie_value(&page.headers, "flagyard_flash").unwrap_or_default().replace("%20", " ")
}

async fn split_flag(app: &TestApp, key: &str) {
    app.post("/api/v1/flags", json!({"key": key, "type": "boolean"})).await.expect(201);
    app.put(
        &format!("/api/v1/flags/{key}/environments/production"),
        json!({"enabled": true, "offVariant": "off", "defaultVariant": "off", "rules": [
            {"id": "canary", "serve": {"split": {"coverage": 0,
                "variants": [{"variant": "on", "weight": 5000}, {"variant": "off", "weight": 5000}]}}}
        ]}),
    )
    .await
    .expect(200);
}

fn coverage(config: &serde_json::Value) -> &serde_json::Value {
    &config["rules"][0]["serve"]["split"]["coverage"]
}

api_test!(the_ramp_panel_starts_pauses_resumes_and_aborts, |app| async move {
    split_flag(app, "search").await;
    let admin = Browser::admin(app).await;
    let html = admin.get("/flags/search?env=production").await.expect(200).to_owned();
    assert!(html.contains("No ramp on this flag in production") && html.contains("Start a ramp"), "{html}");
    // A bad steps text is refused with the reason, nothing started.
    let form = [("rule", "canary"), ("canary", "on"), ("control", "off"), ("dimension", "coverage")];
    let mut bad = form.to_vec();
    bad.push(("steps", "5%"));
    let r = admin.post("/flags/search/environments/production/ramps", &bad).await;
    // The page again, the form as posted, the reason next to it.
    let html = r.expect(422).to_owned();
    assert!(html.contains("The ramp was not started: step 1") && html.contains(r#"value="5%""#), "{html}");
    assert!(html.contains("<details open>"), "the form stays open: {html}");
    // Refused by the service (the control equals the canary): the same.
    let mut same = form.to_vec();
    same[2] = ("control", "on");
    let r = admin.post("/flags/search/environments/production/ramps", &same).await;
    assert!(r.expect(422).contains("the control must differ from the canary"));
    assert_eq!(app.get("/api/v1/ramps").await.expect(200), json!([]));
    // Started with the default steps.
    let mut good = form.to_vec();
    good.push(("steps", ""));
    let r = admin.post("/flags/search/environments/production/ramps", &good).await;
    assert!(flash(&r).contains("Ramp 1 started in production"), "{}", flash(&r));
    let html = admin.get(r.location()).await.expect(200).to_owned();
    assert!(
        html.contains(r#"data-state="running""#) && html.contains("coverage 1 %") && html.contains("coverage 100 %")
    );
    assert!(html.contains(r#"aria-current="step""#) && html.contains("Pause"), "{html}");
    let config = app.get("/api/v1/flags/search/environments/production").await.expect(200);
    assert_eq!(coverage(&config), 100);
    // Pause, resume, abort through the forms.
    let r = admin.post("/ramps/1/pause", &[]).await;
    assert!(admin.get(r.location()).await.expect(200).contains(r#"data-state="paused""#));
    let r = admin.post("/ramps/1/resume", &[]).await;
    assert!(admin.get(r.location()).await.expect(200).contains(r#"data-state="running""#));
    let r = admin.post("/ramps/1/abort", &[("to", "before")]).await;
    let html = admin.get(r.location()).await.expect(200).to_owned();
    assert!(html.contains(r#"data-state="aborted""#) && html.contains("Automatic actions"), "{html}");
    assert_eq!(coverage(&app.get("/api/v1/flags/search/environments/production").await.expect(200)), 0);
    // A viewer sees the panel and no buttons; a form without the CSRF token is refused.
    let viewer = Browser::with_role(app, "vera", "viewer").await;
    let html = viewer.get("/flags/search?env=production").await.expect(200).to_owned();
    assert!(html.contains("Ramp 1") && !html.contains("Start the ramp") && !html.contains("Abort"), "{html}");
    assert_eq!(admin.post_raw("/ramps/1/pause", &[], None).await.status, 403);
});

api_test!(an_automatic_rollback_is_shown_on_the_flag_page, |app| async move {
    split_flag(app, "pay").await;
    app.post(
        "/api/v1/metrics",
        json!({"key": "errors", "event": "error", "kind": "conversion", "goodDirection": "decrease"}),
    )
    .await
    .expect(201);
    let r = app
        .post(
            "/api/v1/ramps",
            json!({"flag": "pay", "environment": "production", "ruleId": "canary", "canaryVariant": "on",
                   "controlVariant": "off", "steps": [{"coverage": 10000, "hold": "1d"}],
                   "guardrails": [{"metric": "errors"}]}),
        )
        .await
        .expect(201);
    assert_eq!(r["experiment"], "ramp-1");
    // The canary fails every request, the control one in ten.
    let key = app.post("/api/v1/environments/production/sdk-keys", json!({"name": "svc"})).await.expect(201);
    let key = key["secret"].as_str().unwrap().to_owned();
    let t = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64;
    let mut events = Vec::new();
    for i in 0..600 {
        let (unit, variant) = (format!("u{i}"), if i % 2 == 0 { "on" } else { "off" });
        events.push(
            json!({"kind": "exposure", "at": t, "flag": "pay", "variant": variant, "rule": "canary", "unit": unit}),
        );
        if variant == "on" || i % 20 == 1 {
            events.push(json!({"kind": "track", "at": t + 1, "event": "error", "unit": unit}));
        }
    }
    for (i, chunk) in events.chunks(200).enumerate() {
        let body = json!({"batchId": format!("b{i}"), "events": chunk});
        app.call(reqwest::Method::POST, "/sdk/v1/events", Some(&key), Some(&body)).await.expect(200);
    }
    let mut state = json!(null);
    for _ in 0..100 {
        state = app.get("/api/v1/ramps/1").await.expect(200);
        if state["state"] == "rolled_back" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(state["state"], "rolled_back", "{state}");
    let admin = Browser::admin(app).await;
    let html = admin.get("/flags/pay?env=production").await.expect(200).to_owned();
    assert!(html.contains("Rolled back automatically") && html.contains("role=\"alert\""), "{html}");
    assert!(html.contains("ramp.rollback") && html.contains("ramp:1"), "automatic actions: {html}");
    assert!(html.contains("guard-chart") || html.contains("regressed"), "{html}");
    // The flag list shows it too.
    let list = admin.get("/flags").await.expect(200).to_owned();
    assert!(list.contains("rolled back"), "{list}");
});

api_test!(the_start_form_takes_several_guardrails_and_what_a_step_waits_for, |app| async move {
    split_flag(app, "feed").await;
    for (key, event, direction) in [("errors", "error", "decrease"), ("clicks", "click", "increase")] {
        app.post(
            "/api/v1/metrics",
            json!({"key": key, "event": event, "kind": "conversion", "goodDirection": direction}),
        )
        .await
        .expect(201);
    }
    let admin = Browser::admin(app).await;
    let html = admin.get("/flags/feed?env=production").await.expect(200).to_owned();
    for id in ["f-ramp-guard", "f-ramp-guard_2", "f-ramp-guard_3", "f-ramp-min-units", "f-ramp-evidence"] {
        assert!(html.contains(&format!(r#"id="{id}""#)), "{id}: {html}");
    }
    let path = "/flags/feed/environments/production/ramps";
    let base = [("rule", "canary"), ("canary", "on"), ("control", "off"), ("dimension", "coverage")];
    let with = |extra: &[(&'static str, &'static str)]| base.iter().chain(extra).copied().collect::<Vec<_>>();
    // Units per arm without a guardrail: refused in words, the input kept.
    let r = admin.post(path, &with(&[("min_units", "500")])).await;
    let html = r.expect(422).to_owned();
    assert!(html.contains("measured by a guardrail") && html.contains(r#"value="500""#), "{html}");
    // The same metric twice: refused.
    let twice = with(&[("guardrail", "errors"), ("guardrail_2", "errors")]);
    assert!(admin.post(path, &twice).await.expect(422).contains("chosen twice"));
    assert_eq!(app.get("/api/v1/ramps").await.expect(200), json!([]));
    // Two guardrails, 1,000 units per arm, evidence, a two-day limit.
    let good = with(&[
        ("steps", "5%:1h, 100%:0s"),
        ("guardrail", "errors"),
        ("tolerance", "2"),
        ("guardrail_2", "clicks"),
        ("tolerance_2", "0.5"),
        ("min_units", "1,000"),
        ("require_evidence", "yes"),
        ("max_hold", "2d"),
    ]);
    let r = admin.post(path, &good).await;
    assert!(flash(&r).contains("Ramp 1 started"), "{}", flash(&r));
    let ramp = app.get("/api/v1/ramps/1").await.expect(200);
    let guards: Vec<(String, f64)> = ramp["guardrails"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["metric"].as_str().unwrap().to_owned(), g["tolerance"].as_f64().unwrap()))
        .collect();
    assert_eq!(guards, vec![("errors".to_owned(), 0.02), ("clicks".to_owned(), 0.005)], "{ramp}");
    for step in ramp["steps"].as_array().unwrap() {
        assert_eq!(
            (step["minUnits"].clone(), step["requireEvidence"].clone(), step["maxHoldMs"].clone()),
            (json!(1000), json!(true), json!(2 * 86_400_000)),
            "{ramp}"
        );
    }
    // The panel lists both guardrails.
    let html = admin.get("/flags/feed?env=production").await.expect(200).to_owned();
    assert!(html.contains("<code>errors</code>") && html.contains("<code>clicks</code>"), "{html}");
    assert!(html.contains("1h, then 1000 units per arm and every guardrail healthy (at most 2d)"), "{html}");
});
