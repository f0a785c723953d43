//! Getters, typed defaults, details, readiness, bootstrap and cache file.

mod support;

use std::time::{Duration, Instant};

use flagyard::{ClientState, Context, DefaultReason, Error, EvaluationReason, FlagType};
use serde_json::json;
use support::*;

#[tokio::test]
async fn typed_getters_defaults_and_details() {
    let fake = Fake::start(snapshot(5)).await;
    let client = builder(&fake.url).build().await.unwrap();
    assert_eq!(client.state(), ClientState::Ready);
    assert_eq!(client.version(), Some(5));
    let ctx = Context::new("user-1");

    assert!(client.bool_value("bool-flag", &ctx, false));
    assert_eq!(client.string_value("string-flag", &ctx, "grey"), "blue");
    assert_eq!(client.number_value("number-flag", &ctx, 0.0), 3.5);
    assert_eq!(client.json_value("json-flag", &ctx, json!(null)), json!({"a": [1, 2]}));
    // JSON getters read any flag.
    assert_eq!(client.json_value("bool-flag", &ctx, json!(null)), json!(true));
    assert_eq!(client.variant("bool-flag", &ctx).as_deref(), Some("on"));

    // The kill switch serves the off variant.
    let d = client.bool_detail("off-flag", &ctx, true);
    assert_eq!((d.value, d.variant.as_deref(), &d.reason), (false, Some("off"), &EvaluationReason::Off));
    assert_eq!(d.defaulted(), None);

    // Unknown flag: the default, and why.
    assert!(client.bool_value("missing", &ctx, true));
    assert_eq!(client.string_value("missing", &ctx, "grey"), "grey");
    assert_eq!(client.variant("missing", &ctx), None);
    let d = client.number_detail("missing", &ctx, 7.0);
    assert_eq!((d.value, d.defaulted()), (7.0, Some(DefaultReason::FlagNotFound)));
    assert_eq!(d.reason.code(), "ERROR");

    // Wrong type: the default, and why.
    assert!(client.bool_value("string-flag", &ctx, true));
    assert_eq!(client.number_value("bool-flag", &ctx, 1.5), 1.5);
    assert_eq!(client.string_value("number-flag", &ctx, "d"), "d");
    let d = client.string_detail("bool-flag", &ctx, "d");
    assert_eq!(d.value, "d");
    assert_eq!(
        d.defaulted(),
        Some(DefaultReason::WrongType { requested: FlagType::String, actual: FlagType::Boolean })
    );
    assert_eq!(
        d.reason.to_string(),
        "error: requested a string but the flag is a boolean; the caller's default was returned"
    );

    // A split: bucket, rule id, variant.
    let d = client.detail("canary", &ctx);
    assert!(d.served_by_split());
    let bucket = d.bucket().unwrap();
    assert_eq!(d.reason, EvaluationReason::Split { rule: 0, id: Some("canary-50".into()), bucket });
    assert_eq!(d.value, Some(json!(bucket < 5000)));
    assert_eq!(d.variant.as_deref(), Some(if bucket < 5000 { "on" } else { "off" }));
    assert_eq!(d.version, Some(5));
    assert_eq!(d.reason.code(), "SPLIT");
    client.close().await;
}

#[test]
fn the_client_is_shareable_and_the_key_stays_secret() {
    fn send_sync<T: Send + Sync + Clone>() {}
    send_sync::<flagyard::Client>();
    let debug = format!("{:?}", flagyard::Client::builder("http://x", "secret-key-123"));
    assert!(!debug.contains("secret-key-123"), "{debug}");
}

#[tokio::test]
async fn not_ready_serves_defaults() {
    let url = closed_url().await;
    let started = Instant::now();
    let client = builder(&url).init_timeout(Duration::from_millis(300)).build().await.unwrap();
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(300) && waited < Duration::from_secs(2), "{waited:?}");
    assert_eq!(client.state(), ClientState::Initializing);
    let ctx = Context::new("u");
    assert!(client.bool_value("bool-flag", &ctx, true));
    assert_eq!(client.number_value("number-flag", &ctx, 2.0), 2.0);
    assert_eq!(client.variant("bool-flag", &ctx), None);
    let d = client.json_detail("json-flag", &ctx, json!("d"));
    assert_eq!((&d.value, d.defaulted(), d.version), (&json!("d"), Some(DefaultReason::NotReady), None));
    assert_eq!(client.detail("x", &ctx).value, None);
    client.close().await;
}

