//! The admin API end to end, on SQLite and on Postgres: the real app on
//! port 0 with a fresh database per test.

mod support;

use serde_json::{Value, json};

async fn create_flag(app: &support::app::TestApp, key: &str) -> Value {
    app.post(
        "/api/v1/flags",
        json!({"key": key, "type": "boolean", "tags": ["checkout"], "description": "New checkout flow"}),
    )
    .await
    .expect(201)
}

api_test!(flags_are_created_listed_searched_and_paged, |app| async move {
    let flag = create_flag(app, "new-checkout").await;
    assert_eq!(flag["variants"], json!([{"key": "on", "value": true}, {"key": "off", "value": false}]));
    let prod = &flag["environments"]["production"];
    assert_eq!(
        (prod["enabled"].as_bool(), prod["offVariant"].as_str(), prod["revision"].as_i64()),
        (Some(false), Some("off"), Some(1))
    );
    for i in 0..12 {
        app.post(
            "/api/v1/flags",
            json!({"key": format!("flag-{i:02}"), "type": "string",
            "variants": [{"key": "a", "value": "A"}, {"key": "b", "value": "B"}]}),
        )
        .await
        .expect(201);
    }
    let page = app.get("/api/v1/flags?limit=5&offset=10").await.expect(200);
    assert_eq!(page["total"], 13);
    assert_eq!(page["items"].as_array().unwrap().len(), 3);
    let found = app.get("/api/v1/flags?q=CHECKOUT").await.expect(200);
    assert_eq!(found["total"], 1, "search is case-insensitive over key/name/description");
    assert_eq!(app.get("/api/v1/flags?tag=checkout").await.expect(200)["total"], 1);
    assert_eq!(app.get("/api/v1/flags?tag=nope").await.expect(200)["total"], 0);
    app.post("/api/v1/flags", json!({"key": "new-checkout", "type": "boolean"})).await.expect(409);
    let got = app.get("/api/v1/flags/new-checkout").await.expect(200);
    assert_eq!(got["environments"].as_object().unwrap().len(), 3);
});

api_test!(archiving_hides_from_the_default_list, |app| async move {
    create_flag(app, "old").await;
    create_flag(app, "live").await;
    let archived = app.patch("/api/v1/flags/old", json!({"archived": true})).await.expect(200);
    assert_eq!((archived["archived"].as_bool(), archived["revision"].as_i64()), (Some(true), Some(2)));
    assert_eq!(app.get("/api/v1/flags").await.expect(200)["total"], 1);
    assert_eq!(app.get("/api/v1/flags?archived=true").await.expect(200)["total"], 1);
    assert_eq!(app.get("/api/v1/flags?all=true").await.expect(200)["total"], 2);
    app.patch("/api/v1/flags/old", json!({"name": "x", "baseRevision": 1})).await.expect(409);
});

