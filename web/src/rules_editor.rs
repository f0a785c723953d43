//! The rules editor of one flag in one environment: a fragment (swapped by
//! htmx, and embedded in the flag page) built from a [`ConfigDraft`] and the
//! validation errors of the last save.

use askama::Template;
use askama_web::WebTemplate;

use crate::errors::{FieldError, field_id, message_for};
use crate::format;
use crate::operators::{InputKind, OPERATOR_GROUPS, OperatorGroup, operator};
use crate::rules_draft::{ConditionDraft, ConfigDraft, ValueType, WeightDraft};
use crate::rules_form::percent_to_bp;

/// The rules editor (fragment `rules_editor.html`). Posts to
/// `/flags/{flag_key}/environments/{environment}/rules`.
#[derive(Debug, Clone, Template, WebTemplate)]
#[template(path = "rules_editor.html")]
pub struct RulesEditor {
    /// CSRF token.
    pub csrf: String,
    /// The flag.
    pub flag_key: String,
    /// The environment.
    pub environment: String,
    /// Whether it is a production environment (saving asks to confirm).
    pub production: bool,
    /// The configuration as stored or as the user typed it.
    pub draft: ConfigDraft,
    /// Problems of the last save, by field path.
    pub errors: Vec<FieldError>,
    /// The flag's variant keys (for the pickers).
    pub variants: Vec<String>,
    /// Segment keys (for the segment picker).
    pub segments: Vec<String>,
    /// Other flags' keys (for prerequisites).
    pub flags: Vec<String>,
    /// Whether the user may edit (otherwise the form is read-only).
    pub can_edit: bool,
    /// A notice after a successful save, e.g. "Saved as revision 8".
    pub notice: Option<String>,
}

/// One condition, ready to render (names, ids, errors, choices).
#[derive(Debug, Clone)]
pub struct ConditionView {
    /// Field name prefix, e.g. `rules[0].conditions[1]`.
    pub prefix: String,
    /// Element id prefix, e.g. `f-rules-0-conditions-1`.
    pub id: String,
    /// The typed condition.
    pub draft: ConditionDraft,
    /// The value input to show.
    pub input: InputKind,
    /// Whether the attribute input is shown.
    pub needs_attribute: bool,
    /// Whether the value type picker is shown.
    pub typed: bool,
    /// The values as a textarea/input text (one per line).
    pub values_text: String,
    /// Segment choices (key, selected) for segment operators.
    pub segment_choices: Vec<(String, bool)>,
    /// Flag choices (key, selected) for the prerequisite operator.
    pub flag_choices: Vec<(String, bool)>,
    /// Remove-button action value.
    pub remove_action: String,
    /// Error on the condition as a whole.
    pub error: Option<String>,
    /// Error on `attribute`.
    pub attribute_error: Option<String>,
    /// Error on `op`.
    pub op_error: Option<String>,
    /// Error on `values`.
    pub values_error: Option<String>,
    /// Error on `flag`.
    pub flag_error: Option<String>,
}

impl ConditionView {
    /// Builds the view of `draft` named `prefix`.
    pub fn new(
        prefix: String,
        draft: &ConditionDraft,
        errors: &[FieldError],
        segments: &[String],
        flags: &[String],
    ) -> Self {
        let info = operator(&draft.op);
        let input = info.map_or(InputKind::Single, |o| o.input);
        let err = |suffix: &str| message_for(errors, &format!("{prefix}{suffix}"));
        ConditionView {
            id: field_id(&prefix),
            draft: draft.clone(),
            input,
            needs_attribute: info.is_none_or(|o| o.needs_attribute()),
            typed: info.is_none_or(|o| o.typed()),
            values_text: draft.values.join("\n"),
            segment_choices: segments.iter().map(|s| (s.clone(), draft.values.contains(s))).collect(),
            flag_choices: flags.iter().map(|f| (f.clone(), *f == draft.flag)).collect(),
            remove_action: String::new(),
            error: err(""),
            attribute_error: err(".attribute"),
            op_error: err(".op"),
            values_error: err(".values"),
            flag_error: err(".flag"),
            prefix,
        }
    }

    /// The operator picker's groups.
    pub fn op_groups(&self) -> &'static [OperatorGroup] {
        OPERATOR_GROUPS
    }

    /// Whether the values get a multi-line textarea.
    pub fn multiline(&self) -> bool {
        operator(&self.draft.op).is_some_and(|o| o.is_list()) || self.draft.values.len() > 1
    }

    /// The `type` picker's choices: (value, label, selected).
    pub fn type_choices(&self) -> [(&'static str, &'static str, bool); 3] {
        let t = self.draft.value_type;
        [
            ("string", "text", t == ValueType::String),
            ("number", "number", t == ValueType::Number),
            ("boolean", "true/false", t == ValueType::Boolean),
        ]
    }

    /// Placeholder hint for the value input.
    pub fn placeholder(&self) -> &'static str {
        match self.input {
            InputKind::List | InputKind::Strings => "one value per line",
            InputKind::Regex => "one regular expression per line, e.g. ^beta-",
            InputKind::Number => "e.g. 42",
            InputKind::Semver => "e.g. 2.1.0",
            InputKind::Date => "e.g. 2025-06-30T00:00:00Z or epoch ms",
            InputKind::Prerequisite => "variant keys, one per line",
            _ => "",
        }
    }

    /// Whether the value input is a number input.
    pub fn is_number(&self) -> bool {
        self.input == InputKind::Number
    }
}

