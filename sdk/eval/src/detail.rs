//! The answer of an evaluation: [`Detail`] (value, variant, [`Reason`]).
//!
//! A `Detail` is two machine words: the compiled flag it answers for and a
//! packed code (variant index, reason kind, rule, bucket, skipped split).
//! Small enough to travel in registers, so returning one and moving it
//! costs no memory round trip; the value, the variant key, the rule id and
//! the skipped split's attribute are read from the flag on demand.

use std::fmt;

use crate::model::FlagType;
use crate::ruleset::{CFlag, CServe};

/// Rules (and, separately, prerequisites) a flag may have: the index of
/// one is packed into 14 bits of a [`Detail`].
pub const MAX_RULES: usize = (1 << 14) - 1;

/// Why an evaluation produced no value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EvalError {
    /// The ruleset has no flag with that key.
    FlagNotFound,
    /// The caller asked for another type than the flag has.
    WrongType {
        /// What the caller asked for.
        requested: FlagType,
        /// What the flag is.
        actual: FlagType,
    },
}

/// Why a flag served what it served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason<'s> {
    /// The flag is disabled in this environment: the off variant.
    Off,
    /// A prerequisite flag did not serve a required variant: the off variant.
    PrerequisiteFailed {
        /// The prerequisite flag's key.
        flag: &'s str,
    },
    /// Rule `rule` (0-based) matched and serves a fixed variant.
    RuleMatch {
        /// Rule index.
        rule: usize,
        /// Rule id, when it has one.
        id: Option<&'s str>,
    },
    /// Rule `rule` matched and its split put the unit in `bucket`.
    Split {
        /// Rule index.
        rule: usize,
        /// Rule id, when it has one.
        id: Option<&'s str>,
        /// The unit's bucket, 0..=9999.
        bucket: u16,
    },
    /// No rule matched: the default variant.
    Default,
    /// No value could be produced.
    Error(EvalError),
}

/// A split that matched but could not place the unit because the context
/// lacks the bucketing attribute (or holds a type that cannot be bucketed);
/// evaluation went on as if the rule had not matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unbucketed<'s> {
    /// Rule index of the split.
    pub rule: usize,
    /// The attribute it buckets by (`key` for the targeting key).
    pub attribute: &'s str,
}

/// The reason's kind, as packed in a [`Code`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Kind {
    Off = 0,
    PrerequisiteFailed = 1,
    RuleMatch = 2,
    Split = 3,
    Default = 4,
    FlagNotFound = 5,
    WrongType = 6,
}

/// A packed answer. Bits: 0..16 the variant index; 16..19 the [`Kind`];
/// 19..33 the rule (or prerequisite) index, or for `WrongType` the
/// requested and actual types; 33..47 the bucket; 47..61 the skipped
/// split's rule index + 1 (0: none). Every field is bounded by compilation
/// (variants ≤ 65,535, rules and prerequisites ≤ [`MAX_RULES`], buckets
/// < 10,000), so none overflows into the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Code(u64);

const KIND: u32 = 16;
const INDEX: u32 = 19;
const BUCKET: u32 = 33;
const SKIPPED: u32 = 47;
const FIELD: u64 = (1 << 14) - 1;

impl Code {
    /// Serving variant `variant` for a reason of `kind` with rule (or
    /// prerequisite) `index`.
    #[inline(always)]
    pub(crate) const fn served(variant: u16, kind: Kind, index: usize) -> Self {
        Code(variant as u64 | (kind as u64) << KIND | (index as u64 & FIELD) << INDEX)
    }

    /// Served by rule `rule`'s split, the unit in `bucket`.
    #[inline(always)]
    pub(crate) const fn split(variant: u16, rule: usize, bucket: u16) -> Self {
        Code(Code::served(variant, Kind::Split, rule).0 | (bucket as u64 & FIELD) << BUCKET)
    }

    const fn error(e: EvalError) -> Self {
        match e {
            EvalError::FlagNotFound => Code((Kind::FlagNotFound as u64) << KIND),
            EvalError::WrongType { requested, actual } => {
                let types = type_bits(requested) | type_bits(actual) << 4;
                Code((Kind::WrongType as u64) << KIND | types << INDEX)
            }
        }
    }

    /// Notes that rule `rule`'s split was skipped for lack of a unit.
    #[inline(always)]
    pub(crate) const fn with_skipped(self, rule: Option<usize>) -> Self {
        match rule {
            Some(r) => Code(self.0 | ((r as u64 + 1) & FIELD) << SKIPPED),
            None => self,
        }
    }

