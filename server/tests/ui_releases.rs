//! The Releases pages through the UI's forms (no JavaScript), on SQLite and
//! on Postgres: create a draft, add and remove changes, a preview that
//! names a problem, apply, schedule and cancel, revert; viewers get no forms.

mod support;

use serde_json::json;
use support::app::TestApp;
use support::ui_client::{Browser, cookie_value};

fn flash(page: &support::ui_client::Page) -> String {
    cookie_value(&page.headers, "flagyard_flash").unwrap_or_default().replace("%20", " ")
}

async fn enabled(app: &TestApp, flag: &str) -> bool {
    app.get(&format!("/api/v1/flags/{flag}/environments/production")).await.expect(200)["enabled"] == true
}

api_test!(releases_are_drafted_previewed_applied_and_reverted_in_the_ui, |app| async move {
    for f in ["a", "b"] {
        app.post("/api/v1/flags", json!({"key": f, "type": "boolean"})).await.expect(201);
    }
    let admin = Browser::admin(app).await;
    assert!(admin.get("/releases").await.expect(200).contains("No releases yet"));
    let r = admin.post("/releases", &[("name", "Launch"), ("description", "")]).await;
    assert_eq!((r.status.as_u16(), r.location()), (303, "/releases/1"));
    let change = |flag: &'static str, extra: (&'static str, &'static str)| {
        vec![("flag", flag), ("environment", "production"), ("enabled", "on"), extra]
    };
    admin.post("/releases/1/changes", &change("a", ("default_variant", ""))).await;
    admin.post("/releases/1/changes", &change("b", ("default_variant", "nope"))).await;
    let html = admin.get("/releases/1").await.expect(200).to_owned();
    assert!(html.contains("switch on; default variant nope") && html.contains("class=\"errors\""), "{html}");
    assert!(html.contains("changes[1].defaultVariant"), "the problem names the change: {html}");
    // Applying with a problem is refused; nothing changes.
    let r = admin.post("/releases/1/apply", &[]).await;
    assert!(flash(&r).starts_with('e'), "{}", flash(&r));
    assert!(!enabled(app, "a").await);
    // Remove the bad change, schedule, cancel, then apply now.
    let r = admin.post("/releases/1/changes/1/remove", &[]).await;
    assert!(flash(&r).contains("Change removed"), "{}", flash(&r));
    admin.post("/releases/1/changes", &change("b", ("off_variant", ""))).await;
    let r = admin.post("/releases/1/schedule", &[("at", "2030-01-01T09:00:00+01:00")]).await;
    assert!(flash(&r).contains("Scheduled for"), "{}", flash(&r));
    assert!(admin.get("/releases/1").await.expect(200).contains("Scheduled for"));
    admin.post("/releases/1/unschedule", &[]).await;
    let r = admin.post("/releases/1/apply", &[]).await;
    assert!(flash(&r).contains("Applied"), "{}", flash(&r));
    assert!(enabled(app, "a").await && enabled(app, "b").await);
    let html = admin.get("/releases/1").await.expect(200).to_owned();
    assert!(html.contains("id=\"release-versions\"") && html.contains("Revert"), "{html}");
    // Revert: a second release puts both back.
    let r = admin.post("/releases/1/revert", &[]).await;
    assert!(flash(&r).contains("Reverted by release 2"), "{}", flash(&r));
    assert!(!enabled(app, "a").await && !enabled(app, "b").await);
    let list = admin.get("/releases").await.expect(200).to_owned();
    assert!(list.contains("/releases/2") && list.contains("reverted"), "{list}");
    // A viewer reads, without forms; a post without the CSRF token is refused.
    let viewer = Browser::with_role(app, "vera", "viewer").await;
    let html = viewer.get("/releases/1").await.expect(200).to_owned();
    assert!(!html.contains("New release") && !html.contains("action=\"/releases/1/revert\""), "{html}");
    assert_eq!(viewer.post("/releases/1/revert", &[]).await.status, 403);
    assert_eq!(admin.post_raw("/releases/1/revert", &[], None).await.status, 403);
});

api_test!(a_change_is_scheduled_from_the_rules_editor, |app| async move {
    app.post("/api/v1/flags", json!({"key": "a", "type": "boolean"})).await.expect(201);
    let admin = Browser::admin(app).await;
    let path = "/flags/a/environments/production/rules";
    let form = |at: &'static str| {
        vec![
            ("baseRevision", "1"),
            ("offVariant", "off"),
            ("defaultVariant", "on"),
            ("confirm", "yes"),
            ("scheduleAt", at),
            ("action", "save"),
        ]
    };
    // A bad instant: shown next to the field, nothing scheduled.
    let bad = admin.post(path, &form("tomorrow")).await;
    let body = bad.expect(422);
    assert!(body.contains("RFC 3339") && body.contains("f-scheduleAt"), "{body}");
    // The form comes back as posted: the instant still there (a second
    // "Save" schedules rather than saves) and the production box ticked.
    assert!(body.contains(r#"name="scheduleAt" class="mono" value="tomorrow""#), "{body}");
    assert!(body.contains(r#"name="confirm" value="yes" checked"#), "{body}");
    assert_eq!(app.get("/api/v1/releases").await.expect(200), json!([]));
    // Scheduled: a release of the one change, shown on its page; the flag is unchanged until then.
    let r = admin.post(path, &form("2030-01-01T09:00:00+01:00")).await;
    // (On Postgres the refused attempt used up a sequence number.)
    assert!(r.status.as_u16() == 303 && r.location().starts_with("/releases/"), "{}", r.location());
    let page = r.location().to_owned();
    let release = app.get(&format!("/api/v1{page}")).await.expect(200);
    assert_eq!(
        (release["state"].clone(), release["scheduledAt"].clone()),
        (json!("scheduled"), json!("2030-01-01T08:00:00.000Z"))
    );
    assert_eq!(release["changes"][0]["defaultVariant"], "on");
    assert_eq!(release["changes"][0]["baseRevision"], 1);
    let config = app.get("/api/v1/flags/a/environments/production").await.expect(200);
    assert_eq!((config["defaultVariant"].clone(), config["revision"].clone()), (json!("off"), json!(1)));
    assert!(admin.get(&page).await.expect(200).contains("Scheduled for"));
    assert_eq!(app.get("/api/v1/releases").await.expect(200).as_array().unwrap().len(), 1);
});
