//! Bad input on every route of the admin API, on SQLite and on Postgres.
//!
//! One table of cases (route, what is wrong, request, expected status and,
//! for validation errors, the expected `errors[].path`), checked against
//! [`ADMIN_ROUTES`] so that every route has cases. Every answer must be a
//! 4xx problem document (`application/problem+json`, `status` equal to the
//! HTTP status, a `title`, a non-empty `detail`), never a 5xx, and no bad
//! request may change anything (environment versions and the audit log stay
//! as they were).
//!
//! Then a property-style check: a few hundred random mutations of a valid
//! `PUT /flags/{key}/environments/{env}` body each get `200` or a 4xx
//! problem document.

mod support;

use std::collections::BTreeSet;
use std::fmt::Write as _;

use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use reqwest::Method;
use serde_json::{Map, Value, json};
use support::app::{ADMIN_ROUTES, TestApp};

/// What a case sends as its body.
#[derive(Debug, Clone)]
enum Payload {
    None,
    /// Serialized, `Content-Type: application/json`.
    Json(Value),
    /// Bytes as they are, with this content type (or none).
    Raw(Option<&'static str>, Vec<u8>),
}

/// What a failing answer must say about the field.
#[derive(Debug, Clone, Copy)]
enum Field {
    /// Nothing particular.
    Any,
    /// `errors[]` (422) holds exactly this path.
    Path(&'static str),
    /// `errors[]` (422) holds a path starting with this.
    PathPrefix(&'static str),
    /// The `detail` mentions this (400 for wrong types: "the detail names the field").
    Detail(&'static str),
}

#[derive(Debug, Clone)]
struct Case {
    /// One of [`ADMIN_ROUTES`].
    route: &'static str,
    what: String,
    method: Method,
    /// Under `/api/v1`.
    path: String,
    headers: Vec<(&'static str, String)>,
    payload: Payload,
    status: u16,
    field: Field,
}

impl Case {
    fn path(mut self, path: impl Into<String>) -> Case {
        self.path = path.into();
        self
    }

    fn method(mut self, method: Method) -> Case {
        self.method = method;
        self
    }

    fn header(mut self, name: &'static str, value: &str) -> Case {
        self.headers.push((name, value.to_owned()));
        self
    }

    fn field(mut self, path: &'static str) -> Case {
        self.field = Field::Path(path);
        self
    }

    fn field_prefix(mut self, prefix: &'static str) -> Case {
        self.field = Field::PathPrefix(prefix);
        self
    }

    fn names(mut self, word: &'static str) -> Case {
        self.field = Field::Detail(word);
        self
    }
}

/// Ids of the fixtures that routes with `{id}` need.
struct Fixtures {
    token_id: i64,
    sdk_key_id: i64,
    /// A draft release whose one change names a variant flag `f` lacks.
    release_id: i64,
    /// A running ramp on the split rule `canary` of flag `rf` in production.
    ramp_id: i64,
}

/// The route template with its placeholders filled with existing objects.
fn concrete(route: &str, fx: &Fixtures) -> (Method, String) {
    let (method, template) = route.split_once(' ').expect("METHOD /path");
    let path = if template.starts_with("/tokens/") {
        template.replace("{id}", &fx.token_id.to_string())
    } else if template.starts_with("/releases/") {
        template.replace("{id}", &fx.release_id.to_string())
    } else if template.starts_with("/ramps/") {
        template.replace("{id}", &fx.ramp_id.to_string())
    } else {
        template.replace("{id}", &fx.sdk_key_id.to_string())
    };
    let key = if template.starts_with("/segments") {
        "beta"
    } else if template.starts_with("/metrics") {
        "m"
    } else if template.starts_with("/experiments") {
        "x"
    } else {
        "f"
    };
    let path = path.replace("{key}", key);
    let path = path.replace("{env}", "staging");
    // The first admin, created on every fresh database.
    let path = path.replace("{username}", "admin");
    (Method::from_bytes(method.as_bytes()).expect("method"), path)
}

/// A case for `route` on its concrete path.
fn case(fx: &Fixtures, route: &'static str, what: impl Into<String>, payload: Payload, status: u16) -> Case {
    assert!(ADMIN_ROUTES.contains(&route), "not a route: {route}");
    let (method, path) = concrete(route, fx);
    Case { route, what: what.into(), method, path, headers: Vec::new(), payload, status, field: Field::Any }
}

fn body(v: Value) -> Payload {
    Payload::Json(v)
}

fn raw(text: &str) -> Payload {
    Payload::Raw(Some("application/json"), text.as_bytes().to_vec())
}

/// The routes that take a JSON body, each with a body it accepts.
fn json_routes() -> Vec<(&'static str, Value)> {
    vec![
        ("POST /environments", json!({"key": "qa"})),
        ("POST /environments/{env}/sdk-keys", json!({"name": "svc"})),
        ("POST /flags", json!({"key": "fresh", "type": "boolean"})),
        ("PATCH /flags/{key}", json!({"description": "x"})),
        ("POST /flags/{key}/copy", json!({"from": "staging", "to": "production"})),
        ("PUT /flags/{key}/environments/{env}", json!({"enabled": true, "offVariant": "off", "defaultVariant": "on"})),
        ("PATCH /flags/{key}/environments/{env}", json!({"enabled": true})),
        ("POST /flags/{key}/environments/{env}/rollback", json!({"revision": 1})),
        ("POST /flags/{key}/environments/{env}/schedule", json!({"at": "2030-01-01T00:00:00Z", "enabled": true})),
        ("POST /releases", json!({"name": "r", "changes": []})),
        ("PUT /releases/{id}", json!({"name": "r", "changes": []})),
        ("PUT /releases/{id}/schedule", json!({"at": "2030-01-01T00:00:00Z"})),
        ("POST /ramps", ramp("rf", json!([{"coverage": 200, "hold": "1h"}]))),
        ("POST /ramps/{id}/pause", json!({"reason": "x"})),
        ("POST /ramps/{id}/resume", json!({})),
        ("POST /ramps/{id}/skip", json!({"step": 1})),
        ("POST /ramps/{id}/abort", json!({"to": "zero"})),
        ("POST /segments", json!({"key": "fresh"})),
        ("PUT /segments/{key}", json!({"included": ["u1"]})),
        ("POST /metrics", json!({"key": "fresh", "event": "e", "kind": "count"})),
        ("PUT /metrics/{key}", json!({"event": "e", "kind": "count"})),
        ("POST /experiments", experiment("fresh")),
        ("PUT /experiments/{key}", experiment("x")),
        ("POST /tokens", json!({"name": "ci", "role": "viewer"})),
        ("POST /users", json!({"username": "fresh", "password": "long enough password", "role": "viewer"})),
        ("PATCH /users/{username}", json!({"disabled": false})),
    ]
}

/// A ramp of the split rule `canary` of `flag` in production with `steps`.
fn ramp(flag: &str, steps: Value) -> Value {
    json!({"flag": flag, "environment": "production", "ruleId": "canary", "canaryVariant": "on",
           "controlVariant": "off", "steps": steps})
}

/// An experiment `key` on the split rule `exp` of flag `xf` in production, measured by metric `m`.
fn experiment(key: &str) -> Value {
    json!({"key": key, "flag": "xf", "environment": "production", "ruleId": "exp", "controlVariant": "off",
           "primaryMetric": "m"})
}

/// `experiment("fresh")` with `field` set to `value`.
fn experiment_with(field: &str, value: Value) -> Payload {
    let mut b = experiment("fresh");
    b[field] = value;
    body(b)
}

/// The same malformed-body cases for every route with a JSON body.
fn body_cases(fx: &Fixtures) -> Vec<Case> {
    let mut cases = Vec::new();
    let nested = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(100 * 1024));
    for (route, valid) in json_routes() {
        let valid_text = valid.to_string();
        let mut with_unknown = valid.clone();
        with_unknown["bogusField"] = json!(1);
        let generic = [
            ("syntax error: unterminated object", raw("{\"key\": "), 400),
            ("syntax error: single quotes", raw("{'key': 'x'}"), 400),
            ("syntax error: trailing data", raw(&format!("{valid_text} x")), 400),
            ("syntax error: trailing comma", raw(&format!("{},}}", &valid_text[..valid_text.len() - 1])), 400),
            ("empty body", raw(""), 400),
            ("JSON null", raw("null"), 400),
            ("JSON array", raw("[]"), 400),
            ("JSON string", raw("\"x\""), 400),
            ("nested 5000 deep", raw(&nested), 400),
            ("invalid UTF-8", Payload::Raw(Some("application/json"), b"{\"key\": \"\xff\xfe\"}".to_vec()), 400),
            ("body of ~100 KB (limit 64 KiB)", raw(&big), 413),
            ("no Content-Type", Payload::Raw(None, valid_text.as_bytes().to_vec()), 415),
            ("Content-Type text/plain", Payload::Raw(Some("text/plain"), valid_text.as_bytes().to_vec()), 415),
            (
                "Content-Type form",
                Payload::Raw(Some("application/x-www-form-urlencoded"), b"key=x&name=y".to_vec()),
                415,
            ),
        ];
        for (what, payload, status) in generic {
            cases.push(case(fx, route, what, payload, status));
        }
        cases.push(case(fx, route, "unknown field", body(with_unknown), 400).names("bogusField"));
    }
    cases
}

/// Route-specific cases: wrong types, validation, unknown things, parameters.
#[allow(clippy::too_many_lines)]
fn specific_cases(fx: &Fixtures) -> Vec<Case> {
    let long = "k".repeat(129);
    let c = |route, what: &str, payload, status| case(fx, route, what, payload, status);
    let put_cfg = "PUT /flags/{key}/environments/{env}";
    let patch_cfg = "PATCH /flags/{key}/environments/{env}";
    // A PUT body with these rules.
    let rules =
        |rules: Value| body(json!({"enabled": true, "offVariant": "off", "defaultVariant": "off", "rules": rules}));
    let cond = |c: Value| rules(json!([{"conditions": [c], "serve": {"variant": "on"}}]));
    let split = |s: Value| rules(json!([{"serve": {"split": s}}]));
    let mut v = vec![
        // GET /environments, GET /segments, GET /tokens take no input: wrong methods on their paths.
        c("GET /environments", "DELETE on the path", Payload::None, 405).method(Method::DELETE).path("/environments").names("method"),
        c("GET /environments", "PUT on the path", body(json!({})), 405).method(Method::PUT).path("/environments"),
        c("GET /segments", "DELETE on the path", Payload::None, 405).method(Method::DELETE).path("/segments"),
        c("GET /tokens", "PUT on the path", body(json!({})), 405).method(Method::PUT).path("/tokens"),
        c("GET /tokens", "PATCH on the path", body(json!({})), 405).method(Method::PATCH).path("/tokens"),
        c("GET /sdk-keys", "POST on the path", body(json!({"name": "x"})), 405).method(Method::POST).path("/sdk-keys"),
        c("GET /audit", "POST on the path", body(json!({})), 405).method(Method::POST).path("/audit"),
        c("GET /flags", "PUT on the path", body(json!({})), 405).method(Method::PUT).path("/flags"),
        c("GET /flags/{key}", "POST on the path", body(json!({})), 405).method(Method::POST),
        c("GET /flags/{key}/environments/{env}", "DELETE on the path", Payload::None, 405).method(Method::DELETE),
        c("GET /flags/{key}/environments/{env}/history", "POST on the path", body(json!({})), 405).method(Method::POST),
        c("POST /flags/{key}/environments/{env}/rollback", "GET on the path", Payload::None, 405).method(Method::GET)
            .path("/flags/f/environments/staging/rollback"),
        c("POST /flags/{key}/copy", "GET on the path", Payload::None, 405).method(Method::GET),
        c("DELETE /tokens/{id}", "GET on the path", Payload::None, 405).method(Method::GET),
        c("DELETE /sdk-keys/{id}", "GET on the path", Payload::None, 405).method(Method::GET),
        c("POST /environments/{env}/sdk-keys", "GET on the path", Payload::None, 405).method(Method::GET),
        c("GET /segments/{key}", "POST on the path", body(json!({})), 405).method(Method::POST),
        // POST /environments
        c("POST /environments", "key is a number", body(json!({"key": 5})), 400).names("key"),
        c("POST /environments", "key missing", body(json!({"name": "QA"})), 400).names("key"),
        c("POST /environments", "name is an array", body(json!({"key": "qa", "name": []})), 400).names("name"),
        c("POST /environments", "key with a space", body(json!({"key": "no spaces"})), 422).field("key"),
        c("POST /environments", "key of 129 characters", body(json!({"key": long})), 422).field("key"),
        c("POST /environments", "key starting with -", body(json!({"key": "-qa"})), 422).field("key"),
        c("POST /environments", "empty key", body(json!({"key": ""})), 422).field("key"),
        c("POST /environments", "non-ASCII key", body(json!({"key": "prüfung"})), 422).field("key"),
        c("POST /environments", "duplicate key", body(json!({"key": "staging"})), 409),
        // POST /environments/{env}/sdk-keys
        c("POST /environments/{env}/sdk-keys", "name is a number", body(json!({"name": 5})), 400).names("name"),
        c("POST /environments/{env}/sdk-keys", "name missing", body(json!({})), 400).names("name"),
        c("POST /environments/{env}/sdk-keys", "empty name", body(json!({"name": ""})), 422).field("name"),
        c("POST /environments/{env}/sdk-keys", "blank name", body(json!({"name": "   "})), 422).field("name"),
        c("POST /environments/{env}/sdk-keys", "name of 101 characters", body(json!({"name": "n".repeat(101)})), 422)
            .field("name"),
        c("POST /environments/{env}/sdk-keys", "unknown environment", body(json!({"name": "svc"})), 404)
            .path("/environments/nowhere/sdk-keys"),
        // GET /flags
        c("GET /flags", "limit=0", Payload::None, 422).path("/flags?limit=0").field("limit"),
        c("GET /flags", "limit=5000", Payload::None, 422).path("/flags?limit=5000").field("limit"),
        c("GET /flags", "limit=-1", Payload::None, 422).path("/flags?limit=-1").field("limit"),
        c("GET /flags", "offset=-1", Payload::None, 422).path("/flags?offset=-1").field("offset"),
        c("GET /flags", "limit=abc", Payload::None, 400).path("/flags?limit=abc").names("limit"),
        c("GET /flags", "limit=1.5", Payload::None, 400).path("/flags?limit=1.5").names("limit"),
        c("GET /flags", "limit= (empty)", Payload::None, 400).path("/flags?limit=").names("limit"),
        c("GET /flags", "limit=2^64", Payload::None, 400).path("/flags?limit=18446744073709551616").names("limit"),
        c("GET /flags", "archived=maybe", Payload::None, 400).path("/flags?archived=maybe").names("archived"),
        c("GET /flags", "all=2", Payload::None, 400).path("/flags?all=2").names("all"),
        c("GET /flags", "unknown parameter", Payload::None, 400).path("/flags?colour=red").names("colour"),
        c("GET /flags", "limit twice", Payload::None, 400).path("/flags?limit=1&limit=2").names("limit"),
        // POST /flags
        c("POST /flags", "type is a number", body(json!({"key": "x", "type": 5})), 400).names("type"),
        c("POST /flags", "unknown type", body(json!({"key": "x", "type": "enum"})), 400).names("type"),
        c("POST /flags", "type missing", body(json!({"key": "x"})), 400).names("type"),
        c("POST /flags", "key missing", body(json!({"type": "boolean"})), 400).names("key"),
        c("POST /flags", "key is null", body(json!({"key": null, "type": "boolean"})), 400).names("key"),
        c("POST /flags", "tags is a string", body(json!({"key": "x", "type": "boolean", "tags": "a"})), 400)
            .names("tags"),
        c("POST /flags", "variants is an object", body(json!({"key": "x", "type": "string", "variants": {}})), 400)
            .names("variants"),
        c("POST /flags", "key with a space", body(json!({"key": "new checkout", "type": "boolean"})), 422)
            .field("key"),
        c("POST /flags", "key of 129 characters", body(json!({"key": long, "type": "boolean"})), 422).field("key"),
        c("POST /flags", "key starting with -", body(json!({"key": "-x", "type": "boolean"})), 422).field("key"),
        c("POST /flags", "key starting with .", body(json!({"key": ".x", "type": "boolean"})), 422).field("key"),
        c("POST /flags", "key with a slash", body(json!({"key": "a/b", "type": "boolean"})), 422).field("key"),
        c("POST /flags", "empty key", body(json!({"key": "", "type": "boolean"})), 422).field("key"),
        c("POST /flags", "string flag without variants", body(json!({"key": "x", "type": "string"})), 422)
            .field("variants"),
        c(
            "POST /flags",
            "variant value of the wrong type",
            body(json!({"key": "x", "type": "string", "variants": [{"key": "a", "value": 5}]})),
            422,
        )
        .field("variants[0].value"),
        c(
            "POST /flags",
            "bad variant key",
            body(json!({"key": "x", "type": "string", "variants": [{"key": "a"  , "value": "A"}, {"key": "b b", "value": "B"}]})),
            422,
        )
        .field("variants[1].key"),
        c(
            "POST /flags",
            "duplicate variant keys",
            body(json!({"key": "x", "type": "string", "variants": [{"key": "a", "value": "A"}, {"key": "a", "value": "B"}]})),
            422,
        )
        .field("variants[1].key"),
        c("POST /flags", "unknown offVariant", body(json!({"key": "x", "type": "boolean", "offVariant": "nope"})), 422)
            .field("offVariant"),
        c(
            "POST /flags",
            "unknown defaultVariant",
            body(json!({"key": "x", "type": "boolean", "defaultVariant": "nope"})),
            422,
        )
        .field("defaultVariant"),
        c("POST /flags", "duplicate key", body(json!({"key": "f", "type": "boolean"})), 409),
        // GET /flags/{key}
        c("GET /flags/{key}", "unknown flag", Payload::None, 404).path("/flags/nope"),
        c("GET /flags/{key}", "key with a space", Payload::None, 404).path("/flags/has%20space"),
        c("GET /flags/{key}", "key of invalid UTF-8", Payload::None, 400).path("/flags/%FF"),
        // PATCH /flags/{key}
        c("PATCH /flags/{key}", "archived is a string", body(json!({"archived": "yes"})), 400).names("archived"),
        c("PATCH /flags/{key}", "tags is a string", body(json!({"tags": "a"})), 400).names("tags"),
        c("PATCH /flags/{key}", "variants is an object", body(json!({"variants": {}})), 400).names("variants"),
        c("PATCH /flags/{key}", "baseRevision is a string", body(json!({"baseRevision": "1"})), 400)
            .names("baseRevision"),
        c("PATCH /flags/{key}", "name is a number", body(json!({"name": 1})), 400).names("name"),
        c("PATCH /flags/{key}", "If-Match not a number", body(json!({"name": "n"})), 400).header("If-Match", "\"x\""),
        c("PATCH /flags/{key}", "If-Match and baseRevision disagree", body(json!({"baseRevision": 2})), 400)
            .header("If-Match", "\"1\""),
        c(
            "PATCH /flags/{key}",
            "bad variant key",
            body(json!({"variants": [{"key": "on", "value": true}, {"key": "off", "value": false}, {"key": "x y", "value": true}]})),
            422,
        )
        .field("variants[2].key"),
        c(
            "PATCH /flags/{key}",
            "variant value of the wrong type",
            body(json!({"variants": [{"key": "on", "value": "yes"}, {"key": "off", "value": false}]})),
            422,
        )
        .field("variants[0].value"),
        c("PATCH /flags/{key}", "no variants", body(json!({"variants": []})), 422).field("variants"),
        c("PATCH /flags/{key}", "unknown flag", body(json!({"name": "n"})), 404).path("/flags/nope"),
        // DELETE /flags/{key}
        c("DELETE /flags/{key}", "unknown flag", Payload::None, 404).path("/flags/nope"),
        c("DELETE /flags/{key}", "flag another depends on", Payload::None, 409).path("/flags/base"),
        // POST /flags/{key}/copy
        c("POST /flags/{key}/copy", "from is a number", body(json!({"from": 1, "to": "production"})), 400).names("from"),
        c("POST /flags/{key}/copy", "to missing", body(json!({"from": "staging"})), 400).names("to"),
        c("POST /flags/{key}/copy", "onto itself", body(json!({"from": "staging", "to": "staging"})), 422).field("to"),
        c("POST /flags/{key}/copy", "unknown source", body(json!({"from": "moon", "to": "staging"})), 404),
        c("POST /flags/{key}/copy", "unknown target", body(json!({"from": "staging", "to": "moon"})), 404),
        c("POST /flags/{key}/copy", "unknown flag", body(json!({"from": "staging", "to": "production"})), 404)
            .path("/flags/nope/copy"),
        c("POST /flags/{key}/copy", "If-Match not a number", body(json!({"from": "staging", "to": "production"})), 400)
            .header("If-Match", "abc"),
        // GET /flags/{key}/environments/{env}
        c("GET /flags/{key}/environments/{env}", "unknown flag", Payload::None, 404)
            .path("/flags/nope/environments/staging"),
        c("GET /flags/{key}/environments/{env}", "unknown environment", Payload::None, 404)
            .path("/flags/f/environments/nowhere"),
        // PUT /flags/{key}/environments/{env}: types
        c(put_cfg, "enabled is a string", body(json!({"enabled": "yes", "offVariant": "off", "defaultVariant": "off"})), 400)
            .names("enabled"),
        c(put_cfg, "rules is an object", body(json!({"enabled": true, "offVariant": "off", "defaultVariant": "off", "rules": {}})), 400)
            .names("rules"),
        c(put_cfg, "prerequisites is a string", body(json!({"enabled": true, "offVariant": "off", "defaultVariant": "off", "prerequisites": "base"})), 400)
            .names("prerequisites"),
        c(put_cfg, "offVariant is a number", body(json!({"enabled": true, "offVariant": 0, "defaultVariant": "off"})), 400)
            .names("offVariant"),
        c(put_cfg, "serve is a number", rules(json!([{"serve": 5}])), 400).names("serve"),
        c(put_cfg, "unknown operator", cond(json!({"attribute": "a", "op": "frobnicate", "values": []})), 400).names("op"),
        c(put_cfg, "negative weight", split(json!({"variants": [{"variant": "on", "weight": -1}]})), 400).names("weight"),
        c(put_cfg, "fractional weight", split(json!({"variants": [{"variant": "on", "weight": 0.5}]})), 400)
            .names("weight"),
        c(put_cfg, "baseRevision beyond i64", raw(r#"{"enabled": true, "offVariant": "off", "defaultVariant": "off", "baseRevision": 9223372036854775808}"#), 400)
            .names("baseRevision"),
        c(put_cfg, "If-Match not a number", body(json!({"enabled": true, "offVariant": "off", "defaultVariant": "off"})), 400)
            .header("If-Match", "W/\"x\""),
        // PUT: validation
        c(put_cfg, "enabled missing", body(json!({"offVariant": "off", "defaultVariant": "off"})), 422).field("enabled"),
        c(put_cfg, "offVariant missing", body(json!({"enabled": true, "defaultVariant": "off"})), 422).field("offVariant"),
        c(put_cfg, "defaultVariant missing", body(json!({"enabled": true, "offVariant": "off"})), 422).field("defaultVariant"),
        c(put_cfg, "unknown offVariant", body(json!({"enabled": true, "offVariant": "nope", "defaultVariant": "off"})), 422)
            .field("offVariant"),
        c(put_cfg, "unknown defaultVariant", body(json!({"enabled": true, "offVariant": "off", "defaultVariant": "nope"})), 422)
            .field("defaultVariant"),
        c(put_cfg, "bad regex", cond(json!({"attribute": "email", "op": "matches", "values": ["(unclosed"]})), 422)
            .field("rules[0].conditions[0].values"),
        c(put_cfg, "regex over the size limit", cond(json!({"attribute": "email", "op": "matches", "values": ["\\w{1000}{1000}"]})), 422)
            .field("rules[0].conditions[0].values"),
        c(put_cfg, "weights adding up to 9999", split(json!({"variants": [{"variant": "on", "weight": 4999}, {"variant": "off", "weight": 5000}]})), 422)
            .field("rules[0].serve.split.variants"),
        c(put_cfg, "weight over 10000", split(json!({"variants": [{"variant": "on", "weight": 20000}]})), 422)
            .field("rules[0].serve.split.variants[0].weight"),
        c(put_cfg, "empty split", split(json!({"variants": []})), 422).field("rules[0].serve.split.variants"),
        c(put_cfg, "coverage over 10000", split(json!({"variants": [{"variant": "on", "weight": 10000}], "coverage": 10001})), 422)
            .field("rules[0].serve.split.coverage"),
        c(put_cfg, "split to an unknown variant", split(json!({"variants": [{"variant": "maybe", "weight": 10000}]})), 422)
            .field("rules[0].serve.split.variants[0].variant"),
        c(put_cfg, "rule serving an unknown variant", rules(json!([{"serve": {"variant": "maybe"}}])), 422)
            .field("rules[0].serve.variant"),
        c(put_cfg, "rule id with a space", rules(json!([{"id": "a b", "serve": {"variant": "on"}}])), 422).field("rules[0].id"),
        c(put_cfg, "duplicate rule ids", rules(json!([{"id": "a", "serve": {"variant": "on"}}, {"id": "a", "serve": {"variant": "off"}}])), 422)
            .field("rules[1].id"),
        c(put_cfg, "unknown segment", cond(json!({"op": "segment", "values": ["gamma"]})), 422)
            .field("rules[0].conditions[0].values[0]"),
        c(put_cfg, "segment condition with an attribute", cond(json!({"attribute": "a", "op": "segment", "values": ["beta"]})), 422)
            .field("rules[0].conditions[0].attribute"),
        c(put_cfg, "condition without attribute", cond(json!({"op": "eq", "values": ["x"]})), 422)
            .field("rules[0].conditions[0].attribute"),
        c(put_cfg, "gt with a string", cond(json!({"attribute": "age", "op": "gt", "values": ["x"]})), 422)
            .field("rules[0].conditions[0].values"),
        c(put_cfg, "eq with two values", cond(json!({"attribute": "a", "op": "eq", "values": [1, 2]})), 422)
            .field("rules[0].conditions[0].values"),
        c(put_cfg, "eq with none", cond(json!({"attribute": "a", "op": "eq", "values": []})), 422)
            .field("rules[0].conditions[0].values"),
        c(put_cfg, "in with an object", cond(json!({"attribute": "a", "op": "in", "values": [{}]})), 422)
            .field("rules[0].conditions[0].values"),
        c(put_cfg, "starts_with with a number", cond(json!({"attribute": "a", "op": "starts_with", "values": [1]})), 422)
            .field("rules[0].conditions[0].values"),
        c(put_cfg, "semver_lt with a non-version", cond(json!({"attribute": "v", "op": "semver_lt", "values": ["banana"]})), 422)
            .field("rules[0].conditions[0].values"),
        c(put_cfg, "before with a non-date", cond(json!({"attribute": "t", "op": "before", "values": ["tomorrow"]})), 422)
            .field("rules[0].conditions[0].values"),
        c(put_cfg, "exists with a value", cond(json!({"attribute": "t", "op": "exists", "values": ["x"]})), 422)
            .field("rules[0].conditions[0].values"),
        c(put_cfg, "prerequisite condition on an unknown flag", cond(json!({"op": "prerequisite", "flag": "ghost", "values": ["on"]})), 422)
            .field("rules[0].conditions[0].flag"),
        c(put_cfg, "prerequisite on an unknown flag", body(json!({"enabled": true, "offVariant": "off", "defaultVariant": "off", "prerequisites": [{"flag": "ghost", "variants": ["on"]}]})), 422)
            .field("prerequisites[0].flag"),
        c(put_cfg, "prerequisite on an unknown variant", body(json!({"enabled": true, "offVariant": "off", "defaultVariant": "off", "prerequisites": [{"flag": "base", "variants": ["maybe"]}]})), 422)
            .field("prerequisites[0].variants[0]"),
        c(put_cfg, "prerequisite on itself", body(json!({"enabled": true, "offVariant": "off", "defaultVariant": "off", "prerequisites": [{"flag": "f", "variants": ["on"]}]})), 422)
            .field_prefix("prerequisites"),
        c(put_cfg, "prerequisite cycle base -> dep -> base", body(json!({"enabled": true, "offVariant": "off", "defaultVariant": "off", "prerequisites": [{"flag": "dep", "variants": ["on"]}]})), 422)
            .path("/flags/base/environments/production")
            .field_prefix("prerequisites"),
        c(put_cfg, "unknown flag", body(json!({"enabled": true, "offVariant": "off", "defaultVariant": "off"})), 404)
            .path("/flags/nope/environments/staging"),
        c(put_cfg, "unknown environment", body(json!({"enabled": true, "offVariant": "off", "defaultVariant": "off"})), 404)
            .path("/flags/f/environments/nowhere"),
        // PATCH /flags/{key}/environments/{env}
        c(patch_cfg, "enabled is a string", body(json!({"enabled": "yes"})), 400).names("enabled"),
        c(patch_cfg, "rules is an object", body(json!({"rules": {}})), 400).names("rules"),
        c(patch_cfg, "enabled is a number", body(json!({"enabled": 1})), 400).names("enabled"),
        c(patch_cfg, "If-Match not a number", body(json!({"enabled": true})), 400).header("If-Match", "abc"),
        c(patch_cfg, "If-Match and baseRevision disagree", body(json!({"enabled": true, "baseRevision": 7})), 400)
            .header("If-Match", "\"1\""),
        c(patch_cfg, "unknown defaultVariant", body(json!({"defaultVariant": "maybe"})), 422).field("defaultVariant"),
        c(patch_cfg, "bad regex", body(json!({"rules": [{"conditions": [{"attribute": "e", "op": "matches", "values": ["["]}], "serve": {"variant": "on"}}]})), 422)
            .field("rules[0].conditions[0].values"),
        c(patch_cfg, "weights adding up to 10001", body(json!({"rules": [{"serve": {"split": {"variants": [{"variant": "on", "weight": 5001}, {"variant": "off", "weight": 5000}]}}}]})), 422)
            .field("rules[0].serve.split.variants"),
        c(patch_cfg, "unknown segment", body(json!({"rules": [{"conditions": [{"op": "not_segment", "values": ["gamma"]}], "serve": {"variant": "on"}}]})), 422)
            .field("rules[0].conditions[0].values[0]"),
        c(patch_cfg, "prerequisite cycle base -> dep -> base", body(json!({"prerequisites": [{"flag": "dep", "variants": ["on"]}]})), 422)
            .path("/flags/base/environments/production")
            .field_prefix("prerequisites"),
        c(patch_cfg, "unknown flag", body(json!({"enabled": true})), 404).path("/flags/nope/environments/staging"),
        c(patch_cfg, "unknown environment", body(json!({"enabled": true})), 404).path("/flags/f/environments/nowhere"),
        // GET .../history
        c("GET /flags/{key}/environments/{env}/history", "limit=0", Payload::None, 422)
            .path("/flags/f/environments/staging/history?limit=0")
            .field("limit"),
        c("GET /flags/{key}/environments/{env}/history", "limit=5000", Payload::None, 422)
            .path("/flags/f/environments/staging/history?limit=5000")
            .field("limit"),
        c("GET /flags/{key}/environments/{env}/history", "limit=x", Payload::None, 400)
            .path("/flags/f/environments/staging/history?limit=x")
            .names("limit"),
        c("GET /flags/{key}/environments/{env}/history", "unknown parameter", Payload::None, 400)
            .path("/flags/f/environments/staging/history?offset=1")
            .names("offset"),
        c("GET /flags/{key}/environments/{env}/history", "unknown flag", Payload::None, 404)
            .path("/flags/nope/environments/staging/history"),
        c("GET /flags/{key}/environments/{env}/history", "unknown environment", Payload::None, 404)
            .path("/flags/f/environments/nowhere/history"),
        // POST .../rollback
        c("POST /flags/{key}/environments/{env}/rollback", "revision is a string", body(json!({"revision": "1"})), 400)
            .names("revision"),
        c("POST /flags/{key}/environments/{env}/rollback", "revision is fractional", body(json!({"revision": 1.5})), 400)
            .names("revision"),
        c("POST /flags/{key}/environments/{env}/rollback", "revision missing", body(json!({})), 400).names("revision"),
        c("POST /flags/{key}/environments/{env}/rollback", "unknown revision", body(json!({"revision": 99})), 404),
        c("POST /flags/{key}/environments/{env}/rollback", "revision 0", body(json!({"revision": 0})), 404),
        c("POST /flags/{key}/environments/{env}/rollback", "negative revision", body(json!({"revision": -1})), 404),
        c("POST /flags/{key}/environments/{env}/rollback", "unknown flag", body(json!({"revision": 1})), 404)
            .path("/flags/nope/environments/staging/rollback"),
        c("POST /flags/{key}/environments/{env}/rollback", "unknown environment", body(json!({"revision": 1})), 404)
            .path("/flags/f/environments/nowhere/rollback"),
        c("POST /flags/{key}/environments/{env}/rollback", "If-Match not a number", body(json!({"revision": 1})), 400)
            .header("If-Match", "one"),
        // POST /segments
        c("POST /segments", "key is a number", body(json!({"key": 1})), 400).names("key"),
        c("POST /segments", "included is a string", body(json!({"key": "s", "included": "u1"})), 400).names("included"),
        c("POST /segments", "excluded holds a number", body(json!({"key": "s", "excluded": [1]})), 400).names("excluded"),
        c("POST /segments", "conditions is an object", body(json!({"key": "s", "conditions": {}})), 400).names("conditions"),
        c("POST /segments", "key missing", body(json!({"included": ["u1"]})), 422).field("key"),
        c("POST /segments", "key with a space", body(json!({"key": "beta testers"})), 422).field("key"),
        c("POST /segments", "key of 129 characters", body(json!({"key": long})), 422).field("key"),
        c("POST /segments", "key starting with -", body(json!({"key": "-s"})), 422).field("key"),
        c("POST /segments", "bad regex", body(json!({"key": "s", "conditions": [{"attribute": "e", "op": "matches", "values": ["*"]}]})), 422)
            .field("conditions[0].values"),
        c("POST /segments", "gt with a string", body(json!({"key": "s", "conditions": [{"attribute": "a", "op": "gt", "values": ["x"]}]})), 422)
            .field("conditions[0].values"),
        c("POST /segments", "unknown segment", body(json!({"key": "s", "conditions": [{"op": "segment", "values": ["gamma"]}]})), 422)
            .field("conditions[0].values[0]"),
        c("POST /segments", "prerequisite in a segment", body(json!({"key": "s", "conditions": [{"op": "prerequisite", "flag": "f", "values": ["on"]}]})), 422)
            .field_prefix("conditions[0]"),
        c("POST /segments", "duplicate key", body(json!({"key": "beta"})), 409),
        // GET /segments/{key}
        c("GET /segments/{key}", "unknown segment", Payload::None, 404).path("/segments/nope"),
        // PUT /segments/{key}
        c("PUT /segments/{key}", "included is a string", body(json!({"included": "u1"})), 400).names("included"),
        c("PUT /segments/{key}", "description is a number", body(json!({"description": 1})), 400).names("description"),
        c("PUT /segments/{key}", "If-Match not a number", body(json!({})), 400).header("If-Match", "abc"),
        c("PUT /segments/{key}", "changing the key", body(json!({"key": "other"})), 422).field("key"),
        c("PUT /segments/{key}", "bad regex", body(json!({"conditions": [{"attribute": "e", "op": "matches", "values": ["("]}]})), 422)
            .field("conditions[0].values"),
        c("PUT /segments/{key}", "semver_eq with a non-version", body(json!({"conditions": [{"attribute": "v", "op": "semver_eq", "values": ["one"]}]})), 422)
            .field("conditions[0].values"),
        c("PUT /segments/{key}", "segment cycle beta -> outer -> beta", body(json!({"conditions": [{"op": "segment", "values": ["outer"]}]})), 422)
            .field_prefix("conditions"),
        c("PUT /segments/{key}", "segment on itself", body(json!({"conditions": [{"op": "segment", "values": ["beta"]}]})), 422)
            .field_prefix("conditions"),
        c("PUT /segments/{key}", "unknown segment", body(json!({"included": []})), 404).path("/segments/nope"),
        // DELETE /segments/{key}
        c("DELETE /segments/{key}", "unknown segment", Payload::None, 404).path("/segments/nope"),
        c("DELETE /segments/{key}", "segment still used", Payload::None, 409),
        // Metrics.
        c("GET /metrics", "DELETE on the path", Payload::None, 405).method(Method::DELETE).path("/metrics"),
        c("POST /metrics", "unknown kind", body(json!({"key": "n", "event": "e", "kind": "median"})), 422).field("kind"),
        c("POST /metrics", "event missing", body(json!({"key": "n", "kind": "count"})), 400).names("event"),
        c("POST /metrics", "key missing", body(json!({"event": "e", "kind": "count"})), 422).field("key"),
        c("POST /metrics", "event with a space", body(json!({"key": "n", "event": "a b", "kind": "count"})), 422)
            .field("event"),
        c("POST /metrics", "duplicate key", body(json!({"key": "m", "event": "e", "kind": "count"})), 409),
        c("GET /metrics/{key}", "unknown metric", Payload::None, 404).path("/metrics/nope"),
        c("PUT /metrics/{key}", "unknown metric", body(json!({"event": "e", "kind": "count"})), 404).path("/metrics/nope"),
        c("PUT /metrics/{key}", "unknown direction", body(json!({"event": "e", "kind": "count", "goodDirection": "up"})), 422)
            .field("goodDirection"),
        c("PUT /metrics/{key}", "changing the key", body(json!({"key": "other", "event": "e", "kind": "count"})), 422)
            .field("key"),
        c("DELETE /metrics/{key}", "unknown metric", Payload::None, 404).path("/metrics/nope"),
        c("DELETE /metrics/{key}", "metric still used", Payload::None, 409),
        // Experiments.
        c("GET /experiments", "PATCH on the path", body(json!({})), 405).method(Method::PATCH).path("/experiments"),
        c("POST /experiments", "flag missing", body(json!({"key": "n"})), 400).names("flag"),
        c("POST /experiments", "unknown flag", experiment_with("flag", json!("nope")), 422).field("flag"),
        c("POST /experiments", "unknown environment", experiment_with("environment", json!("nope")), 422)
            .field("environment"),
        c("POST /experiments", "unknown rule", experiment_with("ruleId", json!("nope")), 422).field("ruleId"),
        c("POST /experiments", "rule without a split", experiment_with("ruleId", json!("fixed")), 422).field("ruleId"),
        c("POST /experiments", "control not in the split", experiment_with("controlVariant", json!("blue")), 422)
            .field("controlVariant"),
        c("POST /experiments", "unknown primary metric", experiment_with("primaryMetric", json!("nope")), 422)
            .field("primaryMetric"),
        c("POST /experiments", "alpha of 0.5", experiment_with("alpha", json!(0.5)), 422).field("alpha"),
        c("POST /experiments", "alpha is a string", experiment_with("alpha", json!("low")), 400).names("alpha"),
        c("POST /experiments", "unknown analysis", experiment_with("analysis", json!("magic")), 422).field("analysis"),
        c("POST /experiments", "duplicate key", body(experiment("x")), 409),
        c("GET /experiments/{key}", "unknown experiment", Payload::None, 404).path("/experiments/nope"),
        c("PUT /experiments/{key}", "unknown experiment", body(experiment("nope")), 404).path("/experiments/nope"),
        c("PUT /experiments/{key}", "frozen while running", body({
            let mut b = experiment("x");
            b["alpha"] = json!(0.01);
            b
        }), 409),
        c("DELETE /experiments/{key}", "running", Payload::None, 409),
        c("DELETE /experiments/{key}", "unknown experiment", Payload::None, 404).path("/experiments/nope"),
        c("POST /experiments/{key}/start", "already running", Payload::None, 409),
        c("POST /experiments/{key}/start", "unknown experiment", Payload::None, 404).path("/experiments/nope/start"),
        c("POST /experiments/{key}/stop", "GET on the path", Payload::None, 405).method(Method::GET),
        c("POST /experiments/{key}/stop", "unknown experiment", Payload::None, 404).path("/experiments/nope/stop"),
        c("GET /experiments/{key}/results", "unknown experiment", Payload::None, 404).path("/experiments/nope/results"),
        c("GET /experiments/{key}/history", "unknown experiment", Payload::None, 404).path("/experiments/nope/history"),
        c("GET /experiments/{key}/results", "unknown format", Payload::None, 400).path("/experiments/x/results?format=xml"),
        c("GET /experiments/{key}/results", "unknown parameter", Payload::None, 400)
            .path("/experiments/x/results?fromat=csv"),
        c("GET /experiments/{key}/results", "POST on the path", Payload::None, 405)
            .method(Method::POST)
            .path("/experiments/x/results"),
        c("GET /environments/{env}/event-counts", "unknown environment", Payload::None, 404)
            .path("/environments/nope/event-counts"),
        c("GET /environments/{env}/event-counts", "bad key", Payload::None, 404).path("/environments/no%20pe/event-counts"),
        // GET /tokens: see the wrong methods above. POST /tokens:
        c("POST /tokens", "unknown role", body(json!({"name": "ci", "role": "root"})), 400).names("role"),
        c("POST /tokens", "role is a number", body(json!({"name": "ci", "role": 5})), 400).names("role"),
        c("POST /tokens", "role missing", body(json!({"name": "ci"})), 400).names("role"),
        c("POST /tokens", "name is a number", body(json!({"name": 5, "role": "viewer"})), 400).names("name"),
        c("POST /tokens", "empty name", body(json!({"name": "", "role": "viewer"})), 422).field("name"),
        c("POST /tokens", "name of 101 characters", body(json!({"name": "n".repeat(101), "role": "viewer"})), 422)
            .field("name"),
        // Releases
        c("GET /releases", "limit=0", Payload::None, 422).path("/releases?limit=0").field("limit"),
        c("GET /releases", "unknown state", Payload::None, 400).path("/releases?state=done").names("state"),
        c("GET /releases", "unknown parameter", Payload::None, 400).path("/releases?colour=red").names("colour"),
        c("POST /releases", "name missing", body(json!({"changes": []})), 400).names("name"),
        c("POST /releases", "blank name", body(json!({"name": "  "})), 422).field("name"),
        c("POST /releases", "name of 201 characters", body(json!({"name": "n".repeat(201)})), 422).field("name"),
        c("POST /releases", "change without environment", body(json!({"name": "r", "changes": [{"flag": "f"}]})), 400)
            .names("environment"),
        c("POST /releases", "change with an unknown field",
            body(json!({"name": "r", "changes": [{"flag": "f", "environment": "staging", "colour": 1}]})), 400)
            .names("colour"),
        c("POST /releases", "bad flag key", body(json!({"name": "r", "changes": [{"flag": "a b", "environment": "staging"}]})), 422)
            .field("changes[0].flag"),
        c("POST /releases", "a flag twice in one environment", body(json!({"name": "r", "changes": [
            {"flag": "f", "environment": "staging"}, {"flag": "f", "environment": "staging", "enabled": true}]})), 422)
            .field("changes[1]"),
        c("POST /releases", "1,001 changes", body(json!({"name": "r", "changes":
            (0..1001).map(|i| json!({"flag": format!("f{i}"), "environment": "s"})).collect::<Vec<_>>()})), 422)
            .field("changes"),
        c("GET /releases/{id}", "non-numeric id", Payload::None, 400).path("/releases/abc"),
        c("GET /releases/{id}", "unknown id", Payload::None, 404).path("/releases/987654"),
        c("PUT /releases/{id}", "stale baseRevision", body(json!({"name": "r", "baseRevision": 7})), 409),
        c("PUT /releases/{id}", "If-Match not a number", body(json!({"name": "r"})), 400).header("If-Match", "\"x\""),
        c("PUT /releases/{id}", "unknown id", body(json!({"name": "r"})), 404).path("/releases/987654"),
        c("DELETE /releases/{id}", "unknown id", Payload::None, 404).path("/releases/987654"),
        c("DELETE /releases/{id}", "id beyond i64", Payload::None, 400).path("/releases/99999999999999999999"),
        c("GET /releases/{id}/preview", "unknown id", Payload::None, 404).path("/releases/987654/preview"),
        c("POST /releases/{id}/apply", "a change that does not compile", Payload::None, 422)
            .field("changes[0].defaultVariant"),
        c("POST /releases/{id}/apply", "stale If-Match", Payload::None, 409).header("If-Match", "\"7\""),
        c("POST /releases/{id}/apply", "unknown id", Payload::None, 404).path("/releases/987654/apply"),
        c("POST /releases/{id}/revert", "a draft", Payload::None, 409),
        c("POST /releases/{id}/revert", "unknown id", Payload::None, 404).path("/releases/987654/revert"),
        c("PUT /releases/{id}/schedule", "at is not RFC 3339", body(json!({"at": "tomorrow"})), 422).field("at"),
        c("PUT /releases/{id}/schedule", "at without an offset", body(json!({"at": "2030-01-01T00:00:00"})), 422).field("at"),
        c("PUT /releases/{id}/schedule", "expiry before at",
            body(json!({"at": "2030-01-01T00:00:00Z", "expiresAt": "2029-01-01T00:00:00Z"})), 422).field("expiresAt"),
        c("PUT /releases/{id}/schedule", "unknown onStale", body(json!({"at": "2030-01-01T00:00:00Z", "onStale": "x"})), 422)
            .field("onStale"),
        c("PUT /releases/{id}/schedule", "a change that does not compile", body(json!({"at": "2030-01-01T00:00:00Z"})), 422)
            .field("changes[0].defaultVariant"),
        c("DELETE /releases/{id}/schedule", "not scheduled", Payload::None, 409),
        c("GET /ramps", "unknown state", Payload::None, 400).path("/ramps?state=done").names("state"),
        c("GET /ramps", "unknown parameter", Payload::None, 400).path("/ramps?colour=red").names("colour"),
        c("GET /ramps", "unknown flag", Payload::None, 404).path("/ramps?flag=nope"),
        c("POST /ramps", "flag missing", body(json!({"environment": "production"})), 400).names("flag"),
        c("POST /ramps", "unknown rule", body(json!({"flag": "rf", "environment": "production", "ruleId": "x",
            "canaryVariant": "on", "controlVariant": "off", "steps": [{"coverage": 1, "hold": "1h"}]})), 422).field("ruleId"),
        c("POST /ramps", "a second plan on the flag", body(ramp("rf", json!([{"coverage": 300, "hold": "1h"}]))), 409),
        c("POST /ramps", "steps that fall", body(ramp("rf2", json!([{"coverage": 300, "hold": "1h"},
            {"coverage": 100, "hold": "1h"}]))), 422).field("steps[1].coverage"),
        c("POST /ramps", "21 steps", body(ramp("rf2", json!(vec![json!({"coverage": 1, "hold": "1h"}); 21]))), 422)
            .field("steps"),
        c("POST /ramps", "hold of a year", body(ramp("rf2", json!([{"coverage": 1, "hold": "365d"}]))), 422)
            .field("steps[0].hold"),
        c("POST /ramps", "hold that overflows", body(ramp("rf2", json!([{"coverage": 1, "hold": "99999999999999999d"}]))), 422)
            .field("steps[0].hold"),
        c("POST /ramps", "coverage as text", body(ramp("rf2", json!([{"coverage": "1", "hold": "1h"}]))), 400)
            .names("coverage"),
        c("GET /ramps/{id}", "unknown id", Payload::None, 404).path("/ramps/987654"),
        c("GET /ramps/{id}", "non-numeric id", Payload::None, 400).path("/ramps/abc"),
        c("POST /ramps/{id}/pause", "unknown id", Payload::None, 404).path("/ramps/987654/pause"),
        c("POST /ramps/{id}/pause", "stale If-Match", Payload::None, 409).header("If-Match", "\"7\""),
        c("POST /ramps/{id}/resume", "a running ramp", Payload::None, 409),
        c("POST /ramps/{id}/skip", "no step", Payload::None, 422).field("step"),
        c("POST /ramps/{id}/skip", "back to step 0", body(json!({"step": 0})), 422).field("step"),
        c("POST /ramps/{id}/skip", "beyond the last step", body(json!({"step": 9})), 422).field("step"),
        c("POST /ramps/{id}/abort", "unknown target", body(json!({"to": "somewhere"})), 422).field("to"),
        c("POST /ramps/{id}/abort", "unknown id", Payload::None, 404).path("/ramps/987654/abort"),
        c("DELETE /releases/{id}/schedule", "unknown id", Payload::None, 404).path("/releases/987654/schedule"),
        c("POST /flags/{key}/environments/{env}/schedule", "unknown flag",
            body(json!({"at": "2030-01-01T00:00:00Z", "enabled": true})), 422)
            .path("/flags/nope/environments/staging/schedule").field("changes[0].flag"),
        c("POST /flags/{key}/environments/{env}/schedule", "unknown environment",
            body(json!({"at": "2030-01-01T00:00:00Z", "enabled": true})), 422)
            .path("/flags/f/environments/nowhere/schedule").field("changes[0].environment"),
        c("POST /flags/{key}/environments/{env}/schedule", "bad at", body(json!({"at": "soon", "enabled": true})), 422)
            .field("at"),
        c("POST /flags/{key}/environments/{env}/schedule", "unknown variant",
            body(json!({"at": "2030-01-01T00:00:00Z", "defaultVariant": "nope"})), 422).field("changes[0].defaultVariant"),
        // DELETE /tokens/{id}
        c("DELETE /tokens/{id}", "non-numeric id", Payload::None, 400).path("/tokens/abc"),
        c("DELETE /tokens/{id}", "fractional id", Payload::None, 400).path("/tokens/1.5"),
        c("DELETE /tokens/{id}", "id beyond i64", Payload::None, 400).path("/tokens/99999999999999999999"),
        c("DELETE /tokens/{id}", "unknown id", Payload::None, 404).path("/tokens/987654"),
        c("DELETE /tokens/{id}", "negative id", Payload::None, 404).path("/tokens/-5"),
        // GET /sdk-keys
        c("GET /sdk-keys", "unknown environment", Payload::None, 404).path("/sdk-keys?environment=nowhere"),
        c("GET /sdk-keys", "unknown parameter", Payload::None, 400).path("/sdk-keys?env=staging").names("env"),
        // DELETE /sdk-keys/{id}
        c("DELETE /sdk-keys/{id}", "non-numeric id", Payload::None, 400).path("/sdk-keys/abc"),
        c("DELETE /sdk-keys/{id}", "id beyond i64", Payload::None, 400).path("/sdk-keys/99999999999999999999"),
        c("DELETE /sdk-keys/{id}", "unknown id", Payload::None, 404).path("/sdk-keys/987654"),
        // Users
        c("GET /users", "PUT on the path", body(json!({})), 405).method(Method::PUT),
        c("POST /users", "invalid username", body(json!({"username": "a b", "password": "long enough password",
            "role": "viewer"})), 422).field("username"),
        c("POST /users", "short password", body(json!({"username": "u", "password": "short", "role": "viewer"})), 422)
            .field("password"),
        c("POST /users", "unknown role", body(json!({"username": "u", "password": "long enough password",
            "role": "root"})), 400).names("role"),
        c("POST /users", "password missing", body(json!({"username": "u", "role": "viewer"})), 400).names("password"),
        c("POST /users", "username taken in another case", body(json!({"username": "ADMIN",
            "password": "long enough password", "role": "viewer"})), 409),
        c("PATCH /users/{username}", "unknown user", body(json!({"disabled": true})), 404).path("/users/nobody"),
        c("PATCH /users/{username}", "demoting the last admin", body(json!({"role": "viewer"})), 409),
        c("PATCH /users/{username}", "disabling the last admin", body(json!({"disabled": true})), 409),
        c("PATCH /users/{username}", "short password", body(json!({"password": "short"})), 422).field("password"),
        c("PATCH /users/{username}", "disabled is a string", body(json!({"disabled": "yes"})), 400).names("disabled"),
        c("DELETE /users/{username}", "the last admin", Payload::None, 409),
        c("DELETE /users/{username}", "unknown user", Payload::None, 404).path("/users/nobody"),
        c("DELETE /users/{username}", "username with a NUL", Payload::None, 400).path("/users/a%00b"),
        // GET /audit
        c("GET /audit", "since=garbage", Payload::None, 422).path("/audit?since=garbage").field("since"),
        c("GET /audit", "until=garbage", Payload::None, 422).path("/audit?until=garbage").field("until"),
        c("GET /audit", "since=month 13", Payload::None, 422).path("/audit?since=2024-13-45T00:00:00Z").field("since"),
        c("GET /audit", "limit=0", Payload::None, 422).path("/audit?limit=0").field("limit"),
        c("GET /audit", "limit=5000", Payload::None, 422).path("/audit?limit=5000").field("limit"),
        c("GET /audit", "limit=abc", Payload::None, 400).path("/audit?limit=abc").names("limit"),
        c("GET /audit", "before=abc", Payload::None, 400).path("/audit?before=abc").names("before"),
        c("GET /audit", "unknown parameter", Payload::None, 400).path("/audit?offset=-1").names("offset"),
        // Not a route at all.
        c("GET /flags", "unknown route under /api/v1", Payload::None, 404).path("/flagz"),
    ];
    // Invalid keys where a key is created, in one place.
    for key in ["a b", "-a", "_a", "ä", "a\tb", "a:b"] {
        v.push(c("POST /flags", "invalid key (loop)", body(json!({"key": key, "type": "boolean"})), 422).field("key"));
    }
    // A JSON array is not an object, even with the fields in order.
    v.push(c("POST /environments", "JSON array in field order", raw(r#"["qa-array", "QA"]"#), 400));
    v.push(c("POST /tokens", "JSON array in field order", raw(r#"["ci", "admin"]"#), 400));
    // NUL characters are refused anywhere in bodies, paths and queries (Postgres cannot store them).
    v.push(c("POST /flags", "key with a NUL", body(json!({"key": "a\u{0}", "type": "boolean"})), 400).names("NUL"));
    v.push(c("POST /segments", "included with a NUL", body(json!({"key": "s", "included": ["\u{0}"]})), 400));
    v.push(c("GET /flags/{key}", "key with a NUL", Payload::None, 400).path("/flags/a%00b"));
    v.push(c("GET /flags", "q with a NUL", Payload::None, 400).path("/flags?q=%00"));
    v
}

/// An answer as received.
struct Received {
    status: u16,
    content_type: String,
    body: Value,
    text: String,
}

async fn send(app: &TestApp, case: &Case) -> Result<Received, String> {
    let mut req =
        app.http.request(case.method.clone(), format!("{}/api/v1{}", app.base, case.path)).bearer_auth(&app.token);
    for (name, value) in &case.headers {
        req = req.header(*name, value);
    }
    req = match &case.payload {
        Payload::None => req,
        Payload::Json(v) => req.json(v),
        Payload::Raw(content_type, bytes) => {
            let req = match content_type {
                Some(ct) => req.header("content-type", *ct),
                None => req,
            };
            req.body(bytes.clone())
        }
    };
    let res = req.send().await.map_err(|e| format!("request failed: {e}"))?;
    let status = res.status().as_u16();
    let content_type = res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let text = res.text().await.map_err(|e| format!("reading the answer failed: {e}"))?;
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Ok(Received { status, content_type, body, text })
}

/// Problems with an error answer: empty when it is a proper problem document with `status`.
fn check_problem(r: &Received, status: u16) -> Vec<String> {
    let mut problems = Vec::new();
    if r.status != status {
        problems.push(format!("status {} (expected {status})", r.status));
    }
    if !(400..500).contains(&r.status) {
        problems.push(format!("not a 4xx: {}", r.status));
    }
    if r.content_type != "application/problem+json" {
        problems.push(format!("content-type `{}`", r.content_type));
    }
    if r.body["status"].as_u64() != Some(u64::from(r.status)) {
        problems.push(format!("body status {} vs HTTP {}", r.body["status"], r.status));
    }
    if r.body["title"].as_str().is_none_or(str::is_empty) {
        problems.push("no title".into());
    }
    if r.body["detail"].as_str().is_none_or(|d| d.trim().is_empty()) {
        problems.push("no detail".into());
    }
    if r.status == 422 {
        match r.body["errors"].as_array() {
            Some(errors) if !errors.is_empty() => {
                for e in errors {
                    let path = e["path"].as_str();
                    if path.is_none() || e["message"].as_str().is_none_or(str::is_empty) {
                        problems.push(format!("malformed errors[] entry {e}"));
                    }
                    // Paths are relative to the request body, not to the environment snapshot.
                    if let Some(path) = path
                        && (path.starts_with("flags.") || path.starts_with("segments."))
                    {
                        problems.push(format!("errors[].path `{path}` is not relative to the request body"));
                    }
                }
            }
            _ => problems.push("422 without errors[]".into()),
        }
    }
    problems
}

fn check_field(r: &Received, field: Field) -> Option<String> {
    let paths: Vec<&str> =
        r.body["errors"].as_array().map(|a| a.iter().filter_map(|e| e["path"].as_str()).collect()).unwrap_or_default();
    match field {
        Field::Any => None,
        Field::Path(p) => (!paths.contains(&p)).then(|| format!("errors[].path {paths:?} lacks `{p}`")),
        Field::PathPrefix(p) => (!paths.iter().any(|x| x.starts_with(p)))
            .then(|| format!("errors[].path {paths:?}: none starts with `{p}`")),
        Field::Detail(w) => {
            let detail = r.body["detail"].as_str().unwrap_or_default();
            (!detail.contains(w)).then(|| format!("detail does not name `{w}`"))
        }
    }
}

/// Creates what the cases refer to.
async fn fixtures(app: &TestApp) -> Fixtures {
    for key in ["f", "base", "dep"] {
        app.post("/api/v1/flags", json!({"key": key, "type": "boolean"})).await.expect(201);
    }
    // dep depends on base in production: deleting base is refused, base -> dep would be a cycle.
    app.put(
        "/api/v1/flags/dep/environments/production",
        json!({"enabled": true, "offVariant": "off", "defaultVariant": "off",
               "prerequisites": [{"flag": "base", "variants": ["on"]}]}),
    )
    .await
    .expect(200);
    app.post("/api/v1/segments", json!({"key": "beta", "included": ["u1"]})).await.expect(201);
    app.post("/api/v1/segments", json!({"key": "outer", "conditions": [{"op": "segment", "values": ["beta"]}]}))
        .await
        .expect(201);
    // A running experiment `x` on the split rule `exp` of flag `xf`, measured by metric `m`.
    app.post("/api/v1/flags", json!({"key": "xf", "type": "boolean"})).await.expect(201);
    let split = json!({"split": {"variants": [{"variant": "on", "weight": 5000}, {"variant": "off", "weight": 5000}]}});
    let rules = json!([{"id": "fixed", "serve": {"variant": "on"}}, {"id": "exp", "serve": split}]);
    let config = json!({"enabled": true, "offVariant": "off", "defaultVariant": "off", "rules": rules});
    app.put("/api/v1/flags/xf/environments/production", config).await.expect(200);
    app.post("/api/v1/metrics", json!({"key": "m", "event": "purchase", "kind": "conversion"})).await.expect(201);
    app.post("/api/v1/experiments", experiment("x")).await.expect(201);
    app.post("/api/v1/experiments/x/start", json!({})).await.expect(200);
    let token = app.post("/api/v1/tokens", json!({"name": "someone", "role": "viewer"})).await.expect(201);
    let key = app.post("/api/v1/environments/staging/sdk-keys", json!({"name": "svc"})).await.expect(201);
    let release = json!({"name": "fx", "changes": [{"flag": "f", "environment": "staging", "defaultVariant": "nope"}]});
    let release = app.post("/api/v1/releases", release).await.expect(201);
    // A running ramp on rule `canary` of `rf`; `rf2` has the same rule and no ramp.
    for flag in ["rf", "rf2"] {
        app.post("/api/v1/flags", json!({"key": flag, "type": "boolean"})).await.expect(201);
        let split = json!({"split": {"coverage": 0,
            "variants": [{"variant": "on", "weight": 5000}, {"variant": "off", "weight": 5000}]}});
        let config = json!({"enabled": true, "offVariant": "off", "defaultVariant": "off",
                            "rules": [{"id": "canary", "serve": split}]});
        app.put(&format!("/api/v1/flags/{flag}/environments/production"), config).await.expect(200);
    }
    let steps = json!([{"coverage": 100, "hold": "1h"}, {"coverage": 1000, "hold": "1h"}]);
    let ramp = app.post("/api/v1/ramps", ramp("rf", steps)).await.expect(201);
    Fixtures {
        token_id: token["id"].as_i64().unwrap(),
        sdk_key_id: key["id"].as_i64().unwrap(),
        release_id: release["id"].as_i64().unwrap(),
        ramp_id: ramp["id"].as_i64().unwrap(),
    }
}

/// What must not move when only bad requests are sent.
async fn state(app: &TestApp) -> (Value, Value, Value) {
    let envs = app.get("/api/v1/environments").await.expect(200);
    let audit = app.get("/api/v1/audit?limit=1").await.expect(200);
    let flags = app.get("/api/v1/flags?all=true").await.expect(200)["total"].clone();
    (envs, audit[0]["id"].clone(), flags)
}

api_test!(every_route_answers_bad_input_with_a_4xx_problem, |app| async move {
    let fx = fixtures(app).await;
    let mut cases = body_cases(&fx);
    cases.extend(specific_cases(&fx));
    // Every route has cases; every route with a body has the malformed-body ones.
    let covered: BTreeSet<&str> = cases.iter().map(|c| c.route).collect();
    let missing: Vec<&&str> = ADMIN_ROUTES.iter().filter(|r| !covered.contains(**r)).collect();
    assert!(missing.is_empty(), "routes without bad-input cases: {missing:?}");

    // Where the server publishes its route table (OpenAPI), every operation in it is in ADMIN_ROUTES.
    let openapi = app.get("/api/v1/openapi.json").await;
    if openapi.status == 200 {
        let mut documented = Vec::new();
        for (path, item) in openapi.body["paths"].as_object().expect("paths") {
            let path = path.strip_prefix("/api/v1").unwrap_or(path);
            for method in ["get", "post", "put", "patch", "delete"] {
                if item.get(method).is_some() {
                    documented.push(format!("{} {path}", method.to_uppercase()));
                }
            }
        }
        let unknown: Vec<&String> = documented.iter().filter(|r| !ADMIN_ROUTES.contains(&r.as_str())).collect();
        assert!(unknown.is_empty(), "routes in the OpenAPI document missing from ADMIN_ROUTES: {unknown:?}");
    }

    let before = state(app).await;
    let mut failures = String::new();
    for case in &cases {
        let label = format!("{} [{} {}] {}", case.route, case.method, case.path, case.what);
        let r = match send(app, case).await {
            Ok(r) => r,
            Err(e) => {
                let _ = writeln!(failures, "{label}: {e}");
                continue;
            }
        };
        let mut problems = check_problem(&r, case.status);
        problems.extend(check_field(&r, case.field));
        if !problems.is_empty() {
            let text: String = r.text.chars().take(400).collect();
            let _ = writeln!(failures, "{label}: {}\n    answer: {text}", problems.join("; "));
        }
    }
    let after = state(app).await;
    if before != after {
        let _ = writeln!(failures, "bad requests changed the state:\n  before {before:?}\n  after  {after:?}");
    }
    eprintln!("{} bad-input cases over {} routes", cases.len(), covered.len());
    assert!(failures.is_empty(), "bad-input failures:\n{failures}");
});

const FIELD_NAMES: &[&str] = &[
    "enabled",
    "offVariant",
    "defaultVariant",
    "prerequisites",
    "rules",
    "baseRevision",
    "id",
    "conditions",
    "serve",
    "variant",
    "split",
    "variants",
    "weight",
    "coverage",
    "bucketBy",
    "salt",
    "attribute",
    "op",
    "values",
    "flag",
    "bogus",
];

const STRINGS: &[&str] = &[
    "",
    "on",
    "off",
    "f",
    "base",
    "dep",
    "beta",
    "outer",
    "key",
    "eq",
    "in",
    "matches",
    "segment",
    "prerequisite",
    "semver_gte",
    "before",
    "exists",
    "gt",
    "(",
    "[a-",
    ".*",
    "1.2.3",
    "2030-01-01T00:00:00Z",
    "-1",
    "a b",
    "💥",
    "\u{0}",
    "null",
    "true",
];

fn random_value(rng: &mut StdRng, depth: usize) -> Value {
    let kinds = if depth >= 3 { 5 } else { 7 };
    match rng.random_range(0..kinds) {
        0 => Value::Null,
        1 => Value::Bool(rng.random_range(0..2) == 0),
        2 => random_number(rng),
        3 => Value::String((*STRINGS.choose(rng).unwrap()).to_owned()),
        4 => Value::String("x".repeat(rng.random_range(0..300))),
        5 => Value::Array((0..rng.random_range(0..4)).map(|_| random_value(rng, depth + 1)).collect()),
        _ => {
            let mut m = Map::new();
            for _ in 0..rng.random_range(0..4) {
                m.insert((*FIELD_NAMES.choose(rng).unwrap()).to_owned(), random_value(rng, depth + 1));
            }
            Value::Object(m)
        }
    }
}

fn random_number(rng: &mut StdRng) -> Value {
    let numbers = [
        json!(0),
        json!(1),
        json!(-1),
        json!(2),
        json!(3),
        json!(500),
        json!(5000),
        json!(9500),
        json!(10000),
        json!(10001),
        json!(i64::MAX),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(1.5),
        json!(-0.0),
        json!(1e300),
        json!(9_007_199_254_740_993_u64),
    ];
    numbers.choose(rng).unwrap().clone()
}

fn count_nodes(v: &Value) -> usize {
    1 + match v {
        Value::Array(a) => a.iter().map(count_nodes).sum(),
        Value::Object(o) => o.values().map(count_nodes).sum(),
        _ => 0,
    }
}

/// The node with pre-order index `*k`.
fn nth_node<'a>(v: &'a mut Value, k: &mut usize) -> Option<&'a mut Value> {
    if *k == 0 {
        return Some(v);
    }
    *k -= 1;
    match v {
        Value::Array(a) => a.iter_mut().find_map(|c| nth_node(c, k)),
        Value::Object(o) => o.values_mut().find_map(|c| nth_node(c, k)),
        _ => None,
    }
}

/// One random structural mutation somewhere in `v`; returns what it did.
fn mutate(v: &mut Value, rng: &mut StdRng) -> String {
    let mut k = rng.random_range(0..count_nodes(v));
    let at = k;
    let node = nth_node(v, &mut k).expect("node index in range");
    match rng.random_range(0..4) {
        // Drop a member or element.
        0 => match node {
            Value::Object(o) if !o.is_empty() => {
                let key = o.keys().nth(rng.random_range(0..o.len())).cloned().unwrap_or_default();
                o.remove(&key);
                format!("drop `{key}` at node {at}")
            }
            Value::Array(a) if !a.is_empty() => {
                let i = rng.random_range(0..a.len());
                a.remove(i);
                format!("drop [{i}] at node {at}")
            }
            other => {
                *other = Value::Null;
                format!("null at node {at}")
            }
        },
        // Insert garbage.
        1 => match node {
            Value::Object(o) => {
                let key = (*FIELD_NAMES.choose(rng).unwrap()).to_owned();
                o.insert(key.clone(), random_value(rng, 1));
                format!("set `{key}` at node {at}")
            }
            Value::Array(a) => {
                let i = rng.random_range(0..a.len() + 1);
                let dup = if !a.is_empty() && rng.random_range(0..2) == 0 {
                    a[rng.random_range(0..a.len())].clone()
                } else {
                    random_value(rng, 1)
                };
                a.insert(i, dup);
                format!("insert [{i}] at node {at}")
            }
            other => {
                *other = random_value(rng, 1);
                format!("replace node {at}")
            }
        },
        // Replace with a value of the same kind (reaches validation rather than parsing).
        2 => {
            *node = match node {
                Value::String(_) => Value::String((*STRINGS.choose(rng).unwrap()).to_owned()),
                Value::Number(_) => random_number(rng),
                Value::Bool(b) => Value::Bool(!*b),
                Value::Array(a) if !a.is_empty() => {
                    let i = rng.random_range(0..a.len());
                    Value::Array(vec![a[i].clone(); 1 + rng.random_range(0..3)])
                }
                _ => random_value(rng, 1),
            };
            format!("same-kind replace node {at}")
        }
        // Replace with a random value.
        _ => {
            *node = random_value(rng, 1);
            format!("replace node {at}")
        }
    }
}

/// Textual damage: flip, insert or delete bytes, or truncate.
fn damage_text(text: &str, rng: &mut StdRng) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    for _ in 0..=rng.random_range(0..3) {
        let i = rng.random_range(0..bytes.len().max(1));
        match rng.random_range(0..4) {
            0 if !bytes.is_empty() => {
                bytes.remove(i);
            }
            1 => bytes.insert(i.min(bytes.len()), *b"{}[]\",:0-eE.\\ \xff".choose(rng).unwrap()),
            2 if !bytes.is_empty() => bytes[i] = rng.random::<u8>(),
            _ => bytes.truncate(i),
        }
    }
    bytes
}

fn valid_config() -> Value {
    json!({
        "enabled": true, "offVariant": "off", "defaultVariant": "off",
        "prerequisites": [{"flag": "base", "variants": ["on"]}],
        "rules": [
            {"id": "staff", "conditions": [
                {"attribute": "email", "op": "ends_with", "values": ["@example.com"]},
                {"op": "segment", "values": ["beta"]}
            ], "serve": {"variant": "on"}},
            {"id": "canary", "serve": {"split": {
                "variants": [{"variant": "on", "weight": 500}, {"variant": "off", "weight": 9500}],
                "coverage": 10000, "bucketBy": "key", "salt": "f"}}},
            {"conditions": [
                {"attribute": "version", "op": "semver_gte", "values": ["1.2.0"]},
                {"attribute": "n", "op": "gt", "values": [3]},
                {"attribute": "at", "op": "before", "values": ["2030-01-01T00:00:00Z"]},
                {"attribute": "name", "op": "matches", "values": ["^a.*z$"]},
                {"attribute": "plan", "op": "in", "values": ["a", 1, true]},
                {"op": "prerequisite", "flag": "base", "values": ["on"]}
            ], "serve": {"variant": "on"}}
        ]
    })
}

api_test!(random_mutations_of_a_config_never_get_a_5xx, |app| async move {
    for key in ["f", "base"] {
        app.post("/api/v1/flags", json!({"key": key, "type": "boolean"})).await.expect(201);
    }
    app.post("/api/v1/segments", json!({"key": "beta", "included": ["u1"]})).await.expect(201);
    let path = "/api/v1/flags/f/environments/production";
    app.put(path, valid_config()).await.expect(200);

    const ROUNDS: usize = 400;
    let mut rng = StdRng::seed_from_u64(0x_F1A6_9A2D);
    let (mut ok, mut client_errors) = (0, std::collections::BTreeMap::<u16, usize>::new());
    let mut failures = String::new();
    for round in 0..ROUNDS {
        let mut doc = valid_config();
        let mut what = Vec::new();
        for _ in 0..=rng.random_range(0..3) {
            what.push(mutate(&mut doc, &mut rng));
        }
        let text = doc.to_string();
        let bytes = if rng.random_range(0..5) == 0 {
            what.push("text damage".into());
            damage_text(&text, &mut rng)
        } else {
            text.into_bytes()
        };
        let res = app
            .http
            .put(format!("{}{path}", app.base))
            .bearer_auth(&app.token)
            .header("content-type", "application/json")
            .body(bytes.clone())
            .send()
            .await;
        let res = match res {
            Ok(res) => res,
            Err(e) => {
                let _ = writeln!(failures, "round {round} ({}): request failed: {e}", what.join(", "));
                continue;
            }
        };
        let status = res.status().as_u16();
        let content_type =
            res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        let text = res.text().await.unwrap_or_default();
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let r = Received { status, content_type, body, text };
        let problems = if status == 200 {
            ok += 1;
            if r.body["revision"].as_i64().is_none() { vec!["200 without a revision".to_owned()] } else { vec![] }
        } else {
            *client_errors.entry(status).or_default() += 1;
            check_problem(&r, status)
        };
        if !problems.is_empty() {
            let sent = String::from_utf8_lossy(&bytes);
            let _ = writeln!(
                failures,
                "round {round} ({}): {}\n    sent: {}\n    answer: {}",
                what.join(", "),
                problems.join("; "),
                sent.chars().take(600).collect::<String>(),
                r.text.chars().take(300).collect::<String>()
            );
        }
    }
    eprintln!("{ROUNDS} mutated PUT bodies: {ok} accepted, 4xx by status {client_errors:?}");
    // The stored configuration is still readable and consistent.
    app.get(path).await.expect(200);
    app.get("/api/v1/flags/f").await.expect(200);
    assert!(failures.is_empty(), "mutated configurations:\n{failures}");
    assert!(ok > 0 && client_errors.len() > 1, "the mutations should produce both accepted and refused bodies");
});
