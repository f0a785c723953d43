//! A readable line diff of two texts (the audit log's before/after).

/// What a diff line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffKind {
    /// In both.
    Same,
    /// Only before.
    Removed,
    /// Only after.
    Added,
}

/// One line of a diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffLine {
    /// Kind.
    pub kind: DiffKind,
    /// The line's text.
    pub text: String,
}

impl DiffLine {
    /// CSS class: `same`, `del`, `ins`.
    pub fn class(&self) -> &'static str {
        match self.kind {
            DiffKind::Same => "same",
            DiffKind::Removed => "del",
            DiffKind::Added => "ins",
        }
    }

    /// The gutter sign: ` `, `−`, `+`.
    pub fn sign(&self) -> &'static str {
        match self.kind {
            DiffKind::Same => " ",
            DiffKind::Removed => "−",
            DiffKind::Added => "+",
        }
    }
}

/// Above this many line pairs the diff is not computed line by line (all
/// removed, then all added), to bound the work.
const MAX_CELLS: usize = 4_000_000;

/// The line diff of `before` and `after` (longest common subsequence).
pub fn line_diff(before: &str, after: &str) -> Vec<DiffLine> {
    let a: Vec<&str> = before.lines().collect();
    let b: Vec<&str> = after.lines().collect();
    let line = |kind, text: &str| DiffLine { kind, text: text.to_owned() };
    // Trim the common prefix and suffix: most changes are small.
    let prefix = a.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let suffix = a[prefix..].iter().rev().zip(b[prefix..].iter().rev()).take_while(|(x, y)| x == y).count();
    let (am, bm) = (&a[prefix..a.len() - suffix], &b[prefix..b.len() - suffix]);
    let mut out: Vec<DiffLine> = a[..prefix].iter().map(|t| line(DiffKind::Same, t)).collect();
    if am.len().saturating_mul(bm.len()) > MAX_CELLS {
        out.extend(am.iter().map(|t| line(DiffKind::Removed, t)));
        out.extend(bm.iter().map(|t| line(DiffKind::Added, t)));
    } else {
        // lcs[i][j] = LCS length of am[i..] and bm[j..].
        let w = bm.len() + 1;
        let mut lcs = vec![0u32; (am.len() + 1) * w];
        for i in (0..am.len()).rev() {
            for j in (0..bm.len()).rev() {
                lcs[i * w + j] = if am[i] == bm[j] {
                    lcs[(i + 1) * w + j + 1] + 1
                } else {
                    lcs[(i + 1) * w + j].max(lcs[i * w + j + 1])
                };
            }
        }
        let (mut i, mut j) = (0, 0);
        while i < am.len() || j < bm.len() {
            if i < am.len() && j < bm.len() && am[i] == bm[j] {
                out.push(line(DiffKind::Same, am[i]));
                i += 1;
                j += 1;
            } else if i < am.len() && (j == bm.len() || lcs[(i + 1) * w + j] >= lcs[i * w + j + 1]) {
                out.push(line(DiffKind::Removed, am[i]));
                i += 1;
            } else {
                out.push(line(DiffKind::Added, bm[j]));
                j += 1;
            }
        }
    }
    out.extend(a[a.len() - suffix..].iter().map(|t| line(DiffKind::Same, t)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(d: &[DiffLine]) -> String {
        d.iter().map(|l| format!("{}{}", l.sign(), l.text)).collect::<Vec<_>>().join("|")
    }

    #[test]
    fn diffs_lines() {
        assert_eq!(render(&line_diff("a\nb\nc", "a\nx\nc")), " a|−b|+x| c");
        assert_eq!(render(&line_diff("", "a")), "+a");
        assert_eq!(render(&line_diff("a", "")), "−a");
        assert_eq!(render(&line_diff("a\nb", "a\nb")), " a| b");
        assert_eq!(render(&line_diff("a\nb\nc\nd", "a\nc\nd\ne")), " a|−b| c| d|+e");
    }
}
