//! A configuration write's stream patch is on this replica's streams before
//! the write is answered, and it is byte for byte the patch the fan-out
//! would have read from the change log.

use std::sync::Arc;

use serde_json::json;
use tokio::sync::broadcast::error::TryRecvError;

use super::{AppState, Hub, Shared, Signal, Writer, after_commit, patch_frame};
use crate::service::{self, ConfigWrite, FlagInput};
use crate::store::{Backend, ChangeQueries, Database, EnvironmentQueries};

async fn state(test: &str) -> (AppState<Database>, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!(
        "flagyard_publish_{test}_{}_{}",
        std::process::id(),
        crate::service::now_ms()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let store = Database::open(&format!("sqlite://{}", dir.join("p.db").display()), 2, true).await.unwrap();
    store.migrate().await.unwrap();
    let config = crate::config::Config::from_lookup(|_| None).unwrap();
    service::bootstrap(&store, &config).await.unwrap();
    let (_trigger, shutdown) = crate::shutdown::channel();
    let hub = Hub::new();
    let credentials: Arc<super::Credentials> = Arc::default();
    let state = AppState::new(Shared {
        store: store.clone(),
        config: Arc::new(config),
        metrics: crate::telemetry::metrics_handle(),
        shutdown,
        hub: hub.clone(),
        writer: Arc::new(Writer::start(store, after_commit(hub, credentials.clone()))),
        credentials,
        scheduler: Arc::new(super::Scheduler::new(None)),
    });
    (state, dir)
}

async fn write_config(state: &AppState<Database>, key: &'static str, put: bool, body: serde_json::Value) {
    let body: ConfigWrite = serde_json::from_value(body).unwrap();
    state
        .write(move |tx| {
            Box::pin(async move {
                if put {
                    service::put_config(tx, "test", key, "production", body).await
                } else {
                    service::patch_config(tx, "test", key, "production", body).await
                }
            })
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn a_configuration_write_is_broadcast_before_it_is_answered_as_the_log_would_give_it() {
    let (state, dir) = state("before").await;
    for (key, kind, variants) in [
        ("plain", "boolean", None),
        ("colour", "string", Some(json!([{"key": "red", "value": "red"}, {"key": "blue", "value": "blue"}]))),
        ("ratio", "number", Some(json!([{"key": "low", "value": 0.1}, {"key": "high", "value": 1e21}]))),
    ] {
        let mut input = json!({"key": key, "type": kind});
        if let Some(v) = variants {
            input["variants"] = v;
        }
        let input: FlagInput = serde_json::from_value(input).unwrap();
        state.write(move |tx| Box::pin(async move { service::create_flag(tx, "test", input).await })).await.unwrap();
    }
    let env = state.store.read().await.unwrap().environment("production").await.unwrap().unwrap();
    let mut signals = state.hub.subscribe(env.id);
    state.hub.observed(env.id, env.version);

    let writes = [
        ("plain", false, json!({"enabled": true})),
        ("plain", false, json!({"enabled": false})),
        (
            "colour",
            true,
            json!({"enabled": true, "offVariant": "red", "defaultVariant": "red", "rules": [
                {"id": "beta", "conditions": [{"attribute": "email", "op": "ends_with", "values": ["@example.com"]}],
                 "serve": {"variant": "blue"}},
                {"serve": {"split": {"variants": [{"variant": "red", "weight": 2500}, {"variant": "blue", "weight": 7500}]}}}
            ]}),
        ),
        ("ratio", false, json!({"enabled": true, "defaultVariant": "high"})),
    ];
    for (i, (key, put, body)) in writes.into_iter().enumerate() {
        let version = env.version + 1 + i as i64;
        write_config(&state, key, put, body).await;
        // Answered: the patch is already in the channel, no fan-out read needed.
        let frame = match signals.try_recv() {
            Ok(Signal::Patch(frame)) => frame,
            other => panic!("write {i}: expected the patch of version {version} at once, got {other:?}"),
        };
        assert_eq!(frame.version, version);
        assert!(frame.configs.is_none());
        // What the fan-out would have built from the change log.
        let mut tx = state.store.read().await.unwrap();
        let change = tx.changes_after(env.id, version - 1, 1).await.unwrap().remove(0);
        let logged = patch_frame(&mut tx, &env, &change).await.unwrap().unwrap();
        assert_eq!(frame.bytes, logged.bytes, "write {i}: the announced patch differs from the logged one");
    }
    assert!(matches!(signals.try_recv(), Err(TryRecvError::Empty)), "each version is sent once");
    state.store.close().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_version_is_published_only_when_it_is_the_next_one_owed() {
    let hub = Hub::new();
    let frame = |v: i64| move || Some(super::frame("patch", v, "{}"));
    assert!(!hub.publish(1, 5, frame(5)), "nobody listens: the fan-out decides later");
    let mut signals = hub.subscribe(1);
    assert!(!hub.publish(1, 5, frame(5)), "no stream has read a snapshot yet");
    hub.observed(1, 3);
    assert!(!hub.publish(1, 5, frame(5)), "version 4 (committed elsewhere) comes first");
    assert!(matches!(signals.try_recv(), Err(TryRecvError::Empty)));
    hub.send(1, 4, Signal::Reset(4));
    assert!(hub.publish(1, 5, frame(5)));
    assert!(!hub.publish(1, 5, frame(5)), "sent once");
    assert!(matches!(signals.try_recv(), Ok(Signal::Reset(4))));
    assert!(matches!(signals.try_recv(), Ok(Signal::Patch(f)) if f.version == 5));
}
