//! Issue 15, item 5: the operations the UI lacked, on SQLite and Postgres —
//! a flag's name, description, tags and variants; archive, unarchive and
//! delete; delete a segment; delete a draft or stopped experiment; change
//! one's own password; an admin sets another user's password (disabling
//! was there). Each with the API's guards, refused in words.

mod support;

use reqwest::header::COOKIE;
use serde_json::json;
use support::app::TestApp;
use support::ui_client::{Browser, PASSWORD, Page, cookie_value};

/// The page a redirect goes to, with its flash message, as a browser shows it.
async fn follow(b: &Browser, res: &Page) -> String {
    assert_eq!(res.status, 303, "{}", res.body);
    let mut cookies = b.cookie.clone();
    if let Some(flash) = cookie_value(&res.headers, "flagyard_flash") {
        cookies = format!("{cookies}; flagyard_flash={flash}");
    }
    let url = format!("{}{}", b.base, res.location().split('#').next().unwrap_or_default());
    Browser::page(b.http.get(url).header(COOKIE, cookies).send().await.unwrap()).await.expect(200)
}

/// `base` with `dependent` requiring it, `dependent` using segment `beta`.
async fn flags(app: &TestApp) {
    app.post("/api/v1/segments", json!({"key": "beta", "included": ["u1"]})).await.expect(201);
    app.post("/api/v1/segments", json!({"key": "spare", "included": ["u2"]})).await.expect(201);
    for key in ["base", "dependent"] {
        app.post("/api/v1/flags", json!({"key": key, "type": "boolean"})).await.expect(201);
    }
    app.put(
        "/api/v1/flags/dependent/environments/production",
        json!({"enabled": true, "offVariant": "off", "defaultVariant": "off",
               "prerequisites": [{"flag": "base", "variants": ["on"]}],
               "rules": [{"conditions": [{"op": "segment", "values": ["beta"]}], "serve": {"variant": "on"}}]}),
    )
    .await
    .expect(200);
}

