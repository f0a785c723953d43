//! The effect over time: for each treatment, its relative effect on a
//! metric day by day (the day's last snapshot) as a line, with its interval
//! as a band, a zero rule, and the first, middle and last day on the axis.
//! Series colours come from CSS classes (`tc-s0`, `tc-s1`, …) with
//! `currentColor` as the fallback, so the chart follows the page's theme.

use std::fmt::Write;

use crate::charts::escape_xml;
use crate::format;
use crate::verdict::Verdict;

/// One day of one treatment (fractions: 0.1 = +10 %; NaN when undefined).
#[derive(Debug, Clone, PartialEq)]
pub struct TrendPoint {
    /// `YYYY-MM-DD`.
    pub day: String,
    /// Point estimate.
    pub estimate: f64,
    /// Interval lower bound.
    pub lower: f64,
    /// Interval upper bound.
    pub upper: f64,
    /// The day's verdict.
    pub verdict: Verdict,
}

impl TrendPoint {
    fn defined(&self) -> bool {
        self.estimate.is_finite() && self.lower.is_finite() && self.upper.is_finite() && self.lower <= self.upper
    }
}

/// One treatment's days, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct TrendSeries {
    /// Variant key.
    pub label: String,
    /// One per day, every series with the same days.
    pub points: Vec<TrendPoint>,
}

const HEIGHT: f64 = 200.0;
const PAD_LEFT: f64 = 64.0;
const PAD_RIGHT: f64 = 16.0;
const PAD_TOP: f64 = 12.0;
const PAD_BOTTOM: f64 = 40.0;
/// Series past this many share the last colour class.
const CLASSES: usize = 4;

