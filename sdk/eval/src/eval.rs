//! Evaluation: `evaluate(ruleset, flag_key, context) -> Detail`.
//!
//! Pure and total: no I/O, no locks, no allocation, no panic; every input
//! gets a `Detail` whose reason explains the decision.

use std::fmt;

use crate::context::Context;
use crate::model::FlagType;
use crate::ruleset::{CFlag, CServe, Cond, Prereq, Ruleset};

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

/// The result of an evaluation, borrowing from the ruleset.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detail<'s> {
    /// The served value; `None` only on error (use the code default).
    pub value: Option<&'s serde_json::Value>,
    /// The served variant's key; `None` only on error.
    pub variant: Option<&'s str>,
    /// Why.
    pub reason: Reason<'s>,
    /// The first split skipped for lack of a bucketable attribute, if any.
    pub unbucketed: Option<Unbucketed<'s>>,
}

impl<'s> Detail<'s> {
    fn error(e: EvalError) -> Self {
        Detail { value: None, variant: None, reason: Reason::Error(e), unbucketed: None }
    }

    /// Whether the unit was served by a split (an experiment or canary
    /// cohort): the SDK logs an exposure for exactly these.
    pub fn served_by_split(&self) -> bool {
        matches!(self.reason, Reason::Split { .. })
    }

    /// The bucket, when served by a split.
    pub fn bucket(&self) -> Option<u16> {
        match self.reason {
            Reason::Split { bucket, .. } => Some(bucket),
            _ => None,
        }
    }

    /// Whether evaluation failed (no value).
    pub fn is_error(&self) -> bool {
        matches!(self.reason, Reason::Error(_))
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
        write!(f, "{}", self.reason)?;
        if let (Reason::Split { .. }, Some(v)) = (self.reason, self.variant) {
            write!(f, " -> \"{v}\"")?;
        }
        if let Some(u) = self.unbucketed {
            let rule = RuleLabel { index: u.rule, id: None };
            write!(f, " (the split of {rule} was skipped: the context has no bucketable \"{}\")", u.attribute)?;
        }
        Ok(())
    }
}

/// Evaluates `flag_key` for `ctx`.
#[inline]
pub fn evaluate<'s>(rules: &'s Ruleset, flag_key: &str, ctx: &Context<'_>) -> Detail<'s> {
    match rules.flag(flag_key) {
        Some(flag) => eval_flag(rules, flag, ctx),
        None => Detail::error(EvalError::FlagNotFound),
    }
}

/// Evaluates `flag_key` for `ctx`, failing with [`EvalError::WrongType`] when
/// the flag is not of the `requested` type. JSON flags answer any request for
/// `Json`.
#[inline]
pub fn evaluate_typed<'s>(rules: &'s Ruleset, flag_key: &str, ctx: &Context<'_>, requested: FlagType) -> Detail<'s> {
    match rules.flag(flag_key) {
        Some(flag) if flag.kind == requested || requested == FlagType::Json => eval_flag(rules, flag, ctx),
        Some(flag) => Detail::error(EvalError::WrongType { requested, actual: flag.kind }),
        None => Detail::error(EvalError::FlagNotFound),
    }
}

impl Ruleset {
    /// See [`evaluate`].
    #[inline]
    pub fn evaluate<'s>(&'s self, flag_key: &str, ctx: &Context<'_>) -> Detail<'s> {
        evaluate(self, flag_key, ctx)
    }

    /// [`evaluate`] of the flag at `index` (a position in
    /// [`Ruleset::flag_keys`] order, e.g. from [`Ruleset::flag_index`]), for
    /// a caller that already looked the key up; an index out of range
    /// answers [`EvalError::FlagNotFound`].
    #[inline]
    pub fn evaluate_index<'s>(&'s self, index: usize, ctx: &Context<'_>) -> Detail<'s> {
        match self.flags.get(index) {
            Some(flag) => eval_flag(self, flag, ctx),
            None => Detail::error(EvalError::FlagNotFound),
        }
    }
}

