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
    /// For the sample-size estimate only (not stored): the control's
    /// conversion rate in percent, or its mean for other kinds (`baseline`).
    pub baseline: String,
    /// The standard deviation per unit, for kinds other than conversion
    /// (`baselineSd`).
    pub baseline_sd: String,
    /// Units a day reaching the rule (`dailyUnits`).
    pub daily_units: String,
    /// Whether the form was posted (a fresh form gets the defaults:
    /// guardrail metrics preselected).
    pub posted: bool,
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
            baseline: t.text("baseline").trim().to_owned(),
            baseline_sd: t.text("baselineSd").trim().to_owned(),
            daily_units: t.text("dailyUnits").trim().replace([',', '_', ' '], ""),
            posted: true,
        }
    }
}

/// A rule of the chosen flag in the chosen environment, as the rule picker
/// lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleChoice {
    /// The rule's id (the value posted); empty when it has none.
    pub id: String,
    /// "Rule 2 “canary”: on 50 %, off 50 %".
    pub label: String,
    /// Whether an experiment can use it (a split with an id).
    pub usable: bool,
    /// Chosen.
    pub selected: bool,
}

/// A metric as the metric pickers list it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricChoice {
    /// Key (the value posted).
    pub key: String,
    /// "purchase — conversion of “buy”, good when it increases".
    pub label: String,
    /// Marked as a guardrail.
    pub guardrail: bool,
    /// `conversion`, `count`, `sum` or `mean`.
    pub kind: String,
}

/// The sample-size estimate shown while the form is filled in.
#[derive(Debug, Clone, PartialEq)]
pub enum Estimate {
    /// Not enough input yet, or input it cannot use: what to enter.
    Missing(String),
    /// Units per variant, and days when the daily traffic is known.
    Ready {
        /// Units per variant for 80 % power.
        per_variant: u64,
        /// Variants in the split.
        variants: usize,
        /// The relative effect, in percent.
        mde_percent: f64,
        /// α.
        alpha: f64,
        /// Days at the given traffic to fill the smallest arm.
        days: Option<f64>,
        /// The smallest arm's share of the rule's units, in percent.
        smallest_share: f64,
    },
}

/// The create page (`GET /experiments/new`, and `POST /experiments/new`
/// to refresh the choices and the estimate as the form is filled in).
#[derive(Debug, Clone, Template, WebTemplate)]
#[template(path = "experiment_new.html")]
pub struct NewExperimentPage {
    /// The frame.
    pub layout: Layout,
    /// The form as typed, its choices resolved (defaults filled in).
    pub form: NewExperimentForm,
    /// Problems by field name (`key`, `ruleId`, `primaryMetric`...).
    pub errors: Vec<FieldError>,
    /// Flag keys.
    pub flags: Vec<String>,
    /// Environment keys.
    pub environments: Vec<String>,
    /// The chosen flag's rules in the chosen environment.
    pub rules: Vec<RuleChoice>,
    /// The chosen rule's split variants.
    pub variants: Vec<String>,
    /// Metrics.
    pub metrics: Vec<MetricChoice>,
    /// Where the daily traffic prefilled comes from (empty: typed or none).
    pub traffic_note: String,
    /// The sample-size estimate.
    pub estimate: Estimate,
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
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

    /// Multi choices (key, label, selected) of the metrics against `current`.
    pub fn metric_choices(&self, current: &[String]) -> Vec<(String, String, bool)> {
        self.metrics.iter().map(|m| (m.key.clone(), m.label.clone(), current.contains(&m.key))).collect()
    }

    /// Choices (key, label, selected) of the primary metric.
    pub fn primary_choices(&self) -> Vec<(String, String, bool)> {
        self.metric_choices(std::slice::from_ref(&self.form.primary_metric))
    }

    /// Analysis choices (value, selected).
    pub fn analysis_choices(&self) -> Vec<(&'static str, bool)> {
        let current = if self.form.analysis.is_empty() { "frequentist" } else { self.form.analysis.as_str() };
        ["frequentist", "sequential", "bayesian"].into_iter().map(|a| (a, a == current)).collect()
    }

    /// Whether the primary metric is a conversion (the baseline is a rate).
    pub fn primary_is_conversion(&self) -> bool {
        self.metrics.iter().find(|m| m.key == self.form.primary_metric).is_none_or(|m| m.kind == "conversion")
    }

    /// Whether the chosen flag has rules but none an experiment can use.
    pub fn no_usable_rule(&self) -> bool {
        !self.rules.iter().any(|r| r.usable)
    }

    /// Split rules without an id (they need one before an experiment can use them).
    pub fn unnamed_splits(&self) -> Vec<String> {
        self.rules
            .iter()
            .filter(|r| !r.usable && r.id.is_empty() && r.label.contains('%'))
            .map(|r| r.label.clone())
            .collect()
    }

    /// The estimate in words.
    pub fn estimate_text(&self) -> String {
        match &self.estimate {
            Estimate::Missing(what) => what.clone(),
            Estimate::Ready { per_variant, variants, mde_percent, alpha, days, smallest_share } => {
                let total = per_variant.saturating_mul(*variants as u64);
                let mut text = format!(
                    "About {} units per variant ({} in all) for 80 % power to detect a {} % relative change at α = {}.",
                    thousands(*per_variant),
                    thousands(total),
                    trim_float(*mde_percent),
                    trim_float(*alpha),
                );
                match days {
                    Some(d) => text.push_str(&format!(
                        " At the daily traffic below, the smallest arm ({} % of the units reaching the rule) fills in about {}.",
                        trim_float(*smallest_share),
                        days_text(*d)
                    )),
                    None => {
                        text.push_str(" Enter the units a day that reach the rule to see how many days that takes.")
                    }
                }
                text
            }
        }
    }
}

/// A figure without trailing zeros (`2`, `0.05`, `12.5`).
fn trim_float(v: f64) -> String {
    let s = format!("{v:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

fn days_text(d: f64) -> String {
    if d < 1.0 {
        "less than a day".to_owned()
    } else {
        let n = d.ceil() as u64;
        if n == 1 { "1 day".to_owned() } else { format!("{} days", thousands(n)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_read_as_people_write_them() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(trim_float(2.0), "2");
        assert_eq!(trim_float(0.05), "0.05");
        assert_eq!(days_text(0.4), "less than a day");
        assert_eq!(days_text(6.2), "7 days");
    }

    #[test]
    fn the_form_keeps_what_the_estimate_needs() {
        let form =
            NewExperimentForm::from_pairs([("baseline", " 4.5 "), ("dailyUnits", "12,000"), ("baselineSd", "3")]);
        assert_eq!(form.baseline, "4.5");
        assert_eq!(form.daily_units, "12000");
        assert_eq!(form.baseline_sd, "3");
        assert!(form.posted);
        assert!(!NewExperimentForm::default().posted);
    }
}
