//! The rules editor's form contract: JSON → editor → posted fields → JSON.

mod common;

use flagyard_web::{ConfigDraft, EditorAction, SegmentDraft, Template};
use serde_json::{Value, json};

fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let end = rest[i..].find(';').map(|e| i + e);
        let Some(end) = end else { break };
        let entity = &rest[i + 1..end];
        let c = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            e if e.starts_with("#x") => u32::from_str_radix(&e[2..], 16).ok().and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match c {
            Some(c) => out.push(c),
            None => out.push_str(&rest[i..=end]),
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let pat = format!(" {name}=\"");
    let start = tag.find(&pat)? + pat.len();
    let end = tag[start..].find('"')?;
    Some(unescape(&tag[start..start + end]))
}

/// What a browser would post for `html`'s first form (without a clicked button).
fn posted_fields(html: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        rest = &rest[i..];
        let end = rest.find('>').unwrap_or(rest.len() - 1);
        let tag = &rest[..=end];
        let after = &rest[end + 1..];
        if tag.starts_with("<input ") {
            let ty = attr(tag, "type").unwrap_or_default();
            let checked = tag.contains(" checked");
            if let Some(name) = attr(tag, "name")
                && ((ty != "radio" && ty != "checkbox") || checked)
            {
                out.push((name, attr(tag, "value").unwrap_or_default()));
            }
        } else if tag.starts_with("<textarea ")
            && let Some(name) = attr(tag, "name")
        {
            let close = after.find("</textarea>").expect("textarea closes");
            out.push((name, unescape(&after[..close])));
        } else if tag.starts_with("<select ")
            && let Some(name) = attr(tag, "name")
        {
            let close = after.find("</select>").expect("select closes");
            let options: Vec<&str> = after[..close].split("<option").skip(1).collect();
            let selected: Vec<&str> = options.iter().copied().filter(|o| o.contains(" selected>")).collect();
            let multiple = tag.contains(" multiple");
            let chosen =
                if selected.is_empty() && !multiple { options.into_iter().take(1).collect() } else { selected };
            for o in chosen {
                out.push((name.clone(), attr(&format!(" {o}"), "value").unwrap_or_default()));
            }
        }
        rest = after;
    }
    out
}

fn as_rules(v: &Value) -> Vec<flagyard_eval::Rule> {
    serde_json::from_value(v["rules"].clone()).expect("rules parse in the engine's model")
}

#[test]
fn json_survives_the_editor_round_trip() {
    let config = common::config_json();
    let draft = ConfigDraft::from_json(&config, 7);
    let direct = draft.to_json().expect("valid");
    assert_eq!(as_rules(&direct), as_rules(&config));
    assert_eq!(direct["baseRevision"], json!(7));
    assert_eq!(direct["prerequisites"], config["prerequisites"]);

    let mut editor = common::editor();
    editor.errors.clear();
    let html = editor.render().expect("render");
    let fields = posted_fields(&html);
    assert!(fields.iter().any(|(k, v)| k == "csrf" && v == "tok-123"));
    let pairs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (mut parsed, action) = ConfigDraft::from_pairs(pairs);
    assert_eq!(action, EditorAction::Save);
    // A rule that serves one variant carries a rollout ready to switch to
    // (its variants filled in); it is not part of the configuration.
    for rule in parsed.rules.iter_mut().filter(|r| !r.serve.is_split) {
        assert!(!rule.serve.split.variants.is_empty(), "a rollout ready to switch to");
        rule.serve.split.variants.clear();
    }
    assert_eq!(parsed, draft, "the rendered form posts back the same draft");
    let back = parsed.to_json().expect("valid");
    assert_eq!(as_rules(&back), as_rules(&config));
    assert_eq!(back["offVariant"], json!("off"));
}

