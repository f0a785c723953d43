//! The SDK (local evaluation) and the server's OFREP endpoint (remote
//! evaluation) agree on every decision for 10,000 generated contexts over a
//! varied rule set: one engine, two callers, same answers.

use std::collections::BTreeMap;
use std::time::Duration;

use flagyard::{Client, Context};
use flagyard_tests::{Server, ServerOptions};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::{Value, json};

fn context(rng: &mut StdRng, i: usize) -> Value {
    let mut ctx = serde_json::Map::new();
    if rng.random_range(0..50) != 0 {
        ctx.insert("targetingKey".into(), json!(format!("user-{i}-{}", rng.random_range(0..1000))));
    }
    ctx.insert("country".into(), json!(["NL", "DE", "US", "BR", "JP", "FR"].choose(rng).unwrap()));
    if rng.random_range(0..10) != 0 {
        ctx.insert("age".into(), json!(rng.random_range(0..80)));
    }
    ctx.insert(
        "app_version".into(),
        json!(["1.0.0", "1.2.0", "1.2.1", "1.3.0-beta.2", "2.0.0", "v1.10", "bogus"].choose(rng).unwrap()),
    );
    ctx.insert("plan".into(), json!(["free", "pro", "enterprise"].choose(rng).unwrap()));
    ctx.insert(
        "email".into(),
        json!(format!(
            "{}@{}",
            rng.random_range(0..100),
            ["example.com", "flagyard.dev", "corp.io"].choose(rng).unwrap()
        )),
    );
    match rng.random_range(0..3) {
        0 => ctx.insert("company_id".into(), json!(rng.random_range(0..500))),
        1 => ctx.insert("company_id".into(), json!(format!("co-{}", rng.random_range(0..500)))),
        _ => None,
    };
    ctx.insert(
        "signup".into(),
        json!(format!("2024-{:02}-{:02}T12:00:00+02:00", 1 + rng.random_range(0..12), 1 + rng.random_range(0..28))),
    );
    let tags = [["a", "b", "vip"].choose(rng).unwrap(), ["x", "y"].choose(rng).unwrap()];
    ctx.insert("tags".into(), json!(tags));
    Value::Object(ctx)
}

