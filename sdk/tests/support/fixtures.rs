//! Snapshots and builders shared by the tests.

use std::time::{Duration, Instant};

use flagyard::{Client, ClientBuilder};
use serde_json::{Value, json};

use super::{ENV, KEY};

pub fn flag(kind: &str, variants: Value, default: &str, rules: Value) -> Value {
    json!({"type": kind, "variants": variants, "environments": {ENV: {
        "enabled": true, "offVariant": default, "defaultVariant": default, "rules": rules}}})
}

pub fn bool_flag(on: bool) -> Value {
    flag(
        "boolean",
        json!([{"key": "on", "value": true}, {"key": "off", "value": false}]),
        if on { "on" } else { "off" },
        json!([]),
    )
}

pub fn string_flag(value: &str) -> Value {
    flag("string", json!([{"key": "v", "value": value}]), "v", json!([]))
}

/// A 50/50 split of `on`/`off` on `bucket_by`; the rule has `id` when given.
pub fn split_flag(bucket_by: &str, id: Option<&str>) -> Value {
    let mut rule = json!({"serve": {"split": {"variants": [{"variant": "on", "weight": 5000}, {"variant": "off", "weight": 5000}], "bucketBy": bucket_by}}});
    if let Some(id) = id {
        rule["id"] = json!(id);
    }
    flag("boolean", json!([{"key": "on", "value": true}, {"key": "off", "value": false}]), "off", json!([rule]))
}

pub fn snapshot(version: u64) -> Value {
    json!({"environment": ENV, "version": version, "flags": {
        "bool-flag": bool_flag(true),
        "string-flag": string_flag("blue"),
        "number-flag": flag("number", json!([{"key": "n", "value": 3.5}]), "n", json!([])),
        "json-flag": flag("json", json!([{"key": "j", "value": {"a": [1, 2]}}]), "j", json!([])),
        "canary": split_flag("key", Some("canary-50")),
        "by-org": split_flag("org", None),
        "off-flag": {"type": "boolean", "variants": [{"key": "on", "value": true}, {"key": "off", "value": false}],
            "environments": {ENV: {"enabled": false, "offVariant": "off", "defaultVariant": "on"}}}
    }, "segments": {}})
}

/// A builder with short timings, events off unless a test turns them on.
pub fn builder(url: &str) -> ClientBuilder {
    Client::builder(url, KEY)
        .init_timeout(Duration::from_secs(3))
        .backoff_base(Duration::from_millis(20))
        .backoff_cap(Duration::from_millis(200))
        .poll_interval(Duration::from_millis(100))
        .stream_retry_interval(Duration::from_millis(500))
        .heartbeat_interval(Duration::from_secs(5))
        .request_timeout(Duration::from_secs(2))
        .close_timeout(Duration::from_secs(2))
        .send_events(false)
}

/// An address where nothing listens.
pub async fn closed_url() -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    format!("http://{addr}")
}

/// Waits until `cond` holds (panics after `secs`).
pub async fn eventually(what: &str, secs: u64, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < end, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

pub fn temp_path(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("flagyard-sdk-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}
