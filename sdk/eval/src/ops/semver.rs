//! Semantic versions (semver 2.0.0 precedence) parsed without allocating.
//!
//! Accepted: `MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]` as in semver 2.0.0,
//! plus two common leniencies: a leading `v`/`V`, and missing minor or patch
//! components (`1.2` is `1.2.0`, `2` is `2.0.0`). Build metadata is accepted
//! and ignored for precedence. Numeric parts may not have leading zeros.
//!
//! Kept instead of the `semver` crate for the grammar: the crate rejects
//! `v1.2` and `1.2`. The common form (`1.4.2`: numbers only) takes a
//! one-pass path (`plain`); callgrind counts the engine benchmark's
//! three-condition case at 940 instructions per evaluation with it, 1,014
//! without (`scripts/engine-instructions.sh`).

use std::cmp::Ordering;

/// A borrowed, parsed version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Version<'a> {
    major: u64,
    minor: u64,
    patch: u64,
    /// Dot-separated pre-release identifiers, validated; empty if none.
    pre: &'a str,
}

/// An owned version, parsed once when rules are compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedVersion {
    major: u64,
    minor: u64,
    patch: u64,
    pre: Box<str>,
}

impl OwnedVersion {
    pub fn parse(s: &str) -> Option<Self> {
        let v = Version::parse(s)?;
        Some(OwnedVersion { major: v.major, minor: v.minor, patch: v.patch, pre: v.pre.into() })
    }

    pub fn as_version(&self) -> Version<'_> {
        Version { major: self.major, minor: self.minor, patch: self.patch, pre: &self.pre }
    }
}

/// Reads a numeric component at `*i`: digits, no leading zero, no overflow.
#[inline]
fn numeric(b: &[u8], i: &mut usize) -> Option<u64> {
    let start = *i;
    let mut n: u64 = 0;
    while let Some(d) = b.get(*i).filter(|d| d.is_ascii_digit()) {
        n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
        *i += 1;
    }
    let len = *i - start;
    if len == 0 || (len > 1 && b[start] == b'0') {
        return None;
    }
    Some(n)
}

fn valid_identifiers(s: &str, numeric_leading_zero_ok: bool) -> bool {
    s.split('.').all(|id| {
        !id.is_empty()
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && (numeric_leading_zero_ok
                || !(id.len() > 1 && id.starts_with('0') && id.bytes().all(|b| b.is_ascii_digit())))
    })
}

/// The common case, `MAJOR[.MINOR[.PATCH]]` with no pre-release or build
/// part and at most 18 digits per component (so no overflow check), in one
/// pass; `None` for anything else, which the full parser then decides.
#[inline]
fn plain(b: &[u8]) -> Option<(u64, u64, u64)> {
    let mut parts = [0u64; 3];
    let (mut k, mut len) = (0usize, 0u32);
    for &c in b {
        if c == b'.' {
            if len == 0 || k == 2 {
                return None;
            }
            k += 1;
            len = 0;
            continue;
        }
        let d = c.wrapping_sub(b'0');
        // Not a digit, too long, or a second digit after a leading zero.
        if d > 9 || len == 18 || (len == 1 && parts[k] == 0) {
            return None;
        }
        parts[k] = parts[k] * 10 + u64::from(d);
        len += 1;
    }
    (len > 0).then_some((parts[0], parts[1], parts[2]))
}

impl<'a> Version<'a> {
    /// Parses a version (see the module docs for what is accepted).
    pub fn parse(s: &'a str) -> Option<Self> {
        let b = s.as_bytes();
        let v = usize::from(matches!(b.first(), Some(b'v' | b'V')));
        if let Some((major, minor, patch)) = b.get(v..).and_then(plain) {
            return Some(Version { major, minor, patch, pre: "" });
        }
        Self::parse_full(s, v)
    }

    /// The whole grammar, from byte `v` (after a leading `v`).
    fn parse_full(s: &'a str, v: usize) -> Option<Self> {
        let b = s.as_bytes();
        let mut i = v;
        let major = numeric(b, &mut i)?;
        let (mut minor, mut patch) = (0, 0);
        if b.get(i) == Some(&b'.') {
            i += 1;
            minor = numeric(b, &mut i)?;
            if b.get(i) == Some(&b'.') {
                i += 1;
                patch = numeric(b, &mut i)?;
            }
        }
        let mut pre = "";
        if b.get(i) == Some(&b'-') {
            let start = i + 1;
            let end = b[start..].iter().position(|c| *c == b'+').map_or(b.len(), |p| start + p);
            pre = s.get(start..end)?;
            if !valid_identifiers(pre, false) {
                return None;
            }
            i = end;
        }
        if b.get(i) == Some(&b'+') {
            if !valid_identifiers(s.get(i + 1..)?, true) {
                return None;
            }
            i = b.len();
        }
        (i == b.len()).then_some(Version { major, minor, patch, pre })
    }

