//! Attribute operators: operands compiled once, tests run per evaluation.
//!
//! `Test::eval` answers `None` when the operator does not apply to the
//! attribute's type; the caller treats that as "does not hold", negated
//! operators included.

mod date;
mod semver;

use std::cmp::Ordering;

use regex::{Regex, RegexBuilder};
use serde_json::Value as Json;

use crate::context::Value;
use crate::error::{CompileErrorKind, json_excerpt};
use crate::index::{KeyIndex, same};
use crate::model::Operator;

pub use date::parse_rfc3339_millis;
use semver::OwnedVersion;
pub use semver::Version;

/// Regexes larger than this (compiled program size) are refused: far above
/// what a real pattern needs (an e-mail domain pattern takes a few KiB), and
/// small enough that a snapshot of [`crate::MAX_PATTERNS`] compiles quickly.
const REGEX_SIZE_LIMIT: usize = 64 * 1024;
/// The lazy DFA's cache per regex (and thread) at evaluation.
const REGEX_DFA_LIMIT: usize = 256 * 1024;
/// Sets up to this size are scanned linearly (faster than hashing).
const LINEAR_SET_MAX: usize = 8;

/// A set of strings: a short slice, or a hash set when it is large.
#[derive(Debug)]
pub(crate) enum StrSet {
    Linear(Box<[Box<str>]>),
    Hashed(KeyIndex),
}

impl StrSet {
    pub(crate) fn new(mut items: Vec<Box<str>>) -> Self {
        items.sort_unstable();
        items.dedup();
        if items.len() <= LINEAR_SET_MAX {
            StrSet::Linear(items.into_boxed_slice())
        } else {
            StrSet::Hashed(KeyIndex::new(items.iter().map(AsRef::as_ref)))
        }
    }

