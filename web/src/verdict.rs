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
    /// Decides from a relative (or absolute) interval, or for a Bayesian
    /// analysis from the chance to beat control (better when ≥ 1 − α, worse
    /// when ≤ α).
    pub fn decide(
        interval: Option<Interval>,
        chance_to_beat: Option<f64>,
        analysis: Analysis,
        alpha: f64,
        good: GoodDirection,
    ) -> Verdict {
        let up = match (analysis, chance_to_beat) {
            (Analysis::Bayesian, Some(c)) if c.is_finite() => {
                if c >= 1.0 - alpha {
                    Some(true)
                } else if c <= alpha {
                    Some(false)
                } else {
                    None
                }
            }
            (Analysis::Bayesian, _) => return Verdict::NotEnoughData,
            _ => match interval {
                Some(i) if i.is_defined() => {
                    if i.lower > 0.0 {
                        Some(true)
                    } else if i.upper < 0.0 {
                        Some(false)
                    } else {
                        None
                    }
                }
                _ => return Verdict::NotEnoughData,
            },
        };
        match (up, good) {
            (None, _) => Verdict::NoDifferenceYet,
            (Some(up), GoodDirection::Increase) => {
                if up {
                    Verdict::Better
                } else {
                    Verdict::Worse
                }
            }
            (Some(up), GoodDirection::Decrease) => {
                if up {
                    Verdict::Worse
                } else {
                    Verdict::Better
                }
            }
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

    const UP: Interval = Interval { estimate: 0.1, lower: 0.01, upper: 0.19 };
    const FLAT: Interval = Interval { estimate: 0.1, lower: -0.01, upper: 0.19 };
    const DOWN: Interval = Interval { estimate: -0.1, lower: -0.19, upper: -0.01 };

    #[test]
    fn verdicts_follow_the_good_direction() {
        let f = Analysis::Frequentist;
        assert_eq!(Verdict::decide(Some(UP), None, f, 0.05, GoodDirection::Increase), Verdict::Better);
        assert_eq!(Verdict::decide(Some(UP), None, f, 0.05, GoodDirection::Decrease), Verdict::Worse);
        assert_eq!(Verdict::decide(Some(DOWN), None, f, 0.05, GoodDirection::Decrease), Verdict::Better);
        assert_eq!(Verdict::decide(Some(DOWN), None, f, 0.05, GoodDirection::Increase), Verdict::Worse);
        assert_eq!(Verdict::decide(Some(FLAT), None, f, 0.05, GoodDirection::Increase), Verdict::NoDifferenceYet);
        assert_eq!(Verdict::decide(None, None, f, 0.05, GoodDirection::Increase), Verdict::NotEnoughData);
        let nan = Interval { estimate: f64::NAN, lower: 0.0, upper: 1.0 };
        assert_eq!(Verdict::decide(Some(nan), None, f, 0.05, GoodDirection::Increase), Verdict::NotEnoughData);
    }

    #[test]
    fn bayesian_uses_the_chance_to_beat_control() {
        let b = Analysis::Bayesian;
        assert_eq!(Verdict::decide(Some(FLAT), Some(0.986), b, 0.05, GoodDirection::Increase), Verdict::Better);
        assert_eq!(Verdict::decide(None, Some(0.986), b, 0.05, GoodDirection::Decrease), Verdict::Worse);
        assert_eq!(Verdict::decide(None, Some(0.6), b, 0.05, GoodDirection::Increase), Verdict::NoDifferenceYet);
        assert_eq!(Verdict::decide(None, Some(0.01), b, 0.05, GoodDirection::Increase), Verdict::Worse);
        assert_eq!(Verdict::decide(Some(UP), None, b, 0.05, GoodDirection::Increase), Verdict::NotEnoughData);
    }
}
