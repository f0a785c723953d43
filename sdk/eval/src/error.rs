//! Why a snapshot was refused: every problem with the exact path to it.

use std::fmt;

use crate::model::FlagType;

/// One problem found while compiling a snapshot.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{path}: {kind}")]
pub struct CompileError {
    /// Where, e.g. `flags.new-checkout.environments.production.rules[2].conditions[0].values`.
    pub path: String,
    /// What is wrong.
    pub kind: CompileErrorKind,
}

/// What is wrong at a path.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CompileErrorKind {
    /// Not JSON, or JSON of the wrong shape (missing field, wrong type...).
    #[error("{0}")]
    Malformed(String),
    /// A flag, segment, variant or rule key outside the key format.
    #[error(
        "invalid key `{0}`: keys are 1 to 128 ASCII letters, digits, `.`, `_` or `-`, starting with a letter or digit"
    )]
    InvalidKey(String),
    /// The same key twice where keys must be unique.
    #[error("duplicate key `{0}`")]
    DuplicateKey(String),
    /// A variant value that is not of the flag's type.
    #[error("value {found} is not a {expected}")]
    WrongValueType {
        /// The flag's type.
        expected: FlagType,
        /// The value, as JSON (shortened).
        found: String,
    },
    /// A flag without variants.
    #[error("a flag needs at least one variant")]
    NoVariants,
    /// A reference to a variant the flag does not have.
    #[error("unknown variant `{0}`")]
    UnknownVariant(String),
    /// A reference to a segment the snapshot does not have.
    #[error("unknown segment `{0}`")]
    UnknownSegment(String),
    /// A reference to a flag the snapshot does not have.
    #[error("unknown flag `{0}`")]
    UnknownFlag(String),
    /// The flag has no configuration for the snapshot's environment.
    #[error("no configuration for environment `{0}`")]
    MissingEnvironment(String),
    /// Split weights that do not add up to 10000.
    #[error("weights add up to {0}, not 10000")]
    WeightSum(u64),
    /// A weight or coverage above 10000 basis points.
    #[error("{0} is outside 0..=10000 basis points")]
    BasisPoints(u32),
    /// A split without variants.
    #[error("a split needs at least one variant")]
    EmptySplit,
    /// An operator given the wrong operands.
    #[error("operator `{op}` takes {expected}")]
    Operands {
        /// The operator's wire name.
        op: &'static str,
        /// What it takes.
        expected: &'static str,
    },
    /// A field the operator does not use, or a missing one it needs.
    #[error("{0}")]
    Field(&'static str),
    /// A regular expression that does not compile (or is too large).
    #[error("invalid regular expression: {0}")]
    Regex(String),
    /// A value that is not a semantic version.
    #[error("invalid semantic version `{0}`")]
    Semver(String),
    /// A value that is not an RFC 3339 date-time nor epoch milliseconds.
    #[error("invalid date-time `{0}`: expected RFC 3339 (e.g. 2025-01-31T12:00:00Z) or epoch milliseconds")]
    Date(String),
    /// A number that is not finite.
    #[error("invalid number `{0}`")]
    Number(String),
    /// Flags whose prerequisites (or segments that) refer back to themselves.
    #[error("reference cycle: {0}")]
    Cycle(String),
    /// Prerequisites or segments nested deeper than evaluation allows.
    #[error("references nest deeper than {0} levels")]
    TooDeep(usize),
    /// A segment condition that is not allowed in segments.
    #[error("segments cannot use prerequisites")]
    PrerequisiteInSegment,
    /// More regular expressions in one snapshot than the engine compiles
    /// ([`crate::MAX_PATTERNS`] patterns, [`crate::MAX_PATTERN_BYTES`] bytes).
    #[error(
        "too many regular expressions: a snapshot holds at most {max_patterns} `matches` patterns of {max_bytes} bytes in all (this one would hold {patterns}, {bytes} bytes)"
    )]
    PatternBudget {
        /// Patterns up to and including this condition.
        patterns: usize,
        /// Their bytes.
        bytes: usize,
        /// The limit on patterns.
        max_patterns: usize,
        /// The limit on their bytes.
        max_bytes: usize,
    },
}

/// Every problem found in a snapshot (at least one).
#[derive(Debug, Clone, PartialEq)]
pub struct CompileErrors(pub(crate) Vec<CompileError>);

impl CompileErrors {
    /// The problems, in document order.
    pub fn errors(&self) -> &[CompileError] {
        &self.0
    }

    /// Consumes into the list of problems.
    pub fn into_vec(self) -> Vec<CompileError> {
        self.0
    }
}

impl fmt::Display for CompileErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for CompileErrors {}

/// Shortened JSON text of a value for messages.
pub(crate) fn json_excerpt(v: &serde_json::Value) -> String {
    let mut s = v.to_string();
    if s.len() > 60 {
        let mut cut = 57;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push_str("...");
    }
    s
}