#[test]
fn actions_restructure_the_draft() {
    let mut d = ConfigDraft::from_json(&common::config_json(), 1);
    assert!(d.apply(EditorAction::parse("move_rule_down:0")));
    assert_eq!(d.rules[0].id, "canary");
    assert!(d.apply(EditorAction::parse("move_rule_up:1")));
    assert_eq!(d.rules[0].id, "staff");
    assert!(!d.apply(EditorAction::parse("move_rule_up:0")));
    assert!(d.apply(EditorAction::parse("remove_condition:0:9")));
    assert_eq!(d.rules[0].conditions.len(), 9);
    assert!(d.apply(EditorAction::parse("add_condition:1")));
    assert_eq!(d.rules[1].conditions[0].op, "eq");
    assert!(d.apply(EditorAction::parse("add_split_variant:1")));
    assert_eq!(d.rules[1].serve.split.variants.len(), 3);
    assert!(d.apply(EditorAction::parse("remove_split_variant:1:2")));
    assert!(d.apply(EditorAction::parse("add_rule")));
    assert!(d.apply(EditorAction::parse("remove_rule:2")));
    assert!(d.apply(EditorAction::parse("add_prerequisite")));
    assert!(d.apply(EditorAction::parse("remove_prerequisite:1")));
    assert!(!d.apply(EditorAction::parse("remove_rule:99")));
    assert_eq!(EditorAction::parse("bogus:1"), EditorAction::Refresh);
    assert_eq!(EditorAction::parse(""), EditorAction::Save);
}

#[test]
fn form_errors_name_their_fields() {
    let pairs = [
        ("rules[0].conditions[0].attribute", ""),
        ("rules[0].conditions[0].op", "lt"),
        ("rules[0].conditions[0].values", "ten"),
        ("rules[0].conditions[1].attribute", "x"),
        ("rules[0].conditions[1].op", "nope"),
        ("rules[0].conditions[2].attribute", "b"),
        ("rules[0].conditions[2].op", "eq"),
        ("rules[0].conditions[2].type", "boolean"),
        ("rules[0].conditions[2].values", "yes"),
        ("rules[0].serve.kind", "split"),
        ("rules[0].serve.split.variants[0].variant", "on"),
        ("rules[0].serve.split.variants[0].weight", "12.345"),
        ("rules[0].serve.split.coverage", "101"),
    ];
    let (draft, _) = ConfigDraft::from_pairs(pairs);
    let errs = draft.to_json().expect_err("invalid");
    let paths: Vec<&str> = errs.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "rules[0].conditions[0].attribute",
            "rules[0].conditions[0].values",
            "rules[0].conditions[1].op",
            "rules[0].conditions[2].values",
            "rules[0].serve.split.variants[0].weight",
            "rules[0].serve.split.coverage",
        ]
    );
}

#[test]
fn typed_values_become_json() {
    let pairs = [
        ("rules[0].serve.variant", "on"),
        ("rules[0].conditions[0].attribute", "age"),
        ("rules[0].conditions[0].op", "in"),
        ("rules[0].conditions[0].type", "number"),
        ("rules[0].conditions[0].values", "1\n2.5\n"),
        ("rules[0].conditions[1].attribute", "at"),
        ("rules[0].conditions[1].op", "after"),
        ("rules[0].conditions[1].values", "1700000000000"),
        ("rules[0].conditions[2].op", "segment"),
        ("rules[0].conditions[2].attribute", "ignored"),
        ("rules[0].conditions[2].values", "a"),
        ("rules[0].conditions[2].values", "b"),
        ("rules[0].serve.split.variants[0].weight", "50"),
    ];
    let (draft, _) = ConfigDraft::from_pairs(pairs);
    let v = draft.to_json().expect("valid");
    assert_eq!(
        v["rules"][0],
        json!({"conditions": [
            {"attribute": "age", "op": "in", "values": [1, 2.5]},
            {"attribute": "at", "op": "after", "values": [1_700_000_000_000_i64]},
            {"op": "segment", "values": ["a", "b"]}
        ], "serve": {"variant": "on"}})
    );
    as_rules(&v);
}

