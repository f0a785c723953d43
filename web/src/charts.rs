//! Server-side SVG charts.
//!
//! [`forest_plot`] draws each variant's relative effect on a metric with its
//! interval: a zero line, one interval bar and point per row, an axis in
//! percent. Colours come from CSS classes (`fp-better`, `fp-worse`,
//! `fp-flat`) with `currentColor` as the fallback, so the chart follows the
//! page's light or dark theme.

use std::fmt::Write;

use crate::format;
use crate::verdict::Verdict;

/// One row of a forest plot (fractions: 0.1 = +10 %).
#[derive(Debug, Clone, PartialEq)]
pub struct ForestRow {
    /// Variant label.
    pub label: String,
    /// Point estimate.
    pub estimate: f64,
    /// Interval lower bound.
    pub lower: f64,
    /// Interval upper bound.
    pub upper: f64,
    /// How to colour it.
    pub verdict: Verdict,
}

impl ForestRow {
    fn defined(&self) -> bool {
        self.estimate.is_finite() && self.lower.is_finite() && self.upper.is_finite() && self.lower <= self.upper
    }
}

/// Geometry, in SVG user units.
const LABEL_WIDTH: f64 = 140.0;
const RIGHT_PAD: f64 = 24.0;
const TOP: f64 = 28.0;
const ROW_HEIGHT: f64 = 28.0;
const AXIS_HEIGHT: f64 = 28.0;
/// The narrowest plot drawn (`width` is raised to fit it).
pub const MIN_WIDTH: u32 = 280;

