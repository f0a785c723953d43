//! Experiment results as CSV: one row per metric and variant, every figure
//! of the JSON answer in its own column; empty cells where a figure is
//! undefined (see `flagyard_stats::Status`).

use std::fmt::Write as _;

use super::results::ResultsView;

const HEADER: &str = "experiment,computed_at,analysis,alpha,metric,role,kind,good_direction,variant,control,\
weight,units,excluded,n,sum,sum_sq,mean,variance,std_error,\
absolute_estimate,absolute_ci_lower,absolute_ci_upper,absolute_p_value,\
relative_estimate,relative_ci_lower,relative_ci_upper,relative_p_value,\
holm_p_value,bh_p_value,chance_to_win,risk_control,risk_treatment,\
sequential_ci_lower,sequential_ci_upper,sequential_p_value,verdict,srm_p_value,srm_warning";

/// A CSV field: quoted when it holds a comma, quote or line break.
fn text(out: &mut String, s: &str) {
    if s.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(s);
    }
}

fn num(out: &mut String, v: Option<f64>) {
    if let Some(v) = v {
        let _ = write!(out, "{v}");
    }
}

/// The results as CSV text (RFC 4180, `\r\n` line ends).
pub fn results_csv(r: &ResultsView) -> String {
    let mut out = String::with_capacity(1024);
    out.push_str(HEADER);
    out.push_str("\r\n");
    for m in &r.metrics {
        for v in &m.variants {
            let units = r.variants.iter().find(|u| u.variant == v.variant);
            let c = v.comparison.as_ref();
            for field in [&r.experiment, &r.computed_at, &r.analysis] {
                text(&mut out, field);
                out.push(',');
            }
            num(&mut out, Some(r.alpha));
            for field in [&m.metric, &m.role, &m.kind, &m.good_direction, &v.variant] {
                out.push(',');
                text(&mut out, field);
            }
            let _ = write!(out, ",{}", v.control);
            let cells = [
                units.map(|u| f64::from(u.weight)),
                units.map(|u| u.units as f64),
                units.map(|u| u.excluded as f64),
                Some(v.n as f64),
                Some(v.sum),
                Some(v.sum_sq),
                v.summary.mean,
                v.summary.variance,
                v.summary.std_error,
                c.and_then(|c| c.absolute.estimate),
                c.and_then(|c| c.absolute.ci.map(|i| i.lower)),
                c.and_then(|c| c.absolute.ci.map(|i| i.upper)),
                c.and_then(|c| c.absolute.p_value),
                c.and_then(|c| c.relative.estimate),
                c.and_then(|c| c.relative.ci.map(|i| i.lower)),
                c.and_then(|c| c.relative.ci.map(|i| i.upper)),
                c.and_then(|c| c.relative.p_value),
                v.holm_p_value,
                v.bh_p_value,
                c.and_then(|c| c.bayesian.chance_to_win),
                c.and_then(|c| c.bayesian.risk_control),
                c.and_then(|c| c.bayesian.risk_treatment),
                c.and_then(|c| c.sequential.ci.map(|i| i.lower)),
                c.and_then(|c| c.sequential.ci.map(|i| i.upper)),
                c.and_then(|c| c.sequential.p_value),
            ];
            for cell in cells {
                out.push(',');
                num(&mut out, cell);
            }
            out.push(',');
            text(&mut out, v.verdict.as_deref().unwrap_or(""));
            out.push(',');
            num(&mut out, r.srm.p_value);
            let _ = write!(out, ",{}\r\n", r.srm.warning);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_only_when_needed() {
        let mut s = String::new();
        text(&mut s, "plain");
        s.push('|');
        text(&mut s, "a,b");
        s.push('|');
        text(&mut s, "say \"hi\"");
        assert_eq!(s, "plain|\"a,b\"|\"say \"\"hi\"\"\"");
        let mut n = String::new();
        num(&mut n, Some(0.25));
        num(&mut n, None);
        assert_eq!(n, "0.25");
        assert_eq!(HEADER.split(',').count(), 38);
    }
}
