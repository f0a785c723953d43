//! The SDK endpoints end to end: snapshot with ETag, the SSE stream's put,
//! patches, resume, heartbeats, revocation, and replicas on one Postgres.

mod support;

use std::time::Duration;

use serde_json::json;
use support::app::TestApp;
use support::sse::SseReader;

const SOON: Duration = Duration::from_secs(5);

async fn sdk_key(app: &TestApp, env: &str) -> String {
    let key = app.post(&format!("/api/v1/environments/{env}/sdk-keys"), json!({"name": "svc"})).await.expect(201);
    key["secret"].as_str().unwrap().to_owned()
}

async fn create_flag(app: &TestApp, key: &str) {
    app.post("/api/v1/flags", json!({"key": key, "type": "boolean"})).await.expect(201);
}

async fn version(app: &TestApp, env: &str) -> i64 {
    let envs = app.get("/api/v1/environments").await.expect(200);
    envs.as_array().unwrap().iter().find(|e| e["key"] == env).unwrap()["version"].as_i64().unwrap()
}

api_test!(snapshot_is_scoped_and_cached_by_etag, |app| async move {
    create_flag(app, "f").await;
    app.patch("/api/v1/flags/f/environments/production", json!({"enabled": true})).await.expect(200);
    let key = sdk_key(app, "production").await;
    let none = app.call(reqwest::Method::GET, "/sdk/v1/snapshot", None, None).await;
    assert_eq!(none.status, 401);
    let admin = app.call(reqwest::Method::GET, "/sdk/v1/snapshot", Some(&app.token), None).await;
    assert_eq!(admin.status, 401, "admin tokens are not SDK keys");
    let snap = app.call(reqwest::Method::GET, "/sdk/v1/snapshot", Some(&key), None).await;
    let etag = snap.headers["etag"].to_str().unwrap().to_owned();
    let body = snap.expect(200);
    assert_eq!(body["environment"], "production");
    assert_eq!(etag, format!("\"{}\"", body["version"]));
    let envs = body["flags"]["f"]["environments"].as_object().unwrap();
    assert_eq!(envs.keys().collect::<Vec<_>>(), ["production"], "only the key's environment");
    assert_eq!(envs["production"]["enabled"], true);
    // The engine accepts it as is.
    flagyard_eval::Ruleset::from_json(&body.to_string()).unwrap();
    let cached = app.http.get(format!("{}/sdk/v1/snapshot", app.base)).bearer_auth(&key).header("If-None-Match", &etag);
    assert_eq!(cached.send().await.unwrap().status(), 304);
    app.patch("/api/v1/flags/f/environments/production", json!({"enabled": false})).await.expect(200);
    let stale = app.http.get(format!("{}/sdk/v1/snapshot", app.base)).bearer_auth(&key).header("If-None-Match", &etag);
    assert_eq!(stale.send().await.unwrap().status(), 200);
    // SDK keys cannot write.
    let write = app
        .call(reqwest::Method::POST, "/api/v1/flags", Some(&key), Some(&json!({"key": "x", "type": "boolean"})))
        .await;
    assert_eq!(write.status, 401);
});

api_test!(stream_puts_then_patches_each_change, |app| async move {
    create_flag(app, "f").await;
    let key = sdk_key(app, "production").await;
    let v0 = version(app, "production").await;
    let mut stream = SseReader::open(&app.base, &key, None).await;
    assert_eq!(stream.status, 200);
    let put = stream.next_event(SOON).await.unwrap();
    assert_eq!((put.event.as_str(), put.id), ("put", Some(v0)));
    assert_eq!(put.json()["flags"]["f"]["environments"]["production"]["enabled"], false);
    app.patch("/api/v1/flags/f/environments/production", json!({"enabled": true})).await.expect(200);
    let patch = stream.next_event(SOON).await.unwrap();
    assert_eq!((patch.event.as_str(), patch.id), ("patch", Some(v0 + 1)));
    assert_eq!(patch.json()["flags"]["f"]["environments"]["production"]["enabled"], true);
    // Changes to other environments do not reach this stream; deletions arrive as null.
    app.patch("/api/v1/flags/f/environments/staging", json!({"enabled": true})).await.expect(200);
    create_flag(app, "g").await;
    let created = stream.next_event(SOON).await.unwrap();
    assert_eq!(created.id, Some(v0 + 2));
    assert!(created.json()["flags"]["g"].is_object());
    app.delete("/api/v1/flags/g").await.expect(204);
    let deleted = stream.next_event(SOON).await.unwrap();
    assert_eq!(deleted.id, Some(v0 + 3));
    assert!(deleted.json()["flags"]["g"].is_null());
    app.post("/api/v1/segments", json!({"key": "beta", "included": ["u1"]})).await.expect(201);
    let seg = stream.next_event(SOON).await.unwrap();
    assert_eq!(seg.json()["segments"]["beta"]["included"], json!(["u1"]));
});

