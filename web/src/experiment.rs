//! The experiment page: status, allocation, dates and results per metric
//! and variant, with verdicts, an SRM banner, progress and forest plots.

use askama::Template;
use askama_web::WebTemplate;

use crate::charts::{ForestRow, forest_plot};
use crate::format;
use crate::layout::Layout;
use crate::trend_chart::{TrendSeries, effect_over_time};
use crate::verdict::{Analysis, GoodDirection, Interval, Verdict};

/// A variant's allocation and units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllocationRow {
    /// Variant key.
    pub variant: String,
    /// Weight in basis points (recorded at start, or current for drafts).
    pub weight_bp: u32,
    /// Whether it is the control.
    pub control: bool,
    /// Exposed, non-excluded units.
    pub units: u64,
    /// Excluded units (exposed to several variants).
    pub excluded: u64,
}

impl AllocationRow {
    /// The weight as a percentage.
    pub fn weight(&self) -> String {
        format::bp(self.weight_bp)
    }
}

/// The sample-ratio-mismatch check.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SrmCheck {
    /// χ² p-value.
    pub p_value: f64,
    /// Whether it trips (p < 0.001 with enough units).
    pub tripped: bool,
}

/// Progress toward the sample size for the minimum detectable effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Units so far.
    pub units: u64,
    /// Units needed.
    pub required: u64,
}

impl Progress {
    /// Percent done, 0–100.
    pub fn percent(&self) -> u64 {
        self.units.saturating_mul(100).checked_div(self.required).map_or(100, |p| p.min(100))
    }
}

/// A treatment variant's figures on one metric (fractions for effects).
#[derive(Debug, Clone, PartialEq)]
pub struct VariantResult {
    /// Variant key.
    pub variant: String,
    /// Units.
    pub units: u64,
    /// Rate (conversion) or mean.
    pub value: f64,
    /// Absolute effect against control with its interval at `level`.
    pub absolute: Option<Interval>,
    /// Relative effect (lift) with its interval at `level`: the interval
    /// the verdict reads (the posterior's for a Bayesian analysis).
    pub relative: Option<Interval>,
    /// Coverage of both intervals (0.95; higher for a comparison corrected
    /// for multiple comparisons).
    pub level: f64,
    /// The p-value the verdict corresponds to (adjusted when corrected;
    /// none for a Bayesian analysis).
    pub p_value: Option<f64>,
    /// Chance to beat control (every analysis shows it; a Bayesian one decides by it).
    pub chance_to_beat: Option<f64>,
    /// The verdict, as the server decided it with the interval above.
    pub verdict: Verdict,
}

/// One metric's results.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricResult {
    /// Key.
    pub key: String,
    /// Name.
    pub name: String,
    /// `conversion`, `count`, `sum` or `mean`.
    pub kind: String,
    /// `primary`, `secondary` or `guardrail`.
    pub role: String,
    /// Which way is good.
    pub good_direction: GoodDirection,
    /// Control's variant key.
    pub control_variant: String,
    /// Control's units.
    pub control_units: u64,
    /// Control's rate or mean.
    pub control_value: f64,
    /// The other variants.
    pub variants: Vec<VariantResult>,
    /// Each treatment's relative effect day by day (empty before the
    /// first daily snapshot).
    pub trend: Vec<TrendSeries>,
}

/// A rendered result row (all text, ready for the table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultRowView {
    /// Variant key.
    pub variant: String,
    /// Units.
    pub units: u64,
    /// Rate or mean.
    pub value: String,
    /// Absolute effect and interval.
    pub absolute: String,
    /// Relative effect and interval.
    pub relative: String,
    /// The intervals' level when it is not the page's (a corrected
    /// comparison), e.g. `98.3 % interval`; else empty.
    pub level: String,
    /// p-value or chance to beat control.
    pub evidence: String,
    /// Verdict words.
    pub verdict: String,
    /// Verdict CSS class.
    pub verdict_class: String,
}

/// The experiment page (`GET /experiments/{key}`).
#[derive(Debug, Clone, Template, WebTemplate)]
#[template(path = "experiment.html")]
pub struct ExperimentPage {
    /// The frame.
    pub layout: Layout,
    /// Key.
    pub key: String,
    /// Name.
    pub name: String,
    /// Hypothesis.
    pub hypothesis: String,
    /// Flag.
    pub flag: String,
    /// Environment.
    pub environment: String,
    /// Rule id whose split allocates units.
    pub rule_id: String,
    /// `draft`, `running` or `stopped`.
    pub state: String,
    /// The analysis.
    pub analysis: Analysis,
    /// α.
    pub alpha: f64,
    /// Start time.
    pub started_at: Option<String>,
    /// Stop time.
    pub stopped_at: Option<String>,
    /// Coverage of the split in basis points.
    pub coverage_bp: u32,
    /// Allocation and units per variant.
    pub allocation: Vec<AllocationRow>,
    /// The SRM check, once computed.
    pub srm: Option<SrmCheck>,
    /// What the SRM check compares when it is not every unit against the
    /// weights at start (a ramp that changes the weights checks its step).
    pub srm_basis: Option<String>,
    /// Sample size progress, when a minimum detectable effect is set.
    pub progress: Option<Progress>,
    /// Results per metric (primary first).
    pub metrics: Vec<MetricResult>,
    /// When the results were computed.
    pub computed_at: Option<String>,
    /// The multiple-comparison correction, when several treatments ×
    /// metrics are tested together.
    pub correction: Option<Correction>,
    /// How the verdicts are reached, in words (the server's description).
    pub decision_rule: Option<String>,
}