    /// Semver 2.0.0 precedence (build metadata ignored).
    pub fn precedence(&self, other: &Version<'_>) -> Ordering {
        (self.major, self.minor, self.patch).cmp(&(other.major, other.minor, other.patch)).then_with(|| {
            match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => compare_pre(self.pre, other.pre),
            }
        })
    }
}

fn compare_pre(a: &str, b: &str) -> Ordering {
    let mut xs = a.split('.');
    let mut ys = b.split('.');
    loop {
        match (xs.next(), ys.next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) => {
                let xn = x.bytes().all(|c| c.is_ascii_digit());
                let yn = y.bytes().all(|c| c.is_ascii_digit());
                let ord = match (xn, yn) {
                    // Numeric identifiers have no leading zeros, so a longer one
                    // is larger; this also avoids overflow on huge numbers.
                    (true, true) => x.len().cmp(&y.len()).then_with(|| x.cmp(y)),
                    (true, false) => Ordering::Less,
                    (false, true) => Ordering::Greater,
                    (false, false) => x.cmp(y),
                };
                if ord != Ordering::Equal {
                    return ord;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn full(s: &str) -> Option<Version<'_>> {
        Version::parse_full(s, usize::from(matches!(s.as_bytes().first(), Some(b'v' | b'V'))))
    }

    fn cmp(a: &str, b: &str) -> Ordering {
        Version::parse(a).unwrap().precedence(&Version::parse(b).unwrap())
    }

    #[test]
    fn spec_precedence_chain() {
        let chain = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "1.0.1",
            "1.1.0",
            "2.0.0",
        ];
        for w in chain.windows(2) {
            assert_eq!(cmp(w[0], w[1]), Ordering::Less, "{} < {}", w[0], w[1]);
            assert_eq!(cmp(w[1], w[0]), Ordering::Greater);
        }
    }

    #[test]
    fn leniencies_and_build_metadata() {
        assert_eq!(cmp("v1.2", "1.2.0"), Ordering::Equal);
        assert_eq!(cmp("2", "2.0.0"), Ordering::Equal);
        assert_eq!(cmp("1.0.0+build.5", "1.0.0+other"), Ordering::Equal);
        assert_eq!(cmp("1.2.0-rc.1+b", "1.2.0"), Ordering::Less);
    }

    #[test]
    fn rejects_invalid() {
        for bad in [
            "",
            "a.b.c",
            "1.2.3.4",
            "01.2.3",
            "1.02.3",
            "1.2.3-",
            "1.2.3-a..b",
            "1.2.3-01",
            "1.2.3+",
            "1..3",
            "-1.2.3",
            "1.2.3-ü",
            "99999999999999999999.0.0",
        ] {
            assert!(Version::parse(bad).is_none(), "{bad}");
        }
        assert!(Version::parse("1.2.3-0a.0").is_some());
    }

    proptest! {
        /// Agrees with the `semver` crate (dtolnay) on every strict version.
        #[test]
        fn agrees_with_semver_crate(
            a in (0u64..4, 0u64..4, 0u64..4, proptest::option::of("(alpha|beta|rc|0|1|11|x-y)(\\.(alpha|1|2|10|0a))?")),
            b in (0u64..4, 0u64..4, 0u64..4, proptest::option::of("(alpha|beta|rc|0|1|11|x-y)(\\.(alpha|1|2|10|0a))?")),
        ) {
            let fmt = |(x, y, z, p): &(u64, u64, u64, Option<String>)| match p {
                Some(p) => format!("{x}.{y}.{z}-{p}"),
                None => format!("{x}.{y}.{z}"),
            };
            let (sa, sb) = (fmt(&a), fmt(&b));
            let expected = semver::Version::parse(&sa).unwrap().cmp_precedence(&semver::Version::parse(&sb).unwrap());
            prop_assert_eq!(cmp(&sa, &sb), expected, "{} vs {}", sa, sb);
        }

        /// The one-pass path and the full parser agree wherever the first applies.
        #[test]
        fn plain_path_agrees_with_the_full_parser(s in "[vV]?[0-9]{1,20}(\\.[0-9]{1,20}){0,3}\\.?") {
            prop_assert_eq!(Version::parse(&s), full(&s), "{}", s);
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,24}") {
            let _ = Version::parse(&s);
        }
    }
}