/// A split row: one variant and its weight.
#[derive(Debug, Clone)]
pub struct SplitRowView {
    /// Field name prefix, e.g. `rules[0].serve.split.variants[1]`.
    pub prefix: String,
    /// Element id prefix.
    pub id: String,
    /// Variant key.
    pub variant: String,
    /// Weight as typed (percent).
    pub weight: String,
    /// What this variant gets of all traffic, e.g. "4.75% of traffic (475 bp)".
    pub share: String,
    /// Remove-button action value.
    pub remove_action: String,
    /// Errors on the row.
    pub error: Option<String>,
}

/// One rule, ready to render.
#[derive(Debug, Clone)]
pub struct RuleView {
    /// 0-based position.
    pub index: usize,
    /// Field name prefix, `rules[i]`.
    pub prefix: String,
    /// Element id prefix.
    pub id: String,
    /// The typed rule id.
    pub rule_id: String,
    /// Whether it is the first / last (to disable move buttons).
    pub first: bool,
    /// See `first`.
    pub last: bool,
    /// Conditions.
    pub conditions: Vec<ConditionView>,
    /// Whether it serves a split.
    pub is_split: bool,
    /// Variant served (not a split).
    pub variant: String,
    /// Split rows.
    pub split_rows: Vec<SplitRowView>,
    /// Coverage as typed (percent).
    pub coverage: String,
    /// Bucket-by attribute.
    pub bucket_by: String,
    /// Salt.
    pub salt: String,
    /// Summary of the weights: "weights add up to 100%" or the gap.
    pub weights_summary: String,
    /// Whether the weights add up to 100 %.
    pub weights_ok: bool,
    /// Errors on the rule, its id, and its serve part.
    pub error: Option<String>,
    /// Error on the id.
    pub id_error: Option<String>,
    /// Error on the served variant or split.
    pub serve_error: Option<String>,
    /// Error on the coverage.
    pub coverage_error: Option<String>,
    /// A two-variant split's single control: (first variant, second
    /// variant, the second's weight as typed). "Serve the second to N %"
    /// sets both weights (10 % → 50 % is one field, not two).
    pub canary: Option<(String, String, String)>,
}

/// The rows a new rollout starts with: every variant, the off variant
/// first; two variants start as a canary at 0 % (the off variant 100 %),
/// more share 100 % equally (the remainder to the first).
fn starting_rows(variants: &[String], off: &str) -> Vec<WeightDraft> {
    let mut keys: Vec<&String> = variants.iter().collect();
    keys.sort_by_key(|k| k.as_str() != off);
    let n = keys.len().max(1) as u32;
    let weights: Vec<u32> = match n {
        2 => vec![10_000, 0],
        _ => (0..n).map(|i| 10_000 / n + if i == 0 { 10_000 % n } else { 0 }).collect(),
    };
    keys.into_iter()
        .zip(weights)
        .map(|(k, bp)| WeightDraft { variant: k.clone(), weight: format::bp_input(bp) })
        .collect()
}

/// A prerequisite row.
#[derive(Debug, Clone)]
pub struct PrerequisiteView {
    /// Field name prefix, `prerequisites[i]`.
    pub prefix: String,
    /// Element id prefix.
    pub id: String,
    /// 0-based position.
    pub index: usize,
    /// Flag choices (key, selected).
    pub flag_choices: Vec<(String, bool)>,
    /// Variant keys as text, one per line.
    pub variants_text: String,
    /// Errors on the row.
    pub error: Option<String>,
}

impl RulesEditor {
    /// The form's action URL.
    pub fn action(&self) -> String {
        format!("/flags/{}/environments/{}/rules", self.flag_key, self.environment)
    }

    /// Where error `e` is, in the editor's words ("Rule 3, condition 1, values").
    pub fn error_label(&self, e: &FieldError) -> String {
        let names: Vec<String> = self.draft.rules.iter().map(|r| r.id.clone()).collect();
        e.label(&names)
    }

    /// Error on a top-level field (`offVariant`, `defaultVariant`, `prerequisites`, `rules`).
    pub fn error(&self, path: &str) -> Option<String> {
        message_for(&self.errors, path)
    }

    /// Variant choices (key, selected) for `current`.
    pub fn variant_choices(&self, current: &str) -> Vec<(String, bool)> {
        self.variants.iter().map(|v| (v.clone(), v == current)).collect()
    }