    #[inline]
    pub(crate) fn contains(&self, s: &str) -> bool {
        match self {
            StrSet::Linear(items) => items.iter().any(|i| same(i.as_bytes(), s.as_bytes())),
            StrSet::Hashed(index) => index.get(s).is_some(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        match self {
            StrSet::Linear(items) => items.is_empty(),
            StrSet::Hashed(_) => false,
        }
    }
}

/// The operands of `eq` / `in` (and, negated, `neq` / `not_in`).
#[derive(Debug)]
pub(crate) struct InSet {
    strings: StrSet,
    numbers: Box<[f64]>,
    /// `[false allowed, true allowed]`; `None` when the set has no booleans.
    bools: Option<[bool; 2]>,
}

impl InSet {
    fn is_empty(&self) -> bool {
        self.strings.is_empty() && self.numbers.is_empty() && self.bools.is_none()
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Cmp {
    Lt,
    Lte,
    Eq,
    Gte,
    Gt,
}

impl Cmp {
    fn holds(self, ord: Ordering) -> bool {
        match self {
            Cmp::Lt => ord == Ordering::Less,
            Cmp::Lte => ord != Ordering::Greater,
            Cmp::Eq => ord == Ordering::Equal,
            Cmp::Gte => ord != Ordering::Less,
            Cmp::Gt => ord == Ordering::Greater,
        }
    }
}

/// A compiled attribute test.
#[derive(Debug)]
pub(crate) enum Test {
    In(InSet),
    Contains(Box<[Box<str>]>),
    StartsWith(Box<[Box<str>]>),
    EndsWith(Box<[Box<str>]>),
    Matches(Box<[Regex]>),
    Number(Cmp, f64),
    Semver(Cmp, OwnedVersion),
    Before(i64),
    After(i64),
    Exists,
}

/// Applies a string predicate to a string or (any element of) a list.
#[inline]
fn on_strings(v: &Value<'_>, f: impl Fn(&str) -> bool) -> Option<bool> {
    match v {
        Value::String(s) => Some(f(s)),
        Value::List(items) => Some(items.iter().any(|s| f(s))),
        _ => None,
    }
}

/// A date-time attribute as epoch milliseconds: a `DateTime`, a number of
/// milliseconds, or an RFC 3339 string.
fn as_millis(v: &Value<'_>) -> Option<i64> {
    match v {
        Value::DateTime(ms) | Value::Int(ms) => Some(*ms),
        Value::Float(f) if f.is_finite() => Some(*f as i64),
        Value::String(s) => parse_rfc3339_millis(s),
        _ => None,
    }
}

impl Test {
    /// Whether the value passes, or `None` if the test does not apply to it.
    #[inline]
    pub(crate) fn eval(&self, v: &Value<'_>) -> Option<bool> {
        match self {
            Test::In(set) => {
                let empty = set.is_empty();
                match v {
                    Value::String(_) | Value::List(_) if empty || !set.strings.is_empty() => {
                        on_strings(v, |s| set.strings.contains(s))
                    }
                    Value::Int(_) | Value::Float(_) if empty || !set.numbers.is_empty() => {
                        let x = v.as_f64()?;
                        Some(set.numbers.contains(&x))
                    }
                    Value::Bool(b) if empty || set.bools.is_some() => Some(set.bools.is_some_and(|a| a[*b as usize])),
                    _ => None,
                }
            }
            Test::Contains(subs) => on_strings(v, |s| subs.iter().any(|p| s.contains(p.as_ref()))),
            Test::StartsWith(pres) => on_strings(v, |s| pres.iter().any(|p| s.starts_with(p.as_ref()))),
            Test::EndsWith(sufs) => on_strings(v, |s| sufs.iter().any(|p| s.ends_with(p.as_ref()))),
            Test::Matches(res) => on_strings(v, |s| res.iter().any(|r| r.is_match(s))),
            Test::Number(cmp, n) => {
                let x = v.as_f64()?;
                Some(x.partial_cmp(n).is_some_and(|o| cmp.holds(o)))
            }
            Test::Semver(cmp, want) => match v {
                Value::String(s) => Version::parse(s).map(|got| cmp.holds(got.precedence(&want.as_version()))),
                _ => None,
            },
            Test::Before(t) => as_millis(v).map(|ms| ms < *t),
            Test::After(t) => as_millis(v).map(|ms| ms > *t),
            Test::Exists => Some(true),
        }
    }
}

fn operands(op: &'static str, expected: &'static str) -> CompileErrorKind {
    CompileErrorKind::Operands { op, expected }
}

fn one<'v>(values: &'v [Json], op: &'static str, expected: &'static str) -> Result<&'v Json, CompileErrorKind> {
    match values {
        [v] => Ok(v),
        _ => Err(operands(op, expected)),
    }
}

fn strings(values: &[Json], op: &'static str) -> Result<Box<[Box<str>]>, CompileErrorKind> {
    const EXPECTED: &str = "one or more strings";
    if values.is_empty() {
        return Err(operands(op, EXPECTED));
    }
    values.iter().map(|v| v.as_str().map(Box::from).ok_or_else(|| operands(op, EXPECTED))).collect()
}

fn in_set(values: &[Json], op: &'static str) -> Result<InSet, CompileErrorKind> {
    let mut strings = Vec::new();
    let mut numbers = Vec::new();
    let mut bools: Option<[bool; 2]> = None;
    for v in values {
        match v {
            Json::String(s) => strings.push(Box::from(s.as_str())),
            Json::Number(n) => numbers
                .push(n.as_f64().filter(|f| f.is_finite()).ok_or_else(|| CompileErrorKind::Number(n.to_string()))?),
            Json::Bool(b) => bools.get_or_insert([false, false])[*b as usize] = true,
            _ => return Err(operands(op, "strings, numbers or booleans")),
        }
    }
    Ok(InSet { strings: StrSet::new(strings), numbers: numbers.into(), bools })
}

fn date_operand(v: &Json) -> Result<i64, CompileErrorKind> {
    match v {
        Json::String(s) => parse_rfc3339_millis(s).ok_or_else(|| CompileErrorKind::Date(s.clone())),
        Json::Number(n) => n.as_i64().ok_or_else(|| CompileErrorKind::Date(n.to_string())),
        other => Err(CompileErrorKind::Date(json_excerpt(other))),
    }
}

/// The operator's wire name.
pub(crate) fn op_name(op: Operator) -> &'static str {
    match op {
        Operator::Eq => "eq",
        Operator::Neq => "neq",
        Operator::In => "in",
        Operator::NotIn => "not_in",
        Operator::Contains => "contains",
        Operator::StartsWith => "starts_with",
        Operator::EndsWith => "ends_with",
        Operator::Matches => "matches",
        Operator::Lt => "lt",
        Operator::Lte => "lte",
        Operator::Gt => "gt",
        Operator::Gte => "gte",
        Operator::SemverLt => "semver_lt",
        Operator::SemverLte => "semver_lte",
        Operator::SemverEq => "semver_eq",
        Operator::SemverGte => "semver_gte",
        Operator::SemverGt => "semver_gt",
        Operator::Before => "before",
        Operator::After => "after",
        Operator::Exists => "exists",
        Operator::Segment => "segment",
        Operator::NotSegment => "not_segment",
        Operator::Prerequisite => "prerequisite",
    }
}

/// Compiles an attribute operator's operands. Returns the test and whether
/// its result is negated. Segment and prerequisite operators are not
/// attribute operators and are handled by the caller.
pub(crate) fn compile(op: Operator, values: &[Json]) -> Result<(Test, bool), CompileErrorKind> {
    let name = op_name(op);
    let number = |values: &[Json]| -> Result<f64, CompileErrorKind> {
        let v = one(values, name, "exactly one number")?;
        let n = v.as_f64().ok_or_else(|| operands(name, "exactly one number"))?;
        if n.is_finite() { Ok(n) } else { Err(CompileErrorKind::Number(v.to_string())) }
    };
    let version = |values: &[Json]| -> Result<OwnedVersion, CompileErrorKind> {
        let v = one(values, name, "exactly one semantic version string")?;
        let s = v.as_str().ok_or_else(|| operands(name, "exactly one semantic version string"))?;
        OwnedVersion::parse(s).ok_or_else(|| CompileErrorKind::Semver(s.to_owned()))
    };
    let scalar = |values: &[Json]| -> Result<InSet, CompileErrorKind> {
        one(values, name, "exactly one string, number or boolean")?;
        in_set(values, name)
    };
    Ok(match op {
        Operator::Eq => (Test::In(scalar(values)?), false),
        Operator::Neq => (Test::In(scalar(values)?), true),
        Operator::In => (Test::In(in_set(values, name)?), false),
        Operator::NotIn => (Test::In(in_set(values, name)?), true),
        Operator::Contains => (Test::Contains(strings(values, name)?), false),
        Operator::StartsWith => (Test::StartsWith(strings(values, name)?), false),
        Operator::EndsWith => (Test::EndsWith(strings(values, name)?), false),
        Operator::Matches => {
            let patterns = strings(values, name)?;
            let regexes = patterns
                .iter()
                .map(|p| {
                    RegexBuilder::new(p)
                        .size_limit(REGEX_SIZE_LIMIT)
                        .dfa_size_limit(REGEX_DFA_LIMIT)
                        .build()
                        .map_err(|e| CompileErrorKind::Regex(e.to_string()))
                })
                .collect::<Result<Box<[_]>, _>>()?;
            (Test::Matches(regexes), false)
        }
        Operator::Lt => (Test::Number(Cmp::Lt, number(values)?), false),
        Operator::Lte => (Test::Number(Cmp::Lte, number(values)?), false),
        Operator::Gt => (Test::Number(Cmp::Gt, number(values)?), false),
        Operator::Gte => (Test::Number(Cmp::Gte, number(values)?), false),
        Operator::SemverLt => (Test::Semver(Cmp::Lt, version(values)?), false),
        Operator::SemverLte => (Test::Semver(Cmp::Lte, version(values)?), false),
        Operator::SemverEq => (Test::Semver(Cmp::Eq, version(values)?), false),
        Operator::SemverGte => (Test::Semver(Cmp::Gte, version(values)?), false),
        Operator::SemverGt => (Test::Semver(Cmp::Gt, version(values)?), false),
        Operator::Before => (Test::Before(date_operand(one(values, name, "exactly one date-time")?)?), false),
        Operator::After => (Test::After(date_operand(one(values, name, "exactly one date-time")?)?), false),
        Operator::Exists => {
            if !values.is_empty() {
                return Err(operands(name, "no values"));
            }
            (Test::Exists, false)
        }
        Operator::Segment | Operator::NotSegment | Operator::Prerequisite => {
            return Err(CompileErrorKind::Field("not an attribute operator"));
        }
    })
}