/// The single canary control of a two-variant split (issue 15, item 8).
#[test]
fn the_canary_control_sets_both_weights_only_when_it_changed() {
    let split = |canary: &str, was: &str, on: &str, off: &str| {
        let pairs = [
            ("rules[0].serve.kind", "split"),
            ("rules[0].serve.split.variants[0].variant", "off"),
            ("rules[0].serve.split.variants[0].weight", off),
            ("rules[0].serve.split.variants[1].variant", "on"),
            ("rules[0].serve.split.variants[1].weight", on),
            ("rules[0].serve.split.canary", canary),
            ("rules[0].serve.split.canaryWas", was),
        ];
        let (draft, _) = ConfigDraft::from_pairs(pairs);
        draft.rules[0].serve.split.variants.iter().map(|w| w.weight.clone()).collect::<Vec<_>>()
    };
    // 10 % → 50 % is one field: both weights follow.
    assert_eq!(split("50", "10", "10", "90"), ["50", "50"]);
    assert_eq!(split("12.5", "10", "10", "90"), ["87.5", "12.5"]);
    // Unchanged: the weights as typed win (an edit of the weights themselves).
    assert_eq!(split("10", "10", "30", "70"), ["70", "30"]);
    // Not a percentage: it reaches the second weight, whose check reports it there.
    assert_eq!(split("lots", "10", "10", "90"), ["90", "lots"]);
    let (draft, _) = ConfigDraft::from_pairs([
        ("rules[0].serve.kind", "split"),
        ("rules[0].serve.split.variants[0].variant", "off"),
        ("rules[0].serve.split.variants[0].weight", "90"),
        ("rules[0].serve.split.variants[1].variant", "on"),
        ("rules[0].serve.split.variants[1].weight", "10"),
        ("rules[0].serve.split.canary", "25"),
        ("rules[0].serve.split.canaryWas", "10"),
    ]);
    let v = draft.to_json().expect("valid");
    assert_eq!(
        v["rules"][0]["serve"]["split"]["variants"],
        json!([{"variant": "off", "weight": 7500}, {"variant": "on", "weight": 2500}])
    );
}

/// A new rule's rollout starts with the flag's variants in it: a canary at
/// 0 % for two variants (issue 15, item 8).
#[test]
fn a_new_rollout_starts_with_the_flags_variants() {
    let mut editor = common::editor();
    editor.draft.off_variant = "off".into();
    editor.draft.rules.push(flagyard_web::RuleDraft::default());
    let last = editor.rules().pop().expect("the new rule");
    let rows: Vec<(String, String)> = last.split_rows.iter().map(|r| (r.variant.clone(), r.weight.clone())).collect();
    assert_eq!(rows, [("off".to_owned(), "100".to_owned()), ("on".to_owned(), "0".to_owned())]);
    assert!(last.weights_ok, "{}", last.weights_summary);
    assert_eq!(last.canary, Some(("off".to_owned(), "on".to_owned(), "0".to_owned())));
    // Three variants share 100 % (the remainder to the first).
    editor.variants = vec!["a".into(), "b".into(), "c".into()];
    let last = editor.rules().pop().expect("the new rule");
    let weights: Vec<&str> = last.split_rows.iter().map(|r| r.weight.as_str()).collect();
    assert_eq!(weights, ["33.34", "33.33", "33.33"]);
    assert!(last.canary.is_none());
}

#[test]
fn segment_form_parses() {
    let pairs = [
        ("csrf", "t"),
        ("key", "beta"),
        ("included", "u1\nu2\n"),
        ("conditions[0].attribute", "plan"),
        ("conditions[0].op", "eq"),
        ("conditions[0].values", "pro"),
        ("action", "remove_condition:0"),
    ];
    let (mut d, action) = SegmentDraft::from_pairs(pairs);
    assert_eq!(d.included, ["u1", "u2"]);
    let v = d.to_json().expect("valid");
    assert_eq!(v["conditions"][0], json!({"attribute": "plan", "op": "eq", "values": ["pro"]}));
    let segment: flagyard_eval::Segment = serde_json::from_value(v).expect("engine model");
    assert_eq!(segment.included.len(), 2);
    assert!(d.apply(&action));
    assert!(d.conditions.is_empty());
    assert!(!d.apply("save"));
}
