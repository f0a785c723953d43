//! The experiments list and the create form.

use askama::Template;
use askama_web::WebTemplate;

use crate::errors::{FieldError, message_for};
use crate::form_tree::Node;
use crate::layout::Layout;

/// An experiment in the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExperimentRow {
    /// Key.
    pub key: String,
    /// Name.
    pub name: String,
    /// Flag.
    pub flag: String,
    /// Environment.
    pub environment: String,
    /// `draft`, `running` or `stopped`.
    pub state: String,
    /// Primary metric key.
    pub primary_metric: String,
    /// Start time, if started.
    pub started: Option<String>,
}

/// The experiments list (`GET /experiments`).
#[derive(Debug, Clone, Template, WebTemplate)]
#[template(path = "experiments.html")]
pub struct ExperimentsPage {
    /// The frame.
    pub layout: Layout,
    /// Experiments.
    pub experiments: Vec<ExperimentRow>,
}

/// The create form as posted to `/experiments` (parse with
/// [`NewExperimentForm::from_pairs`]: metric pickers repeat their name).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewExperimentForm {
    /// CSRF token.
    pub csrf: String,
    /// Key.
    pub key: String,
    /// Name.
    pub name: String,
    /// Hypothesis.
    pub hypothesis: String,
    /// Flag key.
    pub flag: String,
    /// Environment key.
    pub environment: String,
    /// Id of the rule whose split allocates units (`ruleId`).
    pub rule_id: String,
    /// Control variant (`controlVariant`).
    pub control_variant: String,
    /// Primary metric (`primaryMetric`).
    pub primary_metric: String,
    /// Secondary metrics (`secondaryMetrics`, repeated).
    pub secondary_metrics: Vec<String>,
    /// Guardrail metrics (`guardrailMetrics`, repeated).
    pub guardrail_metrics: Vec<String>,
    /// `frequentist`, `sequential` or `bayesian`.
    pub analysis: String,
    /// α as typed (`0.05`).
    pub alpha: String,
    /// Minimum detectable relative effect in percent as typed
    /// (`minimumDetectableEffect`, `2` = 2 %).
    pub minimum_detectable_effect: String,
}

impl NewExperimentForm {
    /// Parses the posted (name, value) pairs.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> NewExperimentForm {
        let t = Node::from_pairs(pairs);
        NewExperimentForm {
            csrf: t.text("csrf"),
            key: t.text("key").trim().to_owned(),
            name: t.text("name"),
            hypothesis: t.text("hypothesis"),
            flag: t.text("flag"),
            environment: t.text("environment"),
            rule_id: t.text("ruleId").trim().to_owned(),
            control_variant: t.text("controlVariant").trim().to_owned(),
            primary_metric: t.text("primaryMetric"),
            secondary_metrics: t.lines("secondaryMetrics"),
            guardrail_metrics: t.lines("guardrailMetrics"),
            analysis: t.text("analysis"),
            alpha: t.text("alpha").trim().to_owned(),
            minimum_detectable_effect: t.text("minimumDetectableEffect").trim().to_owned(),
        }
    }
}

/// The create page (`GET /experiments/new`).
#[derive(Debug, Clone, Template, WebTemplate)]
#[template(path = "experiment_new.html")]
pub struct NewExperimentPage {
    /// The frame.
    pub layout: Layout,
    /// The form as typed.
    pub form: NewExperimentForm,
    /// Problems by field name (`key`, `ruleId`, `primaryMetric`...).
    pub errors: Vec<FieldError>,
    /// Flag keys.
    pub flags: Vec<String>,
    /// Environment keys.
    pub environments: Vec<String>,
    /// Metric keys.
    pub metrics: Vec<String>,
}

impl NewExperimentPage {
    /// Error for field `name`.
    pub fn error(&self, name: &str) -> Option<String> {
        message_for(&self.errors, name)
    }

    /// Choices (key, selected) of `all` against `current`.
    pub fn choices(&self, all: &[String], current: &str) -> Vec<(String, bool)> {
        all.iter().map(|k| (k.clone(), k == current)).collect()
    }

    /// Multi choices (key, selected) of the metrics against `current`.
    pub fn metric_choices(&self, current: &[String]) -> Vec<(String, bool)> {
        self.metrics.iter().map(|k| (k.clone(), current.contains(k))).collect()
    }

    /// Analysis choices (value, selected).
    pub fn analysis_choices(&self) -> Vec<(&'static str, bool)> {
        let current = if self.form.analysis.is_empty() { "frequentist" } else { self.form.analysis.as_str() };
        ["frequentist", "sequential", "bayesian"].into_iter().map(|a| (a, a == current)).collect()
    }
}
