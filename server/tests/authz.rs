//! Who may call what: every admin API route × {no token, an SDK key, a
//! viewer, an editor, an admin token}, on SQLite and on Postgres.
//!
//! No token and SDK keys get `401` (with `WWW-Authenticate: Bearer`); a role
//! below the route's requirement gets `403` and changes nothing (the audit log
//! does not move); a sufficient role gets the route's success status, on
//! objects set up beforehand where the call needs them. Then revoked tokens,
//! `X-API-Key` and malformed `Authorization` headers.

mod support;

use std::fmt::Write as _;

use reqwest::Method;
use serde_json::{Value, json};
use support::app::{ADMIN_ROUTES, TestApp};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Role {
    Viewer,
    Editor,
    Admin,
}

/// Each route: the least role it needs and its success status.
const MATRIX: &[(&str, Role, u16)] = &[
    ("GET /environments", Role::Viewer, 200),
    ("POST /environments", Role::Admin, 201),
    ("GET /environments/{env}/event-counts", Role::Viewer, 200),
    ("POST /environments/{env}/sdk-keys", Role::Admin, 201),
    ("GET /flags", Role::Viewer, 200),
    ("POST /flags", Role::Editor, 201),
    ("GET /flags/{key}", Role::Viewer, 200),
    ("PATCH /flags/{key}", Role::Editor, 200),
    ("DELETE /flags/{key}", Role::Editor, 204),
    ("POST /flags/{key}/copy", Role::Editor, 200),
    ("GET /flags/{key}/environments/{env}", Role::Viewer, 200),
    ("PUT /flags/{key}/environments/{env}", Role::Editor, 200),
    ("PATCH /flags/{key}/environments/{env}", Role::Editor, 200),
    ("GET /flags/{key}/environments/{env}/history", Role::Viewer, 200),
    ("POST /flags/{key}/environments/{env}/rollback", Role::Editor, 200),
    ("POST /flags/{key}/environments/{env}/schedule", Role::Editor, 201),
    ("GET /segments", Role::Viewer, 200),
    ("POST /segments", Role::Editor, 201),
    ("GET /segments/{key}", Role::Viewer, 200),
    ("PUT /segments/{key}", Role::Editor, 200),
    ("DELETE /segments/{key}", Role::Editor, 204),
    ("GET /metrics", Role::Viewer, 200),
    ("POST /metrics", Role::Editor, 201),
    ("GET /metrics/{key}", Role::Viewer, 200),
    ("PUT /metrics/{key}", Role::Editor, 200),
    ("DELETE /metrics/{key}", Role::Editor, 204),
    ("GET /experiments", Role::Viewer, 200),
    ("POST /experiments", Role::Editor, 201),
    ("GET /experiments/{key}", Role::Viewer, 200),
    ("PUT /experiments/{key}", Role::Editor, 200),
    ("DELETE /experiments/{key}", Role::Editor, 204),
    ("POST /experiments/{key}/start", Role::Editor, 200),
    ("POST /experiments/{key}/stop", Role::Editor, 200),
    ("GET /experiments/{key}/results", Role::Viewer, 200),
    ("GET /experiments/{key}/history", Role::Viewer, 200),
    ("GET /releases", Role::Viewer, 200),
    ("POST /releases", Role::Editor, 201),
    ("GET /releases/{id}", Role::Viewer, 200),
    ("PUT /releases/{id}", Role::Editor, 200),
    ("DELETE /releases/{id}", Role::Editor, 204),
    ("GET /releases/{id}/preview", Role::Viewer, 200),
    ("POST /releases/{id}/apply", Role::Editor, 200),
    ("POST /releases/{id}/revert", Role::Editor, 201),
    ("PUT /releases/{id}/schedule", Role::Editor, 200),
    ("DELETE /releases/{id}/schedule", Role::Editor, 200),
    ("GET /ramps", Role::Viewer, 200),
    ("POST /ramps", Role::Editor, 201),
    ("GET /ramps/{id}", Role::Viewer, 200),
    ("POST /ramps/{id}/pause", Role::Editor, 200),
    ("POST /ramps/{id}/resume", Role::Editor, 200),
    ("POST /ramps/{id}/skip", Role::Editor, 200),
    ("POST /ramps/{id}/abort", Role::Editor, 200),
    ("GET /tokens", Role::Admin, 200),
    ("POST /tokens", Role::Admin, 201),
    ("DELETE /tokens/{id}", Role::Admin, 204),
    ("GET /sdk-keys", Role::Admin, 200),
    ("DELETE /sdk-keys/{id}", Role::Admin, 204),
    ("GET /users", Role::Admin, 200),
    ("POST /users", Role::Admin, 201),
    ("PATCH /users/{username}", Role::Admin, 200),
    ("DELETE /users/{username}", Role::Admin, 204),
    ("GET /audit", Role::Viewer, 200),
];

