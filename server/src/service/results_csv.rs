//! Experiment results as CSV: one row per metric and variant, every figure
//! of the JSON answer in its own column; empty cells where a figure is
//! undefined (see `flagyard_stats::Status`).

use super::results::ResultsView;

const HEADER: &str = "experiment,computed_at,analysis,alpha,metric,role,kind,good_direction,variant,control,\
weight,units,excluded,n,sum,sum_sq,mean,variance,std_error,\
absolute_estimate,absolute_ci_lower,absolute_ci_upper,absolute_p_value,\
relative_estimate,relative_ci_lower,relative_ci_upper,relative_p_value,\
holm_p_value,bh_p_value,chance_to_win,risk_control,risk_treatment,\
sequential_ci_lower,sequential_ci_upper,sequential_p_value,verdict,srm_p_value,srm_warning";

/// A writer of RFC 4180 records with `\r\n` line ends; fields are quoted
/// only when they hold a comma, quote or line break.
fn writer() -> csv::Writer<Vec<u8>> {
    csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::with_capacity(1024))
}

/// A number cell: empty when the figure is undefined.
fn num(v: Option<f64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// The text of everything written (in memory: cannot fail; fields are UTF-8).
fn finish(w: csv::Writer<Vec<u8>>) -> String {
    let bytes = w.into_inner().expect("writing to memory cannot fail");
    String::from_utf8(bytes).expect("every field is UTF-8")
}

/// The results as CSV text (RFC 4180, `\r\n` line ends).
pub fn results_csv(r: &ResultsView) -> String {
    let mut out = writer();
    write(&mut out, r).expect("writing to memory cannot fail");
    finish(out)
}

fn write(out: &mut csv::Writer<Vec<u8>>, r: &ResultsView) -> csv::Result<()> {
    out.write_record(HEADER.split(','))?;
    for m in &r.metrics {
        for v in &m.variants {
            let units = r.variants.iter().find(|u| u.variant == v.variant);
            let c = v.comparison.as_ref();
            for field in [&r.experiment, &r.computed_at, &r.analysis] {
                out.write_field(field)?;
            }
            out.write_field(num(Some(r.alpha)))?;
            for field in [&m.metric, &m.role, &m.kind, &m.good_direction, &v.variant] {
                out.write_field(field)?;
            }
            out.write_field(v.control.to_string())?;
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
                out.write_field(num(cell))?;
            }
            out.write_field(v.verdict.as_deref().unwrap_or(""))?;
            out.write_field(num(r.srm.p_value))?;
            out.write_field(r.srm.warning.to_string())?;
            out.write_record(None::<&[u8]>)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_only_when_needed() {
        let mut w = writer();
        w.write_record(["plain", "a,b", "say \"hi\"", "two\nlines", &num(Some(0.25)), &num(None)]).unwrap();
        w.write_record(["x", "", "", "", "", ""]).unwrap();
        assert_eq!(finish(w), "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",0.25,\r\nx,,,,,\r\n");
        assert_eq!(HEADER.split(',').count(), 38);
    }
}
