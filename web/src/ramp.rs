//! The ramp panel of the flag page: the plan on the current environment
//! (its steps as a progress bar, the next step's time, pause / resume /
//! abort), its guardrails (each metric's interval now, and over time as an
//! SVG chart), the form that starts a plan, and the automatic actions a
//! person should see first (a rollback banner, recent actions by the plan
//! or the scheduler).

use std::fmt::Write;

use askama::Template;
use serde::Deserialize;

use crate::charts::escape_xml;
use crate::format;

/// One step of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepView {
    /// `coverage 5 %` or `weight 25 %`.
    pub label: String,
    /// `1h`, `30m`, …
    pub hold: String,
    /// Done, current, or to come.
    pub done: bool,
    pub current: bool,
}

/// One guardrail now.
#[derive(Debug, Clone, PartialEq)]
pub struct GuardMetricView {
    pub metric: String,
    /// `increase` or `decrease`.
    pub good_direction: String,
    /// Tolerated relative degradation (fraction).
    pub tolerance: f64,
    /// Relative lift and its always-valid interval (fractions), when defined.
    pub lift: Option<f64>,
    pub lower: Option<f64>,
    pub upper: Option<f64>,
    /// `regression`, `non_inferior` or `collecting`.
    pub verdict: String,
}

impl GuardMetricView {
    /// The interval as text.
    pub fn interval(&self) -> String {
        match (self.lift, self.lower, self.upper) {
            (Some(e), Some(l), Some(u)) => {
                format!("{} ({} to {})", format::signed_pct(e, 1), format::signed_pct(l, 1), format::signed_pct(u, 1))
            }
            _ => "not enough data".into(),
        }
    }

    /// What the verdict means, for people.
    pub fn verdict_label(&self) -> &'static str {
        match self.verdict.as_str() {
            "regression" => "regression",
            "non_inferior" => "healthy",
            _ => "collecting",
        }
    }

    /// The tolerance as text.
    pub fn tolerance_label(&self) -> String {
        format::signed_pct(if self.good_direction == "decrease" { self.tolerance } else { -self.tolerance }, 1)
    }
}

/// One point of the guardrail chart.
#[derive(Debug, Clone, PartialEq)]
pub struct GuardPointView {
    /// Epoch milliseconds.
    pub at: i64,
    /// [lower, lift, upper] of the first guardrail, when defined.
    pub interval: Option<[f64; 3]>,
}

/// The guardrails of a plan now.
#[derive(Debug, Clone, PartialEq)]
pub struct GuardView {
    /// `waiting`, `collecting`, `healthy`, `regression`, `srm`.
    pub verdict: String,
    pub summary: String,
    pub canary_units: i64,
    pub control_units: i64,
    pub metrics: Vec<GuardMetricView>,
}

/// A plan on the current environment.
#[derive(Debug, Clone, PartialEq)]
pub struct RampCard {
    pub id: i64,
    /// `running`, `paused`, `completed`, `aborted`, `rolled_back`.
    pub state: String,
    pub rule_id: String,
    pub canary: String,
    pub control: String,
    pub steps: Vec<StepView>,
    /// When the next step is due (running plans), RFC 3339.
    pub next_at: Option<String>,
    pub reason: Option<String>,
    pub updated_at: String,
    pub guard: Option<GuardView>,
    /// The first guardrail's interval over time (SVG), when there are points.
    pub chart: Option<String>,
}

impl RampCard {
    /// Still running or paused.
    pub fn active(&self) -> bool {
        self.state == "running" || self.state == "paused"
    }

    /// The state for people.
    pub fn state_label(&self) -> &'static str {
        match self.state.as_str() {
            "running" => "running",
            "paused" => "paused",
            "completed" => "completed",
            "aborted" => "aborted",
            "rolled_back" => "rolled back automatically",
            _ => "unknown",
        }
    }

    /// Steps done (the current one included) out of all, in percent.
    pub fn progress_percent(&self) -> usize {
        let done = self.steps.iter().filter(|s| s.done || s.current).count();
        (done * 100).checked_div(self.steps.len()).unwrap_or(0)
    }

    /// The form action of a person's `command` (`pause`, `resume`, `abort`).
    pub fn action(&self, command: &str) -> String {
        format!("/ramps/{}/{command}", self.id)
    }
}

