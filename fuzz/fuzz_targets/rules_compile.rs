//! Snapshot JSON → `flagyard_eval::parse_snapshot` (serde, the wire model) →
//! `Ruleset::compile`; when it compiles, every flag is evaluated against
//! contexts built from the snapshot's own conditions. Nothing may panic, a
//! refused snapshot names its problems, and every existing flag yields a value.

#![no_main]

use flagyard_eval::{Condition, Context, Ruleset, Snapshot, Value, parse_snapshot};
use libfuzzer_sys::fuzz_target;
use serde_json::Value as Json;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // `Ruleset::from_json` in its two steps, to keep the snapshot for the contexts.
    let Ok(snapshot) = parse_snapshot(text) else { return };
    let rules = match Ruleset::compile(&snapshot) {
        Ok(rules) => rules,
        Err(errors) => {
            assert!(!errors.errors().is_empty(), "a refused snapshot lists its problems");
            for e in errors.errors() {
                assert!(!e.path.is_empty(), "a compile error without a path: {e}");
            }
            let _ = errors.to_string();
            return;
        }
    };
    let contexts = contexts(&snapshot);
    let keys: Vec<&str> = rules.flag_keys().collect();
    for ctx in &contexts {
        for &key in keys.iter().chain(["", "no-such-flag"].iter()) {
            let d = rules.evaluate(key, ctx);
            assert_eq!(d.value().is_none(), rules.flag_type(key).is_none(), "flag `{key}`: {d}");
            let _ = d.to_string();
            let _ = (d.bucket(), d.served_by_split(), d.is_error());
        }
    }
});

/// Every condition of the snapshot (flags' rules and segments).
fn conditions(s: &Snapshot) -> impl Iterator<Item = &Condition> {
    let in_flags =
        s.flags.values().flat_map(|f| f.environments.values()).flat_map(|c| &c.rules).flat_map(|r| &r.conditions);
    in_flags.chain(s.segments.values().flat_map(|seg| &seg.conditions))
}

fn value_of(v: &Json) -> Option<Value<'static>> {
    Some(match v {
        Json::String(s) => Value::from(s.clone()),
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Float(n.as_f64()?),
        },
        _ => return None,
    })
}

/// Contexts that hit the snapshot's own conditions and splits: anonymous; a
/// targeting key from a segment's `included` with every condition's first
/// operand; the last operands as other types (lists, date-times, text of numbers).
fn contexts(s: &Snapshot) -> Vec<Context<'static>> {
    let key =
        s.segments.values().flat_map(|seg| seg.included.first()).next().cloned().unwrap_or_else(|| "user-1".into());
    let mut first = Context::new(key.clone());
    let mut last = Context::new(format!("{key}-2"));
    let mut other = Context::anonymous();
    for c in conditions(s) {
        let Some(attr) = c.attribute.as_deref() else { continue };
        if let Some(v) = c.values.first().and_then(value_of) {
            first.set(attr.to_owned(), v);
        }
        if let Some(v) = c.values.last().and_then(value_of) {
            last.set(attr.to_owned(), v);
        }
        let texts: Vec<String> =
            c.values.iter().map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned)).collect();
        match c.values.first() {
            Some(Json::Number(n)) => other.set(attr.to_owned(), Value::DateTime(n.as_i64().unwrap_or(i64::MIN))),
            _ => other.set(attr.to_owned(), Value::from(texts)),
        }
    }
    // Split units from other attributes: bucket by whatever the splits name.
    for f in s.flags.values() {
        for r in f.environments.values().flat_map(|c| &c.rules) {
            if let flagyard_eval::Serve::Split(split) = &r.serve
                && let Some(by) = split.bucket_by.as_deref()
            {
                first.set(by.to_owned(), Value::Int(-1));
                last.set(by.to_owned(), Value::Float(4.5e15));
            }
        }
    }
    vec![Context::anonymous(), first, last, other]
}