/// A credential to call with.
#[derive(Debug, Clone, Copy)]
enum Cred {
    None,
    SdkKey,
    Role(Role),
}

impl Cred {
    fn name(self) -> &'static str {
        match self {
            Cred::None => "no token",
            Cred::SdkKey => "SDK key",
            Cred::Role(Role::Viewer) => "viewer",
            Cred::Role(Role::Editor) => "editor",
            Cred::Role(Role::Admin) => "admin",
        }
    }
}

struct Secrets {
    sdk_key: String,
    viewer: String,
    editor: String,
    admin: String,
}

impl Secrets {
    fn of(&self, cred: Cred) -> Option<&str> {
        match cred {
            Cred::None => None,
            Cred::SdkKey => Some(&self.sdk_key),
            Cred::Role(Role::Viewer) => Some(&self.viewer),
            Cred::Role(Role::Editor) => Some(&self.editor),
            Cred::Role(Role::Admin) => Some(&self.admin),
        }
    }
}

/// An instant the server's own clock will not reach during the test.
const LATER: &str = "2031-01-01T00:00:00Z";

/// A release enabling `flag` in staging.
fn release_body(n: usize, flag: &str) -> Value {
    json!({"name": format!("release-{n}"), "changes": [{"flag": flag, "environment": "staging", "enabled": true}]})
}

/// A draft release (created as admin) enabling `flag` in staging; its id.
async fn new_release(app: &TestApp, n: usize, flag: &str) -> i64 {
    app.post("/api/v1/releases", release_body(n, flag)).await.expect(201)["id"].as_i64().unwrap()
}

/// A flag `ramp-n` with a split rule `canary` at 0 % in staging (as admin); the ramp body for it.
async fn ramp_flag(app: &TestApp, n: usize) -> Value {
    let flag = format!("ramp-{n}");
    app.post("/api/v1/flags", json!({"key": flag, "type": "boolean"})).await.expect(201);
    let split = json!({"split": {"coverage": 0,
        "variants": [{"variant": "on", "weight": 5000}, {"variant": "off", "weight": 5000}]}});
    let config = json!({"enabled": true, "offVariant": "off", "defaultVariant": "off",
                        "rules": [{"id": "canary", "serve": split}]});
    app.put(&format!("/api/v1/flags/{flag}/environments/staging"), config).await.expect(200);
    json!({"flag": flag, "environment": "staging", "ruleId": "canary", "canaryVariant": "on",
           "controlVariant": "off", "steps": [{"coverage": 100, "hold": "1h"}, {"coverage": 1000, "hold": "1h"}]})
}

/// A running ramp (created as admin); its id.
async fn new_ramp(app: &TestApp, n: usize) -> i64 {
    let body = ramp_flag(app, n).await;
    app.post("/api/v1/ramps", body).await.expect(201)["id"].as_i64().unwrap()
}

