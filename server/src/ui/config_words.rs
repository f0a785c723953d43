//! A flag configuration in the rules editor's words, one fact per line, so
//! that the audit log's before/after diff reads as the editor shows it:
//! percentages instead of basis points, variant names, conditions in words,
//! rules by their name (else their position), instead of raw JSON.

use flagyard_eval::{Condition, FlagConfig, Rule, Serve};
use serde_json::Value;

use flagyard_web::operator;

use super::ramp_panel::percent;

/// `“x”` for a string, the literal otherwise.
fn value(v: &Value) -> String {
    match v {
        Value::String(s) => format!("“{s}”"),
        other => other.to_string(),
    }
}

/// The values, each as [`value`] says, joined by `separator`.
fn values(vs: &[Value], separator: &str) -> String {
    vs.iter().map(value).collect::<Vec<_>>().join(separator)
}

fn condition(c: &Condition) -> String {
    let op = serde_json::to_value(c.op).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
    let label = operator(&op).map_or(op.as_str(), |o| o.label);
    match op.as_str() {
        "segment" | "not_segment" => format!("{label} {}", values(&c.values, ", ")),
        "prerequisite" => {
            format!("flag “{}” serves {}", c.flag.as_deref().unwrap_or("?"), values(&c.values, " or "))
        }
        "exists" => format!("{} exists", c.attribute.as_deref().unwrap_or("key")),
        _ => format!("{} {label} {}", c.attribute.as_deref().unwrap_or("key"), values(&c.values, ", ")),
    }
}

fn rule_lines(i: usize, r: &Rule, out: &mut Vec<String>) {
    out.push(match &r.id {
        Some(id) => format!("Rule “{id}”"),
        None => format!("Rule {}", i + 1),
    });
    if r.conditions.is_empty() {
        out.push("  always".into());
    }
    for (j, c) in r.conditions.iter().enumerate() {
        out.push(format!("  {} {}", if j == 0 { "if" } else { "and" }, condition(c)));
    }
    match &r.serve {
        Serve::Variant(v) => out.push(format!("  serve “{v}”")),
        Serve::Split(s) => {
            let by = s.bucket_by.as_deref().unwrap_or("key");
            let coverage =
                if s.coverage == 10_000 { String::new() } else { format!(" over {} of contexts", percent(s.coverage)) };
            let shares: Vec<String> =
                s.variants.iter().map(|w| format!("“{}” {}", w.variant, percent(w.weight))).collect();
            out.push(format!("  split by {by}{coverage}: {}", shares.join(", ")));
            if let Some(salt) = &s.salt {
                out.push(format!("  salt “{salt}”"));
            }
        }
    }
}

/// The configuration as lines of text.
fn config_lines(config: &FlagConfig) -> Vec<String> {
    let mut out = vec![
        if config.enabled { "On".to_owned() } else { format!("Off: everyone gets “{}”", config.off_variant) },
        format!("When off: serve “{}”", config.off_variant),
        format!("When no rule matches: serve “{}”", config.default_variant),
    ];
    for p in &config.prerequisites {
        out.push(format!(
            "Requires flag “{}” to serve {}",
            p.flag,
            p.variants.iter().map(|v| format!("“{v}”")).collect::<Vec<_>>().join(" or ")
        ));
    }
    for (i, r) in config.rules.iter().enumerate() {
        rule_lines(i, r, &mut out);
    }
    out
}

/// `json` (a stored configuration) in words, or `None` if it is not one.
pub(super) fn config_text(json: &str) -> Option<String> {
    let config: FlagConfig = serde_json::from_str(json).ok()?;
    Some(config_lines(&config).join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_configuration_reads_as_the_editor_shows_it() {
        let json = r#"{"enabled": true, "offVariant": "off", "defaultVariant": "off",
            "prerequisites": [{"flag": "login", "variants": ["on"]}],
            "rules": [
              {"id": "staff", "conditions": [
                 {"attribute": "email", "op": "ends_with", "values": ["@example.com"]},
                 {"attribute": "age", "op": "gte", "values": [18]},
                 {"op": "segment", "values": ["beta"]}],
               "serve": {"variant": "on"}},
              {"serve": {"split": {"coverage": 5000, "variants": [{"variant": "on", "weight": 2500}, {"variant": "off", "weight": 7500}]}}}
            ]}"#;
        let text = config_text(json).expect("a configuration");
        assert_eq!(
            text.lines().collect::<Vec<_>>(),
            [
                "On",
                "When off: serve “off”",
                "When no rule matches: serve “off”",
                "Requires flag “login” to serve “on”",
                "Rule “staff”",
                "  if email ends with “@example.com”",
                "  and age ≥ 18",
                "  and in segment “beta”",
                "  serve “on”",
                "Rule 2",
                "  always",
                "  split by key over 50 % of contexts: “on” 25 %, “off” 75 %",
            ]
        );
        assert_eq!(config_text(r#"{"key": "not a configuration"}"#), None);
    }
}
