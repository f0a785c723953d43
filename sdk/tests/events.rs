//! The event pipeline against the fake server: batching, exposure
//! de-duplication, the bounded queue, Retry-After, backoff, the circuit
//! breaker, 413 splitting, batch ids on retry, close.

mod support;

use std::collections::HashSet;
use std::sync::atomic::Ordering::SeqCst;
use std::time::{Duration, Instant};

use flagyard::{BreakerState, ClientBuilder, Context};
use serde_json::{Value, json};
use support::*;

fn with_events(url: &str) -> ClientBuilder {
    builder(url).send_events(true).flush_interval(Duration::from_secs(30)).backoff_cap(Duration::from_millis(50))
}

fn ids(batches: &[Value]) -> Vec<String> {
    batches.iter().map(|b| b["batchId"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn batches_track_events_and_deduplicates_exposures() {
    let fake = Fake::start(snapshot(5)).await;
    let client = with_events(&fake.url).batch_size(3).build().await.unwrap();
    let u = Context::new("user-1");
    for i in 0..7 {
        client.track("purchase", &u, if i == 0 { None } else { Some(f64::from(i)) });
    }
    // Two full batches go at once; the seventh waits for a flush.
    eventually("full batches", 5, || fake.batches().len() == 2).await;
    client.flush().await;
    let batches = fake.batches();
    let sizes: Vec<usize> = batches.iter().map(|b| b["events"].as_array().unwrap().len()).collect();
    assert_eq!(sizes, [3, 3, 1]);
    let batch_ids = ids(&batches);
    assert_eq!(batch_ids.iter().collect::<HashSet<_>>().len(), 3);
    assert!(batch_ids.iter().all(|id| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())));
    assert!(batches[0]["sentAt"].as_u64().unwrap() > 1_700_000_000_000);
    let first = &batches[0]["events"][0];
    assert_eq!(
        (&first["kind"], &first["event"], &first["unit"]),
        (&json!("track"), &json!("purchase"), &json!("user-1"))
    );
    assert!(first.get("value").is_none() && first["at"].as_u64().is_some());
    assert_eq!(batches[0]["events"][1]["value"], json!(1.0));

    // Exposures: once per (unit, flag, variant), only for splits.
    for _ in 0..100 {
        client.bool_value("canary", &u, false);
        client.bool_value("bool-flag", &u, false);
        client.detail("canary", &u);
    }
    for i in 0..10 {
        client.bool_value("canary", &Context::new(format!("user-{i}")), false);
    }
    let org = Context::new("someone").with("org", 42);
    client.variant("by-org", &org);
    client.bool_value("by-org", &Context::new("someone-else").with("org", 42), false);
    client.bool_value("by-org", &Context::new("no-org"), false); // no unit: not served by the split
    client.flush().await;
    let exposures: Vec<Value> = fake.accepted_events().into_iter().filter(|e| e["kind"] == "exposure").collect();
    assert_eq!(exposures.len(), 11, "{exposures:#?}");
    let canary = &exposures[0];
    assert_eq!(canary["flag"], "canary");
    assert_eq!(canary["rule"], "canary-50");
    assert_eq!(canary["bucketBy"], "key");
    assert_eq!(canary["unit"], "user-1");
    assert_eq!(canary["version"], 5);
    assert_eq!(canary["variant"], json!(client.variant("canary", &u).unwrap()));
    let org = &exposures[10];
    assert_eq!(
        (&org["flag"], &org["rule"], &org["bucketBy"], &org["unit"]),
        (&json!("by-org"), &json!("#0"), &json!("org"), &json!("42"))
    );
    let stats = client.stats();
    assert_eq!((stats.sent, stats.dropped, stats.queued, stats.breaker), (18, 0, 0, BreakerState::Closed));

    // New rules put everyone on `on`: units already exposed to `on` are not
    // exposed again, the others are (once).
    let users: Vec<Context> = (0..10).map(|i| Context::new(format!("user-{i}"))).collect();
    let were_off = users.iter().filter(|u| client.variant("canary", u).unwrap() == "off").count();
    assert!(were_off > 0 && were_off < 10);
    let mut all_on = split_flag("key", Some("all-on"));
    all_on["environments"][ENV]["rules"][0]["serve"]["split"]["variants"] = json!([{"variant": "on", "weight": 10000}]);
    fake.set_flag("canary", Some(all_on));
    eventually("new rules", 5, || client.version() == Some(6)).await;
    for _ in 0..3 {
        for u in &users {
            assert!(client.bool_value("canary", u, false));
        }
    }
    client.flush().await;
    let fresh: Vec<Value> = fake.accepted_events().into_iter().filter(|e| e["kind"] == "exposure").skip(11).collect();
    assert_eq!(fresh.len(), were_off, "{fresh:#?}");
    assert!(fresh.iter().all(|e| e["rule"] == "all-on" && e["version"] == 6 && e["variant"] == "on"));
    client.close().await;
}

#[tokio::test]
async fn a_full_queue_drops_and_counts_without_blocking() {
    // Nothing listens: the sender cannot drain the queue.
    let url = closed_url().await;
    let client = with_events(&url).init_timeout(Duration::ZERO).queue_capacity(10).batch_size(5).build().await.unwrap();
    let ctx = Context::new("u");
    let started = Instant::now();
    for _ in 0..10_000 {
        client.track("click", &ctx, Some(1.0));
    }
    let took = started.elapsed();
    assert!(took < Duration::from_millis(500), "10 000 track calls took {took:?}");
    // The test runtime is single-threaded: the sender has not run yet.
    let stats = client.stats();
    assert_eq!((stats.dropped, stats.queued), (9_990, 10));
    // Events without a unit are dropped and counted too.
    client.track("click", &Context::anonymous(), None);
    client.track("click", &ctx, Some(f64::NAN));
    assert_eq!(client.stats().dropped, 9_992);
    client.close().await;
}

#[tokio::test]
async fn retry_after_is_honoured_and_the_batch_id_is_reused() {
    let fake = Fake::start(snapshot(5)).await;
    fake.lock().replies.extend([Reply::RetryAfter(429, 1)]);
    let client = with_events(&fake.url).build().await.unwrap();
    client.track("purchase", &Context::new("u"), Some(3.0));
    client.flush().await;
    let batches = fake.timed_batches();
    assert_eq!(batches.len(), 2);
    let waited = batches[1].0 - batches[0].0;
    assert!(waited >= Duration::from_secs(1), "retried after {waited:?}");
    assert_eq!(batches[0].1["batchId"], batches[1].1["batchId"]);
    let stats = client.stats();
    assert_eq!((stats.sent, stats.breaker), (1, BreakerState::Closed), "a 429 does not trip the breaker");
    client.close().await;
}

#[tokio::test]
async fn server_errors_back_off_open_the_breaker_and_a_probe_recovers() {
    let fake = Fake::start(snapshot(5)).await;
    // Three failures open the breaker; the first probe fails too; the second succeeds.
    fake.lock().replies.extend([Reply::Status(500), Reply::Status(502), Reply::RetryAfter(503, 0), Reply::Status(500)]);
    let cooldown = Duration::from_millis(400);
    let client = with_events(&fake.url).breaker_threshold(3).breaker_cooldown(cooldown).build().await.unwrap();
    client.track("purchase", &Context::new("u"), None);
    let flushing = tokio::spawn({
        let client = client.clone();
        async move { client.flush().await }
    });
    eventually("three attempts", 5, || fake.counters.events.load(SeqCst) == 3).await;
    eventually("breaker open", 5, || client.stats().breaker == BreakerState::Open).await;
    tokio::time::sleep(cooldown / 2).await;
    assert_eq!(fake.counters.events.load(SeqCst), 3, "nothing is sent while the breaker is open");
    flushing.await.unwrap();
    let batches = fake.timed_batches();
    let times: Vec<Instant> = batches.iter().map(|(t, _)| *t).collect();
    assert_eq!(times.len(), 5);
    assert!(times[3] - times[2] >= cooldown, "probe after the cool-down: {:?}", times[3] - times[2]);
    assert!(times[4] - times[3] >= cooldown, "a failed probe reopens: {:?}", times[4] - times[3]);
    assert!(times[2] - times[0] < cooldown, "backoff before opening is short");
    let batch_ids: HashSet<String> =
        ids(&batches.into_iter().map(|(_, b)| b).collect::<Vec<_>>()).into_iter().collect();
    assert_eq!(batch_ids.len(), 1, "every retry reuses the batch id");
    let stats = client.stats();
    assert_eq!((stats.sent, stats.failed_batches, stats.breaker), (1, 0, BreakerState::Closed));
    client.close().await;
}

#[tokio::test]
async fn a_batch_is_given_up_after_its_attempts() {
    let fake = Fake::start(snapshot(5)).await;
    fake.lock().replies.extend([Reply::Status(500), Reply::Status(500)]);
    let client = with_events(&fake.url).max_batch_attempts(2).build().await.unwrap();
    client.track("a", &Context::new("u"), None);
    client.track("b", &Context::new("u"), None);
    client.flush().await;
    let stats = client.stats();
    assert_eq!((stats.sent, stats.dropped, stats.failed_batches), (0, 2, 1));
    client.track("c", &Context::new("u"), None);
    client.flush().await;
    assert_eq!(client.stats().sent, 1);
    client.close().await;
}

#[tokio::test]
async fn too_large_batches_are_split() {
    let fake = Fake::start(snapshot(5)).await;
    fake.lock().replies.extend([Reply::Status(413), Reply::Ok, Reply::Status(413)]);
    let client = with_events(&fake.url).build().await.unwrap();
    for name in ["a", "b", "c", "d"] {
        client.track(name, &Context::new("u"), None);
    }
    client.flush().await;
    let batches = fake.batches();
    let sizes: Vec<usize> = batches.iter().map(|b| b["events"].as_array().unwrap().len()).collect();
    assert_eq!(sizes, [4, 2, 2, 1, 1]);
    assert_eq!(ids(&batches).into_iter().collect::<HashSet<_>>().len(), 5);
    assert_eq!(client.stats().sent, 4);
    client.close().await;
}

#[tokio::test]
async fn close_flushes_and_is_bounded() {
    let fake = Fake::start(snapshot(5)).await;
    let client = with_events(&fake.url).build().await.unwrap();
    for _ in 0..3 {
        client.track("purchase", &Context::new("u"), Some(1.0));
    }
    client.close().await;
    assert_eq!(fake.accepted_events().len(), 3);
    assert_eq!(client.stats().sent, 3);

    // With nobody to send to, close still returns within its timeout.
    let url = closed_url().await;
    let client = with_events(&url)
        .init_timeout(Duration::ZERO)
        .backoff_base(Duration::from_millis(100))
        .backoff_cap(Duration::from_millis(100))
        .close_timeout(Duration::from_millis(500))
        .build()
        .await
        .unwrap();
    client.track("purchase", &Context::new("u"), None);
    let started = Instant::now();
    client.close().await;
    assert!(started.elapsed() < Duration::from_millis(700), "close took {:?}", started.elapsed());
    assert_eq!(client.stats().dropped, 1);
}
