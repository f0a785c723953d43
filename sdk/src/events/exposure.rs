//! Exposure de-duplication: one exposure per (unit, flag, variant) while the
//! entry lives in a bounded cache (capacity and time-to-live configurable).
//!
//! The cache is keyed by a 64-bit SipHash of the three strings, so checking a
//! repeated exposure allocates nothing (a collision, about one in 2⁶⁴ per
//! pair, would only suppress one exposure).

use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use flagyard_eval::{Context, Value};
use rustc_hash::FxBuildHasher;

/// The unit of an exposure: the split's bucketing attribute as text.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Unit<'c> {
    Str(&'c str),
    Int(i64),
}

impl<'c> Unit<'c> {
    /// The value of `attribute` (`key` for the targeting key) in `ctx`, as
    /// bucketing reads it: strings as they are, integers (and integral
    /// floats below 2⁵³) as decimal text.
    pub(crate) fn of(ctx: &'c Context<'_>, attribute: &str) -> Option<Self> {
        if attribute == "key" || attribute == "targetingKey" {
            return ctx.key().map(Unit::Str);
        }
        match ctx.get(attribute)? {
            Value::String(s) => Some(Unit::Str(s)),
            Value::Int(i) => Some(Unit::Int(*i)),
            Value::Float(f) if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 => Some(Unit::Int(*f as i64)),
            _ => None,
        }
    }

    /// Calls `f` with the unit's text, formatting integers on the stack.
    fn with_text<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        match *self {
            Unit::Str(s) => f(s),
            Unit::Int(i) => {
                let mut buf = [0u8; 20];
                let mut pos = buf.len();
                let mut n = i.unsigned_abs();
                loop {
                    pos -= 1;
                    buf[pos] = b'0' + (n % 10) as u8;
                    n /= 10;
                    if n == 0 {
                        break;
                    }
                }
                let digits = std::str::from_utf8(&buf[pos..]).unwrap_or_default();
                if i < 0 {
                    let mut signed = [0u8; 21];
                    signed[0] = b'-';
                    signed[1..=digits.len()].copy_from_slice(digits.as_bytes());
                    f(std::str::from_utf8(&signed[..=digits.len()]).unwrap_or_default())
                } else {
                    f(digits)
                }
            }
        }
    }

    pub(crate) fn to_text(self) -> String {
        self.with_text(str::to_owned)
    }
}

/// A bounded cache of exposures already recorded, in two levels:
///
/// - `recent`: a lossy, lock-free table of fast keys (one relaxed atomic
///   load per check) that absorbs the hot path; a slot holds the key of the
///   last exposure that hashed to it.
/// - `cache`: the authoritative moka cache (capacity and time-to-live),
///   keyed by a SipHash of (flag, variant, unit) strings, consulted when the
///   table misses.
pub(crate) struct Dedup {
    recent: Box<[AtomicU64]>,
    shift: u32,
    cache: moka::sync::Cache<u64, (), FxBuildHasher>,
}

impl Dedup {
    /// The table gets the capacity's next power of two of slots, between
    /// 2¹⁰ and 2¹⁶ (at most 512 KiB).
    pub(crate) fn new(capacity: u64, ttl: Duration) -> Self {
        let bits = capacity.clamp(1 << 10, 1 << 16).next_power_of_two().trailing_zeros();
        Dedup {
            recent: (0..1usize << bits).map(|_| AtomicU64::new(0)).collect(),
            shift: 64 - bits,
            cache: moka::sync::Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .build_with_hasher(FxBuildHasher),
        }
    }

    /// The fast key of an exposure: the rules' serial (unique per swapped-in
    /// ruleset), the served variant's address in those rules (which names
    /// the flag and the variant) and the unit. Never 0 (an empty slot).
    #[inline]
    pub(crate) fn fast_key(serial: u64, variant: &str, unit: Unit<'_>) -> u64 {
        let mut h = rustc_hash::FxHasher::default();
        h.write_u64(serial ^ (variant.as_ptr() as u64).rotate_left(32));
        match unit {
            Unit::Str(s) => h.write(s.as_bytes()),
            Unit::Int(i) => h.write_u64(i as u64 ^ 0x8000_0000_0000_0000),
        }
        h.finish() | 1
    }

    #[inline]
    fn slot(&self, fast: u64) -> &AtomicU64 {
        &self.recent[(fast.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize]
    }

    /// Whether the exposure was recorded recently (a `false` may still be a
    /// repeat: then [`Self::first_time`] decides).
    #[inline]
    pub(crate) fn recently_seen(&self, fast: u64) -> bool {
        self.slot(fast).load(Ordering::Relaxed) == fast
    }

    pub(crate) fn remember(&self, fast: u64) {
        self.slot(fast).store(fast, Ordering::Relaxed);
    }

    /// The cache key: stable across rulesets, an integer unit equal to its text.
    pub(crate) fn key(flag: &str, variant: &str, unit: Unit<'_>) -> u64 {
        // SipHash with fixed keys: stable within the process, no allocation.
        let mut h = std::hash::DefaultHasher::new();
        flag.hash(&mut h);
        variant.hash(&mut h);
        unit.with_text(|t| t.hash(&mut h));
        h.finish()
    }

    /// Records the exposure; `true` the first time it is seen.
    pub(crate) fn first_time(&self, key: u64) -> bool {
        !self.cache.contains_key(&key) && self.cache.entry(key).or_insert(()).is_fresh()
    }

    /// Forgets an exposure that could not be queued, so it is tried again.
    pub(crate) fn forget(&self, key: u64) {
        self.cache.invalidate(&key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_as_text() {
        let ctx = Context::new("u1").with("org", 42).with("neg", -7).with("f", 3.0).with("g", 3.5).with("b", true);
        assert_eq!(Unit::of(&ctx, "key"), Some(Unit::Str("u1")));
        assert_eq!(Unit::of(&ctx, "org").unwrap().to_text(), "42");
        assert_eq!(Unit::of(&ctx, "neg").unwrap().to_text(), "-7");
        assert_eq!(Unit::of(&ctx, "f").unwrap().to_text(), "3");
        assert_eq!(Unit::Int(i64::MIN).to_text(), i64::MIN.to_string());
        assert_eq!(Unit::Int(0).to_text(), "0");
        assert_eq!(Unit::of(&ctx, "g"), None);
        assert_eq!(Unit::of(&ctx, "b"), None);
        assert_eq!(Unit::of(&ctx, "missing"), None);
        // An integer unit and its text are the same unit.
        assert_eq!(Dedup::key("f", "v", Unit::Int(42)), Dedup::key("f", "v", Unit::Str("42")));
        assert_ne!(Dedup::key("f", "v", Unit::Int(42)), Dedup::key("f", "w", Unit::Str("42")));
    }

    #[test]
    fn dedup_once_per_key() {
        let d = Dedup::new(100, Duration::from_secs(60));
        let k = Dedup::key("flag", "on", Unit::Str("u"));
        assert!(d.first_time(k));
        assert!(!d.first_time(k));
        d.forget(k);
        assert!(d.first_time(k));
        let fast = Dedup::fast_key(1, "on", Unit::Str("u"));
        assert!(!d.recently_seen(fast));
        d.remember(fast);
        assert!(d.recently_seen(fast));
        assert_ne!(fast, Dedup::fast_key(2, "on", Unit::Str("u")));
        assert_ne!(fast, Dedup::fast_key(1, "on", Unit::Str("v")));
        assert_ne!(Dedup::fast_key(1, "on", Unit::Int(7)), Dedup::fast_key(1, "on", Unit::Int(8)));
    }
}