/// A multiple-comparison correction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Correction {
    /// `Holm` or `Bonferroni`.
    pub method: String,
    /// Comparisons tested together.
    pub family_size: usize,
}

/// `p = 0.012`, or `p < 0.001`.
fn p_text(p: f64) -> String {
    let p = format::p_value(p);
    if p.starts_with('<') { format!("p {p}") } else { format!("p = {p}") }
}

impl MetricResult {
    fn fmt_value(&self, x: f64) -> String {
        if self.kind == "conversion" { format::pct(x, 2) } else { format::number(x) }
    }

    /// The value column's name: `Rate` for conversions, else `Mean`.
    pub fn value_label(&self) -> &'static str {
        if self.kind == "conversion" { "Rate" } else { "Mean" }
    }

    /// The good direction in words.
    pub fn direction(&self) -> &'static str {
        match self.good_direction {
            GoodDirection::Increase => "higher is better",
            GoodDirection::Decrease => "lower is better",
        }
    }

    /// The control's rate or mean.
    pub fn control_text(&self) -> String {
        self.fmt_value(self.control_value)
    }

    /// Table rows for the variants; a p-value says its correction, and an
    /// interval its level when it is not the one the page's header states.
    pub fn rows(&self, page: &ExperimentPage) -> Vec<ResultRowView> {
        let (analysis, level) = (page.analysis, page.interval_level());
        let adjusted = page.correction.as_ref().map(|c| format!(" ({})", c.method)).unwrap_or_default();
        let interval = |i: Option<Interval>, as_pct: bool| match i {
            Some(i) if i.is_defined() => {
                let f = |x: f64| if as_pct { format::signed_pct(x, 1) } else { format::number(x) };
                format!("{} ({} to {})", f(i.estimate), f(i.lower), f(i.upper))
            }
            _ => "—".to_owned(),
        };
        self.variants
            .iter()
            .map(|v| {
                let verdict = v.verdict;
                let chance = v.chance_to_beat.map(|c| format!("{} to beat control", format::pct(c, 1)));
                let evidence = match (analysis, v.p_value, chance) {
                    (Analysis::Bayesian, _, Some(chance)) => chance,
                    (Analysis::Bayesian, _, None) => "—".to_owned(),
                    (_, Some(p), Some(chance)) => format!("{}{adjusted} · {chance}", p_text(p)),
                    (_, Some(p), None) => format!("{}{adjusted}", p_text(p)),
                    (_, None, Some(chance)) => chance,
                    (_, None, None) => "—".to_owned(),
                };
                ResultRowView {
                    variant: v.variant.clone(),
                    units: v.units,
                    value: self.fmt_value(v.value),
                    absolute: interval(v.absolute, self.kind == "conversion"),
                    relative: interval(v.relative, true),
                    level: if (v.level - level).abs() > 1e-9 && v.level.is_finite() {
                        format!("{} interval", format::pct(v.level, 1))
                    } else {
                        String::new()
                    },
                    evidence,
                    verdict: verdict.label().to_owned(),
                    verdict_class: verdict.class().to_owned(),
                }
            })
            .collect()
    }

    /// The relative effects over time (inline SVG).
    pub fn trend_chart(&self) -> String {
        effect_over_time(&self.name, &self.trend, 560)
    }

    /// The forest plot of the relative effects (inline SVG).
    pub fn chart(&self) -> String {
        let rows: Vec<ForestRow> = self
            .variants
            .iter()
            .map(|v| {
                let i = v.relative.unwrap_or(Interval { estimate: f64::NAN, lower: f64::NAN, upper: f64::NAN });
                ForestRow {
                    label: v.variant.clone(),
                    estimate: i.estimate,
                    lower: i.lower,
                    upper: i.upper,
                    verdict: v.verdict,
                }
            })
            .collect();
        forest_plot(&self.name, &rows, 560)
    }
}

impl ExperimentPage {
    /// CSV download link.
    pub fn csv_href(&self) -> String {
        format!("/experiments/{}/results.csv", self.key)
    }

    /// Start / stop form actions.
    pub fn action(&self, what: &str) -> String {
        format!("/experiments/{}/{what}", self.key)
    }

    /// Total excluded units.
    pub fn excluded(&self) -> u64 {
        self.allocation.iter().map(|a| a.excluded).sum()
    }

    /// The coverage as a percentage.
    pub fn coverage(&self) -> String {
        format::bp(self.coverage_bp)
    }

    /// The SRM p-value as text: `p = 0.012`, `p < 0.001`, or `p —`.
    pub fn srm_p(&self) -> String {
        match self.srm.map(|s| format::p_value(s.p_value)) {
            Some(p) if p.starts_with('<') => format!("p {p}"),
            Some(p) => format!("p = {p}"),
            None => "p —".to_owned(),
        }
    }

    /// What the evidence column is called.
    pub fn evidence_label(&self) -> &'static str {
        match self.analysis {
            Analysis::Bayesian => "Chance to beat control",
            _ => "p-value · chance to beat control",
        }
    }

    /// The level of the intervals on the page (each row says so when its
    /// own differs): 1 − α, or 1 − 2α for a Bayesian analysis, whose
    /// verdict needs a chance to beat control of 1 − α.
    pub fn interval_level(&self) -> f64 {
        if self.analysis == Analysis::Bayesian { 1.0 - 2.0 * self.alpha } else { 1.0 - self.alpha }
    }

    /// The interval's name.
    pub fn interval_label(&self) -> String {
        let level = format::pct(self.interval_level(), 0);
        match self.analysis {
            Analysis::Sequential => format!("{level} always-valid interval"),
            Analysis::Bayesian => format!("{level} credible interval"),
            Analysis::Frequentist => format!("{level} confidence interval"),
        }
    }
}