api_test!(configurations_validate_version_and_refuse_stale_writes, |app| async move {
    create_flag(app, "new-checkout").await;
    let path = "/api/v1/flags/new-checkout/environments/production";
    let before = app.get("/api/v1/environments").await.expect(200);
    let bad = app
        .put(path, json!({"enabled": true, "offVariant": "off", "defaultVariant": "off", "rules": [
            {"serve": {"variant": "on"}},
            {"serve": {"variant": "on"}},
            {"conditions": [{"attribute": "email", "op": "matches", "values": ["(unclosed"]}], "serve": {"variant": "on"}}
        ]}))
        .await;
    assert_eq!(bad.headers["content-type"], "application/problem+json");
    let bad = bad.expect(422);
    assert_eq!(bad["errors"][0]["path"], "rules[2].conditions[0].values");
    let canary = json!({"enabled": true, "offVariant": "off", "defaultVariant": "off", "rules": [
        {"id": "canary", "serve": {"split": {"variants": [{"variant": "on", "weight": 2500}, {"variant": "off", "weight": 7500}]}}}
    ], "baseRevision": 1});
    let put = app.put(path, canary.clone()).await;
    assert_eq!(put.headers["etag"], "\"2\"");
    assert_eq!(put.expect(200)["revision"], 2);
    // The same base revision again is stale.
    let stale = app.put(path, canary).await.expect(409);
    assert!(stale["detail"].as_str().unwrap().contains("revision 2"), "{stale}");
    let stale = app.call(reqwest::Method::PATCH, path, Some(&app.token), Some(&json!({"enabled": false}))).await;
    assert_eq!(stale.status, 200, "no precondition: last write wins");
    // Only production's version moved (by the three writes above: flag creation bumped all).
    let after = app.get("/api/v1/environments").await.expect(200);
    let version = |v: &Value, env: &str| {
        v.as_array().unwrap().iter().find(|e| e["key"] == env).unwrap()["version"].as_i64().unwrap()
    };
    assert_eq!(version(&after, "production"), version(&before, "production") + 2);
    assert_eq!(version(&after, "staging"), version(&before, "staging"));
    let got = app.get(path).await;
    assert_eq!(got.headers["etag"], "\"3\"");
    app.put(path, json!({"enabled": true})).await.expect(422);
    app.get("/api/v1/flags/new-checkout/environments/nowhere").await.expect(404);
    app.get("/api/v1/flags/nothing/environments/production").await.expect(404);
});

api_test!(if_match_header_is_a_precondition, |app| async move {
    create_flag(app, "f").await;
    let path = "/api/v1/flags/f/environments/staging";
    let mut req = app.http.patch(format!("{}{path}", app.base)).bearer_auth(&app.token).json(&json!({"enabled": true}));
    req = req.header("If-Match", "\"1\"");
    assert_eq!(req.send().await.unwrap().status(), 200);
    let again = app.http.patch(format!("{}{path}", app.base)).bearer_auth(&app.token).header("If-Match", "\"1\"");
    assert_eq!(again.json(&json!({"enabled": false})).send().await.unwrap().status(), 409);
    let bad = app.http.patch(format!("{}{path}", app.base)).bearer_auth(&app.token).header("If-Match", "abc");
    assert_eq!(bad.json(&json!({"enabled": false})).send().await.unwrap().status(), 400);
});

/// The version of `production` as the API shows it.
async fn production_version(app: &support::app::TestApp) -> i64 {
    let envs = app.get("/api/v1/environments").await.expect(200);
    let prod = envs.as_array().unwrap().iter().find(|e| e["key"] == "production").unwrap();
    prod["version"].as_i64().unwrap()
}

// Configuration writes run without savepoints (every refusal comes before
// they write): the refused ones, batched with the one that wins, leave no
// trace, and the batch commits the winner alone.
api_test!(concurrent_edits_on_the_same_revision_get_one_conflict, |app| async move {
    create_flag(app, "race").await;
    let path = "/api/v1/flags/race/environments/production";
    let before = production_version(app).await;
    let writes = (0..8).map(|i| {
        let body = json!({"enabled": i % 2 == 0, "baseRevision": 1});
        async move { app.patch(path, body).await.status.as_u16() }
    });
    let mut statuses = join_all(writes.collect()).await;
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409, 409, 409, 409, 409, 409, 409]);
    assert_eq!(app.get(path).await.expect(200)["revision"], 2);
    assert_eq!(production_version(app).await, before + 1, "one new version, by the one write that won");
    let history = app.get(&format!("{path}/history")).await.expect(200);
    assert_eq!(history.as_array().unwrap().len(), 2);
    let audit = app.get("/api/v1/audit?flag=race").await.expect(200);
    let updates = audit.as_array().unwrap().iter().filter(|a| a["entity"] == "config").count();
    assert_eq!(updates, 1, "one audit entry: {audit}");
    // Refusals of every kind in one batch with writes that succeed.
    create_flag(app, "other").await;
    let other = "/api/v1/flags/other/environments/production";
    let before = production_version(app).await;
    let mixed = [
        (path, json!({"enabled": true, "baseRevision": 1})),
        (other, json!({"enabled": true})),
        ("/api/v1/flags/missing/environments/production", json!({"enabled": true})),
        (path, json!({"defaultVariant": "nope"})),
        (path, json!({"enabled": true, "baseRevision": 2})),
    ];
    let writes = mixed.into_iter().map(|(p, body)| async move { app.patch(p, body).await.status.as_u16() });
    let statuses = join_all(writes.collect()).await;
    assert_eq!(statuses, [409, 200, 404, 422, 200]);
    assert_eq!(production_version(app).await, before + 2, "the two writes that succeeded, and nothing else");
});