async fn setup(server: &Server) {
    let flag = |key: &str, kind: &str, variants: Value| json!({"key": key, "type": kind, "variants": variants});
    let bools = json!([{"key": "on", "value": true}, {"key": "off", "value": false}]);
    let colors = json!([{"key": "control", "value": "control"}, {"key": "blue", "value": "blue"}, {"key": "green", "value": "green"}]);
    let numbers = json!([{"key": "low", "value": 1}, {"key": "mid", "value": 5}, {"key": "high", "value": 10}]);
    server.admin(Method::POST, "/segments", Some(json!({"key": "beta", "included": ["user-1-1"],
        "conditions": [{"attribute": "plan", "op": "in", "values": ["pro", "enterprise"]}, {"attribute": "tags", "op": "eq", "values": ["vip"]}]})), 201).await;
    let configs: Vec<(&str, &str, Value, Value)> = vec![
        (
            "canary",
            "boolean",
            bools.clone(),
            json!({"enabled": true, "offVariant": "off", "defaultVariant": "off",
            "rules": [{"id": "c25", "serve": {"split": {"variants": [{"variant": "on", "weight": 2500}, {"variant": "off", "weight": 7500}]}}}]}),
        ),
        (
            "experiment",
            "string",
            colors,
            json!({"enabled": true, "offVariant": "control", "defaultVariant": "control",
            "rules": [{"id": "exp", "conditions": [
                {"attribute": "country", "op": "in", "values": ["NL", "DE", "US", "FR"]},
                {"attribute": "age", "op": "gt", "values": [18]},
                {"attribute": "app_version", "op": "semver_gt", "values": ["1.2.0"]}],
              "serve": {"split": {"variants": [{"variant": "control", "weight": 5000}, {"variant": "blue", "weight": 3000}, {"variant": "green", "weight": 2000}], "coverage": 5000}}}]}),
        ),
        (
            "targeted",
            "boolean",
            bools.clone(),
            json!({"enabled": true, "offVariant": "off", "defaultVariant": "off",
            "rules": [
                {"id": "staff", "conditions": [{"attribute": "email", "op": "matches", "values": ["@flagyard\\.dev$"]}], "serve": {"variant": "on"}},
                {"id": "beta", "conditions": [{"op": "segment", "values": ["beta"]}], "serve": {"variant": "on"}},
                {"id": "late", "conditions": [{"attribute": "signup", "op": "after", "values": ["2024-06-30T22:00:00Z"]}, {"op": "not_segment", "values": ["beta"]}],
                 "serve": {"split": {"variants": [{"variant": "on", "weight": 5000}, {"variant": "off", "weight": 5000}]}}}
            ]}),
        ),
        (
            "dependent",
            "boolean",
            bools.clone(),
            json!({"enabled": true, "offVariant": "off", "defaultVariant": "on",
            "prerequisites": [{"flag": "canary", "variants": ["on"]}]}),
        ),
        (
            "by-company",
            "number",
            numbers,
            json!({"enabled": true, "offVariant": "low", "defaultVariant": "low",
            "rules": [
                {"conditions": [{"attribute": "age", "op": "lt", "values": [21]}], "serve": {"variant": "high"}},
                {"serve": {"split": {"bucketBy": "company_id", "salt": "shared", "variants": [{"variant": "mid", "weight": 6000}, {"variant": "high", "weight": 4000}]}}}
            ]}),
        ),
        ("killed", "boolean", bools, json!({"enabled": false, "offVariant": "off", "defaultVariant": "on"})),
    ];
    for (key, kind, variants, config) in configs {
        server.admin(Method::POST, "/flags", Some(flag(key, kind, variants)), 201).await;
        server.admin(Method::PUT, &format!("/flags/{key}/environments/production"), Some(config), 200).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_and_ofrep_agree_on_10000_contexts() {
    let server = Server::start(ServerOptions::default()).await;
    setup(&server).await;
    let key = server.sdk_key("production").await;
    let sdk = Client::builder(server.base.clone(), key.clone()).send_events(false).build().await.expect("client");
    let flags = ["canary", "experiment", "targeted", "dependent", "by-company", "killed"];
    let mut rng = StdRng::seed_from_u64(20261126);
    let contexts: Vec<Value> = (0..10_000).map(|i| context(&mut rng, i)).collect();
    let http = reqwest::Client::new();
    let url = format!("{}/ofrep/v1/evaluate/flags", server.base);
    let mut checked = 0usize;
    let mut served: BTreeMap<(String, String), usize> = BTreeMap::new();
    for chunk in contexts.chunks(16) {
        let answers = futures_join(chunk.iter().map(|ctx| {
            let req = http.post(&url).bearer_auth(&key).timeout(Duration::from_secs(10)).json(&json!({"context": ctx}));
            async move { req.send().await.expect("ofrep").json::<Value>().await.expect("json") }
        }))
        .await;
        for (ctx_json, answer) in chunk.iter().zip(answers) {
            let ctx = Context::from_json(ctx_json).expect("context");
            let remote: BTreeMap<&str, &Value> =
                answer["flags"].as_array().expect("flags").iter().map(|f| (f["key"].as_str().unwrap(), f)).collect();
            for flag in flags {
                let local = sdk.detail(flag, &ctx);
                let remote = remote[flag];
                match remote.get("variant").and_then(Value::as_str) {
                    Some(variant) => {
                        assert_eq!(local.variant.as_deref(), Some(variant), "{flag} for {ctx_json}: remote {remote}");
                        assert_eq!(local.value.as_ref(), Some(&remote["value"]), "{flag} for {ctx_json}");
                        *served.entry((flag.to_owned(), variant.to_owned())).or_default() += 1;
                    }
                    // TARGETING_KEY_MISSING: the split needed a key the context lacks; locally the default.
                    None => assert_eq!(remote["errorCode"], "TARGETING_KEY_MISSING", "{flag} for {ctx_json}: {remote}"),
                }
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 60_000);
    // The rule set really exercised every branch.
    for (flag, variant) in [
        ("canary", "on"),
        ("canary", "off"),
        ("experiment", "blue"),
        ("experiment", "green"),
        ("targeted", "on"),
        ("targeted", "off"),
        ("dependent", "on"),
        ("dependent", "off"),
        ("by-company", "mid"),
        ("by-company", "high"),
        ("by-company", "low"),
    ] {
        assert!(
            served.get(&(flag.to_owned(), variant.to_owned())).copied().unwrap_or(0) > 50,
            "{flag}/{variant}: {served:?}"
        );
    }
    sdk.close().await;
}

/// Runs futures concurrently in this task.
async fn futures_join<F: std::future::Future<Output = Value>>(futures: impl Iterator<Item = F>) -> Vec<Value> {
    let mut futures: Vec<_> = futures.map(Box::pin).collect();
    let mut results: Vec<Option<Value>> = vec![None; futures.len()];
    std::future::poll_fn(|cx| {
        for (i, f) in futures.iter_mut().enumerate() {
            if results[i].is_none()
                && let std::task::Poll::Ready(v) = f.as_mut().poll(cx)
            {
                results[i] = Some(v);
            }
        }
        if results.iter().all(Option::is_some) { std::task::Poll::Ready(()) } else { std::task::Poll::Pending }
    })
    .await;
    results.into_iter().flatten().collect()
}