api_test!(a_flags_settings_archive_and_delete_work_in_the_ui_with_the_apis_guards, |app| async move {
    flags(app).await;
    let admin = Browser::admin(app).await;
    let page = admin.get("/flags/base").await.expect(200);
    assert!(page.contains(r#"action="/flags/base/definition""#) && page.contains("on = true\noff = false"), "{page}");

    let saved = admin
        .post(
            "/flags/base/definition",
            &[
                ("baseRevision", "1"),
                ("name", "Base feature"),
                ("description", "The <base> of it all"),
                ("tags", "core, team-a ,"),
                ("variants", "on = true\noff = false"),
            ],
        )
        .await;
    assert!(follow(&admin, &saved).await.contains("Settings of base saved"));
    let flag = app.get("/api/v1/flags/base").await.expect(200);
    assert_eq!(
        (flag["name"].as_str(), flag["description"].as_str()),
        (Some("Base feature"), Some("The <base> of it all"))
    );
    assert_eq!(flag["tags"], json!(["core", "team-a"]));
    // A stale form, a variant still used, a line that is not a variant: refused in words.
    let stale =
        admin.post("/flags/base/definition", &[("baseRevision", "1"), ("variants", "on = true\noff = false")]).await;
    assert!(follow(&admin, &stale).await.contains("Not saved: the flag changed since revision 1"), "stale");
    let used = admin.post("/flags/base/definition", &[("variants", "off = false")]).await;
    let page = follow(&admin, &used).await;
    assert!(page.contains("Not saved:") && page.contains("unknown variant “on”"), "{page}");
    let typo = admin.post("/flags/base/definition", &[("variants", "on = true\noff = nope")]).await;
    assert!(follow(&admin, &typo).await.contains("variants, line 2: “nope” is not a value"));
    assert_eq!(app.get("/api/v1/flags/base").await.expect(200)["variants"].as_array().unwrap().len(), 2);

    // Archive and unarchive.
    let archived = admin.post("/flags/base/archive", &[("archived", "true")]).await;
    assert!(follow(&admin, &archived).await.contains("base archived"));
    assert_eq!(app.get("/api/v1/flags/base").await.expect(200)["archived"], true);
    admin.post("/flags/base/archive", &[("archived", "false")]).await;
    assert_eq!(app.get("/api/v1/flags/base").await.expect(200)["archived"], false);

    // Delete: asks first; refused while `dependent` requires it; then done.
    let ask = admin.post("/flags/base/delete", &[]).await.expect(200);
    assert!(ask.contains("Delete flag base?") && ask.contains(r#"name="confirm" value="yes""#), "{ask}");
    let refused = admin.post("/flags/base/delete", &[("confirm", "yes")]).await;
    let page = follow(&admin, &refused).await;
    assert!(page.contains("Not saved: flag “base” is still used in environment “production”"), "{page}");
    app.get("/api/v1/flags/base").await.expect(200);
    app.put(
        "/api/v1/flags/dependent/environments/production",
        json!({"enabled": false, "offVariant": "off", "defaultVariant": "off"}),
    )
    .await
    .expect(200);
    let deleted = admin.post("/flags/base/delete", &[("confirm", "yes")]).await;
    assert_eq!(deleted.location(), "/flags");
    app.get("/api/v1/flags/base").await.expect(404);

    // Viewers cannot.
    let viewer = Browser::with_role(app, "vera", "viewer").await;
    assert!(!viewer.get("/flags/dependent").await.expect(200).contains("/flags/dependent/definition"));
    viewer.post("/flags/dependent/archive", &[("archived", "true")]).await.expect(403);
    viewer.post("/flags/dependent/delete", &[("confirm", "yes")]).await.expect(403);
    viewer.post("/flags/dependent/definition", &[("variants", "on = true")]).await.expect(403);
});

api_test!(segments_and_experiments_are_deleted_in_the_ui_unless_in_use, |app| async move {
    flags(app).await;
    app.post("/api/v1/metrics", json!({"key": "purchase", "event": "buy", "kind": "conversion"})).await.expect(201);
    app.put(
        "/api/v1/flags/base/environments/production",
        json!({"enabled": true, "offVariant": "off", "defaultVariant": "off", "rules": [
            {"id": "exp", "serve": {"split": {"variants": [{"variant": "on", "weight": 5000}, {"variant": "off", "weight": 5000}]}}}]}),
    )
    .await
    .expect(200);
    for key in ["running-test", "draft-test"] {
        app.post(
            "/api/v1/experiments",
            json!({"key": key, "flag": "base", "environment": "production", "ruleId": "exp",
                   "controlVariant": "off", "primaryMetric": "purchase"}),
        )
        .await
        .expect(201);
    }
    app.post("/api/v1/experiments/running-test/start", json!({})).await.expect(200);
    let admin = Browser::admin(app).await;

    let page = admin.get("/segments/beta").await.expect(200);
    assert!(page.contains(r#"action="/segments/beta/delete""#), "{page}");
    assert!(admin.post("/segments/beta/delete", &[]).await.expect(200).contains("Delete segment beta?"));
    let refused = admin.post("/segments/beta/delete", &[("confirm", "yes")]).await;
    let page = follow(&admin, &refused).await;
    assert!(page.contains("“beta”") && !page.contains('`'), "{page}");
    app.get("/api/v1/segments/beta").await.expect(200);
    let deleted = admin.post("/segments/spare/delete", &[("confirm", "yes")]).await;
    assert!(follow(&admin, &deleted).await.contains("Segment spare deleted"));
    app.get("/api/v1/segments/spare").await.expect(404);

    // A running experiment has no delete button, and the post is refused.
    assert!(!admin.get("/experiments/running-test").await.expect(200).contains("/experiments/running-test/delete"));
    let refused = admin.post("/experiments/running-test/delete", &[("confirm", "yes")]).await;
    assert!(follow(&admin, &refused).await.contains("is running: stop it first"));
    assert!(
        admin.get("/experiments/draft-test").await.expect(200).contains(r#"action="/experiments/draft-test/delete""#)
    );
    assert!(admin.post("/experiments/draft-test/delete", &[]).await.expect(200).contains("Delete draft-test?"));
    let deleted = admin.post("/experiments/draft-test/delete", &[("confirm", "yes")]).await;
    assert!(follow(&admin, &deleted).await.contains("Experiment draft-test deleted"));
    app.get("/api/v1/experiments/draft-test").await.expect(404);
    let viewer = Browser::with_role(app, "vic", "viewer").await;
    viewer.post("/segments/beta/delete", &[("confirm", "yes")]).await.expect(403);
    viewer.post("/experiments/running-test/delete", &[("confirm", "yes")]).await.expect(403);
});

api_test!(passwords_are_changed_by_their_owner_and_set_by_an_admin, |app| async move {
    let editor = Browser::with_role(app, "eddie", "editor").await;
    let page = editor.get("/account").await.expect(200);
    assert!(page.contains("Signed in as <strong>eddie</strong>") && page.contains(r#"href="/account""#), "{page}");
    let wrong = editor
        .post(
            "/account/password",
            &[("current", "not it at all"), ("password", "brand new pass"), ("repeat", "brand new pass")],
        )
        .await;
    assert_eq!(wrong.status, 403);
    assert!(wrong.body.contains("this is not your current password"));
    let differ = editor
        .post(
            "/account/password",
            &[("current", PASSWORD), ("password", "brand new pass"), ("repeat", "brand new pas")],
        )
        .await;
    assert!(differ.expect(422).contains("the two new passwords differ"));
    let short =
        editor.post("/account/password", &[("current", PASSWORD), ("password", "short"), ("repeat", "short")]).await;
    assert!(short.expect(422).contains("at least 10 characters"));
    let changed = editor
        .post(
            "/account/password",
            &[("current", PASSWORD), ("password", "brand new pass"), ("repeat", "brand new pass")],
        )
        .await;
    assert_eq!((changed.status.as_u16(), changed.location()), (303, "/login"));
    // The session ended; the new password signs in, the old one does not.
    assert_eq!(editor.get("/flags").await.status, 303);
    let again = Browser::login(app, "eddie", "brand new pass").await;
    assert_eq!(again.get("/flags").await.status, 200);

    // An admin sets another user's password; that user's sessions end.
    let admin = Browser::admin(app).await;
    let users = admin.get("/users").await.expect(200);
    assert!(users.contains(r#"action="/users/eddie/password""#) && users.contains(r#"href="/account">change yours"#));
    let short = admin.post("/users/eddie/password", &[("password", "short")]).await;
    assert!(follow(&admin, &short).await.contains("at least 10 characters"));
    let set = admin.post("/users/eddie/password", &[("password", "set by the admin")]).await;
    assert!(follow(&admin, &set).await.contains("User eddie has a new password"));
    assert_eq!(again.get("/flags").await.status, 303, "eddie's session ended");
    Browser::login(app, "eddie", "set by the admin").await;
    let own = admin.post("/users/admin/password", &[("password", "not like this")]).await;
    assert!(follow(&admin, &own).await.contains("your own password on your account page"));
    // Only admins set other people's passwords.
    let ed = Browser::login(app, "eddie", "set by the admin").await;
    ed.post("/users/admin/password", &[("password", "hijacked password")]).await.expect(403);
});

api_test!(a_bad_key_is_explained_once_and_not_echoed_whole, |app| async move {
    let admin = Browser::admin(app).await;
    let long = "x".repeat(300);
    let page = admin.post("/flags", &[("key", &format!("-{long}")), ("type", "boolean")]).await.expect(422);
    let start = page.find(r#"id="f-key-err">"#).expect("an error next to the key field");
    let message = &page[start..start + page[start..].find("</p>").unwrap()];
    assert!(!message.contains(&long), "the 301-character key is not repeated: {message}");
    assert!(message.contains("invalid key “-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx… (301 characters)”"), "{message}");
    assert!(!page.contains("key: invalid key") && !page.contains("key: key"), "said once, next to the field: {page}");
    // The field says the rule before anything is typed.
    let form = admin.get("/flags").await.expect(200);
    assert!(form.contains("1 to 128 letters, digits") && form.contains(r#"maxlength="128""#), "{form}");
});

api_test!(an_action_typed_in_the_address_bar_goes_to_its_page, |app| async move {
    let admin = Browser::admin(app).await;
    app.post("/api/v1/flags", json!({"key": "checkout", "type": "boolean"})).await.expect(201);
    // A GET of a UI action (a reload, a typed or bookmarked address) lands on
    // the page the action belongs to, not on a JSON 405.
    for (action, page) in [
        ("/flags/checkout/delete", "/flags/checkout"),
        ("/flags/checkout/environments/production/toggle", "/flags/checkout?env=production"),
        ("/sdk-keys", "/environments"),
        ("/tokens/1/revoke", "/tokens"),
    ] {
        let r = admin.get(action).await;
        assert_eq!((r.status.as_u16(), r.location()), (303, page), "{action}");
    }
    // The API keeps its problem answer.
    let r = app.get("/api/v1/experiments/x/start").await;
    assert_eq!(r.status, 405);
});