/// The request that exercises `route`, after creating (as admin) what it
/// needs; `n` makes names unique.
async fn prepare(app: &TestApp, route: &str, n: usize) -> (Method, String, Option<Value>) {
    let (m, p, b): (Method, String, Option<Value>) = match route {
        "GET /environments" => (Method::GET, "/environments".into(), None),
        "POST /environments" => (Method::POST, "/environments".into(), Some(json!({"key": format!("env-{n}")}))),
        "GET /environments/{env}/event-counts" => (Method::GET, "/environments/staging/event-counts".into(), None),
        "POST /environments/{env}/sdk-keys" => {
            (Method::POST, "/environments/staging/sdk-keys".into(), Some(json!({"name": format!("svc-{n}")})))
        }
        "GET /flags" => (Method::GET, "/flags".into(), None),
        "POST /flags" => (Method::POST, "/flags".into(), Some(json!({"key": format!("new-{n}"), "type": "boolean"}))),
        "GET /flags/{key}" => (Method::GET, "/flags/f".into(), None),
        "PATCH /flags/{key}" => (Method::PATCH, "/flags/f".into(), Some(json!({"description": format!("d{n}")}))),
        "DELETE /flags/{key}" => {
            let key = format!("doomed-{n}");
            app.post("/api/v1/flags", json!({"key": key, "type": "boolean"})).await.expect(201);
            (Method::DELETE, format!("/flags/{key}"), None)
        }
        "POST /flags/{key}/copy" => {
            (Method::POST, "/flags/f/copy".into(), Some(json!({"from": "staging", "to": "production"})))
        }
        "GET /flags/{key}/environments/{env}" => (Method::GET, "/flags/f/environments/staging".into(), None),
        "PUT /flags/{key}/environments/{env}" => (
            Method::PUT,
            "/flags/f/environments/staging".into(),
            Some(json!({"enabled": n.is_multiple_of(2), "offVariant": "off", "defaultVariant": "on"})),
        ),
        "PATCH /flags/{key}/environments/{env}" => {
            (Method::PATCH, "/flags/f/environments/staging".into(), Some(json!({"enabled": n.is_multiple_of(2)})))
        }
        "GET /flags/{key}/environments/{env}/history" => {
            (Method::GET, "/flags/f/environments/staging/history".into(), None)
        }
        "POST /flags/{key}/environments/{env}/rollback" => {
            (Method::POST, "/flags/f/environments/staging/rollback".into(), Some(json!({"revision": 1})))
        }
        "POST /flags/{key}/environments/{env}/schedule" => (
            Method::POST,
            "/flags/f/environments/staging/schedule".into(),
            Some(json!({"at": LATER, "enabled": n.is_multiple_of(2)})),
        ),
        "GET /segments" => (Method::GET, "/segments".into(), None),
        "POST /segments" => (Method::POST, "/segments".into(), Some(json!({"key": format!("seg-{n}")}))),
        "GET /segments/{key}" => (Method::GET, "/segments/beta".into(), None),
        "PUT /segments/{key}" => {
            (Method::PUT, "/segments/beta".into(), Some(json!({"included": [format!("user-{n}")]})))
        }
        "DELETE /segments/{key}" => {
            let key = format!("doomed-{n}");
            app.post("/api/v1/segments", json!({"key": key})).await.expect(201);
            (Method::DELETE, format!("/segments/{key}"), None)
        }
        "GET /metrics" => (Method::GET, "/metrics".into(), None),
        "POST /metrics" => (
            Method::POST,
            "/metrics".into(),
            Some(json!({"key": format!("metric-{n}"), "event": "e", "kind": "count"})),
        ),
        "GET /metrics/{key}" => (Method::GET, "/metrics/m".into(), None),
        "PUT /metrics/{key}" => (
            Method::PUT,
            "/metrics/m".into(),
            Some(json!({"event": "e", "kind": "count", "description": format!("d{n}")})),
        ),
        "DELETE /metrics/{key}" => {
            let key = format!("doomed-{n}");
            app.post("/api/v1/metrics", json!({"key": key, "event": "e", "kind": "count"})).await.expect(201);
            (Method::DELETE, format!("/metrics/{key}"), None)
        }
        "GET /experiments" => (Method::GET, "/experiments".into(), None),
        "POST /experiments" => (Method::POST, "/experiments".into(), Some(experiment(&format!("exp-{n}")))),
        "GET /experiments/{key}" => (Method::GET, "/experiments/x".into(), None),
        "PUT /experiments/{key}" => {
            let mut body = experiment("x");
            body["hypothesis"] = json!(format!("h{n}"));
            (Method::PUT, "/experiments/x".into(), Some(body))
        }
        "DELETE /experiments/{key}" => {
            let key = format!("doomed-{n}");
            app.post("/api/v1/experiments", experiment(&key)).await.expect(201);
            (Method::DELETE, format!("/experiments/{key}"), None)
        }
        "POST /experiments/{key}/start" => {
            let key = format!("start-{n}");
            app.post("/api/v1/experiments", experiment(&key)).await.expect(201);
            (Method::POST, format!("/experiments/{key}/start"), None)
        }
        "POST /experiments/{key}/stop" => {
            let key = format!("stop-{n}");
            app.post("/api/v1/experiments", experiment(&key)).await.expect(201);
            app.post(&format!("/api/v1/experiments/{key}/start"), json!({})).await.expect(200);
            (Method::POST, format!("/experiments/{key}/stop"), None)
        }
        "GET /experiments/{key}/results" => {
            let key = format!("results-{n}");
            app.post("/api/v1/experiments", experiment(&key)).await.expect(201);
            app.post(&format!("/api/v1/experiments/{key}/start"), json!({})).await.expect(200);
            (Method::GET, format!("/experiments/{key}/results"), None)
        }
        "GET /experiments/{key}/history" => {
            let key = format!("history-{n}");
            app.post("/api/v1/experiments", experiment(&key)).await.expect(201);
            (Method::GET, format!("/experiments/{key}/history"), None)
        }
        "GET /releases" => (Method::GET, "/releases".into(), None),
        "POST /releases" => (Method::POST, "/releases".into(), Some(release_body(n, "f"))),
        "GET /releases/{id}" => (Method::GET, format!("/releases/{}", new_release(app, n, "f").await), None),
        "PUT /releases/{id}" => {
            (Method::PUT, format!("/releases/{}", new_release(app, n, "f").await), Some(release_body(n + 1, "f")))
        }
        "DELETE /releases/{id}" => (Method::DELETE, format!("/releases/{}", new_release(app, n, "f").await), None),
        "GET /releases/{id}/preview" => {
            (Method::GET, format!("/releases/{}/preview", new_release(app, n, "f").await), None)
        }
        "POST /releases/{id}/apply" => {
            (Method::POST, format!("/releases/{}/apply", new_release(app, n, "f").await), None)
        }
        "POST /releases/{id}/revert" => {
            // A flag of its own, so that the revert's base revision holds.
            let key = format!("reverted-{n}");
            app.post("/api/v1/flags", json!({"key": key, "type": "boolean"})).await.expect(201);
            let id = new_release(app, n, &key).await;
            app.post(&format!("/api/v1/releases/{id}/apply"), json!(null)).await.expect(200);
            (Method::POST, format!("/releases/{id}/revert"), None)
        }
        "PUT /releases/{id}/schedule" => {
            (Method::PUT, format!("/releases/{}/schedule", new_release(app, n, "f").await), Some(json!({"at": LATER})))
        }
        "DELETE /releases/{id}/schedule" => {
            let id = new_release(app, n, "f").await;
            app.put(&format!("/api/v1/releases/{id}/schedule"), json!({"at": LATER})).await.expect(200);
            (Method::DELETE, format!("/releases/{id}/schedule"), None)
        }
        "GET /ramps" => (Method::GET, "/ramps".into(), None),
        "POST /ramps" => (Method::POST, "/ramps".into(), Some(ramp_flag(app, n).await)),
        "GET /ramps/{id}" => (Method::GET, format!("/ramps/{}", new_ramp(app, n).await), None),
        "POST /ramps/{id}/pause" => (Method::POST, format!("/ramps/{}/pause", new_ramp(app, n).await), Some(json!({}))),
        "POST /ramps/{id}/resume" => {
            let id = new_ramp(app, n).await;
            app.post(&format!("/api/v1/ramps/{id}/pause"), json!({})).await.expect(200);
            (Method::POST, format!("/ramps/{id}/resume"), Some(json!({})))
        }
        "POST /ramps/{id}/skip" => {
            (Method::POST, format!("/ramps/{}/skip", new_ramp(app, n).await), Some(json!({"step": 1})))
        }
        "POST /ramps/{id}/abort" => (Method::POST, format!("/ramps/{}/abort", new_ramp(app, n).await), Some(json!({}))),
        "GET /tokens" => (Method::GET, "/tokens".into(), None),
        "POST /tokens" => {
            (Method::POST, "/tokens".into(), Some(json!({"name": format!("token-{n}"), "role": "viewer"})))
        }
        "DELETE /tokens/{id}" => {
            let t = app.post("/api/v1/tokens", json!({"name": format!("doomed-{n}"), "role": "editor"})).await;
            (Method::DELETE, format!("/tokens/{}", t.expect(201)["id"]), None)
        }
        "GET /sdk-keys" => (Method::GET, "/sdk-keys".into(), None),
        "DELETE /sdk-keys/{id}" => {
            let k = app.post("/api/v1/environments/staging/sdk-keys", json!({"name": format!("doomed-{n}")})).await;
            (Method::DELETE, format!("/sdk-keys/{}", k.expect(201)["id"]), None)
        }
        "GET /users" => (Method::GET, "/users".into(), None),
        "POST /users" => (
            Method::POST,
            "/users".into(),
            Some(json!({"username": format!("user-{n}"), "password": "long enough password", "role": "viewer"})),
        ),
        "PATCH /users/{username}" => {
            (Method::PATCH, "/users/ed".into(), Some(json!({"disabled": n.is_multiple_of(2)})))
        }
        "DELETE /users/{username}" => {
            let username = format!("doomed-{n}");
            let body = json!({"username": username, "password": "long enough password", "role": "viewer"});
            app.post("/api/v1/users", body).await.expect(201);
            (Method::DELETE, format!("/users/{username}"), None)
        }
        "GET /audit" => (Method::GET, "/audit".into(), None),
        other => panic!("no request for route {other}"),
    };
    (m, format!("/api/v1{p}"), b)
}

