//! The real `flagyard` binary as a child process: durability across
//! SIGKILL on SQLite, graceful shutdown on SIGTERM, start-to-ready time, and
//! two replicas sharing one Postgres database.
//!
//! Every child is held by a [`Server`] guard that kills it when dropped, so a
//! failing assertion leaves no process behind.

mod support;

use std::fs::File;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::db::{PgTestDb, SqliteTestDb, unique_suffix};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// A port that was free a moment ago (bound on 127.0.0.1:0, then released).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

/// A running `flagyard` child; killed (SIGKILL) and reaped on drop.
struct Server {
    child: Child,
    name: String,
    base: String,
    port: u16,
    log: PathBuf,
}

impl Server {
    /// Starts the binary on `database_url`, logging (JSON) to `<dir>/<name>.log`.
    fn spawn(database_url: &str, token: &str, dir: &Path, name: &str) -> Server {
        let port = free_port();
        let log = dir.join(format!("{name}.log"));
        let out = File::create(&log).expect("create the log file");
        let err = out.try_clone().expect("clone the log file");
        let child = Command::new(env!("CARGO_BIN_EXE_flagyard"))
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("DATABASE_URL", database_url)
            .env("FLAGYARD_ADMIN_TOKEN", token)
            .env("PORT", port.to_string())
            .env("FLAGYARD_BIND", "127.0.0.1")
            .env("FLAGYARD_LOG_FORMAT", "json")
            .env("FLAGYARD_LOG", "info")
            .env("FLAGYARD_DB_MAX_CONNECTIONS", "4")
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("spawn flagyard");
        Server { child, name: name.to_owned(), base: format!("http://127.0.0.1:{port}"), port, log }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The log so far.
    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Log lines at ERROR level, and panics.
    fn errors(&self) -> Vec<String> {
        let Ok(file) = File::open(&self.log) else { return Vec::new() };
        BufReader::new(file)
            .lines()
            .map_while(Result::ok)
            .filter(|l| {
                let level = serde_json::from_str::<Value>(l).ok().and_then(|v| v["level"].as_str().map(str::to_owned));
                level.as_deref() == Some("ERROR") || l.contains("panicked")
            })
            .collect()
    }

    /// Polls `/readyz` until it answers 200; the time from `since`. Fails
    /// with the log if the process exits or `limit` passes.
    async fn ready(&mut self, http: &reqwest::Client, since: Instant, limit: Duration) -> Duration {
        loop {
            if let Ok(r) = http.get(format!("{}/readyz", self.base)).send().await
                && r.status() == StatusCode::OK
            {
                return since.elapsed();
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{} exited before it was ready ({status}); log:\n{}", self.name, self.log_text());
            }
            assert!(since.elapsed() < limit, "{} not ready within {limit:?}; log:\n{}", self.name, self.log_text());
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// SIGKILL, and wait for the process to be gone.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits at most `limit` for the process to exit by itself.
    async fn exited_within(&mut self, limit: Duration) -> Option<ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

fn sigterm(pid: u32) {
    let status = Command::new("kill").args(["-TERM", &pid.to_string()]).status().expect("run kill");
    assert!(status.success(), "kill -TERM {pid} failed");
}

fn client() -> reqwest::Client {
    support::http_builder().no_proxy().timeout(Duration::from_secs(10)).build().expect("client")
}

fn token() -> String {
    format!("fy_admin_proc_{}", unique_suffix())
}

/// Status and JSON body of a request with the admin token.
async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = http.request(method, url).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.expect("request sent");
    let status = res.status().as_u16();
    let text = res.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Environment key → version.
async fn versions(http: &reqwest::Client, base: &str, token: &str) -> Vec<(String, i64)> {
    let (status, envs) = call(http, reqwest::Method::GET, format!("{base}/api/v1/environments"), token, None).await;
    assert_eq!(status, 200, "{envs}");
    let mut v: Vec<(String, i64)> = envs
        .as_array()
        .expect("environments")
        .iter()
        .map(|e| (e["key"].as_str().unwrap().to_owned(), e["version"].as_i64().unwrap()))
        .collect();
    v.sort();
    v
}

fn version_of(v: &[(String, i64)], env: &str) -> i64 {
    v.iter().find(|(k, _)| k == env).map(|(_, n)| *n).expect("environment")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill_on_sqlite() {
    let db = SqliteTestDb::new();
    let token = token();
    let http = client();
    let started = Instant::now();
    let mut server = Server::spawn(&db.url, &token, &db.dir, "start");
    server.ready(&http, Instant::now(), Duration::from_secs(10)).await;
    let (status, body) = call(
        &http,
        reqwest::Method::POST,
        format!("{}/api/v1/flags", server.base),
        &token,
        Some(json!({"key": "kill-switch", "type": "boolean"})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let path = "/api/v1/flags/kill-switch/environments/production";
    let mut expected_version = version_of(&versions(&http, &server.base, &token).await, "production");
    const ROUNDS: usize = 20;
    for round in 0..ROUNDS {
        // Alternately the kill switch and a rule change.
        let change = if round % 2 == 0 {
            json!({"enabled": round % 4 == 0})
        } else {
            json!({"rules": [{"id": format!("r{round}"), "conditions": [{"attribute": "n", "op": "eq", "values": [round]}],
                              "serve": {"variant": "on"}}]})
        };
        let (status, acked) =
            call(&http, reqwest::Method::PATCH, format!("{}{path}", server.base), &token, Some(change)).await;
        // Acknowledged: kill at once, no chance to flush anything after the answer.
        server.kill();
        assert_eq!(status, 200, "round {round}: {acked}");
        expected_version += 1;
        server = Server::spawn(&db.url, &token, &db.dir, &format!("round-{round}"));
        server.ready(&http, Instant::now(), Duration::from_secs(10)).await;
        let (status, got) = call(&http, reqwest::Method::GET, format!("{}{path}", server.base), &token, None).await;
        assert_eq!(status, 200, "round {round}: {got}");
        for field in ["revision", "enabled", "rules", "offVariant", "defaultVariant"] {
            assert_eq!(got[field], acked[field], "round {round}: `{field}` after SIGKILL and restart");
        }
        assert_eq!(
            got["revision"].as_i64(),
            Some(round as i64 + 2),
            "round {round}: one revision per acknowledged write"
        );
        let version = version_of(&versions(&http, &server.base, &token).await, "production");
        assert_eq!(version, expected_version, "round {round}: environment version after restart");
    }
    let (status, history) =
        call(&http, reqwest::Method::GET, format!("{}{path}/history?limit=1000", server.base), &token, None).await;
    assert_eq!(status, 200);
    assert_eq!(history.as_array().unwrap().len(), ROUNDS + 1, "every acknowledged revision is recorded");
    assert!(server.errors().is_empty(), "errors in the log: {:?}", server.errors());
    eprintln!("{ROUNDS} write + SIGKILL + restart rounds in {:?}", started.elapsed());
}

/// A request whose head and half its body are sent; the rest waits.
struct HalfSent {
    stream: tokio::net::TcpStream,
    rest: Vec<u8>,
}

async fn half_send(port: u16, method: &str, path: &str, token: &str, body: &Value) -> HalfSent {
    let body = body.to_string().into_bytes();
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let half = body.len() / 2;
    stream.write_all(head.as_bytes()).await.expect("send the head");
    stream.write_all(&body[..half]).await.expect("send half the body");
    stream.flush().await.expect("flush");
    HalfSent { stream, rest: body[half..].to_vec() }
}

impl HalfSent {
    /// Sends the rest and reads the whole answer (the server closes the connection when stopping).
    async fn finish(mut self) -> String {
        self.stream.write_all(&self.rest).await.expect("send the rest of the body");
        let mut answer = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), self.stream.read_to_end(&mut answer)).await;
        let _ = read.expect("the answer within 5 s");
        String::from_utf8_lossy(&answer).into_owned()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_requests_in_flight_and_exits_cleanly() {
    let db = SqliteTestDb::new();
    let token = token();
    let http = client();
    let mut server = Server::spawn(&db.url, &token, &db.dir, "graceful");
    server.ready(&http, Instant::now(), Duration::from_secs(10)).await;
    for key in ["a", "b"] {
        let url = format!("{}/api/v1/flags", server.base);
        let (status, body) =
            call(&http, reqwest::Method::POST, url, &token, Some(json!({"key": key, "type": "boolean"}))).await;
        assert_eq!(status, 201, "{body}");
    }
    // Two writes in flight: the server has their heads and half their bodies.
    let first =
        half_send(server.port, "PATCH", "/api/v1/flags/a/environments/production", &token, &json!({"enabled": true}))
            .await;
    let second = half_send(
        server.port,
        "PUT",
        "/api/v1/flags/b/environments/staging",
        &token,
        &json!({"enabled": true, "offVariant": "off", "defaultVariant": "on"}),
    )
    .await;
    // And ordinary requests issued right before the signal.
    let quick: Vec<_> = (0..4)
        .map(|_| {
            let (http, url, token) = (http.clone(), format!("{}/api/v1/flags", server.base), token.clone());
            tokio::spawn(async move { http.get(url).bearer_auth(token).send().await.map(|r| r.status().as_u16()) })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(150)).await;
    for q in quick {
        assert_eq!(q.await.unwrap().expect("a request issued before SIGTERM is answered"), 200);
    }
    let signalled = Instant::now();
    sigterm(server.pid());
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Stopping: new requests are refused or told the server is not ready.
    match http.get(format!("{}/readyz", server.base)).send().await {
        Ok(r) => assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE, "/readyz while stopping"),
        Err(e) => assert!(e.is_connect(), "expected a refused connection, got {e}"),
    }
    assert!(server.child.try_wait().unwrap().is_none(), "the server waits for requests in flight");
    // The requests in flight complete.
    for (what, req) in [("PATCH a/production", first), ("PUT b/staging", second)] {
        let answer = req.finish().await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{what} in flight during SIGTERM: {answer}");
    }
    let status = server.exited_within(Duration::from_secs(5)).await;
    let status = status.unwrap_or_else(|| panic!("no exit within 5 s of SIGTERM; log:\n{}", server.log_text()));
    assert!(status.success(), "exit status {status}; log:\n{}", server.log_text());
    eprintln!("exited {status} {:?} after SIGTERM", signalled.elapsed());
    assert!(server.errors().is_empty(), "errors in the log: {:?}", server.errors());

    // What was written in flight is there after a restart.
    let mut again = Server::spawn(&db.url, &token, &db.dir, "after");
    again.ready(&http, Instant::now(), Duration::from_secs(10)).await;
    let get = |path: &str| call(&http, reqwest::Method::GET, format!("{}{path}", again.base), &token, None);
    let (_, a) = get("/api/v1/flags/a/environments/production").await;
    assert_eq!((a["enabled"].as_bool(), a["revision"].as_i64()), (Some(true), Some(2)), "{a}");
    let (_, b) = get("/api/v1/flags/b/environments/staging").await;
    assert_eq!((b["enabled"].as_bool(), b["defaultVariant"].as_str()), (Some(true), Some("on")), "{b}");

    // An idle server stops at once.
    let signalled = Instant::now();
    sigterm(again.pid());
    let status = again.exited_within(Duration::from_secs(3)).await.expect("an idle server exits within 3 s");
    assert!(status.success(), "exit status {status}");
    eprintln!("idle server exited {status} {:?} after SIGTERM", signalled.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starts_ready_quickly_on_a_fresh_sqlite_database() {
    let http = client();
    let mut times = Vec::new();
    for i in 0..3 {
        let db = SqliteTestDb::new();
        let spawned = Instant::now();
        let mut server = Server::spawn(&db.url, &token(), &db.dir, &format!("fresh-{i}"));
        let took = server.ready(&http, spawned, Duration::from_secs(10)).await;
        times.push(took);
        assert!(server.errors().is_empty(), "errors in the log: {:?}", server.errors());
    }
    eprintln!("start to ready on a fresh SQLite database: {times:?}");
    let worst = times.iter().max().copied().unwrap_or_default();
    assert!(worst < Duration::from_secs(2), "start to ready took {worst:?} (target: well under a second)");
}

/// Both replicas must come up on one empty database started at the same
/// moment: migrations and the first-start bootstrap race each other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_bootstrap_one_empty_postgres_concurrently() {
    let http = client();
    for attempt in 0..5 {
        let test = "process::two_replicas_bootstrap_one_empty_postgres_concurrently";
        let Some(db) = PgTestDb::create(test).await else { return };
        let dir = SqliteTestDb::new(); // only for the logs
        let token = token();
        let mut a = Server::spawn(&db.url, &token, &dir.dir, "a");
        let mut b = Server::spawn(&db.url, &token, &dir.dir, "b");
        let now = Instant::now();
        a.ready(&http, now, Duration::from_secs(15)).await;
        b.ready(&http, now, Duration::from_secs(15)).await;
        for s in [&a, &b] {
            assert!(s.errors().is_empty(), "attempt {attempt}: errors in {}'s log: {:?}", s.name, s.errors());
        }
        let envs = versions(&http, &a.base, &token).await;
        let keys: Vec<&str> = envs.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["development", "production", "staging"], "attempt {attempt}: environments created once");
        let (status, tokens) =
            call(&http, reqwest::Method::GET, format!("{}/api/v1/tokens", b.base), &token, None).await;
        assert_eq!(status, 200, "{tokens}");
        assert_eq!(tokens.as_array().unwrap().len(), 1, "attempt {attempt}: one bootstrap token: {tokens}");
        drop((a, b));
        drop(db);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_share_one_postgres() {
    let Some(db) = PgTestDb::create("process::two_replicas_share_one_postgres").await else { return };
    let logs = SqliteTestDb::new(); // only for the logs
    let token = token();
    let http = client();
    // One after the other (concurrent bootstrap has a test of its own).
    let mut a = Server::spawn(&db.url, &token, &logs.dir, "a");
    a.ready(&http, Instant::now(), Duration::from_secs(15)).await;
    let mut b = Server::spawn(&db.url, &token, &logs.dir, "b");
    b.ready(&http, Instant::now(), Duration::from_secs(15)).await;
    let start = versions(&http, &a.base, &token).await;
    assert_eq!(start, versions(&http, &b.base, &token).await);

    // Written through A, read through B.
    let (status, created) = call(
        &http,
        reqwest::Method::POST,
        format!("{}/api/v1/flags", a.base),
        &token,
        Some(json!({"key": "shared", "type": "boolean"})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let path = "/api/v1/flags/shared/environments/production";
    let (status, seen) = call(&http, reqwest::Method::GET, format!("{}{path}", b.base), &token, None).await;
    assert_eq!(status, 200, "{seen}");
    assert_eq!(seen, created["environments"]["production"]);

    // The same base revision through both replicas at once: one wins.
    let send_all = |body: fn(usize) -> Value| {
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let base = if i % 2 == 0 { a.base.clone() } else { b.base.clone() };
                let (http, token) = (http.clone(), token.clone());
                tokio::spawn(async move {
                    call(&http, reqwest::Method::PATCH, format!("{base}{path}"), &token, Some(body(i))).await.0
                })
            })
            .collect();
        async move {
            let mut statuses = Vec::new();
            for t in tasks {
                statuses.push(t.await.expect("task"));
            }
            statuses.sort_unstable();
            statuses
        }
    };
    let statuses = send_all(|i| json!({"enabled": i % 2 == 0, "baseRevision": 1})).await;
    assert_eq!(statuses, [200, 409, 409, 409, 409, 409, 409, 409], "one write wins across replicas");
    // Without a base revision every write lands, one after the other.
    let statuses = send_all(|i| json!({"enabled": i % 2 == 0})).await;
    assert_eq!(statuses, [200; 8], "last write wins");

    // Versions: creating the flag moved every environment once; production moved once per write.
    let (va, vb) = (versions(&http, &a.base, &token).await, versions(&http, &b.base, &token).await);
    assert_eq!(va, vb, "both replicas see the same versions");
    for (env, version) in &va {
        let changes = if env == "production" { 1 + 1 + 8 } else { 1 };
        assert_eq!(*version, version_of(&start, env) + changes, "version of {env}: one per change");
    }
    let (_, config) = call(&http, reqwest::Method::GET, format!("{}{path}", b.base), &token, None).await;
    assert_eq!(config["revision"], 1 + 1 + 8, "{config}");
    let (_, history) =
        call(&http, reqwest::Method::GET, format!("{}{path}/history?limit=100", a.base), &token, None).await;
    let revisions: Vec<i64> = history.as_array().unwrap().iter().map(|h| h["revision"].as_i64().unwrap()).collect();
    assert_eq!(revisions, (1..=10).rev().collect::<Vec<_>>(), "no revision lost or duplicated");
    for s in [&a, &b] {
        assert!(s.errors().is_empty(), "errors in {}'s log: {:?}", s.name, s.errors());
    }
    drop((a, b));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_migrate_command_applies_migrations_and_exits() {
    let db = support::db::SqliteTestDb::new();
    let run = |arg: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_flagyard"))
            .arg(arg)
            .env("DATABASE_URL", &db.url)
            .env("FLAGYARD_LOG", "warn")
            .env("FLAGYARD_LOG_FORMAT", "json")
            .output()
            .expect("run flagyard")
    };
    let out = run("migrate");
    assert!(out.status.success(), "migrate failed: {}", String::from_utf8_lossy(&out.stderr));
    assert!(db.path.exists(), "the database file was created");
    let store = flagyard_server::store::SqliteBackend::connect(&db.url, 1).await.expect("open");
    use flagyard_server::store::Backend;
    assert!(store.ready().await.expect("ready"), "every migration is applied");
    store.close().await;
    // Idempotent; and an unknown command is refused with a message.
    assert!(run("migrate").status.success());
    let unknown = run("frobnicate");
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("unknown command"));
    let help = run("--help");
    assert!(help.status.success() && String::from_utf8_lossy(&help.stdout).contains("migrate"));
}
