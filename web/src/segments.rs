//! Segments: the list and the edit page (which reuses the condition editor).

use askama::Template;
use askama_web::WebTemplate;
use serde_json::{Value, json};

use crate::errors::{FieldError, message_for};
use crate::form_tree::Node;
use crate::layout::Layout;
use crate::operators::InputKind;
use crate::rules_draft::ConditionDraft;
use crate::rules_editor::ConditionView;

/// A segment in the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentRow {
    /// Key.
    pub key: String,
    /// Description.
    pub description: String,
    /// Number of conditions.
    pub conditions: usize,
    /// Number of included keys.
    pub included: usize,
    /// Number of excluded keys.
    pub excluded: usize,
    /// Flags that use it.
    pub used_by: Vec<String>,
}

/// The segments list (`GET /segments`).
#[derive(Debug, Clone, Template, WebTemplate)]
#[template(path = "segments.html")]
pub struct SegmentsPage {
    /// The frame.
    pub layout: Layout,
    /// Segments.
    pub segments: Vec<SegmentRow>,
}

/// A segment as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SegmentDraft {
    /// `baseRevision` (empty = none).
    pub base_revision: String,
    /// Key (only posted when creating).
    pub key: String,
    /// Description.
    pub description: String,
    /// Included targeting keys.
    pub included: Vec<String>,
    /// Excluded targeting keys.
    pub excluded: Vec<String>,
    /// Conditions.
    pub conditions: Vec<ConditionDraft>,
}

impl SegmentDraft {
    /// Parses the edit form's fields and its `action` (`save` or missing,
    /// `refresh`, `add_condition`, `remove_condition:J`).
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> (SegmentDraft, String) {
        let pairs: Vec<(&str, &str)> = pairs.into_iter().collect();
        let tree = Node::from_pairs(pairs.iter().copied());
        let draft = SegmentDraft {
            base_revision: tree.text("baseRevision").trim().to_owned(),
            key: tree.text("key").trim().to_owned(),
            description: tree.text("description"),
            included: tree.lines("included"),
            excluded: tree.lines("excluded"),
            conditions: ConditionDraft::list_from_pairs(pairs),
        };
        (draft, tree.text("action"))
    }

    /// Applies `add_condition` or `remove_condition:J`; returns whether it
    /// was such an action (then re-render instead of saving).
    pub fn apply(&mut self, action: &str) -> bool {
        if action == "add_condition" {
            self.conditions.push(ConditionDraft { op: "eq".into(), ..ConditionDraft::default() });
            return true;
        }
        if let Some(j) = action.strip_prefix("remove_condition:").and_then(|j| j.parse::<usize>().ok()) {
            if j < self.conditions.len() {
                self.conditions.remove(j);
            }
            return true;
        }
        action == "refresh"
    }

    /// The segment as rules JSON (`{description, included, excluded,
    /// conditions}` plus `key` and `baseRevision` when set), or the form's problems.
    pub fn to_json(&self) -> Result<Value, Vec<FieldError>> {
        let mut errors = Vec::new();
        let conditions: Vec<Value> = self
            .conditions
            .iter()
            .enumerate()
            .map(|(j, c)| c.to_json(&format!("conditions[{j}]"), &mut errors))
            .collect();
        let mut out = json!({
            "description": self.description,
            "included": self.included,
            "excluded": self.excluded,
            "conditions": conditions,
        });
        if let Some(obj) = out.as_object_mut() {
            if !self.key.is_empty() {
                obj.insert("key".into(), json!(self.key));
            }
            if let Ok(rev) = self.base_revision.parse::<u64>() {
                obj.insert("baseRevision".into(), json!(rev));
            }
        }
        if errors.is_empty() { Ok(out) } else { Err(errors) }
    }
}

/// The segment edit page (`GET /segments/new`, `GET /segments/{key}`).
/// Posts to `/segments` (new) or `/segments/{key}`.
#[derive(Debug, Clone, Template, WebTemplate)]
#[template(path = "segment.html")]
pub struct SegmentPage {
    /// The frame.
    pub layout: Layout,
    /// Whether creating (the key is editable).
    pub is_new: bool,
    /// The segment as stored or typed.
    pub draft: SegmentDraft,
    /// Other segments (for nested segment conditions).
    pub segments: Vec<String>,
    /// Problems by field path.
    pub errors: Vec<FieldError>,
}

impl SegmentPage {
    /// Form action.
    pub fn action(&self) -> String {
        if self.is_new { "/segments".to_owned() } else { format!("/segments/{}", self.draft.key) }
    }

    /// Error for field `name`.
    pub fn error(&self, name: &str) -> Option<String> {
        message_for(&self.errors, name)
    }

    /// The conditions, ready to render.
    pub fn conditions(&self) -> Vec<ConditionView> {
        self.draft
            .conditions
            .iter()
            .enumerate()
            .map(|(j, c)| {
                let mut v = ConditionView::new(format!("conditions[{j}]"), c, &self.errors, &self.segments, &[]);
                v.remove_action = format!("remove_condition:{j}");
                v
            })
            .collect()
    }
}