/// An answer: status, selected headers, body.
struct Got {
    status: u16,
    www_authenticate: Option<String>,
    content_type: Option<String>,
    body: Value,
}

async fn send(app: &TestApp, method: Method, path: &str, headers: &[(&str, &str)], body: Option<&Value>) -> Got {
    let mut req = app.http.request(method, format!("{}{path}", app.base));
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    if let Some(b) = body {
        req = req.json(b);
    }
    let res = req.send().await.expect("request sent");
    let header = |name: &str| res.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (status, www_authenticate, content_type) =
        (res.status().as_u16(), header("www-authenticate"), header("content-type"));
    let body = serde_json::from_str(&res.text().await.unwrap_or_default()).unwrap_or(Value::Null);
    Got { status, www_authenticate, content_type, body }
}

/// What is wrong with a 401/403 answer (empty when it is a proper one).
fn check_refusal(got: &Got) -> Vec<String> {
    let mut problems = Vec::new();
    if got.content_type.as_deref() != Some("application/problem+json") {
        problems.push(format!("content-type {:?}", got.content_type));
    }
    if got.body["status"].as_u64() != Some(u64::from(got.status)) {
        problems.push(format!("body status {}", got.body["status"]));
    }
    if got.body["detail"].as_str().is_none_or(str::is_empty) {
        problems.push("no detail".into());
    }
    if got.status == 401 && got.www_authenticate.as_deref().is_none_or(|v| !v.starts_with("Bearer")) {
        problems.push(format!("401 without `WWW-Authenticate: Bearer` ({:?})", got.www_authenticate));
    }
    problems
}

