//! Fault tests (issue 11), each bounded and cleaning up after itself:
//! the database down and back under traffic (a private Postgres cluster on
//! its own port), Postgres over TLS, the SQLite file deleted or read-only,
//! and 3,000 slow-header connections.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::app::TestApp;
use support::cluster::Cluster;
use support::db::SqliteTestDb;
use tokio::io::AsyncWriteExt;

/// A flag and an SDK key of production on `app`.
async fn flag_and_key(app: &TestApp) -> String {
    app.post("/api/v1/flags", json!({"key": "kill", "type": "boolean"})).await.expect(201);
    app.patch("/api/v1/flags/kill/environments/production", json!({"enabled": true, "defaultVariant": "on"}))
        .await
        .expect(200);
    let key = app.post("/api/v1/environments/production/sdk-keys", json!({"name": "svc"})).await.expect(201);
    key["secret"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_answers_503_fast_and_recovers() {
    let Some(cluster) = Cluster::start("postgres_outage", "", None, |_| {}) else { return };
    let app = TestApp::start(cluster.url(""), Box::new(())).await;
    let key = flag_and_key(&app).await;
    let http = support::http_builder().timeout(Duration::from_secs(30)).build().unwrap();
    // An SDK stream open before the outage.
    let mut stream = http.get(format!("{}/sdk/v1/stream", app.base)).bearer_auth(&key).send().await.unwrap();
    assert_eq!(stream.status(), 200);
    let _put = stream.chunk().await.unwrap();
    // Acknowledged before the outage: a write and an event batch.
    app.post("/api/v1/flags", json!({"key": "acked-before", "type": "boolean"})).await.expect(201);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    let before = json!({"batchId": "b-before", "events": [{"kind": "track", "at": now, "event": "buy", "unit": "u1"}]});
    let acked: serde_json::Value = http
        .post(format!("{}/sdk/v1/events", app.base))
        .bearer_auth(&key)
        .json(&before)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(acked["accepted"], 1, "{acked}");

    cluster.stop();
    // Let cached credentials expire (5 s) so every path meets the database.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let ofrep = format!("{}/ofrep/v1/evaluate/flags/kill", app.base);
    let events = format!("{}/sdk/v1/events", app.base);
    let batch = json!({"batchId": "b-outage", "events": []});
    for round in 0..3 {
        let started = Instant::now();
        let write = app.patch("/api/v1/flags/kill/environments/production", json!({"enabled": false})).await;
        let snapshot = http.get(format!("{}/sdk/v1/snapshot", app.base)).bearer_auth(&key).send().await.unwrap();
        let eval = http.post(&ofrep).bearer_auth(&key).json(&json!({"context": {}})).send().await.unwrap();
        let ingest = http.post(&events).bearer_auth(&key).json(&batch).send().await.unwrap();
        let new_stream = http.get(format!("{}/sdk/v1/stream", app.base)).bearer_auth(&key).send().await.unwrap();
        let ready = http.get(format!("{}/readyz", app.base)).send().await.unwrap();
        let took = started.elapsed();
        assert_eq!(write.status, 503, "round {round}: {}", write.body);
        assert_eq!(write.headers["content-type"], "application/problem+json");
        assert!(write.headers.contains_key("retry-after"));
        let answers = [("snapshot", &snapshot), ("ofrep", &eval), ("ingest", &ingest), ("new stream", &new_stream)];
        for (what, res) in answers {
            assert_eq!(res.status(), 503, "round {round}: {what}");
            assert!(res.headers().contains_key("retry-after"), "{what}");
        }
        assert_eq!(ready.status(), 503);
        let reason = ready.text().await.unwrap();
        assert!(reason.contains("database unreachable"), "{reason}");
        // Six requests: none held for the pool timeout (5 s).
        assert!(took < Duration::from_secs(4), "round {round}: {took:?}");
    }
    // The open stream keeps serving (a heartbeat or nothing, but not closed).
    let alive = tokio::time::timeout(Duration::from_millis(500), stream.chunk()).await;
    assert!(!matches!(alive, Ok(Ok(None)) | Ok(Err(_))), "the SDK stream stays open through the outage");

    cluster.restart();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let write = app.patch("/api/v1/flags/kill/environments/production", json!({"enabled": false})).await;
        if write.status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "writes did not recover: {}", write.body);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ready = http.get(format!("{}/readyz", app.base)).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let eval = http.post(&ofrep).bearer_auth(&key).json(&json!({"context": {}})).send().await.unwrap();
    let body: serde_json::Value = eval.json().await.unwrap();
    assert_eq!(body["value"], false, "the write after recovery is in force");
    // Nothing acknowledged before the outage was lost: the write is there,
    // and the batch is recorded (a resend is a duplicate with the same answer).
    app.get("/api/v1/flags/acked-before").await.expect(200);
    let again: serde_json::Value =
        http.post(&events).bearer_auth(&key).json(&before).send().await.unwrap().json().await.unwrap();
    assert_eq!((&again["duplicate"], &again["accepted"]), (&json!(true), &json!(1)), "{again}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_over_tls() {
    let hba = "local all all trust\nhostssl all all 127.0.0.1/32 trust\nhostnossl all all 127.0.0.1/32 reject\n";
    let settings = "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n";
    let Some(cluster) = Cluster::start("postgres_over_tls", settings, Some(hba), |data| {
        let made = std::process::Command::new("openssl")
            .args(["req", "-new", "-x509", "-days", "2", "-nodes", "-subj", "/CN=127.0.0.1"])
            .args(["-newkey", "rsa:2048", "-keyout"])
            .arg(data.join("server.key"))
            .arg("-out")
            .arg(data.join("server.crt"))
            .output()
            .expect("openssl");
        assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(data.join("server.key"), std::fs::Permissions::from_mode(0o600)).unwrap();
    }) else {
        return;
    };
    // The server refuses plain connections; the product connects with TLS.
    let plain = flagyard_server::store::PgBackend::connect(&cluster.url("sslmode=disable"), 1).await;
    assert!(plain.is_err(), "the cluster only takes TLS");
    let app = TestApp::start(cluster.url("sslmode=require"), Box::new(())).await;
    app.post("/api/v1/flags", json!({"key": "over-tls", "type": "boolean"})).await.expect(201);
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&cluster.url("sslmode=require")).await.unwrap();
    let tls: bool = sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(tls);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_sqlite_file_is_noticed() {
    let db = SqliteTestDb::new();
    let path = db.url.strip_prefix("sqlite://").unwrap().to_owned();
    let app = TestApp::start(db.url.clone(), Box::new(())).await;
    app.post("/api/v1/flags", json!({"key": "before", "type": "boolean"})).await.expect(201);
    std::fs::remove_file(&path).unwrap();
    let write = app.post("/api/v1/flags", json!({"key": "lost", "type": "boolean"})).await;
    assert_eq!(write.status, 503, "a write into a deleted file is refused: {}", write.body);
    let ready = app.http.get(format!("{}/readyz", app.base)).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    assert!(ready.text().await.unwrap().contains("deleted"));
    app.stop().await;
    drop(db);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_files_that_cannot_serve_refuse_to_start() {
    let db = SqliteTestDb::new();
    let config = |url: &str, extra: &[(&str, &str)]| {
        let mut vars: Vec<(String, String)> = vec![("DATABASE_URL".into(), url.into())];
        vars.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        flagyard_server::Config::from_lookup(|k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())).unwrap()
    };
    let serve = |config| async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        flagyard_server::serve(config, listener, async {}).await
    };
    // A missing file with FLAGYARD_CREATE_DATABASE=false: refused, not created.
    let path = db.url.strip_prefix("sqlite://").unwrap().to_owned();
    let refused = serve(config(&db.url, &[("FLAGYARD_CREATE_DATABASE", "false")])).await.unwrap_err();
    assert!(refused.to_string().contains("not creating"), "{refused}");
    assert!(!std::path::Path::new(&path).exists());
    // Created (and said so) by default; then made read-only.
    flagyard_server::migrate(&config(&db.url, &[])).await.unwrap();
    let read_only = format!("{}?mode=ro", db.url);
    let refused = serve(config(&read_only, &[])).await.unwrap_err();
    assert!(refused.to_string().contains("cannot be written"), "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_header_connections_do_not_starve_the_server() {
    let db = SqliteTestDb::new();
    let extra = [("FLAGYARD_HEADER_TIMEOUT_SECS", "2")];
    let app = TestApp::start_with(db.url.clone(), Box::new(()), &extra).await;
    let addr = app.base.strip_prefix("http://").unwrap().to_owned();
    // 3,000 connections that send half a request head and stop.
    let mut idle = Vec::with_capacity(3_000);
    for _ in 0..3_000 {
        let mut s = tokio::net::TcpStream::connect(&addr).await.expect("connect");
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        idle.push(s);
    }
    let started = Instant::now();
    let health = app.http.get(format!("{}/healthz", app.base)).send().await.unwrap();
    assert_eq!(health.status(), 200);
    app.post("/api/v1/flags", json!({"key": "still-writable", "type": "boolean"})).await.expect(201);
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    // After the header timeout every one of them has been closed.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut closed = 0;
    for s in &mut idle {
        let mut buf = [0u8; 256];
        match tokio::time::timeout(Duration::from_millis(50), tokio::io::AsyncReadExt::read(s, &mut buf)).await {
            Ok(Ok(_)) | Ok(Err(_)) => closed += 1,
            Err(_) => {}
        }
    }
    assert_eq!(closed, 3_000, "slow-header connections are closed after the header timeout");
    drop(idle);
    app.stop().await;
    drop(db);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_cap_get_503() {
    let db = SqliteTestDb::new();
    let app = TestApp::start_with(db.url.clone(), Box::new(()), &[("FLAGYARD_MAX_CONNECTIONS", "50")]).await;
    let addr = app.base.strip_prefix("http://").unwrap().to_owned();
    // The app's own client may hold a connection or two; fill the rest.
    let mut held = Vec::new();
    let refused = loop {
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await.unwrap();
        let mut buf = vec![0u8; 1024];
        let n = tokio::time::timeout(Duration::from_secs(5), tokio::io::AsyncReadExt::read(&mut s, &mut buf))
            .await
            .expect("an answer")
            .unwrap();
        let head = String::from_utf8_lossy(&buf[..n]).to_string();
        if head.starts_with("HTTP/1.1 503") {
            break head;
        }
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        held.push(s);
        assert!(held.len() <= 50, "the cap of 50 connections was not enforced");
    };
    assert!(held.len() >= 45, "refused too early: {}", held.len());
    assert!(refused.contains("retry-after: 1") && refused.contains("too many open connections"), "{refused}");
    // Freeing connections lets new ones in.
    held.clear();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let health = reqwest::get(format!("{}/healthz", app.base)).await.unwrap();
    assert_eq!(health.status(), 200);
    app.stop().await;
    drop(db);
}

/// Mounts a small tmpfs at `dir` (root only; `None` where mounting is not
/// allowed, a failure instead under `FLAGYARD_REQUIRE_FAULTS=1`, as in CI).
fn small_tmpfs(dir: &std::path::Path, size: &str) -> Option<()> {
    std::fs::create_dir_all(dir).ok()?;
    let ok = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(dir)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        if std::env::var("FLAGYARD_REQUIRE_FAULTS").is_ok_and(|v| v == "1") {
            panic!("FLAGYARD_REQUIRE_FAULTS=1 but a tmpfs cannot be mounted: a_full_disk_is_survived");
        }
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "SKIPPED (cannot mount a tmpfs here): a_full_disk_is_survived");
    }
    ok.then_some(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_survived() {
    let dir = std::env::temp_dir().join(format!("flagyard_full_{}", support::db::unique_suffix()));
    if small_tmpfs(&dir, "3m").is_none() {
        return;
    }
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _unmount = Unmount(dir.clone());
    let url = format!("sqlite://{}", dir.join("flagyard.db").display());
    let app = TestApp::start(url, Box::new(())).await;
    app.post("/api/v1/flags", json!({"key": "before", "type": "boolean"})).await.expect(201);
    // Fill the disk.
    let filler = dir.join("filler");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&filler).unwrap();
        let block = vec![0u8; 64 * 1024];
        while f.write_all(&block).and_then(|()| f.sync_data()).is_ok() {}
    }
    // Writes fail (503), and keep failing while the disk is full; reads work.
    let description = "x".repeat(20_000);
    let (mut refused, mut acknowledged) = (Vec::new(), Vec::new());
    for i in 0..20 {
        let res = app
            .post("/api/v1/flags", json!({"key": format!("full-{i}"), "type": "boolean", "description": description}))
            .await;
        if res.status == 503 {
            refused.push(i);
        } else {
            assert_eq!(res.status, 201, "{}", res.body);
            acknowledged.push(i);
        }
    }
    assert!(!refused.is_empty(), "the full disk was never noticed");
    app.get("/api/v1/flags/before").await.expect(200);
    // Not ready while the disk is full (small writes may still fit in the
    // space the database already holds; most do not).
    let ready = app.http.get(format!("{}/readyz", app.base)).send().await.unwrap();
    assert_eq!(ready.status(), 503, "a full disk is not ready");
    let reason = ready.text().await.unwrap();
    assert!(reason.contains("is full") || reason.contains("cannot be written"), "{reason}");
    // Space comes back: no restart needed.
    std::fs::remove_file(&filler).unwrap();
    let ready = app.http.get(format!("{}/readyz", app.base)).send().await.unwrap();
    assert_eq!(ready.status(), 200, "{}", ready.text().await.unwrap());
    app.post("/api/v1/flags", json!({"key": "after", "type": "boolean"})).await.expect(201);
    // Every acknowledged write is there; every refused one left nothing.
    app.get("/api/v1/flags/before").await.expect(200);
    for i in acknowledged {
        app.get(&format!("/api/v1/flags/full-{i}")).await.expect(200);
    }
    for i in refused {
        app.get(&format!("/api/v1/flags/full-{i}")).await.expect(404);
    }
    let browser = support::ui_client::Browser::admin(&app).await;
    assert!(!browser.cookie.is_empty(), "logins write sessions again");
    app.stop().await;
}