api_test!(stream_resumes_from_last_event_id, |app| async move {
    create_flag(app, "f").await;
    let key = sdk_key(app, "production").await;
    let v0 = version(app, "production").await;
    for enabled in [true, false, true] {
        app.patch("/api/v1/flags/f/environments/production", json!({"enabled": enabled})).await.expect(200);
    }
    let mut resumed = SseReader::open(&app.base, &key, Some(v0)).await;
    for v in 1..=3 {
        let e = resumed.next_event(SOON).await.unwrap();
        assert_eq!((e.event.as_str(), e.id), ("patch", Some(v0 + v)), "missed patches in order, no put");
    }
    // Up to date: nothing but heartbeats until the next change.
    let mut current = SseReader::open(&app.base, &key, Some(v0 + 3)).await;
    app.patch("/api/v1/flags/f/environments/production", json!({"enabled": false})).await.expect(200);
    let next = current.next_event(SOON).await.unwrap();
    assert_eq!((next.event.as_str(), next.id), ("patch", Some(v0 + 4)));
    // From the future, or garbage: a whole snapshot.
    for bogus in [v0 + 100, -5] {
        let mut s = SseReader::open(&app.base, &key, Some(bogus)).await;
        let e = s.next_event(SOON).await.unwrap();
        assert_eq!((e.event.as_str(), e.id), ("put", Some(v0 + 4)));
    }
});

api_test!(revoking_a_key_ends_its_stream, |app| async move {
    let created = app.post("/api/v1/environments/staging/sdk-keys", json!({"name": "svc"})).await.expect(201);
    let key = created["secret"].as_str().unwrap().to_owned();
    let mut stream = SseReader::open(&app.base, &key, None).await;
    stream.next_event(SOON).await.unwrap();
    app.delete(&format!("/api/v1/sdk-keys/{}", created["id"])).await.expect(204);
    let ended = tokio::time::timeout(SOON, async {
        loop {
            match stream.next_within(SOON).await {
                None => return,
                Some(e) if e.event == ":" => continue,
                Some(e) => panic!("unexpected event after revocation: {e:?}"),
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the stream did not end");
    let again = SseReader::open(&app.base, &key, None).await;
    assert_eq!(again.status, 401);
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_streams_get_heartbeats() {
    let db = support::db::SqliteTestDb::new();
    let app = TestApp::start_with(db.url.clone(), Box::new(db), &[("FLAGYARD_SSE_HEARTBEAT_SECS", "1")]).await;
    let key = sdk_key(&app, "production").await;
    let mut stream = SseReader::open(&app.base, &key, None).await;
    stream.next_event(SOON).await.unwrap();
    let beat = stream.next_within(Duration::from_millis(2500)).await.unwrap();
    assert_eq!((beat.event.as_str(), beat.data.as_str()), (":", "heartbeat"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_through_one_replica_reaches_a_stream_on_another() {
    let Some(db) = support::db::PgTestDb::create("sdk_stream::replicas").await else { return };
    let url = db.url.clone();
    let a = TestApp::start(url.clone(), Box::new(db)).await;
    // Same database, same bootstrap token hash: B accepts A's tokens.
    let b = TestApp::start(url, Box::new(())).await;
    create_flag(&a, "f").await;
    let key = sdk_key(&a, "production").await;
    let mut stream = SseReader::open(&b.base, &key, None).await;
    let put = stream.next_event(SOON).await.unwrap();
    let started = std::time::Instant::now();
    a.patch("/api/v1/flags/f/environments/production", json!({"enabled": true})).await.expect(200);
    let patch = stream.next_event(SOON).await.unwrap();
    assert_eq!(patch.id, put.id.map(|v| v + 1));
    assert_eq!(patch.json()["flags"]["f"]["environments"]["production"]["enabled"], true);
    eprintln!("cross-replica propagation: {:?}", started.elapsed());
    assert!(started.elapsed() < Duration::from_secs(2), "NOTIFY should deliver well before the poll");
    // B has the key in its authentication cache; revoking it through A
    // reaches B at once (NOTIFY), not only when the cache entry expires.
    let snapshot = |app: &TestApp| {
        let req = app.http.get(format!("{}/sdk/v1/snapshot", app.base)).bearer_auth(&key);
        async move { req.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(snapshot(&b).await, 200);
    let keys = a.get("/api/v1/sdk-keys").await.expect(200);
    a.delete(&format!("/api/v1/sdk-keys/{}", keys[0]["id"])).await.expect(204);
    let revoked = std::time::Instant::now();
    while snapshot(&b).await != 401 {
        assert!(revoked.elapsed() < Duration::from_secs(2), "B still accepts a key revoked through A");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    b.stop().await;
    a.stop().await;
}
