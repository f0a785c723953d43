//! The data source against the fake server: SSE put/patch, reconnection,
//! Last-Event-ID, server down, refused key, polling fallback, heartbeats.

mod support;

use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

use flagyard::{ClientState, Context, FlagChange};
use serde_json::json;
use support::*;

#[tokio::test]
async fn put_then_patches_change_answers() {
    let fake = Fake::start(snapshot(5)).await;
    let client = builder(&fake.url).build().await.unwrap();
    let mut changes = client.subscribe();
    let ctx = Context::new("u");
    assert!(client.bool_value("bool-flag", &ctx, false));

    fake.set_flag("bool-flag", Some(bool_flag(false)));
    let change = tokio::time::timeout(Duration::from_secs(5), changes.recv()).await.unwrap().unwrap();
    assert_eq!(change, FlagChange { version: 6, flags: vec!["bool-flag".into()], segments: vec![] });
    assert!(!client.bool_value("bool-flag", &ctx, true));

    // Deletion: the flag is gone, the default is served.
    fake.set_flag("string-flag", None);
    eventually("deleted", 5, || client.string_value("string-flag", &ctx, "grey") == "grey").await;
    assert_eq!(client.version(), Some(7));

    // A segment change is reported too.
    fake.change(json!({}), json!({"beta": {"included": ["u"]}}));
    let change = tokio::time::timeout(Duration::from_secs(5), changes.recv()).await.unwrap().unwrap();
    let change = if change.version == 7 { changes.recv().await.unwrap() } else { change };
    assert_eq!(change, FlagChange { version: 8, flags: vec![], segments: vec!["beta".into()] });

    // A patch not above the current version is ignored...
    let old = json!({"version": 8, "flags": {"bool-flag": bool_flag(true)}});
    fake.send_raw(&format!("event: patch\nid: 8\ndata: {old}\n\n"));
    // ...a patch for a version gap is applied (full state per key).
    let gap = json!({"version": 12, "flags": {"number-flag": null}});
    fake.send_raw(&format!("event: patch\nid: 12\ndata: {gap}\n\n"));
    eventually("gap patch", 5, || client.version() == Some(12)).await;
    assert!(!client.bool_value("bool-flag", &ctx, true), "the old patch was ignored");
    assert_eq!(client.number_value("number-flag", &ctx, -1.0), -1.0);
    assert_eq!(fake.counters.stream.load(SeqCst), 1, "one connection throughout");
    client.close().await;
}

#[tokio::test]
async fn reconnects_with_last_event_id_and_catches_up_after_a_mid_stream_drop() {
    let fake = Fake::start(snapshot(5)).await;
    let client = builder(&fake.url).build().await.unwrap();
    let ctx = Context::new("u");
    // Half an event, changes the SDK does not hear about, then the
    // connection breaks mid-body.
    fake.send_raw("event: patch\nid: 99\ndata: {\"version\": 99, \"fl");
    fake.set_flag_quietly("string-flag", Some(string_flag("red")));
    fake.set_flag_quietly("bool-flag", Some(bool_flag(false)));
    fake.break_streams();
    eventually("caught up", 5, || client.version() == Some(7)).await;
    assert_eq!(client.string_value("string-flag", &ctx, ""), "red");
    assert!(!client.bool_value("bool-flag", &ctx, true));
    eventually("reconnected", 5, || fake.open_streams() == 1).await;
    assert_eq!(fake.lock().last_event_ids, vec![None, Some("5".to_owned())]);
    assert_eq!(client.state(), ClientState::Ready);

    // The change log no longer reaches back: the server answers with a put.
    fake.lock().log_floor = 100;
    fake.set_flag_quietly("string-flag", Some(string_flag("teal")));
    fake.end_streams();
    eventually("put after truncated log", 5, || client.string_value("string-flag", &ctx, "") == "teal").await;
    assert_eq!(fake.lock().last_event_ids[2], Some("7".to_owned()));
    client.close().await;
}

#[tokio::test]
async fn the_server_retry_delay_is_honoured() {
    let fake = Fake::start(snapshot(5)).await;
    fake.lock().retry_ms = 700;
    let client = builder(&fake.url).build().await.unwrap();
    eventually("stream open", 5, || fake.open_streams() == 1).await;
    let ended = std::time::Instant::now();
    fake.end_streams();
    eventually("reconnected", 5, || fake.counters.stream.load(SeqCst) == 2).await;
    let waited = ended.elapsed();
    assert!(waited >= Duration::from_millis(700), "reconnected after {waited:?}, before the server's retry");
    assert!(waited < Duration::from_millis(1500), "{waited:?}");
    client.close().await;
}

