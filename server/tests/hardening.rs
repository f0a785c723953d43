//! Production hardening (issue 11): hostile forms, the login limiter under
//! concurrency, metric label bounds, sessions bound to the password,
//! streams ending with their credentials, security headers and early
//! refusals. Each test runs on SQLite and on Postgres where storage is
//! involved.

mod support;

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::Method;
use reqwest::header::COOKIE;
use serde_json::json;
use support::app::{ADMIN_PASSWORD, TestApp};
use support::ui_client::{Browser, client, login_form, set_cookie};

/// A flag with a variant pair, created through the API.
async fn bool_flag(app: &TestApp, key: &str) {
    app.post("/api/v1/flags", json!({"key": key, "type": "boolean"})).await.expect(201);
}

api_test!(hostile_form_names_are_refused_not_recursed, |app| async move {
    bool_flag(app, "deep").await;
    let browser = Browser::admin(app).await;
    // The reproduction: `rules` then `.a` 20,000 times (40 KB) crashed the
    // process with a stack overflow in the form-tree builder.
    let long = format!("rules{}", ".a".repeat(20_000));
    // Under the name-length limit but over the depth limit.
    let deep = format!("rules{}", "[0]".repeat(40));
    let forms = ["/flags/deep/environments/development/rules", "/segments", "/experiments"];
    for path in forms {
        for (name, limit) in [(long.as_str(), "at most 256"), (deep.as_str(), "at most 12")] {
            let page = browser.post(path, &[(name, "x"), ("action", "save")]).await;
            let body = page.expect(400);
            assert!(body.contains("the form was refused") && body.contains(limit), "{path}: {body}");
        }
    }
    // Too many fields (each one harmless; 60 KB, under the test's 64 KiB body limit).
    let fields = vec![("x", ""); 20_001];
    let body = browser.post("/segments", &fields).await.expect(400);
    assert!(body.contains("at most 20000 are accepted"), "{body}");
    // The server is alive and a normal form still works.
    app.get("/api/v1/flags/deep").await.expect(200);
    let page = browser.post("/flags/deep/environments/development/rules", &[("action", "add_rule")]).await;
    page.expect(200);
});

/// An SDK key of `env` (its secret and id).
async fn sdk_key(app: &TestApp, env: &str) -> (String, i64) {
    let key = app.post(&format!("/api/v1/environments/{env}/sdk-keys"), json!({"name": "svc"})).await.expect(201);
    (key["secret"].as_str().unwrap().to_owned(), key["id"].as_i64().unwrap())
}

api_test!(concurrent_logins_cannot_overrun_the_budget, |app| async move {
    let http = client();
    let token = login_form(app, &http).await;
    let cookie = format!("flagyard_login_csrf={token}");
    // 300 wrong guesses at once, one username, one address: only the
    // budget's 5 are checked against the password; the rest wait.
    let attempts = (0..300).map(|i| {
        let (http, url, cookie, token) = (http.clone(), format!("{}/login", app.base), cookie.clone(), token.clone());
        async move {
            let password = format!("guess number {i}");
            let form = [("csrf", token.as_str()), ("username", "admin"), ("password", password.as_str())];
            http.post(url).header(COOKIE, cookie).form(&form).send().await.unwrap().status().as_u16()
        }
    });
    let statuses = futures_util::future::join_all(attempts).await;
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!(checked, 5, "exactly the budget is checked: {statuses:?}");
    assert_eq!(limited, 295);
    // The right password from the same address waits too.
    let form = [("csrf", token.as_str()), ("username", "admin"), ("password", ADMIN_PASSWORD)];
    let res = http.post(format!("{}/login", app.base)).header(COOKIE, &cookie).form(&form).send().await.unwrap();
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
});