    /// The prerequisites, ready to render.
    pub fn prerequisites(&self) -> Vec<PrerequisiteView> {
        let errs = |p: &str| {
            let found: Vec<&str> =
                self.errors.iter().filter(|e| e.path.starts_with(p)).map(|e| e.message.as_str()).collect();
            if found.is_empty() { None } else { Some(found.join("; ")) }
        };
        self.draft
            .prerequisites
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let prefix = format!("prerequisites[{i}]");
                PrerequisiteView {
                    id: field_id(&prefix),
                    index: i,
                    flag_choices: self.flags.iter().map(|f| (f.clone(), *f == p.flag)).collect(),
                    variants_text: p.variants.join("\n"),
                    error: errs(&prefix),
                    prefix,
                }
            })
            .collect()
    }

    /// The rules, ready to render.
    pub fn rules(&self) -> Vec<RuleView> {
        let n = self.draft.rules.len();
        self.draft
            .rules
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let prefix = format!("rules[{i}]");
                let err = |suffix: &str| message_for(&self.errors, &format!("{prefix}{suffix}"));
                let conditions = r
                    .conditions
                    .iter()
                    .enumerate()
                    .map(|(j, c)| {
                        let mut v = ConditionView::new(
                            format!("{prefix}.conditions[{j}]"),
                            c,
                            &self.errors,
                            &self.segments,
                            &self.flags,
                        );
                        v.remove_action = format!("remove_condition:{i}:{j}");
                        v
                    })
                    .collect();
                let coverage_bp = if r.serve.split.coverage.is_empty() {
                    Some(10_000)
                } else {
                    percent_to_bp(&r.serve.split.coverage)
                };
                let mut total: u32 = 0;
                let mut all_parsed = true;
                // A rollout starts with the flag's variants in it.
                let filled;
                let rows: &[WeightDraft] = if r.serve.split.variants.is_empty() && !self.variants.is_empty() {
                    filled = starting_rows(&self.variants, &self.draft.off_variant);
                    &filled
                } else {
                    &r.serve.split.variants
                };
                let split_rows = rows
                    .iter()
                    .enumerate()
                    .map(|(k, w)| {
                        let wprefix = format!("{prefix}.serve.split.variants[{k}]");
                        let bp = percent_to_bp(&w.weight);
                        total += bp.unwrap_or(0);
                        all_parsed &= bp.is_some();
                        let share = match (bp, coverage_bp) {
                            (Some(bp), Some(cov)) => {
                                let eff = (u64::from(bp) * u64::from(cov) / 10_000) as u32;
                                format!("{} of traffic ({eff} bp)", format::bp(eff))
                            }
                            _ => "—".to_owned(),
                        };
                        let row_err = [
                            message_for(&self.errors, &wprefix),
                            err(&format!(".serve.split.variants[{k}].weight")),
                            err(&format!(".serve.split.variants[{k}].variant")),
                        ]
                        .into_iter()
                        .flatten()
                        .collect::<Vec<_>>();
                        SplitRowView {
                            id: field_id(&wprefix),
                            variant: w.variant.clone(),
                            weight: w.weight.clone(),
                            share,
                            remove_action: format!("remove_split_variant:{i}:{k}"),
                            error: if row_err.is_empty() { None } else { Some(row_err.join("; ")) },
                            prefix: wprefix,
                        }
                    })
                    .collect();
                let weights_ok = all_parsed && total == 10_000;
                let weights_summary = if weights_ok {
                    "Weights add up to 100%.".to_owned()
                } else if total < 10_000 {
                    format!("Weights add up to {}: {} left to assign.", format::bp(total), format::bp(10_000 - total))
                } else {
                    format!("Weights add up to {}: {} too much.", format::bp(total), format::bp(total - 10_000))
                };
                let serve_errs: Vec<String> =
                    [err(".serve"), err(".serve.variant"), err(".serve.split"), err(".serve.split.variants")]
                        .into_iter()
                        .flatten()
                        .collect();
                RuleView {
                    index: i,
                    id: field_id(&prefix),
                    rule_id: r.id.clone(),
                    first: i == 0,
                    last: i + 1 == n,
                    conditions,
                    is_split: r.serve.is_split,
                    variant: r.serve.variant.clone(),
                    split_rows,
                    coverage: r.serve.split.coverage.clone(),
                    bucket_by: r.serve.split.bucket_by.clone(),
                    salt: r.serve.split.salt.clone(),
                    weights_summary,
                    weights_ok,
                    error: err(""),
                    id_error: err(".id"),
                    serve_error: if serve_errs.is_empty() { None } else { Some(serve_errs.join("; ")) },
                    coverage_error: err(".serve.split.coverage"),
                    canary: match rows {
                        [a, b] => Some((a.variant.clone(), b.variant.clone(), b.weight.clone())),
                        _ => None,
                    },
                    prefix,
                }
            })
            .collect()
    }
}