/// The newest audit entry's id: moves with every recorded change.
async fn audit_head(app: &TestApp) -> Value {
    app.get("/api/v1/audit?limit=1").await.expect(200)[0]["id"].clone()
}

/// An experiment `key` on the split rule `exp` of flag `xf` in production, measured by metric `m`.
fn experiment(key: &str) -> Value {
    json!({"key": key, "flag": "xf", "environment": "production", "ruleId": "exp", "controlVariant": "off",
           "primaryMetric": "m"})
}

async fn setup(app: &TestApp) -> Secrets {
    app.post("/api/v1/flags", json!({"key": "f", "type": "boolean"})).await.expect(201);
    app.post("/api/v1/segments", json!({"key": "beta", "included": ["u1"]})).await.expect(201);
    app.post("/api/v1/flags", json!({"key": "xf", "type": "boolean"})).await.expect(201);
    let split = json!({"split": {"variants": [{"variant": "on", "weight": 5000}, {"variant": "off", "weight": 5000}]}});
    let config = json!({"enabled": true, "offVariant": "off", "defaultVariant": "off", "rules": [{"id": "exp", "serve": split}]});
    app.put("/api/v1/flags/xf/environments/production", config).await.expect(200);
    app.post("/api/v1/metrics", json!({"key": "m", "event": "purchase", "kind": "conversion"})).await.expect(201);
    app.post("/api/v1/experiments", experiment("x")).await.expect(201);
    let sdk = app.post("/api/v1/environments/staging/sdk-keys", json!({"name": "checkout"})).await.expect(201);
    app.post("/api/v1/users", json!({"username": "ed", "password": "long enough password", "role": "editor"}))
        .await
        .expect(201);
    Secrets {
        sdk_key: sdk["secret"].as_str().expect("secret").to_owned(),
        viewer: app.token_with("viewer").await,
        editor: app.token_with("editor").await,
        admin: app.token_with("admin").await,
    }
}