/// The chart of `metric`'s relative effect over time, `width` units wide
/// (at least 280; it scales to its container through `viewBox`).
pub fn effect_over_time(metric: &str, series: &[TrendSeries], width: u32) -> String {
    let width = f64::from(width.max(280));
    let days: Vec<&str> = series.first().map(|s| s.points.iter().map(|p| p.day.as_str()).collect()).unwrap_or_default();
    let (mut lo, mut hi, mut last_hi) = (0.0f64, 0.0f64, 0.0f64);
    for one in series {
        for p in one.points.iter().filter(|p| p.defined()) {
            lo = lo.min(p.lower);
            hi = hi.max(p.upper);
        }
        if let Some(p) = one.points.last().filter(|p| p.defined()) {
            last_hi = last_hi.max(p.upper);
        }
    }
    // A lift is never below −100 %; the first days' intervals can reach far
    // up: the axis stops at twice today's highest bound (at least +100 %).
    let (lo, hi) = (lo.max(-1.0) - 0.01, hi.min((2.0 * last_hi).max(1.0)) + 0.01);
    let (x0, x1) = (PAD_LEFT, width - PAD_RIGHT);
    let (y0, y1) = (PAD_TOP, HEIGHT - PAD_BOTTOM);
    let last = days.len().saturating_sub(1).max(1) as f64;
    let x = |i: usize| if days.len() == 1 { (x0 + x1) / 2.0 } else { x0 + i as f64 / last * (x1 - x0) };
    let y = |v: f64| y1 - (v.clamp(lo, hi) - lo) / (hi - lo) * (y1 - y0);
    let title = escape_xml(metric);
    let mut s = String::with_capacity(1024 + series.len() * days.len() * 160);
    // `write!` into a String cannot fail.
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="trend" viewBox="0 0 {width:.0} {HEIGHT:.0}" role="img" aria-label="Relative effect on {title} day by day, with intervals"><title>Relative effect on {title} over time</title>"#
    );
    for v in [lo + 0.01, 0.0, hi - 0.01] {
        if v != 0.0 && v.abs() < 1e-9 {
            continue;
        }
        let yv = y(v);
        let class = if v == 0.0 { "tc-zero" } else { "tc-grid" };
        let _ = write!(
            s,
            r#"<line class="{class}" x1="{x0:.1}" y1="{yv:.1}" x2="{x1:.1}" y2="{yv:.1}" stroke="currentColor" stroke-opacity="{}"/><text class="tc-tick" x="{:.1}" y="{:.1}" text-anchor="end" fill="currentColor">{}</text>"#,
            if v == 0.0 { "0.6" } else { "0.15" },
            x0 - 6.0,
            yv + 4.0,
            format::signed_pct(v, 1)
        );
    }
    let mut labelled: Vec<usize> = vec![0, days.len() / 2, days.len().saturating_sub(1)];
    labelled.dedup();
    for i in labelled.into_iter().filter(|i| *i < days.len()) {
        let anchor = match i {
            _ if days.len() == 1 => "middle",
            0 => "start",
            i if i + 1 == days.len() => "end",
            _ => "middle",
        };
        let _ = write!(
            s,
            r#"<text class="tc-day" x="{:.1}" y="{:.1}" text-anchor="{anchor}" fill="currentColor">{}</text>"#,
            x(i),
            y1 + 18.0,
            escape_xml(days[i])
        );
    }
    for (k, one) in series.iter().enumerate() {
        let class = format!("tc-s{}", k.min(CLASSES - 1));
        let label = escape_xml(&one.label);
        let defined: Vec<(usize, &TrendPoint)> = one.points.iter().enumerate().filter(|(_, p)| p.defined()).collect();
        let _ = write!(s, r#"<g class="tc-series {class}"><title>{label}</title>"#);
        if defined.len() > 1 {
            let upper = defined.iter().map(|(i, p)| format!("{:.1},{:.1}", x(*i), y(p.upper)));
            let lower = defined.iter().rev().map(|(i, p)| format!("{:.1},{:.1}", x(*i), y(p.lower)));
            let band: Vec<String> = upper.chain(lower).collect();
            let line: Vec<String> = defined.iter().map(|(i, p)| format!("{:.1},{:.1}", x(*i), y(p.estimate))).collect();
            let _ = write!(
                s,
                r#"<polygon class="tc-band" points="{}" fill="currentColor" fill-opacity="0.18"/><polyline class="tc-estimate" points="{}" fill="none" stroke="currentColor" stroke-width="2"/>"#,
                band.join(" "),
                line.join(" ")
            );
        }
        for (i, p) in &defined {
            let _ = write!(
                s,
                r#"<line class="tc-ci" x1="{xi:.1}" y1="{:.1}" x2="{xi:.1}" y2="{:.1}" stroke="currentColor" stroke-opacity="0.5"/><circle class="tc-point" cx="{xi:.1}" cy="{:.1}" r="3.5" fill="currentColor"><title>{label}, {}: {} ({} to {}), {}</title></circle>"#,
                y(p.lower),
                y(p.upper),
                y(p.estimate),
                escape_xml(&p.day),
                format::signed_pct(p.estimate, 1),
                format::signed_pct(p.lower, 1),
                format::signed_pct(p.upper, 1),
                p.verdict.label().to_lowercase(),
                xi = x(*i),
            );
        }
        s.push_str("</g>");
        if series.len() > 1 {
            let ly = HEIGHT - 6.0;
            let lx = x0 + k as f64 * 110.0;
            let _ = write!(
                s,
                r#"<g class="tc-legend {class}"><rect x="{lx:.1}" y="{:.1}" width="10" height="10" fill="currentColor"/><text x="{:.1}" y="{ly:.1}" fill="currentColor">{label}</text></g>"#,
                ly - 9.0,
                lx + 14.0
            );
        }
    }
    if series.iter().all(|one| !one.points.iter().any(TrendPoint::defined)) {
        let _ = write!(
            s,
            r#"<text class="tc-empty" x="{:.1}" y="{:.1}" fill="currentColor">not enough data yet</text>"#,
            x0 + 8.0,
            (y0 + y1) / 2.0
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(day: &str, e: f64, l: f64, u: f64) -> TrendPoint {
        TrendPoint { day: day.into(), estimate: e, lower: l, upper: u, verdict: Verdict::NoDifferenceYet }
    }

    #[test]
    fn a_band_and_a_line_per_series_with_days_on_the_axis() {
        let series = vec![
            TrendSeries {
                label: "blue".into(),
                points: vec![point("2030-01-01", 0.1, -0.2, 0.4), point("2030-01-02", 0.08, -0.05, 0.2)],
            },
            TrendSeries {
                label: "<green>".into(),
                points: vec![point("2030-01-01", f64::NAN, 0.0, 0.0), point("2030-01-02", -0.02, -0.1, 0.06)],
            },
        ];
        let svg = effect_over_time("conversion & more", &series, 560);
        assert_eq!(svg.matches("<polygon").count(), 1, "the second series has one defined day: no band");
        assert_eq!(svg.matches("<circle").count(), 3);
        assert!(svg.contains("2030-01-01") && svg.contains("2030-01-02"));
        assert!(svg.contains("&lt;green&gt;") && !svg.contains("<green>"));
        assert!(svg.contains("conversion &amp; more"));
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
    }

    #[test]
    fn one_day_or_none_draws_without_nan() {
        let one = vec![TrendSeries { label: "b".into(), points: vec![point("2030-01-01", 0.1, 0.0, 0.2)] }];
        let svg = effect_over_time("m", &one, 100);
        assert!(svg.contains("<circle") && !svg.contains("NaN"));
        let none = effect_over_time("m", &[], 400);
        assert!(none.contains("not enough data yet") && !none.contains("NaN"));
    }
}