/// A recent automatic action on the flag (by a plan or the scheduler).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutomaticAction {
    pub at: String,
    pub actor: String,
    pub action: String,
}

/// A rule that a plan can ramp: its id and its split's variants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RampableRule {
    pub id: String,
    pub variants: Vec<String>,
}

/// The ramp panel (rendered inside the flag page).
#[derive(Debug, Clone, Template)]
#[template(path = "ramp_panel.html")]
pub struct RampPanel {
    pub csrf: String,
    pub flag: String,
    pub environment: String,
    pub can_edit: bool,
    /// The newest plan on this flag and environment.
    pub latest: Option<RampCard>,
    /// Split rules a new plan can ramp (when none is active).
    pub rules: Vec<RampableRule>,
    /// Metric keys for a guardrail.
    pub metrics: Vec<String>,
    pub recent: Vec<AutomaticAction>,
    /// The start form as posted, with its error.
    pub form: StartRampForm,
    pub error: Option<String>,
}

impl RampPanel {
    /// The start form's action.
    pub fn start_action(&self) -> String {
        format!("/flags/{}/environments/{}/ramps", self.flag, self.environment)
    }

    /// Whether a new plan may start.
    pub fn can_start(&self) -> bool {
        self.can_edit && !self.rules.is_empty() && !self.latest.as_ref().is_some_and(RampCard::active)
    }

    /// Every variant of the rampable rules, once.
    pub fn variants(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for v in self.rules.iter().flat_map(|r| r.variants.iter()) {
            if !out.contains(v) {
                out.push(v.clone());
            }
        }
        out
    }

    /// The rollback banner, when the newest plan was rolled back.
    pub fn rolled_back(&self) -> Option<&RampCard> {
        self.latest.as_ref().filter(|r| r.state == "rolled_back")
    }
}

/// Fields of `POST /flags/{key}/environments/{env}/ramps`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct StartRampForm {
    pub csrf: String,
    pub rule: String,
    pub canary: String,
    pub control: String,
    /// `coverage` or `weight`.
    pub dimension: String,
    /// `1%:1h, 5%:1h, 25%:1h, 100%:0s`.
    pub steps: String,
    /// A metric key, or empty (the first of up to [`GUARD_SLOTS`] guardrails).
    pub guardrail: String,
    /// Tolerated degradation in percent, e.g. `2`.
    pub tolerance: String,
    /// The second and third guardrails.
    pub guardrail_2: String,
    pub tolerance_2: String,
    pub guardrail_3: String,
    pub tolerance_3: String,
    /// Units per arm each step needs before the next (guarded plans), or empty.
    pub min_units: String,
    /// `yes`: each step advances only once every guardrail is shown healthy.
    pub require_evidence: String,
    /// How long a step may wait for units or evidence before the plan
    /// pauses (`2d`), or empty for the default (its hold plus a day).
    pub max_hold: String,
}

/// How many guardrails the start form offers (the API takes up to ten).
pub const GUARD_SLOTS: usize = 3;

/// One guardrail row of the start form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardSlot {
    /// 1-based, for labels.
    pub n: usize,
    /// The field names' suffix: empty, `_2`, `_3`.
    pub suffix: &'static str,
    pub metric: String,
    pub tolerance: String,
}

/// What each step of a guarded plan waits for before advancing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdvanceRule {
    pub min_units: Option<i64>,
    pub require_evidence: bool,
    pub max_hold: Option<String>,
}

/// The default steps of the start form.
pub const DEFAULT_STEPS: &str = "1%:1h, 5%:1h, 25%:1h, 50%:1h, 100%:0s";

impl StartRampForm {
    /// The steps text, or the default.
    pub fn steps_or_default(&self) -> &str {
        if self.steps.trim().is_empty() { DEFAULT_STEPS } else { &self.steps }
    }

