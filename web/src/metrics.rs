//! Metrics: the list and the create/edit page. A metric reads one track
//! event; experiments pick their primary, secondary and guardrail metrics
//! from these.

use askama::Template;
use askama_web::WebTemplate;

use crate::errors::{FieldError, message_for};
use crate::form_tree::Node;
use crate::layout::Layout;

/// The metric kinds, with what each measures per unit.
pub const METRIC_KINDS: [(&str, &str); 4] = [
    ("conversion", "Conversion: whether the unit sent the event at least once"),
    ("count", "Count: how many times the unit sent the event"),
    ("sum", "Sum: the total of the event's values per unit"),
    ("mean", "Mean: the average of the event's values per unit"),
];

/// A metric in the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricRow {
    /// Key.
    pub key: String,
    /// Name.
    pub name: String,
    /// The track event it reads.
    pub event: String,
    /// `conversion`, `count`, `sum` or `mean`.
    pub kind: String,
    /// `increase` or `decrease`.
    pub good_direction: String,
    /// Offered as a guardrail by default.
    pub guardrail: bool,
    /// Experiments that use it.
    pub used_by: Vec<String>,
}

/// The metrics list (`GET /metrics`).
#[derive(Debug, Clone, Template, WebTemplate)]
#[template(path = "metrics.html")]
pub struct MetricsPage {
    /// The frame.
    pub layout: Layout,
    /// Metrics.
    pub metrics: Vec<MetricRow>,
}

/// A metric as typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricForm {
    /// `baseRevision` (empty when creating).
    pub base_revision: String,
    /// Key (only posted when creating).
    pub key: String,
    /// Name (empty: the key).
    pub name: String,
    /// Description.
    pub description: String,
    /// The track event key.
    pub event: String,
    /// Kind.
    pub kind: String,
    /// `goodDirection`.
    pub good_direction: String,
    /// The guardrail box.
    pub guardrail: bool,
}

impl Default for MetricForm {
    fn default() -> MetricForm {
        MetricForm {
            base_revision: String::new(),
            key: String::new(),
            name: String::new(),
            description: String::new(),
            event: String::new(),
            kind: "conversion".into(),
            good_direction: "increase".into(),
            guardrail: false,
        }
    }
}

impl MetricForm {
    /// Parses the posted (name, value) pairs.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> MetricForm {
        let t = Node::from_pairs(pairs);
        MetricForm {
            base_revision: t.text("baseRevision").trim().to_owned(),
            key: t.text("key").trim().to_owned(),
            name: t.text("name").trim().to_owned(),
            description: t.text("description").trim().to_owned(),
            event: t.text("event").trim().to_owned(),
            kind: t.text("kind"),
            good_direction: t.text("goodDirection"),
            guardrail: t.text("guardrail") == "on",
        }
    }

    /// The API's JSON input for this form (`MetricInput`).
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::json!({
            "description": self.description,
            "event": self.event,
            "kind": self.kind,
            "guardrail": self.guardrail,
        });
        if !self.good_direction.is_empty() {
            v["goodDirection"] = self.good_direction.clone().into();
        }
        if !self.key.is_empty() {
            v["key"] = self.key.clone().into();
        }
        if !self.name.is_empty() {
            v["name"] = self.name.clone().into();
        }
        if let Ok(revision) = self.base_revision.parse::<i64>() {
            v["baseRevision"] = revision.into();
        }
        v
    }
}

/// The create or edit page (`GET /metrics/new`, `GET /metrics/{key}`).
#[derive(Debug, Clone, Template, WebTemplate)]
#[template(path = "metric.html")]
pub struct MetricPage {
    /// The frame.
    pub layout: Layout,
    /// Creating (no key yet) or editing.
    pub is_new: bool,
    /// The form as typed (or as stored).
    pub form: MetricForm,
    /// Problems by field name.
    pub errors: Vec<FieldError>,
    /// Experiments that use it (editing only).
    pub used_by: Vec<String>,
}

impl MetricPage {
    /// Error for field `name`.
    pub fn error(&self, name: &str) -> Option<String> {
        message_for(&self.errors, name)
    }

    /// Kind choices (value, description, selected).
    pub fn kinds(&self) -> Vec<(&'static str, &'static str, bool)> {
        METRIC_KINDS.iter().map(|(k, d)| (*k, *d, *k == self.form.kind)).collect()
    }

    /// Whether `direction` is the chosen good direction.
    pub fn direction_is(&self, direction: &str) -> bool {
        self.form.good_direction == direction || (self.form.good_direction.is_empty() && direction == "increase")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_reads_back_as_the_apis_input() {
        let form = MetricForm::from_pairs([
            ("key", " latency "),
            ("event", "request"),
            ("kind", "mean"),
            ("goodDirection", "decrease"),
            ("guardrail", "on"),
            ("baseRevision", "3"),
        ]);
        assert_eq!(form.key, "latency");
        assert!(form.guardrail);
        let json = form.to_json();
        assert_eq!(json["key"], "latency");
        assert_eq!(json["baseRevision"], 3);
        assert_eq!(json["goodDirection"], "decrease");
        assert!(json.get("name").is_none(), "an empty name defaults to the key");
        assert!(!MetricForm::from_pairs([("key", "x")]).guardrail, "an unticked box is not posted");
    }
}
