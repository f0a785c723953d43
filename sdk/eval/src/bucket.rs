//! Bucketing, exactly as `BUCKETING.md`: `murmur3_x86_32(salt ":" unit) mod 10000`.

use crate::context::Value;
use crate::murmur::{PrefixHasher, murmur3_x86_32};

/// Buckets per split: one basis point each.
pub const BUCKETS: u32 = 10_000;

/// The bucket (0..=9999) of `unit` under `salt`: the reference function.
pub fn bucket(salt: &str, unit: &str) -> u16 {
    let mut key = Vec::with_capacity(salt.len() + 1 + unit.len());
    key.extend_from_slice(salt.as_bytes());
    key.push(b':');
    key.extend_from_slice(unit.as_bytes());
    (murmur3_x86_32(&key, 0) % BUCKETS) as u16
}

/// The half-open bucket range `[start, end)` of each variant of a split with
/// `weights` (basis points, summing to 10000) at `coverage` (basis points).
/// Buckets outside every range are not covered by the split.
pub fn split_ranges(weights: &[u32], coverage: u32) -> impl Iterator<Item = (u16, u16)> + '_ {
    let mut start = 0u32;
    weights.iter().map(move |&w| {
        let s = start;
        // Saturating: weights that do not sum to 10000 are refused by the
        // compiler, but must not overflow on the way (found by fuzzing).
        start = start.saturating_add(w);
        let len = (u64::from(w) * u64::from(coverage) / u64::from(BUCKETS)) as u32;
        (s.min(BUCKETS) as u16, s.saturating_add(len).min(BUCKETS) as u16)
    })
}

/// Integers (and integral floats exactly representable as such, below 2^53)
/// bucket by their plain decimal text.
const MAX_EXACT_FLOAT: f64 = 9_007_199_254_740_992.0;

/// Writes the decimal text of `n` into `buf`, returning the used tail.
fn decimal(n: i64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    let mut m = n.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (m % 10) as u8;
        m /= 10;
        if m == 0 {
            break;
        }
    }
    if n < 0 {
        i -= 1;
        buf[i] = b'-';
    }
    &buf[i..]
}

/// Hashes the bucketing unit held by `value` after the salt prefix, or `None`
/// if the value cannot be bucketed (fractional number, boolean, list, date).
#[inline]
pub(crate) fn bucket_value(prefix: &PrefixHasher, value: &Value<'_>) -> Option<u16> {
    let mut buf = [0u8; 20];
    let bytes: &[u8] = match value {
        Value::String(s) => s.as_bytes(),
        Value::Int(i) => decimal(*i, &mut buf),
        Value::Float(f) if f.fract() == 0.0 && f.abs() < MAX_EXACT_FLOAT => decimal(*f as i64, &mut buf),
        _ => return None,
    };
    Some(bucket_bytes(prefix, bytes))
}

#[inline]
pub(crate) fn bucket_bytes(prefix: &PrefixHasher, unit: &[u8]) -> u16 {
    (prefix.hash_suffix(unit) % BUCKETS) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_values_from_bucketing_md() {
        assert_eq!(bucket("new-checkout", "user-1"), 631);
        assert_eq!(bucket("new-checkout", "user-2"), 789);
        assert_eq!(bucket("checkout-button-exp", "alice@example.com"), 5302);
        assert_eq!(bucket("dark-mode", "ü-ñ-東京"), 1775);
        assert_eq!(bucket("", ""), 7430);
    }

    #[test]
    fn integers_bucket_as_decimal_text() {
        let p = PrefixHasher::new(b"int-salt:");
        for n in [0i64, 1, -1, 42, -7, i64::MIN, i64::MAX, 1_000_000_007] {
            let want = bucket("int-salt", &n.to_string());
            assert_eq!(bucket_value(&p, &Value::Int(n)), Some(want), "{n}");
        }
        assert_eq!(bucket_value(&p, &Value::Float(42.0)), Some(bucket("int-salt", "42")));
        assert_eq!(bucket_value(&p, &Value::Float(-0.0)), Some(bucket("int-salt", "0")));
        for unbucketable in [
            Value::Float(1.5),
            Value::Float(f64::NAN),
            Value::Float(1e300),
            Value::Bool(true),
            Value::DateTime(5),
            Value::List(vec![]),
        ] {
            assert_eq!(bucket_value(&p, &unbucketable), None, "{unbucketable:?}");
        }
    }

    #[test]
    fn ranges_follow_the_formula() {
        let r: Vec<_> = split_ranges(&[5000, 3000, 2000], 5000).collect();
        assert_eq!(r, vec![(0, 2500), (5000, 6500), (8000, 9000)]);
        let r: Vec<_> = split_ranges(&[2500, 7500], 10_000).collect();
        assert_eq!(r, vec![(0, 2500), (2500, 10_000)]);
        let r: Vec<_> = split_ranges(&[3333, 3333, 3334], 9999).collect();
        assert_eq!(r, vec![(0, 3332), (3333, 6665), (6666, 9999)]);
    }
}