/// Runs futures concurrently in this task (they borrow the app, so they cannot be spawned).
async fn join_all<F: std::future::Future<Output = u16>>(futures: Vec<F>) -> Vec<u16> {
    // Poll every future in one task so they interleave on the connection pool.
    let mut futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut results: Vec<Option<u16>> = vec![None; futures.len()];
    std::future::poll_fn(|cx| {
        for (i, f) in futures.iter_mut().enumerate() {
            if results[i].is_none()
                && let std::task::Poll::Ready(v) = f.as_mut().poll(cx)
            {
                results[i] = Some(v);
            }
        }
        if results.iter().all(Option::is_some) { std::task::Poll::Ready(()) } else { std::task::Poll::Pending }
    })
    .await;
    results.into_iter().flatten().collect()
}

api_test!(rollback_restores_an_earlier_revision_as_a_new_one, |app| async move {
    create_flag(app, "canary").await;
    let path = "/api/v1/flags/canary/environments/production";
    app.patch(path, json!({"enabled": true})).await.expect(200);
    app.patch(path, json!({"rules": [{"serve": {"split": {"variants": [{"variant": "on", "weight": 5000}, {"variant": "off", "weight": 5000}]}}}]}))
        .await
        .expect(200);
    let history = app.get(&format!("{path}/history")).await.expect(200);
    assert_eq!(
        history.as_array().unwrap().iter().map(|h| h["revision"].as_i64().unwrap()).collect::<Vec<_>>(),
        [3, 2, 1]
    );
    let rolled = app.post(&format!("{path}/rollback"), json!({"revision": 2})).await.expect(200);
    assert_eq!((rolled["revision"].as_i64(), rolled["enabled"].as_bool()), (Some(4), Some(true)));
    assert_eq!(rolled["rules"], json!([]));
    let audit = app.get("/api/v1/audit?flag=canary&limit=1").await.expect(200);
    assert_eq!(audit[0]["action"], "config.rollback");
    assert_eq!(audit[0]["before"]["rules"].as_array().unwrap().len(), 1);
    assert_eq!(audit[0]["after"]["rules"], json!([]));
    app.post(&format!("{path}/rollback"), json!({"revision": 99})).await.expect(404);
});

api_test!(configurations_copy_between_environments, |app| async move {
    create_flag(app, "f").await;
    app.put(
        "/api/v1/flags/f/environments/staging",
        json!({"enabled": true, "offVariant": "off", "defaultVariant": "on"}),
    )
    .await
    .expect(200);
    let copied = app
        .post("/api/v1/flags/f/copy", json!({"from": "staging", "to": "production", "baseRevision": 1}))
        .await
        .expect(200);
    assert_eq!(
        (copied["environment"].as_str(), copied["defaultVariant"].as_str(), copied["enabled"].as_bool()),
        (Some("production"), Some("on"), Some(true))
    );
    app.post("/api/v1/flags/f/copy", json!({"from": "staging", "to": "production", "baseRevision": 1}))
        .await
        .expect(409);
    app.post("/api/v1/flags/f/copy", json!({"from": "staging", "to": "staging"})).await.expect(422);
    app.post("/api/v1/flags/f/copy", json!({"from": "staging", "to": "moon"})).await.expect(404);
});

