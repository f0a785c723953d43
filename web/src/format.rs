//! Number formatting shared by the templates (never prints NaN or infinity).

/// `x` (a fraction) as a percentage with `decimals` places: `0.1` → `10.0%`.
pub(crate) fn pct(x: f64, decimals: usize) -> String {
    if x.is_finite() { format!("{:.*}%", decimals, x * 100.0) } else { "—".to_owned() }
}

/// Like [`pct`] with an explicit sign: `+10.0%`, `−2.5%`.
pub(crate) fn signed_pct(x: f64, decimals: usize) -> String {
    if !x.is_finite() {
        return "—".to_owned();
    }
    let s = format!("{:.*}", decimals, (x * 100.0).abs());
    let zero = s.bytes().all(|b| b == b'0' || b == b'.');
    if zero {
        format!("{s}%")
    } else if x > 0.0 {
        format!("+{s}%")
    } else {
        format!("−{s}%")
    }
}

/// Basis points as a percentage without trailing zeros: 500 → `5%`, 1250 →
/// `12.5%`, 1 → `0.01%`.
pub(crate) fn bp(bp: u32) -> String {
    let whole = bp / 100;
    let frac = bp % 100;
    if frac == 0 {
        format!("{whole}%")
    } else if frac.is_multiple_of(10) {
        format!("{whole}.{}%", frac / 10)
    } else {
        format!("{whole}.{frac:02}%")
    }
}

/// Basis points as the number a percent input holds: 1250 → `12.5`.
pub(crate) fn bp_input(bp: u32) -> String {
    let s = self::bp(bp);
    s.trim_end_matches('%').to_owned()
}

/// A p-value: `0.028`, `< 0.001`.
pub(crate) fn p_value(p: f64) -> String {
    if !p.is_finite() {
        "—".to_owned()
    } else if p < 0.001 {
        "< 0.001".to_owned()
    } else {
        format!("{p:.3}")
    }
}

/// A mean or other plain figure with four significant digits.
pub(crate) fn number(x: f64) -> String {
    if !x.is_finite() {
        return "—".to_owned();
    }
    if x == 0.0 {
        return "0".to_owned();
    }
    let magnitude = x.abs().log10().floor() as i32;
    let decimals = (3 - magnitude).clamp(0, 6) as usize;
    format!("{x:.decimals$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(pct(0.1, 1), "10.0%");
        assert_eq!(pct(f64::NAN, 1), "—");
        assert_eq!(signed_pct(0.1, 1), "+10.0%");
        assert_eq!(signed_pct(-0.025, 1), "−2.5%");
        assert_eq!(signed_pct(-0.00001, 1), "0.0%");
        assert_eq!(bp(500), "5%");
        assert_eq!(bp(1250), "12.5%");
        assert_eq!(bp(1), "0.01%");
        assert_eq!(bp(10_000), "100%");
        assert_eq!(bp_input(1250), "12.5");
        assert_eq!(p_value(0.0278), "0.028");
        assert_eq!(p_value(0.0001), "< 0.001");
        assert_eq!(number(0.1), "0.1000");
        assert_eq!(number(1234.6), "1235");
        assert_eq!(number(12.345), "12.35");
        assert_eq!(number(f64::INFINITY), "—");
    }
}
