//! The real app, started in-process on port 0 with a fresh database, and a
//! small client for it.
//!
//! [`api_test!`](crate::api_test) runs one test body against an app on
//! SQLite and one on Postgres.

use std::time::Duration;

use flagyard_server::Config;
use reqwest::{Method, StatusCode, header::HeaderMap};
use serde_json::{Value, json};
use tokio::sync::oneshot;

use super::db::{PgTestDb, SqliteTestDb, unique_suffix};

/// The password of the web UI user `admin` every test app starts with
/// (`FLAGYARD_ADMIN_PASSWORD`).
pub const ADMIN_PASSWORD: &str = "test-admin-password";

/// A running app.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// An admin token (the bootstrap one).
    pub token: String,
    pub http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _db: Box<dyn std::any::Any + Send>,
}

/// A response: status, headers and JSON body (`Null` when empty or not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    /// Panics with the body unless the status is `expected`.
    #[track_caller]
    pub fn expect(self, expected: u16) -> Value {
        assert_eq!(self.status.as_u16(), expected, "unexpected status; body: {}", self.body);
        self.body
    }
}

impl TestApp {
    /// Starts the app on `database_url`, keeping `guard` (the database) alive.
    pub async fn start(database_url: String, guard: Box<dyn std::any::Any + Send>) -> TestApp {
        TestApp::start_with(database_url, guard, &[]).await
    }

