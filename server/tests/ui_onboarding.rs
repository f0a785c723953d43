//! The first steps on the flags list, on SQLite and on Postgres: shown to
//! editors of a project no SDK has connected to, with snippets filled in
//! with the server's URL, the environment, its key's name and the first
//! flag; gone once an SDK key has been used; never shown to viewers.

mod support;

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;
use support::ui_client::Browser;

api_test!(the_first_steps_show_until_an_sdk_connects, |app| async move {
    let admin = Browser::admin(app).await;
    let host = app.base.trim_start_matches("http://");
    let html = admin.get("/flags").await.expect(200);
    assert!(html.contains("Get started"), "an empty project shows the first steps");
    assert!(html.contains("Use “New flag” below"), "step 1 still to do");
    assert!(
        html.contains(&format!("http://{host}/ofrep/v1/evaluate/flags/new-checkout")),
        "curl with this server's URL"
    );
    assert!(html.contains("an SDK key of production"), "no key yet: production");
    // A proxy that terminates TLS: the snippets say https.
    let proxied = admin.get_with("/flags", &[("x-forwarded-proto", "https")]).await.expect(200);
    assert!(proxied.contains(&format!("https://{host}/ofrep")));
    // Viewers cannot create flags or keys: nothing to show them.
    let viewer = Browser::with_role(app, "vera", "viewer").await;
    assert!(!viewer.get("/flags").await.expect(200).contains("Get started"));

    app.post("/api/v1/flags", json!({"key": "checkout", "type": "boolean"})).await.expect(201);
    let key = app.post("/api/v1/environments/staging/sdk-keys", json!({"name": "web-staging"})).await.expect(201);
    let secret = key["secret"].as_str().unwrap().to_owned();
    let html = admin.get("/flags").await.expect(200);
    assert!(html.contains("Done: the snippets below ask for <code>checkout</code>"), "step 1 done");
    assert!(html.contains("Done: <strong>web-staging</strong>"), "step 2 done");
    assert!(
        html.contains("SDK key &#34;web-staging&#34; (staging)")
            || html.contains("SDK key &quot;web-staging&quot; (staging)")
    );
    assert!(html.contains("bool_value(&#34;checkout&#34;") || html.contains("bool_value(&quot;checkout&quot;"));

    // The SDK's first request: the card goes once its use is recorded.
    let body = json!({"context": {"targetingKey": "user-1"}});
    app.call(Method::POST, "/ofrep/v1/evaluate/flags/checkout", Some(&secret), Some(&body)).await.expect(200);
    let started = Instant::now();
    while admin.get("/flags").await.expect(200).contains("Get started") {
        assert!(started.elapsed() < Duration::from_secs(10), "the first steps stay after the key was used");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
});