api_test!(metric_labels_stay_bounded, |app| async move {
    let http = client();
    // Requests with made-up methods and paths (each used to add series).
    let junk = |range: std::ops::Range<u32>| {
        let requests = range.map(|i| {
            let http = http.clone();
            let url = format!("{}/junk-{i}/x", app.base);
            async move {
                let method = reqwest::Method::from_bytes(format!("M{i:07}").as_bytes()).unwrap();
                let _ = http.request(method, url).send().await;
            }
        });
        futures_util::stream::iter(requests).buffer_unordered(32).collect::<Vec<_>>()
    };
    let scrape = || async { http.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap() };
    let series = |text: &str| -> std::collections::BTreeSet<String> {
        text.lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| l.rsplit_once(' ').map_or(l, |(series, _value)| series).to_owned())
            .collect()
    };
    // Warm up: the first junk requests and scrapes create the series they
    // share (method "other", route "unmatched", their status codes).
    junk(0..100).await;
    scrape().await;
    let before = series(&scrape().await);
    junk(100..10_100).await;
    let text = scrape().await;
    let after = series(&text);
    // The recorder is process-wide and the other tests of this binary (and
    // the other backend's variant of this one) run alongside with known
    // methods, so only the series a made-up method can land in are compared:
    // those labelled `method="other"`.
    let added: Vec<_> = after.difference(&before).filter(|s| s.contains("method=\"other\"")).collect();
    assert!(added.is_empty(), "10,000 junk requests added series: {added:?}");
    assert!(before.iter().any(|s| s.contains("method=\"other\"")), "the warm-up junk is counted as method other");
    let methods: std::collections::BTreeSet<&str> = after
        .iter()
        .filter_map(|s| s.split_once("method=\"").and_then(|(_, rest)| rest.split_once('"')).map(|(m, _)| m))
        .collect();
    let known = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE", "other"];
    assert!(methods.iter().all(|m| known.contains(m)), "method labels come from a fixed set: {methods:?}");
    assert!(!text.contains("M000") && !text.contains("junk-"), "no label holds a raw method or path");
    assert!(text.len() < 2_000_000, "/metrics stays small: {} bytes", text.len());
});

api_test!(a_password_change_ends_logins_in_flight, |app| async move {
    let http = client();
    let token = login_form(app, &http).await;
    let cookie = format!("flagyard_login_csrf={token}");
    // One user per round, so that lost races (wrong-password answers) do not
    // run into the login limiter.
    for round in 0..20u64 {
        let user = format!("pat{round}");
        app.post("/api/v1/users", json!({"username": user, "password": "first password", "role": "viewer"}))
            .await
            .expect(201);
        let login = async {
            let form = [("csrf", token.as_str()), ("username", user.as_str()), ("password", "first password")];
            let res = http.post(format!("{}/login", app.base)).header(COOKIE, &cookie).form(&form).send().await;
            let res = res.unwrap();
            set_cookie(res.headers(), "flagyard_session").map(|c| c.split(';').next().unwrap().to_owned())
        };
        let change = async {
            tokio::time::sleep(Duration::from_millis(round % 5)).await;
            app.patch(&format!("/api/v1/users/{user}"), json!({"password": "second password"})).await.expect(200);
        };
        let (session, ()) = tokio::join!(login, change);
        if let Some(session) = session.filter(|s| s != "flagyard_session=") {
            // A session started with the old password must not survive the change.
            let res = http.get(format!("{}/flags", app.base)).header(COOKIE, session).send().await.unwrap();
            assert_eq!(res.status(), 303, "round {round}: a session of the old password is still valid");
        }
    }
});

api_test!(streams_end_with_their_credentials, |app| async move {
    let (key, id) = sdk_key(app, "production").await;
    let http = client();
    let mut ofrep = http.get(format!("{}/ofrep/v1/stream", app.base)).bearer_auth(&key).send().await.unwrap();
    assert_eq!(ofrep.status(), 200);
    let _first = ofrep.chunk().await.unwrap();
    app.delete(&format!("/api/v1/sdk-keys/{id}")).await.expect(204);
    let ended = tokio::time::timeout(Duration::from_secs(5), async { while let Ok(Some(_)) = ofrep.chunk().await {} });
    assert!(ended.await.is_ok(), "the OFREP stream ends when its key is revoked");

    let browser = Browser::admin(app).await;
    let mut events = http.get(format!("{}/ui/events", app.base)).header(COOKIE, &browser.cookie).send().await.unwrap();
    assert_eq!(events.status(), 200);
    let _first = events.chunk().await.unwrap();
    browser.post("/logout", &[]).await;
    let ended = tokio::time::timeout(Duration::from_secs(5), async { while let Ok(Some(_)) = events.chunk().await {} });
    assert!(ended.await.is_ok(), "/ui/events ends at logout");
});

api_test!(security_headers_long_queries_and_roles_first, |app| async move {
    let http = client();
    let page = http.get(format!("{}/login", app.base)).send().await.unwrap();
    let h = page.headers();
    assert_eq!(h["x-frame-options"], "DENY");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["referrer-policy"], "same-origin");
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"), "{csp}");
    // An over-long query string: 414 as problem+json.
    let long = format!("{}/api/v1/flags?q={}", app.base, "a".repeat(9_000));
    let res = http.get(long).bearer_auth(&app.token).send().await.unwrap();
    assert_eq!(res.status(), 414);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    // A viewer is refused (403) before its body is read: not a 400 about the body.
    let viewer = app.token_with("viewer").await;
    let res = http
        .post(format!("{}/api/v1/flags", app.base))
        .bearer_auth(&viewer)
        .header("content-type", "application/json")
        .body("{ not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
});

