//! The compiled, evaluable form of a snapshot.
//!
//! Everything evaluation needs is resolved here once: keys become indices,
//! operands are parsed, split ranges and salt prefixes are precomputed. The
//! types are private to the crate; [`Ruleset`] is the public handle.

use crate::bucket::{bucket_bytes, bucket_value};
use crate::context::{Context, Value};
use crate::detail::Code;
use crate::index::KeyIndex;
use crate::model::FlagType;
use crate::murmur::PrefixHasher;
use crate::ops::{StrSet, Test};

/// Prerequisite chains and segment nesting deeper than this are refused, so
/// evaluation recursion stays shallow.
pub const MAX_DEPTH: usize = 32;

/// Which context attribute a condition or split reads.
#[derive(Debug)]
pub(crate) enum AttrRef {
    /// The targeting key.
    Key,
    Named(Box<str>),
}

impl AttrRef {
    pub(crate) fn new(name: &str) -> Self {
        if crate::context::is_key_attribute(name) { AttrRef::Key } else { AttrRef::Named(name.into()) }
    }

    pub(crate) fn name(&self) -> &str {
        match self {
            AttrRef::Key => "key",
            AttrRef::Named(n) => n,
        }
    }

    /// Calls `f` with the attribute's value, if the context has it.
    #[inline]
    pub(crate) fn with_value<R>(&self, ctx: &Context<'_>, f: impl FnOnce(&Value<'_>) -> R) -> Option<R> {
        match self {
            AttrRef::Key => ctx.key().map(|k| f(&Value::String(std::borrow::Cow::Borrowed(k)))),
            AttrRef::Named(n) => ctx.get(n).map(f),
        }
    }
}

#[derive(Debug)]
pub(crate) struct Prereq {
    pub(crate) flag: u32,
    /// The prerequisite flag's key, for the reason of a failure.
    pub(crate) key: Box<str>,
    pub(crate) variants: Box<[u16]>,
}

#[derive(Debug)]
pub(crate) enum Cond {
    Attr { attr: AttrRef, test: Test, negate: bool },
    Segment { segments: Box<[u32]>, negate: bool },
    Prerequisite(Prereq),
}

#[derive(Debug)]
pub(crate) struct CSegment {
    pub(crate) included: StrSet,
    pub(crate) excluded: StrSet,
    pub(crate) conds: Box<[Cond]>,
}

#[derive(Debug)]
pub(crate) struct CVariant {
    pub(crate) key: Box<str>,
    pub(crate) value: serde_json::Value,
}

#[derive(Debug)]
pub(crate) struct Range {
    pub(crate) start: u16,
    pub(crate) end: u16,
    pub(crate) variant: u16,
}

#[derive(Debug)]
pub(crate) struct CSplit {
    pub(crate) attr: AttrRef,
    pub(crate) prefix: PrefixHasher,
    /// Non-empty ranges only, in bucket order.
    pub(crate) ranges: Box<[Range]>,
}

impl CSplit {
    /// The context's bucket, or `None` if it has no bucketable unit.
    #[inline]
    pub(crate) fn bucket(&self, ctx: &Context<'_>) -> Option<u16> {
        match &self.attr {
            AttrRef::Key => ctx.key().map(|k| bucket_bytes(&self.prefix, k.as_bytes())),
            AttrRef::Named(n) => bucket_value(&self.prefix, ctx.get(n)?),
        }
    }

    /// The variant whose range holds `bucket`, if any.
    ///
    /// The ranges are disjoint and in bucket order, so the only one that can
    /// hold `bucket` is the last that starts at or before it: counted
    /// without a branch per range (a bucket is a hash, so a search that
    /// branches on it mispredicts about once per evaluation).
    #[inline]
    pub(crate) fn variant_for(&self, bucket: u16) -> Option<u16> {
        let starting: usize = self.ranges.iter().map(|r| usize::from(r.start <= bucket)).sum();
        let r = self.ranges.get(starting.checked_sub(1)?)?;
        (bucket < r.end).then_some(r.variant)
    }
}

#[derive(Debug)]
pub(crate) enum CServe {
    Variant(u16),
    Split(CSplit),
}

#[derive(Debug)]
pub(crate) struct CRule {
    pub(crate) id: Option<Box<str>>,
    pub(crate) conds: Box<[Cond]>,
    pub(crate) serve: CServe,
}

#[derive(Debug)]
pub(crate) struct CFlag {
    pub(crate) key: Box<str>,
    pub(crate) kind: FlagType,
    pub(crate) variants: Box<[CVariant]>,
    pub(crate) enabled: bool,
    pub(crate) off: u16,
    pub(crate) default: u16,
    /// The answer when [`CFlag::is_constant`]: the off variant when
    /// disabled, else the default.
    pub(crate) fixed: Code,
    pub(crate) prereqs: Box<[Prereq]>,
    pub(crate) rules: Box<[CRule]>,
}