api_test!(segments_and_prerequisites_are_protected_while_used, |app| async move {
    app.post("/api/v1/segments", json!({"key": "beta", "included": ["u1"], "conditions": [{"attribute": "plan", "op": "eq", "values": ["beta"]}]}))
        .await
        .expect(201);
    app.post(
        "/api/v1/segments",
        json!({"key": "bad", "conditions": [{"attribute": "a", "op": "gt", "values": ["x"]}]}),
    )
    .await
    .expect(422);
    create_flag(app, "base").await;
    create_flag(app, "dependent").await;
    app.put(
        "/api/v1/flags/dependent/environments/production",
        json!({
            "enabled": true, "offVariant": "off", "defaultVariant": "off",
            "prerequisites": [{"flag": "base", "variants": ["on"]}],
            "rules": [{"conditions": [{"op": "segment", "values": ["beta"]}], "serve": {"variant": "on"}}]
        }),
    )
    .await
    .expect(200);
    let unknown = app
        .put(
            "/api/v1/flags/base/environments/production",
            json!({"enabled": true, "offVariant": "off", "defaultVariant": "off",
            "rules": [{"conditions": [{"op": "segment", "values": ["gamma"]}], "serve": {"variant": "on"}}]}),
        )
        .await
        .expect(422);
    assert_eq!(unknown["errors"][0]["path"], "rules[0].conditions[0].values[0]");
    let cycle = app
        .put(
            "/api/v1/flags/base/environments/production",
            json!({"enabled": true, "offVariant": "off", "defaultVariant": "off",
            "prerequisites": [{"flag": "dependent", "variants": ["on"]}]}),
        )
        .await
        .expect(422);
    assert!(cycle["detail"].as_str().unwrap().contains("cycle"), "{cycle}");
    app.delete("/api/v1/segments/beta").await.expect(409);
    app.delete("/api/v1/flags/base").await.expect(409);
    let seg = app.put("/api/v1/segments/beta", json!({"included": ["u1", "u2"], "baseRevision": 1})).await.expect(200);
    assert_eq!(seg["revision"], 2);
    assert_eq!(app.get("/api/v1/segments").await.expect(200).as_array().unwrap().len(), 1);
    // Variants still referenced cannot be removed.
    let gone = app.patch("/api/v1/flags/base", json!({"variants": [{"key": "off", "value": false}]})).await.expect(422);
    assert!(gone.to_string().contains("unknown variant"), "{gone}");
    // Once unused, both can go.
    app.put(
        "/api/v1/flags/dependent/environments/production",
        json!({"enabled": false, "offVariant": "off", "defaultVariant": "off"}),
    )
    .await
    .expect(200);
    app.delete("/api/v1/segments/beta").await.expect(204);
    app.delete("/api/v1/flags/base").await.expect(204);
    app.get("/api/v1/flags/base").await.expect(404);
});