api_test!(a_write_is_in_force_when_it_answers, |app| async move {
    let (key, _) = sdk_key(app, "production").await;
    let eval = |flag: String| {
        let key = key.clone();
        async move {
            let (path, body) = (format!("/ofrep/v1/evaluate/flags/{flag}"), json!({}));
            app.call(Method::POST, &path, Some(&key), Some(&body)).await
        }
    };
    // Warm the replica's compiled rules, then write and evaluate at once.
    app.post("/api/v1/flags", json!({"key": "warm", "type": "boolean"})).await.expect(201);
    eval("warm".into()).await;
    for i in 0..40 {
        let flag = format!("kill-{i}");
        app.post("/api/v1/flags", json!({"key": flag, "type": "boolean"})).await.expect(201);
        let found = eval(flag.clone()).await;
        assert_eq!(found.status, 200, "a flag just created is found: {}", found.body);
        for on in [true, false, true] {
            let path = format!("/api/v1/flags/{flag}/environments/production");
            app.patch(&path, json!({"enabled": on, "defaultVariant": "on"})).await.expect(200);
            let answer = eval(flag.clone()).await;
            assert_eq!(answer.body["value"], json!(on), "round {i}: the write answered, the old value was served");
        }
    }
});

api_test!(regex_patterns_are_budgeted_per_environment, |app| async move {
    // 600 patterns in one flag are fine; 600 more in another flag of the
    // same environment would make the environment's snapshot exceed 1,000.
    let rule = |n: usize, tag: &str| {
        let values: Vec<String> = (0..n).map(|i| format!("^user-{tag}-{i}@example\\.com$")).collect();
        json!([{"conditions": [{"attribute": "email", "op": "matches", "values": values}], "serve": {"variant": "on"}}])
    };
    for key in ["first", "second"] {
        bool_flag(app, key).await;
    }
    let put = |key: &str, rules: serde_json::Value| {
        let path = format!("/api/v1/flags/{key}/environments/production");
        async move {
            app.put(&path, json!({"enabled": true, "offVariant": "off", "defaultVariant": "off", "rules": rules})).await
        }
    };
    put("first", rule(600, "a")).await.expect(200);
    let refused = put("second", rule(600, "b")).await.expect(422);
    assert_eq!(refused["errors"][0]["path"], "rules", "{refused}");
    let message = refused["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("1200") && message.contains("at most 1000"), "{message}");
    // Another environment has its own budget; and fewer patterns fit here.
    let path = "/api/v1/flags/second/environments/staging";
    app.put(path, json!({"enabled": true, "offVariant": "off", "defaultVariant": "off", "rules": rule(600, "b")}))
        .await
        .expect(200);
    put("second", rule(400, "b")).await.expect(200);
});

/// Six wrong guesses for `admin` that claim to come from `first` (by
/// `X-Forwarded-For`), then one that claims `second`: the statuses.
async fn guesses_through_a_proxy(app: &TestApp, first: &str, second: &str) -> Vec<u16> {
    let http = client();
    let token = login_form(app, &http).await;
    let cookie = format!("flagyard_login_csrf={token}");
    let mut statuses = Vec::new();
    for (i, from) in [first; 6].into_iter().chain([second]).enumerate() {
        let password = format!("guess number {i}");
        let form = [("csrf", token.as_str()), ("username", "admin"), ("password", password.as_str())];
        let res = http.post(format!("{}/login", app.base)).header(COOKIE, &cookie).header("x-forwarded-for", from);
        statuses.push(res.form(&form).send().await.unwrap().status().as_u16());
    }
    statuses
}

#[tokio::test]
async fn forwarded_addresses_count_only_from_trusted_proxies() {
    // Behind a trusted proxy, each forwarded client has its own budget.
    let db = support::db::SqliteTestDb::new();
    let trusted = [("FLAGYARD_TRUSTED_PROXIES", "127.0.0.1/32")];
    let app = TestApp::start_with(db.url.clone(), Box::new(db), &trusted).await;
    let statuses = guesses_through_a_proxy(&app, "203.0.113.1", "203.0.113.2").await;
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429, 401], "per forwarded client");
    app.stop().await;
    // From an untrusted peer the header is ignored: one budget for the peer.
    let db = support::db::SqliteTestDb::new();
    let app = TestApp::start_with(db.url.clone(), Box::new(db), &[]).await;
    let statuses = guesses_through_a_proxy(&app, "203.0.113.1", "203.0.113.2").await;
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429, 429], "the header of an untrusted peer counts for nothing");
    app.stop().await;
}