    #[inline(always)]
    pub(crate) const fn variant(self) -> usize {
        (self.0 & 0xffff) as usize
    }

    #[inline(always)]
    fn kind(self) -> Kind {
        match (self.0 >> KIND) & 7 {
            0 => Kind::Off,
            1 => Kind::PrerequisiteFailed,
            2 => Kind::RuleMatch,
            3 => Kind::Split,
            4 => Kind::Default,
            5 => Kind::FlagNotFound,
            _ => Kind::WrongType,
        }
    }

    #[inline(always)]
    const fn index(self) -> usize {
        ((self.0 >> INDEX) & FIELD) as usize
    }

    #[inline(always)]
    const fn bucket(self) -> u16 {
        ((self.0 >> BUCKET) & FIELD) as u16
    }

    #[inline(always)]
    const fn skipped(self) -> Option<usize> {
        match (self.0 >> SKIPPED) & FIELD {
            0 => None,
            r => Some(r as usize - 1),
        }
    }
}

const fn type_bits(t: FlagType) -> u64 {
    match t {
        FlagType::Boolean => 0,
        FlagType::String => 1,
        FlagType::Number => 2,
        FlagType::Json => 3,
    }
}

const fn type_of(bits: u64) -> FlagType {
    match bits & 0xf {
        0 => FlagType::Boolean,
        1 => FlagType::String,
        2 => FlagType::Number,
        _ => FlagType::Json,
    }
}

/// The result of an evaluation, borrowing from the ruleset: the served
/// [`value`](Detail::value) and [`variant`](Detail::variant), and the
/// [`reason`](Detail::reason). `Copy`, and two words in size.
#[derive(Clone, Copy)]
pub struct Detail<'s> {
    /// The flag answered for; `None` only when it was not found.
    flag: Option<&'s CFlag>,
    code: Code,
}

impl<'s> Detail<'s> {
    #[inline(always)]
    pub(crate) const fn new(flag: &'s CFlag, code: Code) -> Self {
        Detail { flag: Some(flag), code }
    }

    #[inline(always)]
    pub(crate) const fn error(flag: Option<&'s CFlag>, e: EvalError) -> Self {
        Detail { flag, code: Code::error(e) }
    }

    /// The served value; `None` only on error (use the code default).
    #[inline]
    pub fn value(&self) -> Option<&'s serde_json::Value> {
        if self.is_error() {
            return None;
        }
        self.flag?.variants.get(self.code.variant()).map(|v| &v.value)
    }

    /// The served variant's key; `None` only on error.
    #[inline]
    pub fn variant(&self) -> Option<&'s str> {
        if self.is_error() {
            return None;
        }
        self.flag?.variants.get(self.code.variant()).map(|v| &*v.key)
    }

    /// Why.
    pub fn reason(&self) -> Reason<'s> {
        let rule_id = |i: usize| self.flag.and_then(|f| f.rules.get(i)).and_then(|r| r.id.as_deref());
        let code = self.code;
        match code.kind() {
            Kind::Off => Reason::Off,
            Kind::PrerequisiteFailed => Reason::PrerequisiteFailed {
                flag: self.flag.and_then(|f| f.prereqs.get(code.index())).map_or("", |p| &*p.key),
            },
            Kind::RuleMatch => Reason::RuleMatch { rule: code.index(), id: rule_id(code.index()) },
            Kind::Split => Reason::Split { rule: code.index(), id: rule_id(code.index()), bucket: code.bucket() },
            Kind::Default => Reason::Default,
            Kind::FlagNotFound => Reason::Error(EvalError::FlagNotFound),
            Kind::WrongType => {
                let types = code.0 >> INDEX;
                Reason::Error(EvalError::WrongType { requested: type_of(types), actual: type_of(types >> 4) })
            }
        }
    }

    /// The first split skipped for lack of a bucketable attribute, if any.
    pub fn unbucketed(&self) -> Option<Unbucketed<'s>> {
        let rule = self.code.skipped()?;
        match &self.flag?.rules.get(rule)?.serve {
            CServe::Split(split) => Some(Unbucketed { rule, attribute: split.attr.name() }),
            CServe::Variant(_) => None,
        }
    }

    /// Whether the unit was served by a split (an experiment or canary
    /// cohort): the SDK logs an exposure for exactly these.
    #[inline]
    pub fn served_by_split(&self) -> bool {
        self.code.kind() == Kind::Split
    }

    /// The bucket, when served by a split.
    #[inline]
    pub fn bucket(&self) -> Option<u16> {
        self.served_by_split().then_some(self.code.bucket())
    }

    /// Whether evaluation failed (no value).
    #[inline]
    pub fn is_error(&self) -> bool {
        matches!(self.code.kind(), Kind::FlagNotFound | Kind::WrongType)
    }
}