/// A "nice" tick step (1, 2 or 5 × 10ⁿ) for a span, aiming at ~5 ticks.
fn tick_step(span: f64) -> f64 {
    let raw = span / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let norm = raw / mag;
    let nice = if norm <= 1.0 {
        1.0
    } else if norm <= 2.0 {
        2.0
    } else if norm <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

/// The axis domain: covers every defined row and zero, on tick boundaries.
fn domain(rows: &[ForestRow]) -> (f64, f64, f64) {
    let (mut lo, mut hi) = (0.0f64, 0.0f64);
    for r in rows.iter().filter(|r| r.defined()) {
        lo = lo.min(r.lower);
        hi = hi.max(r.upper);
    }
    if hi - lo < 1e-9 {
        lo = -0.01;
        hi = 0.01;
    }
    let step = tick_step(hi - lo);
    ((lo / step + 1e-9).floor() * step, (hi / step - 1e-9).ceil() * step, step)
}

/// Escapes text for SVG/XML content and attributes.
pub(crate) fn escape_xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The forest plot of `metric`'s relative effects, `width` units wide
/// (at least [`MIN_WIDTH`]; it scales to its container through `viewBox`).
/// Rows whose figures are undefined (NaN, infinite, or lower > upper) are
/// listed with "not enough data" and no marks.
pub fn forest_plot(metric: &str, rows: &[ForestRow], width: u32) -> String {
    let width = f64::from(width.max(MIN_WIDTH));
    let height = TOP + ROW_HEIGHT * rows.len().max(1) as f64 + AXIS_HEIGHT;
    let (lo, hi, step) = domain(rows);
    let (x0, x1) = (LABEL_WIDTH, width - RIGHT_PAD);
    let x = |v: f64| x0 + (v.clamp(lo, hi) - lo) / (hi - lo) * (x1 - x0);
    let title = escape_xml(metric);
    let axis_y = TOP + ROW_HEIGHT * rows.len().max(1) as f64;
    let mut s = String::with_capacity(1024 + rows.len() * 400);
    // `write!` into a String cannot fail.
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" class="forest" viewBox="0 0 {width:.0} {height:.0}" role="img" aria-label="Relative effect on {title} by variant, with intervals"><title>Relative effect on {title}</title>"#
    );
    let _ = write!(s, r#"<text class="fp-title" x="0" y="16" fill="currentColor">{title}</text>"#);
    // Grid and ticks.
    let ticks = ((hi - lo) / step).round() as i64;
    for t in 0..=ticks {
        let v = lo + step * t as f64;
        let v = if v.abs() < step * 1e-6 { 0.0 } else { v };
        let xv = x(v);
        let _ = write!(
            s,
            r#"<line class="fp-grid" x1="{xv:.1}" y1="{TOP:.1}" x2="{xv:.1}" y2="{axis_y:.1}" stroke="currentColor" stroke-opacity="0.15"/><text class="fp-tick" x="{xv:.1}" y="{:.1}" text-anchor="middle" fill="currentColor">{}</text>"#,
            axis_y + 18.0,
            tick_label(v, step)
        );
    }
    // Zero line.
    let xz = x(0.0);
    let _ = write!(
        s,
        r#"<line class="fp-zero" x1="{xz:.1}" y1="{:.1}" x2="{xz:.1}" y2="{axis_y:.1}" stroke="currentColor" stroke-width="1.5"/>"#,
        TOP - 6.0
    );
    for (i, r) in rows.iter().enumerate() {
        let y = TOP + ROW_HEIGHT * (i as f64 + 0.5);
        let label = escape_xml(&r.label);
        let _ = write!(s, r#"<text class="fp-label" x="0" y="{:.1}" fill="currentColor">{label}</text>"#, y + 4.0);
        if r.defined() {
            let class = r.verdict.class();
            let (xl, xu, xe) = (x(r.lower), x(r.upper), x(r.estimate.clamp(r.lower, r.upper)));
            let _ = write!(
                s,
                r#"<g class="fp-row fp-{class}"><title>{label}: {} ({} to {})</title><line class="fp-ci" x1="{xl:.1}" y1="{y:.1}" x2="{xu:.1}" y2="{y:.1}" stroke="currentColor" stroke-width="3" stroke-linecap="round"/><circle class="fp-point" cx="{xe:.1}" cy="{y:.1}" r="5" fill="currentColor"/></g>"#,
                format::signed_pct(r.estimate, 1),
                format::signed_pct(r.lower, 1),
                format::signed_pct(r.upper, 1),
            );
        } else {
            let _ = write!(
                s,
                r#"<text class="fp-undefined" x="{:.1}" y="{:.1}" fill="currentColor">not enough data</text>"#,
                x0 + 4.0,
                y + 4.0
            );
        }
    }
    s.push_str("</svg>");
    s
}

/// A tick label: `−10%`, `0%`, `+2.5%`, with as many decimals as the step needs.
fn tick_label(v: f64, step: f64) -> String {
    let decimals = if step * 100.0 >= 1.0 { 0 } else { (-(step * 100.0).log10()).ceil().max(0.0) as usize };
    format::signed_pct(v, decimals)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(label: &str, e: f64, l: f64, u: f64, verdict: Verdict) -> ForestRow {
        ForestRow { label: label.into(), estimate: e, lower: l, upper: u, verdict }
    }

    #[test]
    fn known_coordinates() {
        // Domain -5%..+20% (step 5%): x = 140 + (v + 0.05) / 0.25 * 276 for width 440.
        let svg = forest_plot("conversion", &[row("B", 0.1, -0.05, 0.2, Verdict::NoDifferenceYet)], 440);
        assert!(svg.contains(r#"viewBox="0 0 440 84""#), "{svg}");
        assert!(svg.contains(r#"<line class="fp-zero" x1="195.2""#), "{svg}");
        assert!(svg.contains(r#"x1="140.0" y1="42.0" x2="416.0" y2="42.0""#), "{svg}");
        assert!(svg.contains(r#"cx="305.6" cy="42.0""#), "{svg}");
        assert!(svg.contains(">−5%<") && svg.contains(">0%<") && svg.contains(">+20%<"), "{svg}");
        assert_eq!(svg.matches("fp-tick").count(), 6);
        assert!(svg.contains("fp-flat"));
    }

    #[test]
    fn escapes_labels_and_titles() {
        let svg = forest_plot("<script>&", &[row("a\"<b>", 0.0, -0.1, 0.1, Verdict::Better)], 400);
        assert!(!svg.contains("<script>") && !svg.contains("<b>"));
        assert!(svg.contains("&lt;script&gt;&amp;") && svg.contains("a&quot;&lt;b&gt;"));
    }

    #[test]
    fn undefined_rows_have_no_marks_and_no_nan() {
        let rows = [
            row("nan", f64::NAN, 0.0, 0.1, Verdict::NotEnoughData),
            row("unbounded", 0.0, f64::NEG_INFINITY, 0.1, Verdict::NotEnoughData),
            row("ok", -0.02, -0.03, -0.01, Verdict::Worse),
        ];
        let svg = forest_plot("m", &rows, 500);
        assert!(!svg.contains("NaN") && !svg.contains("inf"), "{svg}");
        assert_eq!(svg.matches("not enough data").count(), 2);
        assert_eq!(svg.matches("<circle").count(), 1);
        let empty = forest_plot("m", &[], 500);
        assert!(!empty.contains("NaN") && empty.ends_with("</svg>"));
    }

    #[test]
    fn width_scales_the_plot_area() {
        let rows = [row("B", 0.1, 0.0, 0.2, Verdict::Better)];
        let narrow = forest_plot("m", &rows, 10);
        assert!(narrow.contains(&format!(r#"viewBox="0 0 {MIN_WIDTH} "#)));
        let wide = forest_plot("m", &rows, 1000);
        // Domain 0..20%: the upper bound sits at the right edge, 1000 - 24.
        assert!(wide.contains(r#"x2="976.0""#), "{wide}");
        assert!(forest_plot("m", &rows, 500).contains(r#"x2="476.0""#));
    }

    #[test]
    fn ticks_are_nice() {
        assert!((tick_step(0.25) - 0.05).abs() < 1e-12);
        assert!((tick_step(0.3) - 0.1).abs() < 1e-12);
        assert!((tick_step(0.02) - 0.005).abs() < 1e-12);
        assert_eq!(tick_label(0.005, 0.005), "+0.5%");
    }
}