api_test!(every_route_by_every_credential, |app| async move {
    let routes: Vec<&str> = MATRIX.iter().map(|(r, _, _)| *r).collect();
    assert_eq!(routes, ADMIN_ROUTES, "the matrix lists every admin route once, in order");
    let secrets = setup(app).await;
    let creds = [Cred::None, Cred::SdkKey, Cred::Role(Role::Viewer), Cred::Role(Role::Editor), Cred::Role(Role::Admin)];
    let mut table = String::new();
    let mut failures = String::new();
    let mut n = 0;
    for &(route, need, success) in MATRIX {
        let _ = write!(table, "{route:<48}");
        for cred in creds {
            n += 1;
            let expected = match cred {
                Cred::None | Cred::SdkKey => 401,
                Cred::Role(role) if role < need => 403,
                Cred::Role(_) => success,
            };
            let (method, path, body) = prepare(app, route, n).await;
            let before = audit_head(app).await;
            let auth = secrets.of(cred).map(|s| format!("Bearer {s}"));
            let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("authorization", a.as_str())).collect();
            let got = send(app, method.clone(), &path, &headers, body.as_ref()).await;
            let _ = write!(table, " {:>10}={}", cred.name(), got.status);
            let mut problems = Vec::new();
            if got.status != expected {
                problems.push(format!("status {} (expected {expected}); body {}", got.status, got.body));
            }
            if got.status == 401 || got.status == 403 {
                problems.extend(check_refusal(&got));
            }
            if expected != success && audit_head(app).await != before {
                problems.push("a refused call changed something (the audit log moved)".into());
            }
            if !problems.is_empty() {
                let _ = writeln!(failures, "{route} [{method} {path}] as {}: {}", cred.name(), problems.join("; "));
            }
        }
        table.push('\n');
    }
    eprintln!("{table}");
    assert!(failures.is_empty(), "authorization matrix failures:\n{failures}");
});