#[tokio::test]
async fn offline_mode_uses_no_network() {
    let client = flagyard::Client::builder("http://127.0.0.1:9", KEY).offline(true).build().await.unwrap();
    assert_eq!(client.state(), ClientState::Offline);
    assert!(client.bool_value("bool-flag", &Context::new("u"), true));
    client.track("ignored", &Context::new("u"), None);
    assert_eq!(client.stats(), flagyard::Stats::default());
    client.close().await;
}

#[tokio::test]
async fn bootstrap_json_while_the_server_is_down() {
    let url = closed_url().await;
    let client = builder(&url)
        .init_timeout(Duration::from_millis(200))
        .bootstrap_json(snapshot(3).to_string())
        .build()
        .await
        .unwrap();
    assert_eq!(client.version(), Some(3));
    assert_eq!(client.string_value("string-flag", &Context::new("u"), "grey"), "blue");
    // Not "Initializing": it serves known rules while it retries.
    eventually("stale", 5, || client.state() == ClientState::Stale).await;
    client.close().await;
}

#[tokio::test]
async fn bootstrap_file_offline_and_bad_bootstraps() {
    let path = temp_path("bootstrap.json");
    std::fs::write(&path, snapshot(8).to_string()).unwrap();
    let client = builder("unused").offline(true).bootstrap_file(&path).build().await.unwrap();
    assert_eq!(client.version(), Some(8));
    assert_eq!(client.number_value("number-flag", &Context::new("u"), 0.0), 3.5);

    let missing = builder("unused").offline(true).bootstrap_file(temp_path("nope.json")).build().await;
    assert!(matches!(missing, Err(Error::BootstrapFile { .. })), "{missing:?}");
    let mut bad = snapshot(1);
    bad["flags"]["bool-flag"]["environments"][ENV]["defaultVariant"] = json!("nope");
    let invalid = builder("unused").offline(true).bootstrap_json(bad.to_string()).build().await;
    let err = invalid.unwrap_err();
    assert!(err.to_string().contains("flags.bool-flag.environments.test.defaultVariant"), "{err}");
    assert!(matches!(builder("ftp://x").build().await, Err(Error::InvalidUrl { .. })));
    assert!(matches!(builder("not a url").build().await, Err(Error::InvalidUrl { .. })));
}

#[tokio::test]
async fn cache_file_is_written_then_used_when_the_server_is_down() {
    let cache = temp_path("cache.json");
    let _ = std::fs::remove_file(&cache);
    let mut fake = Fake::start(snapshot(10)).await;
    let client = builder(&fake.url).cache_file(&cache).build().await.unwrap();
    assert_eq!(client.state(), ClientState::Ready);
    eventually("cache written", 5, || std::fs::read_to_string(&cache).is_ok_and(|s| s.contains("\"version\":10")))
        .await;
    fake.set_flag("string-flag", Some(string_flag("green")));
    eventually("cache rewritten", 5, || std::fs::read_to_string(&cache).is_ok_and(|s| s.contains("green"))).await;
    client.close().await;
    fake.stop().await;

    // A new process while the server is down: the last known rules, even
    // over an older bootstrap.
    let client = builder(&fake.url)
        .init_timeout(Duration::from_millis(200))
        .cache_file(&cache)
        .bootstrap_json(snapshot(4).to_string())
        .build()
        .await
        .unwrap();
    assert_eq!(client.version(), Some(11));
    assert_eq!(client.string_value("string-flag", &Context::new("u"), "grey"), "green");
    eventually("stale", 5, || client.state() == ClientState::Stale).await;
    client.close().await;
    assert_eq!(client.state(), ClientState::Offline);
    // A newer bootstrap beats an older cache file.
    let client = builder("unused").offline(true).cache_file(&cache).bootstrap_json(snapshot(20).to_string()).build();
    assert_eq!(client.await.unwrap().version(), Some(20));
}
