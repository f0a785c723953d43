//! The benchmark flags, shared by the criterion benchmark and the
//! zero-allocation test so both measure exactly the same configuration.
#![allow(dead_code)]

use flagyard_eval::{Context, Ruleset};

/// (a) a 25 % canary on the user id; (b) three conditions then a 50/30/20
/// split at 50 % coverage; (c) a plain enabled flag.
pub const BENCH_SNAPSHOT: &str = r#"{
  "environment": "production",
  "version": 1,
  "flags": {
    "canary": {
      "type": "boolean",
      "variants": [{"key": "on", "value": true}, {"key": "off", "value": false}],
      "environments": {"production": {
        "enabled": true, "offVariant": "off", "defaultVariant": "off",
        "rules": [{"id": "canary-25", "serve": {"split": {
          "variants": [{"variant": "on", "weight": 2500}, {"variant": "off", "weight": 7500}]
        }}}]
      }}
    },
    "experiment": {
      "type": "string",
      "variants": [
        {"key": "control", "value": "control"},
        {"key": "blue", "value": "blue"},
        {"key": "green", "value": "green"}
      ],
      "environments": {"production": {
        "enabled": true, "offVariant": "control", "defaultVariant": "control",
        "rules": [{
          "id": "targeted-split",
          "conditions": [
            {"attribute": "country", "op": "in", "values": ["US", "CA", "GB", "DE", "FR", "NL", "SE", "NO", "DK", "FI"]},
            {"attribute": "age", "op": "gt", "values": [18]},
            {"attribute": "app_version", "op": "semver_gt", "values": ["1.2.0"]}
          ],
          "serve": {"split": {
            "variants": [
              {"variant": "control", "weight": 5000},
              {"variant": "blue", "weight": 3000},
              {"variant": "green", "weight": 2000}
            ],
            "coverage": 5000
          }}
        }]
      }}
    },
    "plain": {
      "type": "boolean",
      "variants": [{"key": "on", "value": true}, {"key": "off", "value": false}],
      "environments": {"production": {"enabled": true, "offVariant": "off", "defaultVariant": "on"}}
    }
  }
}"#;

pub fn bench_ruleset() -> Ruleset {
    Ruleset::from_json(BENCH_SNAPSHOT).expect("the benchmark snapshot is valid")
}

/// A context that passes flag (b)'s three conditions.
pub fn bench_context(i: usize) -> Context<'static> {
    Context::new(format!("user-{i}")).with("country", "NL").with("age", 31).with("app_version", "1.4.2")
}

pub fn bench_contexts(n: usize) -> Vec<Context<'static>> {
    (0..n).map(bench_context).collect()
}