api_test!(revoked_tokens_and_odd_credentials_get_401, |app| async move {
    let secrets = setup(app).await;
    let get = |headers: Vec<(&'static str, String)>| async move {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        send(app, Method::GET, "/api/v1/flags", &headers, None).await
    };
    let mut failures = String::new();
    let mut expect = |what: &str, got: Got, status: u16| {
        let mut problems = Vec::new();
        if got.status != status {
            problems.push(format!("status {} (expected {status}); body {}", got.status, got.body));
        }
        if got.status == 401 || got.status == 403 {
            problems.extend(check_refusal(&got));
        }
        if !problems.is_empty() {
            let _ = writeln!(failures, "{what}: {}", problems.join("; "));
        }
    };

    // A revoked token is refused everywhere, at once.
    let revoked = app.post("/api/v1/tokens", json!({"name": "leaving", "role": "admin"})).await.expect(201);
    let secret = revoked["secret"].as_str().unwrap().to_owned();
    expect("admin token before revocation", get(vec![("authorization", format!("Bearer {secret}"))]).await, 200);
    app.delete(&format!("/api/v1/tokens/{}", revoked["id"])).await.expect(204);
    expect("revoked token (Bearer)", get(vec![("authorization", format!("Bearer {secret}"))]).await, 401);
    expect("revoked token (X-API-Key)", get(vec![("x-api-key", secret.clone())]).await, 401);
    let write = send(
        app,
        Method::POST,
        "/api/v1/flags",
        &[("authorization", &format!("Bearer {secret}"))],
        Some(&json!({"key": "x", "type": "boolean"})),
    )
    .await;
    expect("revoked token writing", write, 401);
    // A revoked SDK key is not an admin credential either.
    let sdk = app.post("/api/v1/environments/production/sdk-keys", json!({"name": "old"})).await.expect(201);
    app.delete(&format!("/api/v1/sdk-keys/{}", sdk["id"])).await.expect(204);
    let sdk_secret = sdk["secret"].as_str().unwrap();
    expect("revoked SDK key", get(vec![("authorization", format!("Bearer {sdk_secret}"))]).await, 401);

    // X-API-Key works like Bearer, roles included.
    expect("viewer via X-API-Key", get(vec![("x-api-key", secrets.viewer.clone())]).await, 200);
    expect("admin via X-API-Key", get(vec![("x-api-key", secrets.admin.clone())]).await, 200);
    let tokens = send(app, Method::GET, "/api/v1/tokens", &[("x-api-key", &secrets.admin)], None).await;
    expect("admin via X-API-Key on GET /tokens", tokens, 200);
    let tokens = send(app, Method::GET, "/api/v1/tokens", &[("x-api-key", &secrets.editor)], None).await;
    expect("editor via X-API-Key on GET /tokens", tokens, 403);
    let create = send(
        app,
        Method::POST,
        "/api/v1/flags",
        &[("x-api-key", &secrets.viewer)],
        Some(&json!({"key": "by-viewer", "type": "boolean"})),
    )
    .await;
    expect("viewer via X-API-Key writing", create, 403);
    let create = send(
        app,
        Method::POST,
        "/api/v1/flags",
        &[("x-api-key", &secrets.editor)],
        Some(&json!({"key": "by-editor", "type": "boolean"})),
    )
    .await;
    expect("editor via X-API-Key writing", create, 201);
    expect("SDK key via X-API-Key", get(vec![("x-api-key", secrets.sdk_key.clone())]).await, 401);
    expect("garbage via X-API-Key", get(vec![("x-api-key", "fy_admin_nope".into())]).await, 401);
    expect("empty X-API-Key", get(vec![("x-api-key", String::new())]).await, 401);

    // Malformed or foreign Authorization headers.
    expect("no credentials", get(vec![]).await, 401);
    expect("Basic garbage", get(vec![("authorization", "Basic Zm9vOmJhcg==".into())]).await, 401);
    expect("Basic with the admin secret", get(vec![("authorization", format!("Basic {}", secrets.admin))]).await, 401);
    expect("Bearer garbage", get(vec![("authorization", "Bearer not-a-token".into())]).await, 401);
    expect("Bearer with nothing", get(vec![("authorization", "Bearer ".into())]).await, 401);
    expect("Bearer alone", get(vec![("authorization", "Bearer".into())]).await, 401);
    expect("secret without a scheme", get(vec![("authorization", secrets.admin.clone())]).await, 401);
    expect("Bearer with an SDK-looking secret", get(vec![("authorization", "Bearer fy_sdk_0000".into())]).await, 401);
    // The scheme is case-insensitive (RFC 9110).
    expect("lower-case bearer", get(vec![("authorization", format!("bearer {}", secrets.viewer))]).await, 200);
    expect("upper-case BEARER", get(vec![("authorization", format!("BEARER {}", secrets.viewer))]).await, 200);

    // Operations endpoints need no token.
    for path in ["/healthz", "/readyz", "/metrics"] {
        expect(path, send(app, Method::GET, path, &[], None).await, 200);
    }
    assert!(failures.is_empty(), "credential failures:\n{failures}");
});
