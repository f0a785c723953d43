//! Starting the real server binary.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// How to start a server.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// A database URL; default: a fresh SQLite file in a temp dir.
    pub database_url: Option<String>,
    /// A port; default: a free one.
    pub port: Option<u16>,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
}

impl ServerOptions {
    /// The defaults, with the web UI user `admin` created with `password`.
    pub fn with_admin_password(password: &str) -> Self {
        ServerOptions { env: vec![("FLAGYARD_ADMIN_PASSWORD".into(), password.into())], ..ServerOptions::default() }
    }
}

/// A running `flagyard` process, killed on drop.
#[derive(Debug)]
pub struct Server {
    child: Option<Child>,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    pub port: u16,
    pub database_url: String,
    /// The bootstrap admin token.
    pub token: String,
    dir: Option<PathBuf>,
    pub http: reqwest::Client,
}

fn unique() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    format!("{}_{}_{nanos}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// The `flagyard` binary of this workspace, built if needed.
pub fn binary() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let status = Command::new(cargo)
                .args(["build", "-q", "-p", "flagyard-server", "--bin", "flagyard"])
                .current_dir(&root)
                .status()
                .expect("run cargo build");
            assert!(status.success(), "building the flagyard binary failed");
            let target = std::env::var("CARGO_TARGET_DIR").map_or_else(|_| root.join("target"), PathBuf::from);
            target.join("debug").join("flagyard")
        })
        .clone()
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

impl Server {
    /// Starts a server and waits until it is ready.
    pub async fn start(options: ServerOptions) -> Server {
        let (database_url, dir) = match options.database_url {
            Some(url) => (url, None),
            None => {
                let dir = std::env::temp_dir().join(format!("flagyard_e2e_{}", unique()));
                std::fs::create_dir_all(&dir).expect("temp dir");
                (format!("sqlite://{}", dir.join("flagyard.db").display()), Some(dir))
            }
        };
        let token = format!("fy_admin_e2e_{}", unique());
        let port = options.port.unwrap_or_else(free_port);
        let mut server = Server {
            child: None,
            base: format!("http://127.0.0.1:{port}"),
            port,
            database_url,
            token,
            dir,
            http: reqwest::Client::new(),
        };
        server.spawn(&options.env).await;
        server
    }

    async fn spawn(&mut self, env: &[(String, String)]) {
        let child = Command::new(binary())
            .env("DATABASE_URL", &self.database_url)
            .env("PORT", self.port.to_string())
            .env("FLAGYARD_BIND", "127.0.0.1")
            .env("FLAGYARD_ADMIN_TOKEN", &self.token)
            .env("FLAGYARD_LOG", "warn")
            .env("FLAGYARD_LOG_FORMAT", "json")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start flagyard");
        self.child = Some(child);
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(20) {
            if let Ok(r) = self.http.get(format!("{}/readyz", self.base)).send().await
                && r.status() == 200
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("flagyard did not become ready on {}", self.base);
    }

    /// Kills the process (SIGKILL) and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the process again on the same port and database.
    pub async fn restart(&mut self) {
        self.kill();
        self.spawn(&[]).await;
    }

    /// An admin API call; panics unless the status is `expect`.
    pub async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>, expect: u16) -> Value {
        let mut req = self.http.request(method, format!("{}/api/v1{path}", self.base)).bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("admin request");
        let status = res.status().as_u16();
        let value: Value = res.json().await.unwrap_or(Value::Null);
        assert_eq!(status, expect, "{path}: {value}");
        value
    }

    /// A new SDK key for `environment`.
    pub async fn sdk_key(&self, environment: &str) -> String {
        let key = self
            .admin(
                reqwest::Method::POST,
                &format!("/environments/{environment}/sdk-keys"),
                Some(json!({"name": "e2e"})),
                201,
            )
            .await;
        key["secret"].as_str().expect("secret").to_owned()
    }

    /// Delivers `events` as one batch with SDK key `key`; panics unless
    /// the server takes it (200).
    pub async fn send_events(&self, key: &str, batch: &str, events: Vec<Value>) {
        let res = self
            .http
            .post(format!("{}/sdk/v1/events", self.base))
            .bearer_auth(key)
            .json(&json!({"batchId": batch, "events": events}))
            .send()
            .await
            .expect("events");
        assert_eq!(res.status(), 200, "{}", res.text().await.unwrap_or_default());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        if let Some(dir) = self.dir.take() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
