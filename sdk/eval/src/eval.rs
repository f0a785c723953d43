//! Evaluation: `evaluate(ruleset, flag_key, context) -> Detail`.
//!
//! Pure and total: no I/O, no locks, no allocation, no panic; every input
//! gets a `Detail` whose reason explains the decision.

use crate::context::Context;
use crate::detail::{Code, Detail, EvalError, Kind};
use crate::model::FlagType;
use crate::ruleset::{CFlag, CServe, Cond, Prereq, Ruleset};

/// Evaluates `flag_key` for `ctx`.
#[inline]
pub fn evaluate<'s>(rules: &'s Ruleset, flag_key: &str, ctx: &Context<'_>) -> Detail<'s> {
    match rules.flag(flag_key) {
        Some(flag) => eval_flag(rules, flag, ctx),
        None => Detail::error(None, EvalError::FlagNotFound),
    }
}

/// Evaluates `flag_key` for `ctx`, failing with [`EvalError::WrongType`] when
/// the flag is not of the `requested` type. JSON flags answer any request for
/// `Json`.
#[inline]
pub fn evaluate_typed<'s>(rules: &'s Ruleset, flag_key: &str, ctx: &Context<'_>, requested: FlagType) -> Detail<'s> {
    match rules.flag(flag_key) {
        Some(flag) if flag.kind == requested || requested == FlagType::Json => eval_flag(rules, flag, ctx),
        Some(flag) => Detail::error(Some(flag), EvalError::WrongType { requested, actual: flag.kind }),
        None => Detail::error(None, EvalError::FlagNotFound),
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
            None => Detail::error(None, EvalError::FlagNotFound),
        }
    }
}

/// A flag's answer. Off flags and flags with neither prerequisites nor
/// rules (the constant ones, [`Ruleset::is_constant`]) are answered here
/// with their precomputed code; the rest in [`eval_targeting`], kept out of
/// line so that the constant case pays for none of its set-up.
#[inline]
fn eval_flag<'s>(rules: &'s Ruleset, flag: &'s CFlag, ctx: &Context<'_>) -> Detail<'s> {
    Detail::new(flag, code_of(rules, flag, ctx))
}

/// The code of `flag`'s answer for `ctx`.
#[inline]
fn code_of(rules: &Ruleset, flag: &CFlag, ctx: &Context<'_>) -> Code {
    if flag.is_constant() { flag.fixed } else { eval_targeting(rules, flag, ctx) }
}

/// The code of an enabled flag with prerequisites or rules.
#[inline(never)]
fn eval_targeting(rules: &Ruleset, flag: &CFlag, ctx: &Context<'_>) -> Code {
    for (i, p) in flag.prereqs.iter().enumerate() {
        if !prereq_holds(rules, p, ctx) {
            return Code::served(flag.off, Kind::PrerequisiteFailed, i);
        }
    }
    let mut skipped = None;
    for (i, rule) in flag.rules.iter().enumerate() {
        if !rule.conds.iter().all(|c| cond_holds(rules, c, ctx)) {
            continue;
        }
        match &rule.serve {
            CServe::Variant(v) => return Code::served(*v, Kind::RuleMatch, i).with_skipped(skipped),
            CServe::Split(split) => match split.bucket(ctx) {
                Some(bucket) => {
                    if let Some(v) = split.variant_for(bucket) {
                        return Code::split(v, i, bucket).with_skipped(skipped);
                    }
                }
                None => {
                    skipped.get_or_insert(i);
                }
            },
        }
    }
    Code::served(flag.default, Kind::Default, 0).with_skipped(skipped)
}

fn prereq_holds(rules: &Ruleset, p: &Prereq, ctx: &Context<'_>) -> bool {
    let Some(flag) = rules.flags.get(p.flag as usize) else { return false };
    let served = code_of(rules, flag, ctx).variant();
    p.variants.iter().any(|i| usize::from(*i) == served)
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
