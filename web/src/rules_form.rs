//! The rules editor's form: what it posts, parsed back into drafts that keep
//! the user's input as typed, editor actions (add, remove, reorder), and the
//! conversion from and to the rules JSON of `docs/rules.md`.
//!
//! Field names mirror the engine's JSON paths, so validation errors reported
//! by path land next to their field. The full list is in the crate README.

use serde_json::{Map, Value, json};

use crate::errors::FieldError;
use crate::form_tree::Node;
use crate::format;
use crate::operators::{InputKind, operator};
use crate::rules_draft::{
    ConditionDraft, ConfigDraft, PrerequisiteDraft, RuleDraft, ServeDraft, SplitDraft, ValueType, WeightDraft,
};

/// What the submit button asked for (field `action`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditorAction {
    /// Validate and save (also when `action` is missing).
    Save,
    /// Re-render only (e.g. after picking another operator).
    Refresh,
    /// Append an empty rule.
    AddRule,
    /// Remove rule i.
    RemoveRule(usize),
    /// Swap rule i with i − 1.
    MoveRuleUp(usize),
    /// Swap rule i with i + 1.
    MoveRuleDown(usize),
    /// Append a condition to rule i.
    AddCondition(usize),
    /// Remove condition j of rule i.
    RemoveCondition(usize, usize),
    /// Append a variant to rule i's split.
    AddSplitVariant(usize),
    /// Remove variant k of rule i's split.
    RemoveSplitVariant(usize, usize),
    /// Append a prerequisite.
    AddPrerequisite,
    /// Remove prerequisite i.
    RemovePrerequisite(usize),
}

impl EditorAction {
    /// Parses the `action` value: `save`, `refresh`, `add_rule`,
    /// `remove_rule:I`, `move_rule_up:I`, `move_rule_down:I`,
    /// `add_condition:I`, `remove_condition:I:J`, `add_split_variant:I`,
    /// `remove_split_variant:I:K`, `add_prerequisite`, `remove_prerequisite:I`.
    /// Anything else is [`EditorAction::Refresh`] (never saves by accident).
    pub fn parse(s: &str) -> EditorAction {
        let mut parts = s.split(':');
        let name = parts.next().unwrap_or_default();
        let a: Option<usize> = parts.next().and_then(|p| p.parse().ok());
        let b: Option<usize> = parts.next().and_then(|p| p.parse().ok());
        match (name, a, b) {
            ("save" | "", None, None) => EditorAction::Save,
            ("add_rule", None, None) => EditorAction::AddRule,
            ("remove_rule", Some(i), None) => EditorAction::RemoveRule(i),
            ("move_rule_up", Some(i), None) => EditorAction::MoveRuleUp(i),
            ("move_rule_down", Some(i), None) => EditorAction::MoveRuleDown(i),
            ("add_condition", Some(i), None) => EditorAction::AddCondition(i),
            ("remove_condition", Some(i), Some(j)) => EditorAction::RemoveCondition(i, j),
            ("add_split_variant", Some(i), None) => EditorAction::AddSplitVariant(i),
            ("remove_split_variant", Some(i), Some(k)) => EditorAction::RemoveSplitVariant(i, k),
            ("add_prerequisite", None, None) => EditorAction::AddPrerequisite,
            ("remove_prerequisite", Some(i), None) => EditorAction::RemovePrerequisite(i),
            _ => EditorAction::Refresh,
        }
    }
}

impl ConditionDraft {
    fn from_node(node: &Node) -> ConditionDraft {
        ConditionDraft {
            attribute: node.text("attribute").trim().to_owned(),
            op: node.text("op"),
            values: node.lines("values"),
            value_type: ValueType::parse(&node.text("type")),
            flag: node.text("flag").trim().to_owned(),
        }
    }

    /// Parses `conditions[j].*` fields of a segment form (or any form whose
    /// conditions sit at the top level).
    pub fn list_from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<ConditionDraft> {
        let tree = Node::from_pairs(pairs);
        tree.items("conditions").into_iter().map(ConditionDraft::from_node).collect()
    }

