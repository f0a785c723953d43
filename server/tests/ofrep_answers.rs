//! OFREP's answers, byte for byte: 10,000 contexts over the benchmark flags
//! (`sdk/eval/tests/common/fixtures.rs`: a 25 % canary, three conditions and
//! a 50/30/20 split at 50 % coverage, a plain flag; here also a disabled
//! flag), each asked for every flag one by one and for all of them at once,
//! must get exactly the status, content type, ETag and body bytes recorded in
//! `tests/fixtures/ofrep_answers.txt` (one digest per context). A change to
//! OFREP's request path that alters a single byte of any answer fails here.
//!
//! Re-record (only for an intended change of the answers, and say so in the
//! commit): `FLAGYARD_RECORD_OFREP=1 cargo test -p flagyard-server --test
//! ofrep_answers answers_are_unchanged::sqlite`.

mod support;

use futures_util::StreamExt;
use reqwest::header::{CONTENT_TYPE, ETAG, HOST};
use serde_json::json;
use sha2::{Digest, Sha256};
use support::app::TestApp;

const CONTEXTS: usize = 10_000;
const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/ofrep_answers.txt");
const FLAGS: [&str; 4] = ["canary", "experiment", "plain", "off"];

/// The benchmark flags, through the admin API; returns an SDK key.
async fn setup(app: &TestApp) -> String {
    let boolean = json!([{"key": "on", "value": true}, {"key": "off", "value": false}]);
    for key in ["canary", "plain", "off"] {
        app.post("/api/v1/flags", json!({"key": key, "type": "boolean", "variants": boolean})).await.expect(201);
    }
    let colours = json!([{"key": "control", "value": "control"}, {"key": "blue", "value": "blue"}, {"key": "green", "value": "green"}]);
    app.post("/api/v1/flags", json!({"key": "experiment", "type": "string", "variants": colours})).await.expect(201);
    let env = |flag: &str| format!("/api/v1/flags/{flag}/environments/production");
    app.put(
        &env("canary"),
        json!({"enabled": true, "offVariant": "off", "defaultVariant": "off",
            "rules": [{"id": "canary-25", "serve": {"split": {
                "variants": [{"variant": "on", "weight": 2500}, {"variant": "off", "weight": 7500}]}}}]}),
    )
    .await
    .expect(200);
    app.put(
        &env("experiment"),
        json!({"enabled": true, "offVariant": "control", "defaultVariant": "control",
            "rules": [{"id": "targeted-split",
                "conditions": [
                    {"attribute": "country", "op": "in", "values": ["US", "CA", "GB", "DE", "FR", "NL", "SE", "NO", "DK", "FI"]},
                    {"attribute": "age", "op": "gt", "values": [18]},
                    {"attribute": "app_version", "op": "semver_gt", "values": ["1.2.0"]}],
                "serve": {"split": {"variants": [
                    {"variant": "control", "weight": 5000}, {"variant": "blue", "weight": 3000},
                    {"variant": "green", "weight": 2000}], "coverage": 5000}}}]}),
    )
    .await
    .expect(200);
    app.put(&env("plain"), json!({"enabled": true, "offVariant": "off", "defaultVariant": "on"})).await.expect(200);
    let key = app.post("/api/v1/environments/production/sdk-keys", json!({"name": "answers"})).await.expect(201);
    key["secret"].as_str().expect("the SDK key's secret").to_owned()
}

/// Request body `i`: mostly contexts that exercise the rules (countries in
/// and out of the list, ages on both sides of 18, versions the semver
/// operator accepts, orders and refuses), plus a share of the odd ones a
/// client sends: no targeting key, no context, an empty body, numbers and
/// booleans as attributes, an invalid attribute, invalid JSON.
fn body(i: usize) -> String {
    const COUNTRIES: [&str; 12] = ["US", "NL", "DE", "JP", "GB", "BR", "FI", "IN", "CA", "SE", "ES", "NO"];
    const VERSIONS: [&str; 8] = ["1.4.2", "1.2.0", "1.2.1", "2.0.0-beta.1", "v1.3", "1.10.0", "garbage", "1.2"];
    match i % 509 {
        0 => return String::new(),
        1 => return "{}".to_owned(),
        2 => return r#"{"context": {"targetingKey": "x", "nested": {"a": 1}}}"#.to_owned(),
        3 => return "{not json".to_owned(),
        4 => return r#"{"context": {"country": "US", "age": 30, "app_version": "1.4.2"}}"#.to_owned(),
        _ => {}
    }
    let mut ctx = json!({
        "targetingKey": format!("user-{i}"),
        "country": COUNTRIES[i % COUNTRIES.len()],
        "age": (i * 7) % 61 + 3,
        "app_version": VERSIONS[(i / 3) % VERSIONS.len()],
    });
    if i.is_multiple_of(11) {
        ctx["beta"] = json!(i.is_multiple_of(2));
        ctx["score"] = json!(i as f64 / 8.0);
    }
    if i.is_multiple_of(17) {
        ctx["age"] = json!(format!("{}", (i * 7) % 61 + 3));
    }
    json!({"context": ctx}).to_string()
}

