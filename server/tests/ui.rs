//! The web UI's sign-in, flags list, flag page and live updates end to end,
//! on SQLite and on Postgres: sessions and login CSRF, escaping, toggles
//! with and without CSRF tokens, confirmations in production, roles, the
//! rules editor saving through the API's path (its errors next to the
//! fields), "test a context", the table fragment, assets, and `/ui/events`.

mod support;

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::header::{COOKIE, ETAG, LOCATION};
use serde_json::{Value, json};
use support::app::{ADMIN_PASSWORD, TestApp};
use support::ui_client::{Browser, client, cookie_value, csrf_of, login_form, set_cookie};

async fn enabled(app: &TestApp, key: &str, env: &str) -> bool {
    app.get(&format!("/api/v1/flags/{key}/environments/{env}")).await.expect(200)["enabled"].as_bool().unwrap()
}

async fn list_version(app: &TestApp) -> i64 {
    let envs = app.get("/api/v1/environments").await.expect(200);
    envs.as_array().unwrap().iter().map(|e| e["version"].as_i64().unwrap()).sum()
}

/// The `data-version` of the flags table in `html`.
fn data_version(html: &str) -> i64 {
    let at = html.find(r#"data-version=""#).expect("data-version") + r#"data-version=""#.len();
    html[at..].split('"').next().unwrap().parse().unwrap()
}

async fn color_flag(app: &TestApp, key: &str) {
    let variants = json!([{"key": "blue", "value": "blue"}, {"key": "green", "value": "green"}]);
    app.post("/api/v1/flags", json!({"key": key, "type": "string", "variants": variants})).await.expect(201);
}

api_test!(login_sessions_and_csrf, |app| async move {
    let http = client();
    let res = http.get(format!("{}/flags?q=a", app.base)).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()[LOCATION], "/login?next=/flags%3Fq%3Da");

    let post = |token: String, cookie: String, password: &'static str, next: &'static str| {
        let http = http.clone();
        let url = format!("{}/login", app.base);
        async move {
            let res = http
                .post(url)
                .header(COOKIE, cookie)
                .form(&[("csrf", token.as_str()), ("username", "admin"), ("password", password), ("next", next)])
                .send()
                .await
                .unwrap();
            Browser::page(res).await
        }
    };
    let token = login_form(app, &http).await;
    let cookie = format!("flagyard_login_csrf={token}");
    // Wrong password: the page again, 401, the username kept.
    let wrong = post(token.clone(), cookie.clone(), "not the password", "/flags").await;
    assert!(wrong.expect(401).contains("Wrong username or password") && wrong.body.contains(r#"value="admin""#));
    assert!(set_cookie(&wrong.headers, "flagyard_session").is_none());
    // The token without its cookie, or another one: refused.
    for (t, c) in [(token.clone(), String::new()), ("f".repeat(64), cookie.clone())] {
        let refused = post(t, c, ADMIN_PASSWORD, "/flags").await;
        refused.expect(403);
        assert!(set_cookie(&refused.headers, "flagyard_session").is_none());
    }
    // A cross-site origin is refused even with a matching pair.
    let res = http
        .post(format!("{}/login", app.base))
        .header(COOKIE, &cookie)
        .header("Origin", "https://evil.example")
        .form(&[("csrf", token.as_str()), ("username", "admin"), ("password", ADMIN_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(set_cookie(res.headers(), "flagyard_session").is_none());
    // No open redirects.
    let ok = post(token.clone(), cookie.clone(), ADMIN_PASSWORD, "//evil.example/x").await;
    assert_eq!((ok.status.as_u16(), ok.location()), (303, "/flags"));
    // Success: the session cookie, HttpOnly and SameSite=Lax, and back to `next`.
    let ok = post(token, cookie, ADMIN_PASSWORD, "/flags?tag=x").await;
    assert_eq!((ok.status.as_u16(), ok.location()), (303, "/flags?tag=x"));
    let line = set_cookie(&ok.headers, "flagyard_session").expect("session cookie");
    assert!(line.contains("HttpOnly") && line.contains("SameSite=Lax") && line.contains("Path=/"), "{line}");
    let session = cookie_value(&ok.headers, "flagyard_session").unwrap();
    let browser = Browser {
        base: app.base.clone(),
        http: client(),
        cookie: format!("flagyard_session={session}"),
        csrf: String::new(),
    };
    let flags = browser.get("/flags").await;
    assert!(flags.expect(200).contains("Sign out") || flags.body.contains("/logout"));
    let csrf = csrf_of(&flags.body);
    // Signing out needs the token too.
    browser.post_raw("/logout", &[("csrf", "nope")], None).await.expect(403);
    let out = browser.post_raw("/logout", &[("csrf", &csrf)], None).await;
    assert_eq!((out.status.as_u16(), out.location()), (303, "/login"));
    assert_eq!(browser.get("/flags").await.status, 303);
});

api_test!(flags_list_toggles_and_roles, |app| async move {
    let evil = r#"<script>alert("x")</script> & co"#;
    app.post("/api/v1/flags", json!({"key": "checkout", "type": "boolean", "name": evil, "tags": ["pay"]}))
        .await
        .expect(201);
    color_flag(app, "banner").await;
    let admin = Browser::admin(app).await;
    let html = admin.get("/flags").await.expect(200).to_owned();
    let escaped = html.contains("&lt;script&gt;") || html.contains("&#60;script&#62;");
    assert!(escaped && !html.contains("<script>alert"), "the name is escaped");
    assert!(
        html.contains(r#"href="/flags/banner""#) && html.contains("/flags/checkout/environments/development/toggle")
    );
    assert_eq!(data_version(&html), list_version(app).await);

    // No token, a wrong one: 403 and nothing changes.
    let path = "/flags/checkout/environments/development/toggle";
    admin.post_raw(path, &[("enabled", "true")], None).await.expect(403);
    admin.post_raw(path, &[("csrf", "wrong"), ("enabled", "true")], None).await.expect(403);
    assert!(!enabled(app, "checkout", "development").await);
    // With it: done, back to the list with a message; the audit names the user.
    let done = admin.post(path, &[("enabled", "true"), ("baseRevision", "1")]).await;
    assert_eq!((done.status.as_u16(), done.location()), (303, "/flags"));
    assert!(set_cookie(&done.headers, "flagyard_flash").is_some());
    assert!(enabled(app, "checkout", "development").await);
    let audit = app.get("/api/v1/audit?limit=1").await.expect(200);
    assert_eq!(audit[0]["actor"], "user:admin", "{audit}");
    // The same request again changes nothing (idempotent).
    admin.post(path, &[("enabled", "true")]).await.expect(303);
    assert_eq!(app.get("/api/v1/flags/checkout/environments/development").await.expect(200)["revision"], 2);
    // The kill switch always wins: rules saved since the page loaded (a new
    // revision) do not refuse it; a base revision posted by an old page is
    // ignored. Only `enabled` changes.
    let rules = json!({"rules": [{"id": "vip", "conditions": [{"attribute": "plan", "op": "in", "values": ["vip"]}],
                                  "serve": {"variant": "on"}}]});
    app.patch("/api/v1/flags/checkout/environments/development", rules).await.expect(200);
    let old_page = admin.post(path, &[("enabled", "false"), ("baseRevision", "1")]).await;
    assert!(cookie_value(&old_page.headers, "flagyard_flash").is_some_and(|v| v.starts_with('s')), "a success");
    let config = app.get("/api/v1/flags/checkout/environments/development").await.expect(200);
    assert_eq!((config["enabled"].clone(), config["rules"][0]["id"].clone()), (json!(false), json!("vip")));
    // htmx: the row, in place.
    let row = admin.post_htmx(path, &[("enabled", "true")], "flag-checkout").await;
    assert!(row.expect(200).trim_start().starts_with(r#"<tr id="flag-checkout""#));
    assert!(enabled(app, "checkout", "development").await);
    let row = admin.post_htmx(path, &[("enabled", "false")], "flag-checkout").await;
    assert!(row.expect(200).contains(r#"<tr id="flag-checkout""#));
    assert!(!enabled(app, "checkout", "development").await);

    // Production asks first.
    let prod = "/flags/checkout/environments/production/toggle";
    let ask = admin.post(prod, &[("enabled", "true")]).await;
    assert!(ask.expect(200).contains(r#"name="confirm" value="yes""#) && ask.body.contains("production"));
    // The confirmation page carries where to go afterwards: never its own
    // address, which answers only POST (a no-JS browser ended on a 405).
    // (No `Referer` here: the list.)
    assert!(ask.body.contains(r#"name="return" value="/flags""#), "{}", ask.body);
    assert!(!enabled(app, "checkout", "production").await);
    let back = "/flags/checkout?env=production";
    let yes = admin.post(prod, &[("enabled", "true"), ("confirm", "yes"), ("return", back)]).await;
    assert_eq!((yes.status.as_u16(), yes.location()), (303, back));
    assert!(enabled(app, "checkout", "production").await);
    for (asked, went) in [(prod, back), ("https://evil.example/", "/flags")] {
        let r = admin.post(prod, &[("enabled", "true"), ("confirm", "yes"), ("return", asked)]).await;
        assert_eq!((r.status.as_u16(), r.location()), (303, went), "{asked}");
    }

    // The table fragment, filtered, with the list's version.
    let rows = admin.get("/flags/rows?q=CHECK&env=production&state=on").await;
    let body = rows.expect(200);
    assert!(
        body.starts_with(r#"<tbody id="flag-rows""#) && body.contains("flag-checkout") && !body.contains("flag-banner")
    );
    assert_eq!(data_version(&body), list_version(app).await);
    let off = admin.get("/flags/rows?env=production&state=off").await;
    assert!(off.body.contains("flag-banner") && !off.body.contains("flag-checkout"));
    assert!(admin.get("/flags?tag=pay").await.body.contains("flag-checkout"));

    // Changes made through the API show in the list.
    app.patch("/api/v1/flags/banner", json!({"name": "Summer banner"})).await.expect(200);
    app.patch("/api/v1/flags/banner/environments/staging", json!({"enabled": true})).await.expect(200);
    color_flag(app, "added").await;
    let rows = admin.get("/flags/rows?env=staging&state=on").await.body;
    assert!(rows.contains("Summer banner") && !rows.contains("flag-added") && !rows.contains("flag-checkout"));
    assert!(admin.get("/flags/rows").await.body.contains("flag-added"));
    app.delete("/api/v1/flags/added").await.expect(204);
    let rows = admin.get("/flags/rows").await.body;
    assert!(!rows.contains("flag-added") && data_version(&rows) == list_version(app).await);

    // Creating from the form: errors keep the input; success goes to the flag.
    let bad = admin.post("/flags", &[("key", "bad key!"), ("type", "number"), ("variants", "one=1\ntwo=zwei")]).await;
    assert!(bad.expect(422).contains("the value is not JSON") && bad.body.contains("two=zwei"));
    let made = admin.post("/flags", &[("key", "price"), ("type", "number"), ("variants", "low=1\nhigh=2")]).await;
    assert_eq!((made.status.as_u16(), made.location()), (303, "/flags/price"));
    app.get("/api/v1/flags/price").await.expect(200);

    // A viewer sees the states but no switches, and may not toggle.
    let viewer = Browser::with_role(app, "vera", "viewer").await;
    let html = viewer.get("/flags").await.expect(200).to_owned();
    assert!(
        html.contains("flag-checkout")
            && !html.contains("/toggle")
            && !html.contains(r#"method="post" action="/flags""#)
    );
    viewer.post(prod, &[("enabled", "false"), ("confirm", "yes")]).await.expect(403);
    viewer.post(path, &[("enabled", "true")]).await.expect(403);
    assert!(enabled(app, "checkout", "production").await && !enabled(app, "checkout", "development").await);
});

/// The editor's fields for one rule: `plan` equals `plan_value`, serving a
/// 50/50 split (or `weights` as typed) between blue and green.
fn rule_fields<'a>(revision: &'a str, plan_value: &'a str, weights: [&'a str; 2]) -> Vec<(&'a str, &'a str)> {
    vec![
        ("baseRevision", revision),
        ("offVariant", "blue"),
        ("defaultVariant", "blue"),
        ("rules[0].id", "pro-users"),
        ("rules[0].conditions[0].attribute", "plan"),
        ("rules[0].conditions[0].op", "eq"),
        ("rules[0].conditions[0].type", "string"),
        ("rules[0].conditions[0].values", plan_value),
        ("rules[0].serve.kind", "split"),
        ("rules[0].serve.split.variants[0].variant", "blue"),
        ("rules[0].serve.split.variants[0].weight", weights[0]),
        ("rules[0].serve.split.variants[1].variant", "green"),
        ("rules[0].serve.split.variants[1].weight", weights[1]),
        ("action", "save"),
    ]
}

api_test!(rules_editor_and_test_panel, |app| async move {
    color_flag(app, "banner").await;
    let admin = Browser::admin(app).await;
    let html = admin.get("/flags/banner?env=development").await.expect(200).to_owned();
    assert!(html.contains(r#"id="rules-editor""#) && html.contains(r#"aria-current="page""#));
    admin.get("/flags/nope").await.expect(404);
    let path = "/flags/banner/environments/development/rules";

    // A structural action re-renders without saving.
    let added = admin
        .post(
            path,
            &[("baseRevision", "1"), ("offVariant", "blue"), ("defaultVariant", "blue"), ("action", "add_rule")],
        )
        .await;
    assert!(added.expect(200).contains(r#"name="rules[0].serve.kind""#));
    assert_eq!(app.get("/api/v1/flags/banner/environments/development").await.expect(200)["revision"], 1);

    // Invalid (weights add up to 90 %): the engine's error next to the field, input kept.
    let bad = admin.post(path, &rule_fields("1", "pro-plan-typed", ["40", "50"])).await;
    let body = bad.expect(422);
    assert!(
        body.contains("field-error") && body.contains("pro-plan-typed") && body.contains(r#"value="40""#),
        "{body}"
    );
    // The error list names the place as the editor does (the rule by its name), not by a path.
    assert!(
        body.contains("Rule &#34;pro-users&#34;, split") || body.contains("Rule &quot;pro-users&quot;, split"),
        "the error names the split: {body}"
    );
    assert!(!body.contains(">rules[0]"), "{body}");
    assert_eq!(app.get("/api/v1/flags/banner/environments/development").await.expect(200)["revision"], 1);
    // htmx gets the editor fragment alone.
    let frag = admin.post_htmx(path, &rule_fields("1", "x", ["40", "50"]), "rules-editor").await;
    assert!(frag.expect(422).trim_start().starts_with("<form") && !frag.body.contains("<html"));

    // Valid: saved through the API's path; the API sees it.
    let ok = admin.post(path, &rule_fields("1", "pro", ["50", "50"])).await;
    assert_eq!((ok.status.as_u16(), ok.location()), (303, "/flags/banner?env=development"));
    let config = app.get("/api/v1/flags/banner/environments/development").await.expect(200);
    assert_eq!(config["revision"], 2);
    assert_eq!(config["rules"][0]["conditions"][0], json!({"attribute": "plan", "op": "eq", "values": ["pro"]}));
    assert_eq!(config["rules"][0]["serve"]["split"]["variants"][1], json!({"variant": "green", "weight": 5000}));
    assert_eq!(config["enabled"], false, "the kill switch is kept");
    // Stale revision: 409, input kept.
    let stale = admin.post(path, &rule_fields("1", "pro-again", ["50", "50"])).await;
    assert!(stale.expect(409).contains("pro-again"));
    // Production needs the checkbox.
    let prod = admin.post("/flags/banner/environments/production/rules", &rule_fields("1", "pro", ["50", "50"])).await;
    assert!(prod.expect(422).contains("confirm saving in production"));
    let mut confirmed = rule_fields("1", "pro", ["50", "50"]);
    confirmed.push(("confirm", "yes"));
    admin.post("/flags/banner/environments/production/rules", &confirmed).await.expect(303);
    assert_eq!(app.get("/api/v1/flags/banner/environments/production").await.expect(200)["revision"], 2);

    // Test a context: off first, then the split with its bucket.
    let test = "/flags/banner/environments/development/test";
    let ctx = r#"{"targetingKey": "user-1", "plan": "pro"}"#;
    let off = admin.post_htmx(test, &[("context", ctx)], "test-result").await;
    assert!(off.expect(200).contains("off") && off.body.contains(r#"id="test-result""#));
    app.patch("/api/v1/flags/banner/environments/development", json!({"enabled": true})).await.expect(200);
    let split = admin.post_htmx(test, &[("context", ctx)], "test-result").await;
    let body = split.expect(200);
    assert!(body.contains("of 10000") && body.contains("split"), "{body}");
    // The rule as the editor calls it (its name; the editor's "Rule 1"), never a 0-based "rule 0".
    assert!(
        body.contains("rule &#34;pro-users&#34; matched") || body.contains("rule &quot;pro-users&quot; matched"),
        "{body}"
    );
    assert!(!body.contains('`'), "no code quotes: {body}");
    assert!(body.contains("&#34;blue&#34;") || body.contains("&#34;green&#34;"), "{body}");
    let other = admin.post_htmx(test, &[("context", r#"{"targetingKey": "u", "plan": "free"}"#)], "test-result").await;
    assert!(other.expect(200).contains("default"), "{}", other.body);
    let broken = admin.post_htmx(test, &[("context", "{not json")], "test-result").await;
    assert!(broken.expect(200).contains("not valid JSON"));
    // Without htmx: the whole page, the context kept.
    let full = admin.post(test, &[("context", ctx)]).await;
    assert!(full.expect(200).contains("of 10000") && full.body.contains("user-1") && full.body.contains("<html"));

    // Copy to staging; into production asks first.
    let copied = admin.post("/flags/banner/copy", &[("from", "development"), ("to", "staging")]).await;
    assert_eq!((copied.status.as_u16(), copied.location()), (303, "/flags/banner?env=staging"));
    assert_eq!(app.get("/api/v1/flags/banner/environments/staging").await.expect(200)["enabled"], true);
    let ask = admin.post("/flags/banner/copy", &[("from", "development"), ("to", "production")]).await;
    assert!(ask.expect(200).contains(r#"name="confirm" value="yes""#));

    // Viewers: read-only editor, posts refused.
    let viewer = Browser::with_role(app, "vic", "viewer").await;
    viewer.get("/flags/banner").await.expect(200);
    viewer.post(path, &rule_fields("2", "x", ["50", "50"])).await.expect(403);
    viewer.post("/flags/banner/copy", &[("from", "development"), ("to", "staging")]).await.expect(403);
});

type Events = std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<axum::body::Bytes>> + Send>>;

/// The version of the next `/ui/events` message.
async fn next_version(stream: &mut Events, buffer: &mut String) -> i64 {
    loop {
        if let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            if let Some(data) = event.lines().find_map(|l| l.strip_prefix("data: ")) {
                let msg: Value = serde_json::from_str(data).unwrap();
                assert_eq!(msg["topic"], "flags");
                return msg["version"].as_i64().unwrap();
            }
            continue;
        }
        let chunk = stream.next().await.expect("the stream stays open").unwrap();
        buffer.push_str(std::str::from_utf8(&chunk).unwrap());
    }
}

api_test!(assets_and_live_updates, |app| async move {
    let http = client();
    let login = http.get(format!("{}/login", app.base)).send().await.unwrap().text().await.unwrap();
    let at = login.find("/assets/app.css?v=").expect("a versioned stylesheet link");
    let href = login[at..].split('"').next().unwrap().to_owned();
    let css = http.get(format!("{}{href}", app.base)).send().await.unwrap();
    assert_eq!(css.status(), 200);
    assert!(css.headers()["content-type"].to_str().unwrap().starts_with("text/css"));
    assert!(css.headers()["cache-control"].to_str().unwrap().contains("immutable"));
    let etag = css.headers()[ETAG].clone();
    let again = http.get(format!("{}/assets/app.css", app.base)).header("If-None-Match", etag).send().await.unwrap();
    assert_eq!(again.status(), 304);
    let bare = http.get(format!("{}/assets/app.js?v=old", app.base)).send().await.unwrap();
    assert_eq!((bare.status().as_u16(), bare.headers()["cache-control"].to_str().unwrap()), (200, "no-cache"));
    assert_eq!(http.get(format!("{}/assets/nope.js", app.base)).send().await.unwrap().status(), 404);

    // Live updates: the current version on connect, then a change made
    // through the admin API within a second.
    assert_eq!(http.get(format!("{}/ui/events", app.base)).send().await.unwrap().status(), 303);
    color_flag(app, "banner").await;
    let admin = Browser::admin(app).await;
    let res = admin.http.get(format!("{}/ui/events", app.base)).header(COOKIE, &admin.cookie).send().await.unwrap();
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let mut stream: Events = Box::pin(res.bytes_stream());
    let mut buffer = String::new();
    let first = tokio::time::timeout(Duration::from_secs(5), next_version(&mut stream, &mut buffer))
        .await
        .expect("a first event");
    let rows = admin.get("/flags/rows").await;
    assert_eq!(first, data_version(&rows.body), "the table and the stream count alike");
    let started = Instant::now();
    app.patch("/api/v1/flags/banner/environments/staging", json!({"enabled": true})).await.expect(200);
    let next = tokio::time::timeout(Duration::from_secs(1), next_version(&mut stream, &mut buffer))
        .await
        .expect("an event within a second");
    eprintln!("live update after {:?}", started.elapsed());
    assert!(next > first);
    assert_eq!(next, data_version(&admin.get("/flags/rows").await.body));
});

api_test!(flags_page_with_a_thousand_flags, |app| async move {
    let body =
        |i: usize| json!({"key": format!("flag-{i:04}"), "type": "boolean", "tags": [format!("team-{}", i % 7)]});
    let mut pending = futures_util::stream::iter(0..1000)
        .map(|i| async move { app.post("/api/v1/flags", body(i)).await.status.as_u16() })
        .buffer_unordered(16);
    while let Some(status) = pending.next().await {
        assert_eq!(status, 201);
    }
    let admin = Browser::admin(app).await;
    let mut times = Vec::new();
    for _ in 0..7 {
        let started = Instant::now();
        let html = admin.get("/flags").await;
        times.push(started.elapsed());
        assert!(html.expect(200).contains("flag-0999"));
    }
    times.sort();
    eprintln!("GET /flags with 1000 flags: median {:?}, best {:?}", times[3], times[0]);
    // Right after a change (the list is brought up to date, not reloaded).
    let mut changed = Vec::new();
    for i in 0..7 {
        let body = json!({"enabled": i % 2 == 0});
        app.patch("/api/v1/flags/flag-0500/environments/development", body).await.expect(200);
        let started = Instant::now();
        let html = admin.get("/flags").await;
        changed.push(started.elapsed());
        let on = html.expect(200).contains(r#"aria-pressed="true""#);
        assert_eq!(on, i % 2 == 0, "the change is shown");
    }
    changed.sort();
    eprintln!("GET /flags with 1000 flags after a change: median {:?}, best {:?}", changed[3], changed[0]);
    let rows = Instant::now();
    admin.get("/flags/rows?q=flag-09").await.expect(200);
    eprintln!("GET /flags/rows?q=flag-09: {:?}", rows.elapsed());
});