    /// The condition as rules JSON; problems are reported under `path`.
    pub fn to_json(&self, path: &str, errors: &mut Vec<FieldError>) -> Value {
        let mut obj = Map::new();
        let Some(info) = operator(&self.op) else {
            errors.push(FieldError::new(format!("{path}.op"), "choose an operator"));
            return Value::Object(obj);
        };
        if info.needs_attribute() {
            if self.attribute.is_empty() {
                errors.push(FieldError::new(format!("{path}.attribute"), "enter an attribute name"));
            }
            obj.insert("attribute".into(), json!(self.attribute));
        }
        obj.insert("op".into(), json!(info.name));
        if info.input == InputKind::Prerequisite {
            obj.insert("flag".into(), json!(self.flag));
        }
        let vpath = format!("{path}.values");
        let values: Vec<Value> = match info.input {
            InputKind::Nothing => Vec::new(),
            InputKind::Single | InputKind::List => match self.value_type {
                ValueType::String => self.values.iter().map(|v| json!(v)).collect(),
                ValueType::Number => self.values.iter().filter_map(|v| number(v, &vpath, errors)).collect(),
                ValueType::Boolean => self.values.iter().filter_map(|v| boolean(v, &vpath, errors)).collect(),
            },
            InputKind::Number => self.values.iter().filter_map(|v| number(v, &vpath, errors)).collect(),
            InputKind::Date => {
                self.values.iter().map(|v| v.parse::<i64>().map_or_else(|_| json!(v), |ms| json!(ms))).collect()
            }
            InputKind::Strings
            | InputKind::Regex
            | InputKind::Semver
            | InputKind::Segments
            | InputKind::Prerequisite => self.values.iter().map(|v| json!(v)).collect(),
        };
        if !values.is_empty() {
            obj.insert("values".into(), Value::Array(values));
        }
        Value::Object(obj)
    }

    /// The draft of a rules-JSON condition.
    pub fn from_json(c: &Value) -> ConditionDraft {
        let values: Vec<&Value> =
            c.get("values").and_then(Value::as_array).map(|a| a.iter().collect()).unwrap_or_default();
        let op = str_of(c, "op");
        // Only typed operators post a `type`; keep the others at the default.
        let value_type = match values.first() {
            _ if !operator(&op).is_some_and(|o| o.typed()) => ValueType::String,
            Some(Value::Number(_)) => ValueType::Number,
            Some(Value::Bool(_)) => ValueType::Boolean,
            _ => ValueType::String,
        };
        ConditionDraft {
            attribute: str_of(c, "attribute"),
            op,
            values: values.into_iter().map(text_of).collect(),
            value_type,
            flag: str_of(c, "flag"),
        }
    }
}

fn number(v: &str, path: &str, errors: &mut Vec<FieldError>) -> Option<Value> {
    if let Ok(i) = v.parse::<i64>() {
        return Some(json!(i));
    }
    match v.parse::<f64>() {
        Ok(f) if f.is_finite() => Some(json!(f)),
        _ => {
            errors.push(FieldError::new(path, format!("`{v}` is not a number")));
            None
        }
    }
}

fn boolean(v: &str, path: &str, errors: &mut Vec<FieldError>) -> Option<Value> {
    match v {
        "true" => Some(json!(true)),
        "false" => Some(json!(false)),
        _ => {
            errors.push(FieldError::new(path, format!("`{v}` is not true or false")));
            None
        }
    }
}

/// The single canary control of a two-variant split: when it was changed
/// (it differs from the value the page showed, `was`), it sets the second
/// variant's weight and gives the first the rest. A value that is not a
/// percentage goes to the second weight as typed, so the weight's own check
/// reports it next to the field.
fn apply_canary(split: &mut SplitDraft, canary: &str, was: &str) {
    if split.variants.len() != 2 || canary.is_empty() || canary == was {
        return;
    }
    match percent_to_bp(canary) {
        Some(bp) => {
            split.variants[1].weight = format::bp_input(bp);
            split.variants[0].weight = format::bp_input(10_000 - bp);
        }
        None => split.variants[1].weight = canary.to_owned(),
    }
}

/// Percent text with up to two decimals into basis points.
pub(crate) fn percent_to_bp(s: &str) -> Option<u32> {
    let s = s.trim().trim_end_matches('%').trim();
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty() && frac.is_empty() || frac.len() > 2 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: u32 = if whole.is_empty() { 0 } else { whole.parse().ok()? };
    let frac: u32 = if frac.is_empty() { 0 } else { frac.parse::<u32>().ok()? * if frac.len() == 1 { 10 } else { 1 } };
    let bp = whole.checked_mul(100)?.checked_add(frac)?;
    (bp <= 10_000).then_some(bp)
}

