//! A readable line diff of two texts (the audit log's before/after).

use std::time::{Duration, Instant};

use similar::{Algorithm, ChangeTag};

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

/// The diff gives up refining after this long and returns what it has
/// (still a correct diff, maybe not a minimal one): Myers' algorithm needs
/// memory linear in the input, and this bounds its time on huge inputs.
const DEADLINE: Duration = Duration::from_millis(100);

/// The line diff of `before` and `after` (Myers' algorithm, `similar`).
pub fn line_diff(before: &str, after: &str) -> Vec<DiffLine> {
    let a: Vec<&str> = before.lines().collect();
    let b: Vec<&str> = after.lines().collect();
    let ops = similar::capture_diff_slices_deadline(Algorithm::Myers, &a, &b, Some(Instant::now() + DEADLINE));
    ops.iter()
        .flat_map(|op| op.iter_changes(&a, &b))
        .map(|change| DiffLine {
            kind: match change.tag() {
                ChangeTag::Equal => DiffKind::Same,
                ChangeTag::Delete => DiffKind::Removed,
                ChangeTag::Insert => DiffKind::Added,
            },
            text: change.value().to_owned(),
        })
        .collect()
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
        assert_eq!(render(&line_diff("a\nb", "a\nb\n")), " a| b");
        assert_eq!(render(&line_diff("", "")), "");
    }

    #[test]
    fn huge_inputs_stay_bounded() {
        // 20,000 × 20,000 distinct lines: 400M cells for a table diff.
        let before: String = (0..20_000).map(|i| format!("old {i}\n")).collect();
        let after: String = (0..20_000).map(|i| format!("new {i}\n")).collect();
        let started = Instant::now();
        let d = line_diff(&before, &after);
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
        assert_eq!(d.iter().filter(|l| l.kind == DiffKind::Removed).count(), 20_000);
        assert_eq!(d.iter().filter(|l| l.kind == DiffKind::Added).count(), 20_000);
    }
}
