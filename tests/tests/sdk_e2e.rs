//! The embedded SDK against the real server binary: live changes, outages,
//! replicas, revocation.

use std::time::{Duration, Instant};

use flagyard::{Client, ClientState, Context};
use flagyard_tests::{PgDatabase, Server, ServerOptions};
use reqwest::Method;
use serde_json::json;

async fn client(server: &Server, key: &str) -> Client {
    Client::builder(server.base.clone(), key)
        .send_events(false)
        .backoff_base(Duration::from_millis(100))
        .backoff_cap(Duration::from_millis(500))
        .init_timeout(Duration::from_secs(5))
        .build()
        .await
        .expect("client")
}

/// Waits until `check` holds, or panics after `within`; returns how long it took.
async fn eventually(within: Duration, what: &str, mut check: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !check() {
        assert!(started.elapsed() < within, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    started.elapsed()
}

async fn toggle(server: &Server, flag: &str, enabled: bool) {
    let path = format!("/flags/{flag}/environments/production");
    server.admin(Method::PATCH, &path, Some(json!({"enabled": enabled, "defaultVariant": "on"})), 200).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sdk_sees_an_admin_change_within_a_second() {
    let server = Server::start(ServerOptions::default()).await;
    server.admin(Method::POST, "/flags", Some(json!({"key": "new-checkout", "type": "boolean"})), 201).await;
    let key = server.sdk_key("production").await;
    let sdk = client(&server, &key).await;
    assert_eq!(sdk.state(), ClientState::Ready);
    let user = Context::new("user-1");
    assert!(!sdk.bool_value("new-checkout", &user, true));
    for enabled in [true, false, true] {
        toggle(&server, "new-checkout", enabled).await;
        let took = eventually(Duration::from_secs(1), "the change reaches the SDK", || {
            sdk.bool_value("new-checkout", &user, !enabled) == enabled
        })
        .await;
        eprintln!("admin change -> SDK: {took:?}");
    }
    sdk.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_rides_out_an_outage_and_catches_up() {
    let mut a = Server::start(ServerOptions::default()).await;
    a.admin(Method::POST, "/flags", Some(json!({"key": "f", "type": "boolean"})), 201).await;
    toggle(&a, "f", true).await;
    let key = a.sdk_key("production").await;
    let sdk = client(&a, &key).await;
    let user = Context::new("user-1");
    eventually(Duration::from_secs(2), "initial rules", || sdk.bool_value("f", &user, false)).await;

    a.kill();
    // While the server is down every call is answered from the last known rules.
    for _ in 0..200 {
        assert!(sdk.bool_value("f", &user, false));
    }
    eventually(Duration::from_secs(5), "the SDK notices the outage", || sdk.state() == ClientState::Stale).await;
    assert!(sdk.bool_value("f", &user, false));

    // Meanwhile, another process on the same database changes things.
    let b = Server::start(ServerOptions { database_url: Some(a.database_url.clone()), ..Default::default() }).await;
    toggle(&b, "f", false).await;
    b.admin(Method::POST, "/flags", Some(json!({"key": "g", "type": "boolean"})), 201).await;
    toggle(&b, "g", true).await;
    drop(b);

    a.restart().await;
    eventually(Duration::from_secs(10), "the SDK catches up with every change", || {
        !sdk.bool_value("f", &user, true) && sdk.bool_value("g", &user, false) && sdk.state() == ClientState::Ready
    })
    .await;
    sdk.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_through_one_replica_reaches_an_sdk_on_another() {
    let Some(db) = PgDatabase::create("sdk_e2e::replicas").await else { return };
    let a = Server::start(ServerOptions { database_url: Some(db.url.clone()), ..Default::default() }).await;
    let b = Server::start(ServerOptions { database_url: Some(db.url.clone()), ..Default::default() }).await;
    a.admin(Method::POST, "/flags", Some(json!({"key": "f", "type": "boolean"})), 201).await;
    let key = a.sdk_key("production").await;
    let sdk = client(&b, &key).await;
    let user = Context::new("user-1");
    assert!(!sdk.bool_value("f", &user, true));
    toggle(&a, "f", true).await;
    let took =
        eventually(Duration::from_secs(2), "A's change reaches the SDK on B", || sdk.bool_value("f", &user, false))
            .await;
    eprintln!("replica A change -> SDK on B: {took:?}");
    sdk.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_key_stops_the_stream_and_the_sdk_reports_it() {
    let server = Server::start(ServerOptions::default()).await;
    server.admin(Method::POST, "/flags", Some(json!({"key": "f", "type": "boolean"})), 201).await;
    let created =
        server.admin(Method::POST, "/environments/production/sdk-keys", Some(json!({"name": "svc"})), 201).await;
    let sdk = client(&server, created["secret"].as_str().unwrap()).await;
    assert_eq!(sdk.state(), ClientState::Ready);
    server.admin(Method::DELETE, &format!("/sdk-keys/{}", created["id"]), None, 204).await;
    eventually(Duration::from_secs(5), "the SDK reports the refused key", || {
        matches!(sdk.state(), ClientState::Failed(_))
    })
    .await;
    // It keeps serving the last known rules.
    assert!(!sdk.bool_value("f", &Context::new("u"), true));
    sdk.close().await;
}