    /// The guardrail rows, as posted.
    pub fn guard_slots(&self) -> Vec<GuardSlot> {
        [("", &self.guardrail, &self.tolerance), ("_2", &self.guardrail_2, &self.tolerance_2)]
            .into_iter()
            .chain([("_3", &self.guardrail_3, &self.tolerance_3)])
            .enumerate()
            .map(|(i, (suffix, metric, tolerance))| GuardSlot {
                n: i + 1,
                suffix,
                metric: metric.clone(),
                tolerance: tolerance.clone(),
            })
            .collect()
    }

    /// The chosen guardrails as `(metric, tolerated degradation as a
    /// fraction)`, or what is wrong, in the form's words.
    pub fn parse_guardrails(&self) -> Result<Vec<(String, f64)>, String> {
        let mut out: Vec<(String, f64)> = Vec::new();
        for slot in self.guard_slots() {
            let metric = slot.metric.trim();
            let text = slot.tolerance.trim();
            if metric.is_empty() {
                if !text.is_empty() {
                    return Err(format!("guardrail {}: a tolerance without a metric", slot.n));
                }
                continue;
            }
            if out.iter().any(|(m, _)| m == metric) {
                return Err(format!("guardrail {}: `{metric}` is chosen twice", slot.n));
            }
            let percent = if text.is_empty() {
                0.0
            } else {
                text.trim_end_matches('%').trim().parse::<f64>().map_err(|_| {
                    format!("guardrail {}: the tolerated degradation `{text}` is not a percentage", slot.n)
                })?
            };
            if !(percent.is_finite() && (0.0..100.0).contains(&percent)) {
                return Err(format!("guardrail {}: the tolerated degradation must be from 0 to under 100 %", slot.n));
            }
            out.push((metric.to_owned(), percent / 100.0));
        }
        Ok(out)
    }

    /// What each step waits for before advancing, or what is wrong. Units
    /// and evidence are measured by guardrails: without one, both must be
    /// left empty.
    pub fn parse_advance(&self, guarded: bool) -> Result<AdvanceRule, String> {
        let units = self.min_units.trim().replace([',', '_', ' '], "");
        let min_units = if units.is_empty() {
            None
        } else {
            match units.parse::<i64>() {
                Ok(n) if (0..=100_000_000).contains(&n) => Some(n),
                _ => {
                    return Err(format!(
                        "units per arm: `{}` is not a whole number from 0 to 100,000,000",
                        self.min_units.trim()
                    ));
                }
            }
        };
        let require_evidence = self.require_evidence == "yes";
        if !guarded && (min_units.is_some_and(|n| n > 0) || require_evidence) {
            return Err(
                "units per arm and evidence are measured by a guardrail: choose one, or leave them empty".into()
            );
        }
        let max_hold = Some(self.max_hold.trim().to_owned()).filter(|m| !m.is_empty());
        Ok(AdvanceRule { min_units, require_evidence, max_hold })
    }

    /// The steps as `(basis points, hold)`, or what is wrong.
    pub fn parse_steps(&self) -> Result<Vec<(u32, String)>, String> {
        let mut out = Vec::new();
        for (i, part) in self.steps_or_default().split(',').map(str::trim).filter(|p| !p.is_empty()).enumerate() {
            let (share, hold) = part
                .split_once(':')
                .ok_or_else(|| format!("step {}: `{part}` is not `percent:hold` (e.g. `5%:1h`)", i + 1))?;
            let share = share.trim().trim_end_matches('%').trim();
            let percent: f64 = share.parse().map_err(|_| format!("step {}: `{share}` is not a percentage", i + 1))?;
            if !(0.0..=100.0).contains(&percent) {
                return Err(format!("step {}: {percent} is not between 0 and 100 %", i + 1));
            }
            out.push(((percent * 100.0).round() as u32, hold.trim().to_owned()));
        }
        if out.is_empty() {
            return Err("at least one step".into());
        }
        Ok(out)
    }
}

