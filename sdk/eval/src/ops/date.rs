//! RFC 3339 date-times to epoch milliseconds, without allocating.
//!
//! Accepted: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` (`T`/`t`/space as the
//! separator, `z` too), and a bare `YYYY-MM-DD`, read as midnight UTC. The
//! offset is applied, so `2025-01-01T01:00:00+01:00` is
//! `2025-01-01T00:00:00Z`. Fractions below a millisecond are truncated; a
//! leap second (`:60`) counts as the last millisecond of that minute.

fn digits(s: &[u8]) -> Option<i64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0')))
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Milliseconds since the Unix epoch, or `None` if `s` is not RFC 3339.
pub fn parse_rfc3339_millis(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (y, m, d) = (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) {
        return None;
    }
    let days = days_from_civil(y, m, d);
    if b.len() == 10 {
        return Some(days * 86_400_000);
    }
    if b.len() < 20 || !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (hh, mm, ss) = (digits(&b[11..13])?, digits(&b[14..16])?, digits(&b[17..19])?);
    if hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    let mut rest = &b[19..];
    let mut millis = 0;
    if let Some(frac) = rest.strip_prefix(b".") {
        let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        for (i, c) in frac[..n.min(3)].iter().enumerate() {
            millis += i64::from(c - b'0') * [100, 10, 1][i];
        }
        rest = &frac[n..];
    }
    if ss == 60 {
        millis = 999;
    }
    let offset_min = match rest {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let (oh, om) = (digits(&[*h1, *h2])?, digits(&[*m1, *m2])?);
            if oh > 23 || om > 59 {
                return None;
            }
            let off = oh * 60 + om;
            if *sign == b'-' { -off } else { off }
        }
        _ => return None,
    };
    let secs = days * 86_400 + hh * 3600 + mm * 60 + ss.min(59) - offset_min * 60;
    Some(secs * 1000 + millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(parse_rfc3339_millis("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339_millis("1970-01-01"), Some(0));
        assert_eq!(parse_rfc3339_millis("2025-01-31T12:00:00Z"), Some(1_738_324_800_000));
        assert_eq!(parse_rfc3339_millis("2000-02-29T23:59:59.999Z"), Some(951_868_799_999));
        assert_eq!(parse_rfc3339_millis("1969-12-31T23:59:59Z"), Some(-1000));
        assert_eq!(parse_rfc3339_millis("2024-03-10 08:30:00.5z"), Some(1_710_059_400_500));
    }

    #[test]
    fn offsets_are_applied() {
        let utc = parse_rfc3339_millis("2025-01-01T00:00:00Z");
        assert_eq!(parse_rfc3339_millis("2025-01-01T01:00:00+01:00"), utc);
        assert_eq!(parse_rfc3339_millis("2024-12-31T19:00:00-05:00"), utc);
        assert_eq!(parse_rfc3339_millis("2025-01-01T05:45:00+05:45"), utc);
        assert_eq!(parse_rfc3339_millis("2025-01-01T00:00:00.123456789+00:00"), utc.map(|u| u + 123));
    }

    #[test]
    fn leap_second_is_end_of_minute() {
        assert_eq!(parse_rfc3339_millis("2016-12-31T23:59:60Z"), parse_rfc3339_millis("2016-12-31T23:59:59.999Z"));
    }

    #[test]
    fn rejects_invalid() {
        for bad in [
            "",
            "2025",
            "2025-13-01",
            "2025-02-29",
            "1900-02-29",
            "2025-01-01T24:00:00Z",
            "2025-01-01T00:00:00",
            "2025-01-01T00:00:00+0100",
            "2025-01-01T00:00:00.Z",
            "2025-01-01X00:00:00Z",
            "２０２５-01-01",
            "2025-01-01T00:00:00+24:00",
            "+2025-01-01",
        ] {
            assert_eq!(parse_rfc3339_millis(bad), None, "{bad}");
        }
        assert!(parse_rfc3339_millis("2000-02-29").is_some());
    }
}