fn served<'s>(flag: &'s CFlag, variant: u16, reason: Reason<'s>) -> Detail<'s> {
    match flag.variants.get(usize::from(variant)) {
        Some(v) => Detail { value: Some(&v.value), variant: Some(&v.key), reason, unbucketed: None },
        // Compilation guarantees every index is in range.
        None => Detail::error(EvalError::FlagNotFound),
    }
}

/// A flag's answer. Off flags and flags with neither prerequisites nor
/// rules (the constant ones, [`Ruleset::is_constant`]) are answered here;
/// the rest in [`eval_targeting`], kept out of line so that the constant
/// case pays for none of its set-up.
#[inline]
fn eval_flag<'s>(rules: &'s Ruleset, flag: &'s CFlag, ctx: &Context<'_>) -> Detail<'s> {
    if flag.is_constant() {
        let variant = if flag.enabled { flag.default } else { flag.off };
        return served(flag, variant, flag.fixed_reason);
    }
    eval_targeting(rules, flag, ctx)
}

/// [`eval_flag`] of an enabled flag with prerequisites or rules.
#[inline(never)]
fn eval_targeting<'s>(rules: &'s Ruleset, flag: &'s CFlag, ctx: &Context<'_>) -> Detail<'s> {
    for p in flag.prereqs.iter() {
        if !prereq_holds(rules, p, ctx) {
            let key = rules.flags.get(p.flag as usize).map_or("", |f| &f.key);
            return served(flag, flag.off, Reason::PrerequisiteFailed { flag: key });
        }
    }
    let mut unbucketed = None;
    for (i, rule) in flag.rules.iter().enumerate() {
        if !rule.conds.iter().all(|c| cond_holds(rules, c, ctx)) {
            continue;
        }
        let id = rule.id.as_deref();
        match &rule.serve {
            CServe::Variant(v) => {
                return with_note(served(flag, *v, Reason::RuleMatch { rule: i, id }), unbucketed);
            }
            CServe::Split(split) => match split.bucket(ctx) {
                Some(bucket) => {
                    if let Some(v) = split.variant_for(bucket) {
                        return with_note(served(flag, v, Reason::Split { rule: i, id, bucket }), unbucketed);
                    }
                }
                None => {
                    unbucketed.get_or_insert(crate::Unbucketed { rule: i, attribute: split.attr.name() });
                }
            },
        }
    }
    with_note(served(flag, flag.default, Reason::Default), unbucketed)
}

fn with_note<'s>(mut d: Detail<'s>, note: Option<crate::Unbucketed<'s>>) -> Detail<'s> {
    d.unbucketed = note;
    d
}

fn prereq_holds(rules: &Ruleset, p: &Prereq, ctx: &Context<'_>) -> bool {
    let Some(flag) = rules.flags.get(p.flag as usize) else { return false };
    let d = eval_flag(rules, flag, ctx);
    match d.variant {
        Some(v) => p.variants.iter().any(|i| flag.variants.get(usize::from(*i)).is_some_and(|fv| *fv.key == *v)),
        None => false,
    }
}

#[inline]
fn cond_holds(rules: &Ruleset, cond: &Cond, ctx: &Context<'_>) -> bool {
    match cond {
        Cond::Attr { attr, test, negate } => {
            attr.with_value(ctx, |v| test.eval(v)).flatten().is_some_and(|b| b != *negate)
        }
        Cond::Segment { segments, negate } => segments.iter().any(|s| in_segment(rules, *s, ctx)) != *negate,
        Cond::Prerequisite(p) => prereq_holds(rules, p, ctx),
    }
}

fn in_segment(rules: &Ruleset, segment: u32, ctx: &Context<'_>) -> bool {
    let Some(seg) = rules.segments.get(segment as usize) else { return false };
    if let Some(key) = ctx.key() {
        if seg.included.contains(key) {
            return true;
        }
        if seg.excluded.contains(key) {
            return false;
        }
    }
    !seg.conds.is_empty() && seg.conds.iter().all(|c| cond_holds(rules, c, ctx))
}