/// Geometry of the guardrail chart, in SVG user units.
const CHART_HEIGHT: f64 = 180.0;
const PAD_LEFT: f64 = 56.0;
const PAD_RIGHT: f64 = 12.0;
const PAD_TOP: f64 = 12.0;
const PAD_BOTTOM: f64 = 24.0;

/// The first guardrail's always-valid interval over time: one band per
/// evaluation, the estimate as a line, zero and the tolerance as rules.
/// `tolerance` is signed in the bad direction (−δ for a metric that should
/// increase).
pub fn guard_chart(metric: &str, points: &[GuardPointView], tolerance: f64, width: u32) -> String {
    let width = f64::from(width.max(280));
    let defined: Vec<(i64, [f64; 3])> = points
        .iter()
        .filter_map(|p| p.interval.filter(|i| i.iter().all(|v| v.is_finite())).map(|i| (p.at, i)))
        .collect();
    let (mut lo, mut hi) = (tolerance.min(0.0), tolerance.max(0.0));
    for (_, [l, _, u]) in &defined {
        lo = lo.min(*l);
        hi = hi.max(*u);
    }
    // Intervals far out early on would flatten the rest: clamp to ±100 %.
    let (lo, hi) = (lo.max(-1.0) - 0.01, hi.min(1.0) + 0.01);
    let (t0, t1) = match (defined.first(), defined.last()) {
        (Some(a), Some(b)) if b.0 > a.0 => (a.0 as f64, b.0 as f64),
        (Some(a), _) => (a.0 as f64 - 1.0, a.0 as f64 + 1.0),
        _ => (0.0, 1.0),
    };
    let (x0, x1) = (PAD_LEFT, width - PAD_RIGHT);
    let (y0, y1) = (PAD_TOP, CHART_HEIGHT - PAD_BOTTOM);
    let x = |t: i64| x0 + (t as f64 - t0) / (t1 - t0) * (x1 - x0);
    let y = |v: f64| y1 - (v.clamp(lo, hi) - lo) / (hi - lo) * (y1 - y0);
    let title = escape_xml(metric);
    let mut s = String::with_capacity(512 + defined.len() * 120);
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="guard-chart" viewBox="0 0 {width:.0} {CHART_HEIGHT:.0}" role="img" aria-label="Relative effect of the canary on {title} over time, with its always-valid interval"><title>{title}: canary against control over time</title>"#
    );
    for (v, class) in [(0.0, "gc-zero"), (tolerance, "gc-tolerance")] {
        let yv = y(v);
        let _ = write!(
            s,
            r#"<line class="{class}" x1="{x0:.1}" y1="{yv:.1}" x2="{x1:.1}" y2="{yv:.1}" stroke="currentColor" stroke-opacity="0.5"{}/><text class="gc-tick" x="{:.1}" y="{:.1}" text-anchor="end" fill="currentColor">{}</text>"#,
            if class == "gc-tolerance" { r#" stroke-dasharray="4 3""# } else { "" },
            x0 - 6.0,
            yv + 4.0,
            format::signed_pct(v, 1)
        );
    }
    if defined.is_empty() {
        let _ = write!(
            s,
            r#"<text class="gc-empty" x="{:.1}" y="{:.1}" fill="currentColor">no evaluation yet</text>"#,
            x0 + 8.0,
            (y0 + y1) / 2.0
        );
    }
    let band = (x1 - x0) / defined.len().max(1) as f64 * 0.6;
    for (at, [l, _, u]) in &defined {
        let _ = write!(
            s,
            r#"<rect class="gc-band" x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="currentColor" fill-opacity="0.25"/>"#,
            x(*at) - band.min(6.0) / 2.0,
            y(*u),
            band.clamp(1.0, 6.0),
            (y(*l) - y(*u)).max(1.0)
        );
    }
    if !defined.is_empty() {
        let path: Vec<String> = defined.iter().map(|(at, [_, e, _])| format!("{:.1},{:.1}", x(*at), y(*e))).collect();
        let _ = write!(
            s,
            r#"<polyline class="gc-estimate" points="{}" fill="none" stroke="currentColor" stroke-width="1.5"/>"#,
            path.join(" ")
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_parse_from_text() {
        let form = StartRampForm { steps: "1%:1h, 5 % : 30m,100%:0s".into(), ..StartRampForm::default() };
        assert_eq!(form.parse_steps().unwrap(), vec![(100, "1h".into()), (500, "30m".into()), (10_000, "0s".into())]);
        let empty = StartRampForm::default();
        assert_eq!(empty.parse_steps().unwrap().len(), 5, "the default steps");
        for bad in ["5%", "x%:1h", "150%:1h"] {
            let form = StartRampForm { steps: bad.into(), ..StartRampForm::default() };
            assert!(form.parse_steps().is_err(), "{bad}");
        }
    }

    #[test]
    fn guardrails_and_advance_rules_parse_from_the_form() {
        let form = StartRampForm {
            guardrail: "errors".into(),
            tolerance: "2".into(),
            guardrail_3: "latency".into(),
            tolerance_3: "0.5 %".into(),
            min_units: "1,000".into(),
            require_evidence: "yes".into(),
            max_hold: " 2d ".into(),
            ..StartRampForm::default()
        };
        assert_eq!(form.parse_guardrails().unwrap(), vec![("errors".into(), 0.02), ("latency".into(), 0.005)]);
        assert_eq!(
            form.parse_advance(true).unwrap(),
            AdvanceRule { min_units: Some(1000), require_evidence: true, max_hold: Some("2d".into()) }
        );
        assert!(form.parse_advance(false).unwrap_err().contains("measured by a guardrail"));
        let slots = form.guard_slots();
        assert_eq!((slots.len(), slots[1].suffix, slots[2].metric.as_str()), (GUARD_SLOTS, "_2", "latency"));
        for (bad, why) in [
            (StartRampForm { guardrail: "e".into(), guardrail_2: "e".into(), ..Default::default() }, "twice"),
            (StartRampForm { tolerance_2: "3".into(), ..Default::default() }, "without a metric"),
            (StartRampForm { guardrail: "e".into(), tolerance: "x".into(), ..Default::default() }, "not a percentage"),
            (StartRampForm { guardrail: "e".into(), tolerance: "100".into(), ..Default::default() }, "under 100 %"),
        ] {
            assert!(bad.parse_guardrails().unwrap_err().contains(why), "{why}");
        }
        let units = StartRampForm { min_units: "-3".into(), ..Default::default() };
        assert!(units.parse_advance(true).unwrap_err().contains("whole number"));
        assert_eq!(StartRampForm::default().parse_advance(false).unwrap(), AdvanceRule::default());
    }

    #[test]
    fn the_chart_draws_a_band_per_point_and_no_nan() {
        let points = [
            GuardPointView { at: 0, interval: Some([-0.5, 0.1, 0.7]) },
            GuardPointView { at: 60_000, interval: None },
            GuardPointView { at: 120_000, interval: Some([0.05, 0.2, 0.35]) },
        ];
        let svg = guard_chart("errors <x>", &points, 0.02, 400);
        assert_eq!(svg.matches("gc-band").count(), 2, "{svg}");
        assert!(svg.contains("gc-estimate") && svg.contains("gc-tolerance") && svg.contains("gc-zero"));
        assert!(!svg.contains("NaN") && !svg.contains("inf") && svg.contains("errors &lt;x&gt;"));
        let empty = guard_chart("m", &[], 0.0, 400);
        assert!(empty.contains("no evaluation yet") && !empty.contains("NaN"));
    }

    #[test]
    fn progress_counts_the_current_step() {
        let step = |done, current| StepView { label: "s".into(), hold: "1h".into(), done, current };
        let card = RampCard {
            id: 1,
            state: "running".into(),
            rule_id: "r".into(),
            canary: "on".into(),
            control: "off".into(),
            steps: vec![step(true, false), step(false, true), step(false, false), step(false, false)],
            next_at: None,
            reason: None,
            updated_at: String::new(),
            guard: None,
            chart: None,
        };
        assert_eq!(card.progress_percent(), 50);
        assert_eq!(card.action("pause"), "/ramps/1/pause");
    }
}