/// Everything a client sees of one answer.
async fn answer(response: reqwest::Response) -> Vec<u8> {
    let mut out = format!("{}\n", response.status().as_u16()).into_bytes();
    for name in [CONTENT_TYPE, ETAG] {
        let value = response.headers().get(&name).map_or(&b"-"[..], |v| v.as_bytes());
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.push(b'\n');
    }
    out.extend_from_slice(&response.bytes().await.expect("an answer's body"));
    out.push(b'\n');
    out
}

/// Every answer for body `i`, in a fixed order: each flag, then the bulk.
async fn answers(app: &TestApp, sdk_key: &str, i: usize) -> Vec<u8> {
    let body = body(i);
    let post = |path: String| {
        app.http
            .post(format!("{}{path}", app.base))
            .bearer_auth(sdk_key)
            // The bulk answer names the event stream by the Host it was reached at.
            .header(HOST, "flagyard.test")
            .header(CONTENT_TYPE, "application/json")
            .body(body.clone())
    };
    let mut all = Vec::new();
    for flag in FLAGS {
        all.extend(answer(post(format!("/ofrep/v1/evaluate/flags/{flag}")).send().await.expect("send")).await);
    }
    all.extend(answer(post("/ofrep/v1/evaluate/flags".to_owned()).send().await.expect("send")).await);
    all
}

fn digest(bytes: &[u8]) -> String {
    Sha256::digest(bytes)[..8].iter().map(|b| format!("{b:02x}")).collect()
}

api_test!(answers_are_unchanged, |app| async move {
    let sdk_key = setup(app).await;
    let sdk_key = sdk_key.as_str();
    let lines: Vec<(usize, Vec<u8>)> =
        futures_util::stream::iter((0..CONTEXTS).map(|i| async move { (i, answers(app, sdk_key, i).await) }))
            .buffered(16)
            .collect()
            .await;
    let got: Vec<String> = lines.iter().map(|(i, a)| format!("{i} {}", digest(a))).collect();
    if std::env::var_os("FLAGYARD_RECORD_OFREP").is_some() {
        std::fs::write(FIXTURE, got.join("\n") + "\n").expect("write the fixture");
        eprintln!("recorded {FIXTURE}");
        return;
    }
    let want = std::fs::read_to_string(FIXTURE).expect("the recorded answers");
    let want: Vec<&str> = want.lines().collect();
    assert_eq!(want.len(), CONTEXTS, "the fixture holds one line per context");
    let differ: Vec<usize> = (0..CONTEXTS).filter(|&i| want[i] != got[i]).collect();
    if let Some(&first) = differ.first() {
        panic!(
            "{} of {CONTEXTS} contexts now get different answers; the first, #{first}, body {:?}, is now answered:\n{}",
            differ.len(),
            body(first),
            String::from_utf8_lossy(&lines[first].1)
        );
    }
    // The fixture covers every kind of answer (a guard against recording a
    // server that answers everything with the same error).
    for needle in [
        "\"SPLIT\"",
        "\"STATIC\"",
        "\"DISABLED\"",
        "\"DEFAULT\"",
        "TARGETING_KEY_MISSING",
        "INVALID_CONTEXT",
        "PARSE_ERROR",
    ] {
        let needle = needle.as_bytes();
        let found = lines.iter().any(|(_, a)| a.windows(needle.len()).any(|w| w == needle));
        assert!(found, "no answer holds {}", String::from_utf8_lossy(needle));
    }
});
