//! Releases as the embedded SDK and OFREP see them, against the real server
//! binary: a 50-flag release applied again and again is never seen half
//! applied.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use flagyard::{Client, Context};
use flagyard_tests::{Server, ServerOptions};
use reqwest::Method;
use serde_json::{Value, json};

const FLAGS: usize = 50;
const ROUNDS: usize = 12;

fn flag(i: usize) -> String {
    format!("release-flag-{i:02}")
}

/// A release that turns all 50 flags on (`on`) or off.
fn release(round: usize, on: bool) -> Value {
    let changes: Vec<Value> = (0..FLAGS)
        .map(|i| json!({"flag": flag(i), "environment": "production", "enabled": on, "defaultVariant": "on"}))
        .collect();
    json!({"name": format!("round {round}"), "changes": changes})
}

fn count_on(values: &std::collections::BTreeMap<String, Value>) -> usize {
    (0..FLAGS).filter(|i| values.get(&flag(*i)) == Some(&json!(true))).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sdk_never_sees_a_release_half_applied() {
    let server = Server::start(ServerOptions::default()).await;
    for i in 0..FLAGS {
        server.admin(Method::POST, "/flags", Some(json!({"key": flag(i), "type": "boolean"})), 201).await;
    }
    let key = server.sdk_key("production").await;
    let sdk = Client::builder(server.base.clone(), &key)
        .send_events(false)
        .init_timeout(Duration::from_secs(5))
        .build()
        .await
        .expect("client");
    let mut changes = sdk.subscribe();

    // A thread that reads every flag from one snapshot as fast as it can and
    // records each state it sees (version, flags on).
    let stop = Arc::new(AtomicBool::new(false));
    let recorder = {
        let (sdk, stop) = (sdk.clone(), stop.clone());
        std::thread::spawn(move || {
            let ctx = Context::new("user-1");
            let mut seen: Vec<(u64, usize)> = Vec::new();
            let mut reads = 0u64;
            while !stop.load(Ordering::Relaxed) {
                if let Some(all) = sdk.all_values(&ctx) {
                    reads += 1;
                    let state = (all.version, count_on(&all.values));
                    if seen.last() != Some(&state) {
                        seen.push(state);
                    }
                }
            }
            (seen, reads)
        })
    };
    let mut last = 0;
    for round in 0..ROUNDS {
        let on = round % 2 == 0;
        let r = server.admin(Method::POST, "/releases", Some(release(round, on)), 201).await;
        let id = r["id"].as_i64().unwrap();
        let applied = server.admin(Method::POST, &format!("/releases/{id}/apply"), None, 200).await;
        last = applied["outcome"]["versions"]["production"].as_i64().unwrap();
        // OFREP answers one version or the other, never a mix.
        let body = json!({"context": {"targetingKey": "user-1"}});
        let res = server
            .http
            .post(format!("{}/ofrep/v1/evaluate/flags", server.base))
            .bearer_auth(&key)
            .json(&body)
            .send()
            .await
            .unwrap();
        let bulk: Value = res.json().await.unwrap();
        let on_count = bulk["flags"].as_array().unwrap().iter().filter(|f| f["value"] == json!(true)).count();
        assert_eq!(on_count, if on { FLAGS } else { 0 }, "OFREP after release {id}");
    }
    let started = Instant::now();
    while sdk.version() != Some(last as u64) {
        assert!(started.elapsed() < Duration::from_secs(5), "the SDK did not reach version {last}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    stop.store(true, Ordering::Relaxed);
    let (seen, reads) = recorder.join().unwrap();
    eprintln!("{reads} consistent reads, {} states seen: {seen:?}", seen.len());
    for (version, on) in &seen {
        assert!(*on == 0 || *on == FLAGS, "version {version}: {on} of {FLAGS} flags on: a release seen half applied");
    }
    assert!(seen.len() > ROUNDS / 2, "the recorder saw too few states to show anything: {seen:?}");
    // Each release reached the SDK as one change naming all 50 flags.
    let mut per_change = Vec::new();
    while let Ok(change) = changes.try_recv() {
        per_change.push(change.flags.len());
    }
    assert!(!per_change.is_empty());
    assert!(per_change.iter().all(|n| *n == FLAGS), "{per_change:?}");
    sdk.close().await;
}