    /// Like [`TestApp::start`], with extra configuration variables (later ones win).
    pub async fn start_with(
        database_url: String,
        guard: Box<dyn std::any::Any + Send>,
        extra: &[(&'static str, &str)],
    ) -> TestApp {
        let token = format!("fy_admin_test_{}", unique_suffix());
        let mut vars = vec![
            ("DATABASE_URL", database_url),
            ("FLAGYARD_ADMIN_TOKEN", token.clone()),
            ("FLAGYARD_ADMIN_PASSWORD", ADMIN_PASSWORD.to_owned()),
            ("FLAGYARD_LOG_FORMAT", "json".to_owned()),
            ("FLAGYARD_LOG", "warn".to_owned()),
            ("FLAGYARD_DB_MAX_CONNECTIONS", "4".to_owned()),
            ("FLAGYARD_MAX_BODY_BYTES", "65536".to_owned()),
        ];
        vars.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        let config = Config::from_lookup(|k| vars.iter().rev().find(|(n, _)| *n == k).map(|(_, v)| v.clone()))
            .expect("test configuration");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind port 0");
        let base = format!("http://{}", listener.local_addr().expect("local address"));
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(flagyard_server::serve(config, listener, async move {
            let _ = stopped.await;
        }));
        let app = TestApp {
            base,
            token,
            http: super::http_builder().timeout(Duration::from_secs(30)).build().expect("client"),
            stop: Some(stop),
            task: Some(task),
            _db: guard,
        };
        for _ in 0..200 {
            if let Ok(r) = app.http.get(format!("{}/readyz", app.base)).send().await
                && r.status() == StatusCode::OK
            {
                return app;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the app did not become ready");
    }

    /// An app on a fresh SQLite file.
    pub async fn sqlite() -> TestApp {
        let db = SqliteTestDb::new();
        TestApp::start(db.url.clone(), Box::new(db)).await
    }

    /// An app on a fresh Postgres database, or `None` (skipped, said on stderr).
    pub async fn postgres(test: &str) -> Option<TestApp> {
        let db = PgTestDb::create(test).await?;
        Some(TestApp::start(db.url.clone(), Box::new(db)).await)
    }

    /// A request with `token` (or none) and an optional JSON body.
    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<&Value>) -> Answer {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let res = req.send().await.expect("request sent");
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Answer { status, headers, body }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.call(Method::GET, path, Some(&self.token), None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.call(Method::POST, path, Some(&self.token), Some(&body)).await
    }

    pub async fn put(&self, path: &str, body: Value) -> Answer {
        self.call(Method::PUT, path, Some(&self.token), Some(&body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Answer {
        self.call(Method::PATCH, path, Some(&self.token), Some(&body)).await
    }

    pub async fn delete(&self, path: &str) -> Answer {
        self.call(Method::DELETE, path, Some(&self.token), None).await
    }

    /// Creates a token with `role` and returns its secret.
    /// A boolean flag `checkout` whose rule `exp` splits `on` / `off`
    /// 50/50 in production (the experiment tests' usual flag).
    #[allow(dead_code)]
    pub async fn checkout_with_split(&self) {
        self.post("/api/v1/flags", json!({"key": "checkout", "type": "boolean"})).await.expect(201);
        self.put(
            "/api/v1/flags/checkout/environments/production",
            json!({"enabled": true, "offVariant": "off", "defaultVariant": "off", "rules": [
                {"id": "exp", "serve": {"split": {"variants": [{"variant": "on", "weight": 5000}, {"variant": "off", "weight": 5000}]}}}
            ]}),
        )
        .await
        .expect(200);
    }

    pub async fn token_with(&self, role: &str) -> String {
        let body =
            self.post("/api/v1/tokens", serde_json::json!({"name": format!("{role}-token"), "role": role})).await;
        body.expect(201)["secret"].as_str().expect("secret").to_owned()
    }

    /// Stops the app (SIGTERM path) and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let result = tokio::time::timeout(Duration::from_secs(15), task).await;
            let result = result.expect("the app stopped in time").expect("the app task did not panic");
            result.expect("the app stopped cleanly");
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// One async test body run against an app on each backend:
///
/// ```ignore
/// api_test!(creates_flags, |app| async move { app.post("/api/v1/flags", json!({...})).await.expect(201); });
/// ```
#[macro_export]
macro_rules! api_test {
    ($name:ident, |$app:ident| async move $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($app: &$crate::support::app::TestApp) $body

            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::support::app::TestApp::sqlite().await;
                run(&app).await;
                app.stop().await;
            }

            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let test = concat!(module_path!(), "::postgres");
                let Some(app) = $crate::support::app::TestApp::postgres(test).await else { return };
                run(&app).await;
                app.stop().await;
            }
        }
    };
}

/// Every route of the admin API (`server/src/http/api.rs`), as
/// `"METHOD /path"` under `/api/v1`. The bad-input and authorization suites
/// check that they cover each one; a route added to the router belongs here.
/// In the order of the route table (`server/src/http/routes.rs`).
pub const ADMIN_ROUTES: &[&str] = &[
    "GET /environments",
    "POST /environments",
    "GET /environments/{env}/event-counts",
    "POST /environments/{env}/sdk-keys",
    "GET /flags",
    "POST /flags",
    "GET /flags/{key}",
    "PATCH /flags/{key}",
    "DELETE /flags/{key}",
    "POST /flags/{key}/copy",
    "GET /flags/{key}/environments/{env}",
    "PUT /flags/{key}/environments/{env}",
    "PATCH /flags/{key}/environments/{env}",
    "GET /flags/{key}/environments/{env}/history",
    "POST /flags/{key}/environments/{env}/rollback",
    "POST /flags/{key}/environments/{env}/schedule",
    "GET /segments",
    "POST /segments",
    "GET /segments/{key}",
    "PUT /segments/{key}",
    "DELETE /segments/{key}",
    "GET /metrics",
    "POST /metrics",
    "GET /metrics/{key}",
    "PUT /metrics/{key}",
    "DELETE /metrics/{key}",
    "GET /experiments",
    "POST /experiments",
    "GET /experiments/{key}",
    "PUT /experiments/{key}",
    "DELETE /experiments/{key}",
    "POST /experiments/{key}/start",
    "POST /experiments/{key}/stop",
    "GET /experiments/{key}/results",
    "GET /experiments/{key}/history",
    "GET /releases",
    "POST /releases",
    "GET /releases/{id}",
    "PUT /releases/{id}",
    "DELETE /releases/{id}",
    "GET /releases/{id}/preview",
    "POST /releases/{id}/apply",
    "POST /releases/{id}/revert",
    "PUT /releases/{id}/schedule",
    "DELETE /releases/{id}/schedule",
    "GET /ramps",
    "POST /ramps",
    "GET /ramps/{id}",
    "POST /ramps/{id}/pause",
    "POST /ramps/{id}/resume",
    "POST /ramps/{id}/skip",
    "POST /ramps/{id}/abort",
    "GET /tokens",
    "POST /tokens",
    "DELETE /tokens/{id}",
    "GET /sdk-keys",
    "DELETE /sdk-keys/{id}",
    "GET /users",
    "POST /users",
    "PATCH /users/{username}",
    "DELETE /users/{username}",
    "GET /audit",
];
