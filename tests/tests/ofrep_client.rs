//! The OpenFeature OFREP provider (`open-feature-ofrep`, an unmodified real
//! client) evaluates flags against the real server binary.

use open_feature::EvaluationContext;
use open_feature::provider::FeatureProvider;
use open_feature_ofrep::{OfrepOptions, OfrepProvider};
use reqwest::Method;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openfeature_ofrep_provider_evaluates_against_flagyard() {
    let server = flagyard_tests::Server::start(Default::default()).await;
    server.admin(Method::POST, "/flags", Some(json!({"key": "new-checkout", "type": "boolean"})), 201).await;
    server
        .admin(
            Method::POST,
            "/flags",
            Some(json!({"key": "banner", "type": "string",
        "variants": [{"key": "plain", "value": "Welcome"}, {"key": "sale", "value": "20% off"}]})),
            201,
        )
        .await;
    server
        .admin(
            Method::POST,
            "/flags",
            Some(json!({"key": "limit", "type": "number",
        "variants": [{"key": "low", "value": 10}, {"key": "high", "value": 100}]})),
            201,
        )
        .await;
    server.admin(Method::PUT, "/flags/new-checkout/environments/production", Some(json!({
        "enabled": true, "offVariant": "off", "defaultVariant": "off",
        "rules": [{"conditions": [{"attribute": "country", "op": "in", "values": ["NL", "DE"]}], "serve": {"variant": "on"}}]
    })), 200).await;
    server
        .admin(
            Method::PATCH,
            "/flags/banner/environments/production",
            Some(json!({"enabled": true, "defaultVariant": "sale"})),
            200,
        )
        .await;
    server
        .admin(
            Method::PATCH,
            "/flags/limit/environments/production",
            Some(json!({"enabled": true, "defaultVariant": "high"})),
            200,
        )
        .await;
    let key = server.sdk_key("production").await;

    let provider = OfrepProvider::new(OfrepOptions {
        base_url: server.base.clone(),
        headers: auth_headers(&key),
        ..Default::default()
    })
    .await
    .expect("provider");

    let dutch = EvaluationContext::default().with_targeting_key("user-1").with_custom_field("country", "NL");
    let brazilian = EvaluationContext::default().with_targeting_key("user-2").with_custom_field("country", "BR");
    assert!(provider.resolve_bool_value("new-checkout", &dutch).await.expect("bool").value);
    assert!(!provider.resolve_bool_value("new-checkout", &brazilian).await.expect("bool").value);
    assert_eq!(provider.resolve_string_value("banner", &dutch).await.expect("string").value, "20% off");
    assert_eq!(provider.resolve_int_value("limit", &dutch).await.expect("int").value, 100);
    assert!(provider.resolve_bool_value("no-such-flag", &dutch).await.is_err(), "unknown flags are errors");

    let wrong_key = OfrepProvider::new(OfrepOptions {
        base_url: server.base.clone(),
        headers: auth_headers("fy_sdk_nope"),
        ..Default::default()
    })
    .await
    .expect("provider");
    assert!(wrong_key.resolve_bool_value("new-checkout", &dutch).await.is_err(), "a bad key is refused");
}

/// `Authorization: Bearer <key>` (reqwest 0.12 and 0.13 share `http`'s HeaderMap).
fn auth_headers(key: &str) -> reqwest::header::HeaderMap {
    let mut headers = reqwest::header::HeaderMap::new();
    let value = reqwest::header::HeaderValue::from_str(&format!("Bearer {key}")).expect("header value");
    headers.insert(reqwest::header::AUTHORIZATION, value);
    headers
}
