//! Reading an effect: intervals, the metric's good direction, and the verdict.

/// Which way a metric should move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GoodDirection {
    /// Higher is better (conversion, revenue).
    #[default]
    Increase,
    /// Lower is better (latency, errors).
    Decrease,
}

/// The analysis an experiment uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Analysis {
    /// Fixed-horizon Welch tests.
    #[default]
    Frequentist,
    /// Always-valid confidence sequences.
    Sequential,
    /// Chance to beat control.
    Bayesian,
}

impl Analysis {
    /// Wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Analysis::Frequentist => "frequentist",
            Analysis::Sequential => "sequential",
            Analysis::Bayesian => "bayesian",
        }
    }
}

/// An estimate with its interval (fractions: 0.1 = 10 %).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    /// Point estimate.
    pub estimate: f64,
    /// Lower bound.
    pub lower: f64,
    /// Upper bound.
    pub upper: f64,
}

impl Interval {
    /// Whether all three figures are finite and ordered.
    pub fn is_defined(&self) -> bool {
        self.estimate.is_finite()
            && self.lower.is_finite()
            && self.upper.is_finite()
            && self.lower <= self.estimate
            && self.estimate <= self.upper
    }
}

/// What a variant's effect on a metric means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Figures undefined (no units, zero control mean...).
    NotEnoughData,
    /// The interval still holds zero.
    NoDifferenceYet,
    /// Significantly better (given the good direction).
    Better,
    /// Significantly worse.
    Worse,
}

impl Verdict {
    /// The server's verdict (`better`, `worse`, `inconclusive`,
    /// `notEnoughData`); anything else reads as not enough data.
    pub fn from_wire(verdict: &str) -> Verdict {
        match verdict {
            "better" => Verdict::Better,
            "worse" => Verdict::Worse,
            "inconclusive" => Verdict::NoDifferenceYet,
            _ => Verdict::NotEnoughData,
        }
    }

    /// CSS class suffix: `better`, `worse`, `flat`, `undefined`.
    pub fn class(self) -> &'static str {
        match self {
            Verdict::Better => "better",
            Verdict::Worse => "worse",
            Verdict::NoDifferenceYet => "flat",
            Verdict::NotEnoughData => "undefined",
        }
    }

    /// Words for the verdict.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Better => "Better",
            Verdict::Worse => "Worse",
            Verdict::NoDifferenceYet => "No detectable difference yet",
            Verdict::NotEnoughData => "Not enough data",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_s_verdicts_read_as_shown() {
        for (wire, v, label) in [
            ("better", Verdict::Better, "Better"),
            ("worse", Verdict::Worse, "Worse"),
            ("inconclusive", Verdict::NoDifferenceYet, "No detectable difference yet"),
            ("notEnoughData", Verdict::NotEnoughData, "Not enough data"),
            ("", Verdict::NotEnoughData, "Not enough data"),
        ] {
            assert_eq!((Verdict::from_wire(wire), Verdict::from_wire(wire).label()), (v, label));
        }
    }
}