fn str_of(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or_default().to_owned()
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl ConfigDraft {
    /// Parses the editor's fields (name, value pairs as decoded from an
    /// `application/x-www-form-urlencoded` body) and the `action` field.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> (ConfigDraft, EditorAction) {
        let tree = Node::from_pairs(pairs);
        let rules = tree
            .items("rules")
            .into_iter()
            .map(|r| {
                let serve = r.get("serve");
                let split = serve.and_then(|s| s.get("split"));
                let mut rule = RuleDraft {
                    id: r.text("id").trim().to_owned(),
                    conditions: r.items("conditions").into_iter().map(ConditionDraft::from_node).collect(),
                    serve: ServeDraft {
                        is_split: serve.is_some_and(|s| s.text("kind") == "split"),
                        variant: serve.map(|s| s.text("variant")).unwrap_or_default(),
                        split: SplitDraft {
                            variants: split
                                .map(|s| s.items("variants"))
                                .unwrap_or_default()
                                .into_iter()
                                .map(|w| WeightDraft {
                                    variant: w.text("variant"),
                                    weight: w.text("weight").trim().to_owned(),
                                })
                                .collect::<Vec<_>>(),
                            coverage: split.map(|s| s.text("coverage").trim().to_owned()).unwrap_or_default(),
                            bucket_by: split.map(|s| s.text("bucketBy").trim().to_owned()).unwrap_or_default(),
                            salt: split.map(|s| s.text("salt").trim().to_owned()).unwrap_or_default(),
                        },
                    },
                };
                if let Some(split) = split {
                    apply_canary(&mut rule.serve.split, split.text("canary").trim(), split.text("canaryWas").trim());
                }
                rule
            })
            .collect();
        let prerequisites = tree
            .items("prerequisites")
            .into_iter()
            .map(|p| PrerequisiteDraft { flag: p.text("flag").trim().to_owned(), variants: p.lines("variants") })
            .collect();
        let draft = ConfigDraft {
            base_revision: tree.text("baseRevision").trim().to_owned(),
            off_variant: tree.text("offVariant"),
            default_variant: tree.text("defaultVariant"),
            prerequisites,
            rules,
            schedule_at: tree.text("scheduleAt").trim().to_owned(),
            confirmed: tree.text("confirm") == "yes",
        };
        (draft, EditorAction::parse(&tree.text("action")))
    }

    /// Applies a structural action; returns whether the draft changed.
    /// Out-of-range indices change nothing.
    pub fn apply(&mut self, action: EditorAction) -> bool {
        let n = self.rules.len();
        match action {
            EditorAction::Save | EditorAction::Refresh => return false,
            EditorAction::AddRule => self.rules.push(RuleDraft::default()),
            EditorAction::RemoveRule(i) if i < n => {
                self.rules.remove(i);
            }
            EditorAction::MoveRuleUp(i) if i > 0 && i < n => self.rules.swap(i - 1, i),
            EditorAction::MoveRuleDown(i) if i + 1 < n => self.rules.swap(i, i + 1),
            EditorAction::AddCondition(i) if i < n => {
                self.rules[i].conditions.push(ConditionDraft { op: "eq".into(), ..ConditionDraft::default() });
            }
            EditorAction::RemoveCondition(i, j) if i < n && j < self.rules[i].conditions.len() => {
                self.rules[i].conditions.remove(j);
            }
            EditorAction::AddSplitVariant(i) if i < n => {
                self.rules[i].serve.is_split = true;
                self.rules[i].serve.split.variants.push(WeightDraft::default());
            }
            EditorAction::RemoveSplitVariant(i, k) if i < n && k < self.rules[i].serve.split.variants.len() => {
                self.rules[i].serve.split.variants.remove(k);
            }
            EditorAction::AddPrerequisite => self.prerequisites.push(PrerequisiteDraft::default()),
            EditorAction::RemovePrerequisite(i) if i < self.prerequisites.len() => {
                self.prerequisites.remove(i);
            }
            _ => return false,
        }
        true
    }

    /// The configuration fields as rules JSON (`offVariant`, `defaultVariant`,
    /// `prerequisites`, `rules`, and `baseRevision` when set), or every form
    /// level problem. Semantic checks (weights adding up to 10000, known
    /// variants, valid regexes...) are the engine's: send its errors back
    /// through [`crate::RulesEditor`], their paths match the field names.
    pub fn to_json(&self) -> Result<Value, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut rules = Vec::with_capacity(self.rules.len());
        for (i, r) in self.rules.iter().enumerate() {
            let path = format!("rules[{i}]");
            let mut rule = Map::new();
            if !r.id.is_empty() {
                rule.insert("id".into(), json!(r.id));
            }
            let conditions: Vec<Value> = r
                .conditions
                .iter()
                .enumerate()
                .map(|(j, c)| c.to_json(&format!("{path}.conditions[{j}]"), &mut errors))
                .collect();
            rule.insert("conditions".into(), Value::Array(conditions));
            let serve = if r.serve.is_split {
                let s = &r.serve.split;
                let mut split = Map::new();
                let variants: Vec<Value> = s
                    .variants
                    .iter()
                    .enumerate()
                    .map(|(k, w)| {
                        let wpath = format!("{path}.serve.split.variants[{k}].weight");
                        let weight = percent_to_bp(&w.weight).unwrap_or_else(|| {
                            errors
                                .push(FieldError::new(wpath, "enter a percentage from 0 to 100, at most two decimals"));
                            0
                        });
                        json!({"variant": w.variant, "weight": weight})
                    })
                    .collect();
                split.insert("variants".into(), Value::Array(variants));
                let coverage = if s.coverage.is_empty() { Some(10_000) } else { percent_to_bp(&s.coverage) };
                match coverage {
                    Some(c) => split.insert("coverage".into(), json!(c)),
                    None => {
                        errors.push(FieldError::new(
                            format!("{path}.serve.split.coverage"),
                            "enter a percentage from 0 to 100, at most two decimals",
                        ));
                        None
                    }
                };
                if !s.bucket_by.is_empty() {
                    split.insert("bucketBy".into(), json!(s.bucket_by));
                }
                if !s.salt.is_empty() {
                    split.insert("salt".into(), json!(s.salt));
                }
                json!({ "split": split })
            } else {
                json!({ "variant": r.serve.variant })
            };
            rule.insert("serve".into(), serve);
            rules.push(Value::Object(rule));
        }
        let prerequisites: Vec<Value> =
            self.prerequisites.iter().map(|p| json!({"flag": p.flag, "variants": p.variants})).collect();
        let mut out = json!({
            "offVariant": self.off_variant,
            "defaultVariant": self.default_variant,
            "prerequisites": prerequisites,
            "rules": rules,
        });
        if let (Ok(rev), Some(obj)) = (self.base_revision.parse::<u64>(), out.as_object_mut()) {
            obj.insert("baseRevision".into(), json!(rev));
        }
        if errors.is_empty() { Ok(out) } else { Err(errors) }
    }

    /// The draft of a configuration in rules JSON (a `FlagConfig`), with the
    /// revision it is at.
    pub fn from_json(config: &Value, revision: u64) -> ConfigDraft {
        let rules = config
            .get("rules")
            .and_then(Value::as_array)
            .map(|rules| rules.iter().map(rule_from_json).collect())
            .unwrap_or_default();
        let prerequisites = config
            .get("prerequisites")
            .and_then(Value::as_array)
            .map(|ps| {
                ps.iter()
                    .map(|p| PrerequisiteDraft {
                        flag: str_of(p, "flag"),
                        variants: p
                            .get("variants")
                            .and_then(Value::as_array)
                            .map(|vs| vs.iter().map(text_of).collect())
                            .unwrap_or_default(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        ConfigDraft {
            base_revision: revision.to_string(),
            off_variant: str_of(config, "offVariant"),
            default_variant: str_of(config, "defaultVariant"),
            prerequisites,
            rules,
            schedule_at: String::new(),
            confirmed: false,
        }
    }
}

fn rule_from_json(r: &Value) -> RuleDraft {
    let serve = r.get("serve");
    let split = serve.and_then(|s| s.get("split"));
    let bp_text = |v: Option<&Value>| v.and_then(Value::as_u64).map(|b| crate::format::bp_input(b.min(10_000) as u32));
    RuleDraft {
        id: str_of(r, "id"),
        conditions: r
            .get("conditions")
            .and_then(Value::as_array)
            .map(|cs| cs.iter().map(ConditionDraft::from_json).collect())
            .unwrap_or_default(),
        serve: ServeDraft {
            is_split: split.is_some(),
            variant: serve.map(|s| str_of(s, "variant")).unwrap_or_default(),
            split: SplitDraft {
                variants: split
                    .and_then(|s| s.get("variants"))
                    .and_then(Value::as_array)
                    .map(|ws| {
                        ws.iter()
                            .map(|w| WeightDraft {
                                variant: str_of(w, "variant"),
                                weight: bp_text(w.get("weight")).unwrap_or_default(),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                coverage: split.map(|s| bp_text(s.get("coverage")).unwrap_or_else(|| "100".into())).unwrap_or_default(),
                bucket_by: split.map(|s| str_of(s, "bucketBy")).unwrap_or_default(),
                salt: split.map(|s| str_of(s, "salt")).unwrap_or_default(),
            },
        },
    }
}
