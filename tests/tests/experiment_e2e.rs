//! An experiment end to end with the real binary and the real SDK: the SDK
//! evaluates an experiment flag for generated users (recording exposures),
//! tracks their conversions, delivers both to `POST /sdk/v1/events`, and the
//! results API shows every unit and the effect in the expected direction.

use std::time::{Duration, Instant};

use flagyard::{Client, Context};
use flagyard_tests::{Server, ServerOptions};
use reqwest::Method;
use serde_json::{Value, json};

const USERS: usize = 3000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_exposures_and_conversions_reach_the_results() {
    let server = Server::start(ServerOptions::default()).await;
    server.admin(Method::POST, "/flags", Some(json!({"key": "new-checkout", "type": "boolean"})), 201).await;
    server
        .admin(
            Method::PUT,
            "/flags/new-checkout/environments/production",
            Some(json!({"enabled": true, "offVariant": "off", "defaultVariant": "off", "rules": [
                {"id": "exp", "serve": {"split": {"variants": [{"variant": "on", "weight": 5000}, {"variant": "off", "weight": 5000}]}}}
            ]})),
            200,
        )
        .await;
    server
        .admin(
            Method::POST,
            "/metrics",
            Some(json!({"key": "purchase", "event": "purchase", "kind": "conversion"})),
            201,
        )
        .await;
    server
        .admin(Method::POST, "/metrics", Some(json!({"key": "revenue", "event": "purchase", "kind": "sum"})), 201)
        .await;
    server
        .admin(
            Method::POST,
            "/experiments",
            Some(json!({"key": "checkout-test", "flag": "new-checkout", "environment": "production", "ruleId": "exp",
                        "controlVariant": "off", "primaryMetric": "purchase", "secondaryMetrics": ["revenue"]})),
            201,
        )
        .await;
    server.admin(Method::POST, "/experiments/checkout-test/start", None, 200).await;
    let key = server.sdk_key("production").await;
    let sdk = Client::builder(server.base.clone(), &key)
        .flush_interval(Duration::from_millis(200))
        .init_timeout(Duration::from_secs(5))
        .build()
        .await
        .expect("client");

    // The new checkout converts every 3rd user, the old one every 10th.
    let (mut on, mut off) = (0i64, 0i64);
    for i in 0..USERS {
        let user = Context::new(format!("user-{i}"));
        let treated = sdk.bool_value("new-checkout", &user, false);
        // Evaluating again (same unit and variant) records no second exposure.
        assert_eq!(sdk.bool_value("new-checkout", &user, false), treated);
        if treated {
            on += 1
        } else {
            off += 1
        }
        if i % if treated { 3 } else { 10 } == 0 {
            sdk.track("purchase", &user, Some(20.0));
        }
    }
    sdk.flush().await;
    let stats = sdk.stats();
    assert_eq!((stats.dropped, stats.rejected), (0, 0), "{stats:?}");
    assert!(stats.sent >= USERS as u64, "{stats:?}");

    let results = |server: &Server| {
        let req = server.http.get(format!("{}/api/v1/experiments/checkout-test/results", server.base));
        req.bearer_auth(server.token.clone()).send()
    };
    let started = Instant::now();
    let r: Value = loop {
        let r: Value = results(&server).await.expect("results").json().await.expect("json");
        let units: i64 = r["variants"].as_array().unwrap().iter().map(|v| v["units"].as_i64().unwrap()).sum();
        if units == USERS as i64 {
            break r;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "units {units} of {USERS}: {r}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let variant = |v: &str| r["variants"].as_array().unwrap().iter().find(|x| x["variant"] == v).unwrap().clone();
    assert_eq!((variant("on")["units"].as_i64(), variant("off")["units"].as_i64()), (Some(on), Some(off)));
    assert_eq!(r["excludedUnits"], 0);
    let treatment = &r["metrics"][0]["variants"][1];
    assert_eq!(treatment["variant"], "on");
    let lift = treatment["comparison"]["relative"]["estimate"].as_f64().unwrap();
    eprintln!(
        "SDK → results: {on} on / {off} off, lift {lift:.3}, p {}",
        treatment["comparison"]["relative"]["pValue"]
    );
    assert!(lift > 1.0, "expected about +233 %, got {lift}");
    assert_eq!(treatment["verdict"], "better");
    assert_eq!(r["metrics"][1]["metric"], "revenue");
    assert!(r["metrics"][1]["variants"][1]["comparison"]["absolute"]["estimate"].as_f64().unwrap() > 0.0);
    sdk.close().await;
}