#[tokio::test]
async fn server_down_keeps_serving_the_last_rules() {
    let mut fake = Fake::start(snapshot(5)).await;
    let client = builder(&fake.url).build().await.unwrap();
    let mut states = client.state_changes();
    fake.stop().await;
    tokio::time::timeout(Duration::from_secs(5), states.wait_for(|s| *s == ClientState::Stale)).await.unwrap().unwrap();
    let ctx = Context::new("u");
    for _ in 0..50 {
        let d = client.string_detail("string-flag", &ctx, "default");
        assert_eq!((d.value.as_str(), d.defaulted()), ("blue", None));
        assert!(client.bool_value("bool-flag", &ctx, false));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(client.version(), Some(5));
    client.close().await;
}

#[tokio::test]
async fn refused_key_fails_and_stops_all_requests() {
    let fake = Fake::start(snapshot(5)).await;
    fake.lock().revoked = true;
    let started = std::time::Instant::now();
    let client = builder(&fake.url).send_events(true).flush_interval(Duration::from_millis(20)).build().await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(2), "build returns as soon as the key is refused");
    assert!(matches!(client.state(), ClientState::Failed(ref r) if r.contains("401")), "{:?}", client.state());
    client.track("purchase", &Context::new("u"), None);
    client.flush().await;
    client.track("purchase", &Context::new("u"), None);
    client.flush().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fake.counters.stream.load(SeqCst), 1);
    assert_eq!(fake.counters.snapshot.load(SeqCst), 0);
    assert_eq!(fake.counters.events.load(SeqCst), 1, "events stop after the first 401");
    assert_eq!(client.stats().dropped, 2);
    client.close().await;

    // Revoked while connected: the server ends the stream, the reconnect
    // gets 401, and the client keeps its rules but stops.
    let fake = Fake::start(snapshot(5)).await;
    let client = builder(&fake.url).build().await.unwrap();
    fake.lock().revoked = true;
    fake.end_streams();
    eventually("failed", 5, || matches!(client.state(), ClientState::Failed(_))).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fake.counters.stream.load(SeqCst), 2);
    assert!(client.bool_value("bool-flag", &Context::new("u"), false), "last rules still served");
    client.close().await;
}

#[tokio::test]
async fn falls_back_to_polling_when_the_stream_keeps_failing() {
    let fake = Fake::start(snapshot(5)).await;
    fake.lock().stream_status = Some(500);
    let client = builder(&fake.url).build().await.unwrap();
    assert_eq!(client.state(), ClientState::Ready, "ready from a poll");
    assert_eq!(fake.counters.stream.load(SeqCst), 3, "three stream failures before polling");
    let ctx = Context::new("u");
    fake.set_flag("bool-flag", Some(bool_flag(false)));
    eventually("poll picked up the change", 5, || !client.bool_value("bool-flag", &ctx, true)).await;
    eventually("not modified", 5, || fake.lock().if_none_match.contains(&Some("\"6\"".to_owned()))).await;
    // The stream is retried periodically; once it works, polling stops.
    fake.lock().stream_status = None;
    eventually("back on the stream", 5, || fake.open_streams() == 1).await;
    let polls = fake.counters.snapshot.load(SeqCst);
    fake.set_flag("bool-flag", Some(bool_flag(true)));
    eventually("stream patch", 5, || client.bool_value("bool-flag", &ctx, false)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fake.counters.snapshot.load(SeqCst), polls, "no polling while streaming");
    client.close().await;
}

#[tokio::test]
async fn polling_mode_never_opens_the_stream() {
    let fake = Fake::start(snapshot(5)).await;
    let client = builder(&fake.url).streaming(false).build().await.unwrap();
    assert_eq!(client.state(), ClientState::Ready);
    fake.set_flag("bool-flag", Some(bool_flag(false)));
    eventually("polled", 5, || !client.bool_value("bool-flag", &Context::new("u"), true)).await;
    assert_eq!(fake.counters.stream.load(SeqCst), 0);
    client.close().await;
}

#[tokio::test]
async fn a_silent_stream_is_reconnected_after_three_heartbeats() {
    let fake = Fake::start(snapshot(5)).await;
    fake.lock().heartbeat = None;
    let client = builder(&fake.url).heartbeat_interval(Duration::from_millis(100)).build().await.unwrap();
    eventually("reconnected twice", 5, || fake.counters.stream.load(SeqCst) >= 3).await;
    assert_eq!(fake.lock().last_event_ids[1], Some("5".to_owned()));
    client.close().await;

    // With heartbeats inside the limit, the stream stays up.
    let fake = Fake::start(snapshot(5)).await;
    fake.lock().heartbeat = Some(Duration::from_millis(50));
    let client = builder(&fake.url).heartbeat_interval(Duration::from_millis(100)).build().await.unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(fake.counters.stream.load(SeqCst), 1);
    client.close().await;
}

#[tokio::test]
async fn an_unusable_patch_fetches_the_full_snapshot() {
    let fake = Fake::start(snapshot(5)).await;
    let client = builder(&fake.url).build().await.unwrap();
    let mut bad = bool_flag(true);
    bad["environments"][ENV]["defaultVariant"] = json!("nope");
    // The server's state moves on to version 6; the patch the SDK gets is broken.
    fake.set_flag_quietly("string-flag", Some(string_flag("violet")));
    fake.send_raw(&format!("event: patch\nid: 6\ndata: {}\n\n", json!({"version": 6, "flags": {"bool-flag": bad}})));
    eventually("snapshot fetched", 5, || client.version() == Some(6)).await;
    assert_eq!(client.string_value("string-flag", &Context::new("u"), ""), "violet");
    assert_eq!(fake.lock().if_none_match, vec![None], "a full snapshot, not a conditional poll");
    assert!(client.bool_value("bool-flag", &Context::new("u"), false));
    client.close().await;
}
