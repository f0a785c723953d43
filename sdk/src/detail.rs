//! [`EvaluationDetail`]: an owned account of one evaluation.

use std::fmt;

use flagyard_eval::{Detail, EvalError, FlagType, Reason};

/// Why the caller's default was returned instead of a served value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultReason {
    /// The client has no rules yet (nothing from the server, no bootstrap,
    /// no cache file).
    NotReady,
    /// The rules have no flag with this key.
    FlagNotFound,
    /// The flag is of another type than the getter asked for.
    WrongType {
        /// What the getter asked for.
        requested: FlagType,
        /// What the flag is.
        actual: FlagType,
    },
}

impl fmt::Display for DefaultReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DefaultReason::NotReady => f.write_str("the client has no rules yet"),
            DefaultReason::FlagNotFound => f.write_str("flag not found"),
            DefaultReason::WrongType { requested, actual } => {
                write!(f, "requested a {requested} but the flag is a {actual}")
            }
        }
    }
}

/// Why a flag served what it served (owned form of the engine's reason).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EvaluationReason {
    /// The flag is disabled: its off variant.
    Off,
    /// A prerequisite flag did not serve a required variant: the off variant.
    PrerequisiteFailed {
        /// The prerequisite's key.
        flag: String,
    },
    /// Rule `rule` (0-based) matched and serves a fixed variant.
    RuleMatch {
        /// Rule index.
        rule: usize,
        /// Rule id, when it has one.
        id: Option<String>,
    },
    /// Rule `rule` matched and its split put the unit in `bucket`.
    Split {
        /// Rule index.
        rule: usize,
        /// Rule id, when it has one.
        id: Option<String>,
        /// The unit's bucket, 0..=9999.
        bucket: u16,
    },
    /// No rule matched: the default variant.
    Default,
    /// Nothing was served: the caller's default was returned.
    Error(DefaultReason),
}

impl EvaluationReason {
    /// A short constant code, in the style of OpenFeature's reasons: `OFF`,
    /// `PREREQUISITE_FAILED`, `TARGETING_MATCH`, `SPLIT`, `DEFAULT`, `ERROR`.
    pub fn code(&self) -> &'static str {
        match self {
            EvaluationReason::Off => "OFF",
            EvaluationReason::PrerequisiteFailed { .. } => "PREREQUISITE_FAILED",
            EvaluationReason::RuleMatch { .. } => "TARGETING_MATCH",
            EvaluationReason::Split { .. } => "SPLIT",
            EvaluationReason::Default => "DEFAULT",
            EvaluationReason::Error(_) => "ERROR",
        }
    }

    pub(crate) fn from_engine(reason: &Reason<'_>) -> Self {
        match *reason {
            Reason::Off => EvaluationReason::Off,
            Reason::PrerequisiteFailed { flag } => EvaluationReason::PrerequisiteFailed { flag: flag.to_owned() },
            Reason::RuleMatch { rule, id } => EvaluationReason::RuleMatch { rule, id: id.map(str::to_owned) },
            Reason::Split { rule, id, bucket } => EvaluationReason::Split { rule, id: id.map(str::to_owned), bucket },
            Reason::Default => EvaluationReason::Default,
            Reason::Error(EvalError::FlagNotFound) => EvaluationReason::Error(DefaultReason::FlagNotFound),
            Reason::Error(EvalError::WrongType { requested, actual }) => {
                EvaluationReason::Error(DefaultReason::WrongType { requested, actual })
            }
        }
    }
}

impl fmt::Display for EvaluationReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rule = |f: &mut fmt::Formatter<'_>, index: usize, id: &Option<String>| {
            write!(f, "{}", flagyard_eval::RuleLabel { index, id: id.as_deref() })
        };
        match self {
            EvaluationReason::Off => f.write_str("the flag is off"),
            EvaluationReason::PrerequisiteFailed { flag } => write!(f, "prerequisite \"{flag}\" failed"),
            EvaluationReason::RuleMatch { rule: r, id } => {
                rule(f, *r, id)?;
                f.write_str(" matched")
            }
            EvaluationReason::Split { rule: r, id, bucket } => {
                rule(f, *r, id)?;
                write!(f, " matched; split bucket {bucket}")
            }
            EvaluationReason::Default => f.write_str("no rule matched: default"),
            EvaluationReason::Error(e) => write!(f, "error: {e}; the caller's default was returned"),
        }
    }
}

/// Everything about one evaluation, owned (it outlives rule changes).
///
/// `T` is the value type: `bool`, `String`, `f64` or `serde_json::Value` for
/// the typed `*_detail` getters (the caller's default when nothing was
/// served), `Option<serde_json::Value>` for [`Client::detail`](crate::Client::detail).
#[derive(Debug, Clone, PartialEq)]
pub struct EvaluationDetail<T> {
    /// The served value, or the caller's default (see [`Self::defaulted`]).
    pub value: T,
    /// The served variant's key; `None` when the default was returned.
    pub variant: Option<String>,
    /// Why.
    pub reason: EvaluationReason,
    /// The version of the rules evaluated; `None` when not ready.
    pub version: Option<u64>,
}

impl<T> EvaluationDetail<T> {
    pub(crate) fn from_engine(value: T, d: &Detail<'_>, version: u64) -> Self {
        EvaluationDetail {
            value,
            variant: d.variant().map(str::to_owned),
            reason: EvaluationReason::from_engine(&d.reason()),
            version: Some(version),
        }
    }

    pub(crate) fn not_ready(value: T) -> Self {
        EvaluationDetail {
            value,
            variant: None,
            reason: EvaluationReason::Error(DefaultReason::NotReady),
            version: None,
        }
    }

    /// Why the caller's default was returned, or `None` when a variant was
    /// served.
    pub fn defaulted(&self) -> Option<DefaultReason> {
        match self.reason {
            EvaluationReason::Error(e) => Some(e),
            _ => None,
        }
    }

    /// Whether the unit was served by a split (experiment or canary cohort):
    /// exactly the evaluations that record an exposure.
    pub fn served_by_split(&self) -> bool {
        matches!(self.reason, EvaluationReason::Split { .. })
    }

    /// The unit's bucket when served by a split.
    pub fn bucket(&self) -> Option<u16> {
        match self.reason {
            EvaluationReason::Split { bucket, .. } => Some(bucket),
            _ => None,
        }
    }
}