impl CFlag {
    /// Off, or on with neither prerequisites nor rules: no context can
    /// change the answer.
    #[inline]
    pub(crate) fn is_constant(&self) -> bool {
        !self.enabled || (self.prereqs.is_empty() && self.rules.is_empty())
    }
}

/// A compiled snapshot: immutable, cheap to share (`Arc<Ruleset>`), and
/// evaluated with [`Ruleset::evaluate`] without locks, I/O or allocation.
#[derive(Debug)]
pub struct Ruleset {
    pub(crate) environment: Box<str>,
    pub(crate) version: u64,
    pub(crate) index: KeyIndex,
    pub(crate) flags: Box<[CFlag]>,
    pub(crate) segments: Box<[CSegment]>,
}

impl Ruleset {
    /// The environment these rules belong to.
    pub fn environment(&self) -> &str {
        &self.environment
    }

    /// The environment version the snapshot was taken at.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Number of flags.
    pub fn len(&self) -> usize {
        self.flags.len()
    }

    /// Whether there are no flags.
    pub fn is_empty(&self) -> bool {
        self.flags.is_empty()
    }

    /// The flag keys, in snapshot order.
    pub fn flag_keys(&self) -> impl Iterator<Item = &str> {
        self.flags.iter().map(|f| f.key.as_ref())
    }

    /// The position of a flag in [`Ruleset::flag_keys`] order.
    pub fn flag_index(&self, key: &str) -> Option<usize> {
        self.index.get(key)
    }

    /// Whether the flag at `index` (a position in [`Ruleset::flag_keys`]
    /// order) answers every context alike: it is off, or on with neither
    /// prerequisites nor rules. Its [`Detail`](crate::Detail) for any
    /// context is the one for [`Context::anonymous`](crate::Context::anonymous).
    pub fn is_constant(&self, index: usize) -> bool {
        self.flags.get(index).is_some_and(CFlag::is_constant)
    }

    /// The number of targeting rules of the flag at `index` (see [`Ruleset::flag_index`]).
    pub fn rule_count_at(&self, index: usize) -> Option<usize> {
        self.flags.get(index).map(|f| f.rules.len())
    }

    /// The type of a flag, if it exists.
    pub fn flag_type(&self, key: &str) -> Option<FlagType> {
        self.flag(key).map(|f| f.kind)
    }

    /// The number of targeting rules of a flag in this environment.
    pub fn rule_count(&self, flag: &str) -> Option<usize> {
        self.flag(flag).map(|f| f.rules.len())
    }

    /// The bucketing attribute (`key` for the targeting key) of the split
    /// in rule `rule` of `flag`, if that rule serves a split. The SDK reads
    /// the unit for an exposure from the context with it.
    pub fn split_attribute(&self, flag: &str, rule: usize) -> Option<&str> {
        match &self.flag(flag)?.rules.get(rule)?.serve {
            CServe::Split(split) => Some(split.attr.name()),
            CServe::Variant(_) => None,
        }
    }

    #[inline]
    pub(crate) fn flag(&self, key: &str) -> Option<&CFlag> {
        self.flags.get(self.index.get(key)?)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::bucket::{BUCKETS, split_ranges};

    /// A split as the compiler builds it from `weights` at `coverage`.
    fn split(weights: &[u32], coverage: u32) -> CSplit {
        let ranges = split_ranges(weights, coverage)
            .zip(0u16..)
            .filter(|((start, end), _)| start < end)
            .map(|((start, end), variant)| Range { start, end, variant })
            .collect();
        CSplit { attr: AttrRef::new("key"), prefix: PrefixHasher::new(b"s:"), ranges }
    }

    proptest! {
        // The branch-free lookup answers what the definition says for every
        // bucket: the variant of the one range holding it, or none.
        #[test]
        fn variant_for_is_the_range_that_holds_the_bucket(
            cuts in proptest::collection::vec(0..=BUCKETS, 0..6),
            coverage in prop_oneof![Just(BUCKETS), Just(0), 0..=BUCKETS],
        ) {
            let mut cuts = cuts;
            cuts.sort_unstable();
            let mut weights = Vec::new();
            let mut last = 0;
            for c in cuts.into_iter().chain([BUCKETS]) {
                weights.push(c - last);
                last = c;
            }
            let s = split(&weights, coverage);
            for bucket in 0..BUCKETS as u16 {
                let defined = s.ranges.iter().find(|r| r.start <= bucket && bucket < r.end).map(|r| r.variant);
                prop_assert_eq!(s.variant_for(bucket), defined, "bucket {} of {:?} at {}", bucket, weights, coverage);
            }
        }
    }
}