api_test!(tokens_and_sdk_keys_show_their_secret_once, |app| async move {
    let created = app.post("/api/v1/tokens", json!({"name": "ci", "role": "editor"})).await.expect(201);
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("fy_admin_"));
    let listed = app.get("/api/v1/tokens").await.expect(200);
    assert!(listed.as_array().unwrap().iter().all(|t| t.get("secret").is_none()));
    let as_editor = app.call(reqwest::Method::GET, "/api/v1/flags", Some(&secret), None).await;
    assert_eq!(as_editor.status, 200);
    app.delete(&format!("/api/v1/tokens/{}", created["id"])).await.expect(204);
    let revoked = app.call(reqwest::Method::GET, "/api/v1/flags", Some(&secret), None).await;
    assert_eq!(revoked.status, 401);
    // The bootstrap token is the last admin: it cannot be revoked.
    let tokens = app.get("/api/v1/tokens").await.expect(200);
    let boot = tokens.as_array().unwrap().iter().find(|t| t["name"] == "bootstrap").unwrap()["id"].clone();
    app.delete(&format!("/api/v1/tokens/{boot}")).await.expect(409);

    let key = app.post("/api/v1/environments/staging/sdk-keys", json!({"name": "checkout-service"})).await.expect(201);
    let sdk_secret = key["secret"].as_str().unwrap().to_owned();
    assert!(sdk_secret.starts_with("fy_sdk_"));
    assert_eq!(key["environment"], "staging");
    let keys = app.get("/api/v1/sdk-keys?environment=staging").await.expect(200);
    assert_eq!(keys.as_array().unwrap().len(), 1);
    assert!(keys[0].get("secret").is_none());
    let refused = app.call(reqwest::Method::GET, "/api/v1/flags", Some(&sdk_secret), None).await;
    assert_eq!(refused.status, 401, "SDK keys are refused on the admin API");
    app.delete(&format!("/api/v1/sdk-keys/{}", key["id"])).await.expect(204);
    app.delete(&format!("/api/v1/sdk-keys/{}", key["id"])).await.expect(404);
});

api_test!(new_environments_get_every_flag_switched_off, |app| async move {
    create_flag(app, "f").await;
    let env = app.post("/api/v1/environments", json!({"key": "qa"})).await.expect(201);
    assert_eq!((env["name"].as_str(), env["version"].as_i64()), (Some("Qa"), Some(1)));
    let config = app.get("/api/v1/flags/f/environments/qa").await.expect(200);
    assert_eq!(config["enabled"], false);
    app.post("/api/v1/environments", json!({"key": "qa"})).await.expect(409);
    app.post("/api/v1/environments", json!({"key": "no spaces"})).await.expect(422);
});

api_test!(the_audit_log_filters_and_pages, |app| async move {
    create_flag(app, "a").await;
    create_flag(app, "b").await;
    for enabled in [true, false, true] {
        app.patch("/api/v1/flags/a/environments/staging", json!({"enabled": enabled})).await.expect(200);
    }
    let all = app.get("/api/v1/audit?flag=a").await.expect(200);
    let actions: Vec<&str> = all.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["config.enable", "config.disable", "config.enable", "flag.create"]);
    assert!(all.as_array().unwrap().iter().all(|e| e["actor"] == "token:bootstrap"));
    let page = app.get("/api/v1/audit?flag=a&limit=2").await.expect(200);
    let next = app.get(&format!("/api/v1/audit?flag=a&limit=2&before={}", page[1]["id"])).await.expect(200);
    assert_eq!(next.as_array().unwrap().len(), 2);
    assert_eq!(next[1]["action"], "flag.create");
    assert_eq!(app.get("/api/v1/audit?environment=staging").await.expect(200).as_array().unwrap().len(), 3);
    assert_eq!(app.get("/api/v1/audit?actor=someone-else").await.expect(200), json!([]));
    assert_eq!(app.get("/api/v1/audit?since=2999-01-01T00:00:00Z").await.expect(200), json!([]));
    app.get("/api/v1/audit?since=yesterday").await.expect(422);
});

api_test!(operations_endpoints, |app| async move {
    let health = app.call(reqwest::Method::GET, "/healthz", None, None).await;
    assert_eq!(health.status, 200);
    let ready = app.call(reqwest::Method::GET, "/readyz", None, None).await;
    assert_eq!(ready.status, 200);
    let r = app
        .http
        .get(format!("{}/api/v1/flags", app.base))
        .bearer_auth(&app.token)
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "abc-123");
    let metrics = app.http.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap();
    assert!(
        metrics.contains("flagyard_http_requests_total{method=\"GET\",route=\"/api/v1/flags\",status=\"200\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("flagyard_http_request_duration_seconds_bucket"), "{metrics}");
    assert!(metrics.contains("flagyard_db_pool_connections"), "{metrics}");
});