/// Equal when value, variant, reason and skipped split are: two answers
/// from different rulesets can be equal.
impl PartialEq for Detail<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.value() == other.value()
            && self.variant() == other.variant()
            && self.reason() == other.reason()
            && self.unbucketed() == other.unbucketed()
    }
}

impl fmt::Debug for Detail<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Detail")
            .field("value", &self.value())
            .field("variant", &self.variant())
            .field("reason", &self.reason())
            .field("unbucketed", &self.unbucketed())
            .finish()
    }
}

/// How people are told which rule: its id (name) when it has one, else its
/// 1-based position, as the rules editor numbers them: `rule "canary"`,
/// `rule 3`. Every message about a rule (reasons here and in the SDK, the
/// UI's error lists) uses it.
#[derive(Debug, Clone, Copy)]
pub struct RuleLabel<'a> {
    /// 0-based index.
    pub index: usize,
    /// The rule's id, when it has one.
    pub id: Option<&'a str>,
}

impl fmt::Display for RuleLabel<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.id {
            Some(id) => write!(f, "rule \"{id}\""),
            None => write!(f, "rule {}", self.index + 1),
        }
    }
}

impl fmt::Display for Reason<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rule =
            |f: &mut fmt::Formatter<'_>, index: usize, id: Option<&str>| write!(f, "{}", RuleLabel { index, id });
        match self {
            Reason::Off => f.write_str("the flag is off"),
            Reason::PrerequisiteFailed { flag } => write!(f, "prerequisite \"{flag}\" failed"),
            Reason::RuleMatch { rule: r, id } => {
                rule(f, *r, *id)?;
                f.write_str(" matched")
            }
            Reason::Split { rule: r, id, bucket } => {
                rule(f, *r, *id)?;
                write!(f, " matched; split bucket {bucket}")
            }
            Reason::Default => f.write_str("no rule matched: default"),
            Reason::Error(EvalError::FlagNotFound) => f.write_str("error: flag not found"),
            Reason::Error(EvalError::WrongType { requested, actual }) => {
                write!(f, "error: requested a {requested} but the flag is a {actual}")
            }
        }
    }
}

impl fmt::Display for Detail<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reason = self.reason();
        write!(f, "{reason}")?;
        if let (Reason::Split { .. }, Some(v)) = (reason, self.variant()) {
            write!(f, " -> \"{v}\"")?;
        }
        if let Some(u) = self.unbucketed() {
            let rule = RuleLabel { index: u.rule, id: None };
            write!(f, " (the split of {rule} was skipped: the context has no bucketable \"{}\")", u.attribute)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_detail_is_two_words() {
        assert_eq!(std::mem::size_of::<Detail<'_>>(), 16);
    }

    #[test]
    fn fields_do_not_overlap() {
        let c = Code::split(u16::MAX, MAX_RULES - 1, 9_999).with_skipped(Some(MAX_RULES - 1));
        assert_eq!(
            (c.variant(), c.kind(), c.index(), c.bucket(), c.skipped()),
            (usize::from(u16::MAX), Kind::Split, MAX_RULES - 1, 9_999, Some(MAX_RULES - 1))
        );
        let c = Code::served(0, Kind::RuleMatch, 0);
        assert_eq!((c.variant(), c.kind(), c.index(), c.bucket(), c.skipped()), (0, Kind::RuleMatch, 0, 0, None));
        for requested in [FlagType::Boolean, FlagType::String, FlagType::Number, FlagType::Json] {
            for actual in [FlagType::Boolean, FlagType::String, FlagType::Number, FlagType::Json] {
                let d = Detail::error(None, EvalError::WrongType { requested, actual });
                assert_eq!(d.reason(), Reason::Error(EvalError::WrongType { requested, actual }));
                assert!(d.is_error() && d.value().is_none() && d.variant().is_none());
            }
        }
    }
}
