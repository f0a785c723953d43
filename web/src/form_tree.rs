//! Nested form field names (`rules[0].conditions[1].values`) into a tree.
//!
//! A name is an identifier followed by `.identifier` or `[index]` steps.
//! Repeated names collect all their values in order. Names that do not parse,
//! or clash with a shape already seen (a leaf and a group under one name),
//! are ignored: they only come from tampered forms.
//!
//! Every form is bounded before it is built ([`check_form_limits`]): at most
//! [`MAX_FORM_FIELDS`] fields, names of at most [`MAX_NAME_BYTES`] bytes and
//! [`MAX_FORM_DEPTH`] steps. The builder is iterative and names deeper than
//! the limit are dropped, so no input can make it (or the tree's drop)
//! recurse deeper than the limit.

use std::collections::BTreeMap;
use std::fmt;

/// Most steps in one field name (`rules[0].conditions[1].values` has 5; the
/// deepest real field has 6).
pub const MAX_FORM_DEPTH: usize = 12;
/// Most fields in one form (a rules editor with 100 rules of 10 conditions
/// posts about 6,000).
pub const MAX_FORM_FIELDS: usize = 20_000;
/// Longest field name in bytes.
pub const MAX_NAME_BYTES: usize = 256;

/// Why a posted form is refused before it is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormLimitError {
    /// More than [`MAX_FORM_FIELDS`] fields.
    TooManyFields { count: usize },
    /// A name longer than [`MAX_NAME_BYTES`].
    NameTooLong { bytes: usize },
    /// A name with more than [`MAX_FORM_DEPTH`] steps.
    TooDeep { depth: usize },
}

impl fmt::Display for FormLimitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormLimitError::TooManyFields { count } => {
                write!(f, "the form has {count} fields; at most {MAX_FORM_FIELDS} are accepted")
            }
            FormLimitError::NameTooLong { bytes } => {
                write!(f, "a field name is {bytes} bytes long; at most {MAX_NAME_BYTES} are accepted")
            }
            FormLimitError::TooDeep { depth } => {
                write!(f, "a field name is nested {depth} levels deep; at most {MAX_FORM_DEPTH} are accepted")
            }
        }
    }
}

impl std::error::Error for FormLimitError {}

/// Checks a decoded form against the limits (count, name length, nesting)
/// without building anything; every form handler calls it first.
pub fn check_form_limits<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> Result<(), FormLimitError> {
    let mut count = 0;
    for name in names {
        let name = name.as_ref();
        count += 1;
        if count > MAX_FORM_FIELDS {
            return Err(FormLimitError::TooManyFields { count });
        }
        if name.len() > MAX_NAME_BYTES {
            return Err(FormLimitError::NameTooLong { bytes: name.len() });
        }
        let depth = 1 + name.bytes().filter(|b| matches!(b, b'.' | b'[')).count();
        if depth > MAX_FORM_DEPTH {
            return Err(FormLimitError::TooDeep { depth });
        }
    }
    Ok(())
}

/// A node of the form tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Node {
    /// The submitted values of one name.
    Leaf(Vec<String>),
    /// `name.child` steps.
    Map(BTreeMap<String, Node>),
    /// `name[i]` steps, by index (gaps allowed: order is kept, holes dropped).
    List(BTreeMap<usize, Node>),
}

/// At most this many array entries per list, to bound the work on hostile input.
const MAX_INDEX: usize = 10_000;

#[derive(Debug, PartialEq, Eq)]
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

fn steps(name: &str) -> Option<Vec<Step<'_>>> {
    let mut out = Vec::new();
    let mut rest = name;
    let mut first = true;
    while !rest.is_empty() {
        if out.len() >= MAX_FORM_DEPTH {
            return None;
        }
        if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let index: usize = r[..end].parse().ok()?;
            if index >= MAX_INDEX || first {
                return None;
            }
            out.push(Step::Index(index));
            rest = &r[end + 1..];
        } else {
            let r = if first { rest } else { rest.strip_prefix('.')? };
            let end = r.find(['.', '[']).unwrap_or(r.len());
            if end == 0 {
                return None;
            }
            out.push(Step::Key(&r[..end]));
            rest = &r[end..];
        }
        first = false;
    }
    if out.is_empty() { None } else { Some(out) }
}

impl Node {
    /// Builds the tree of `pairs` (name, value) as a form decoder yields them.
    pub(crate) fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Node {
        let mut root = Node::Map(BTreeMap::new());
        for (name, value) in pairs {
            if let Some(steps) = steps(name) {
                root.insert(&steps, value);
            }
        }
        root
    }

    /// Walks (creating as needed) down `steps` and appends `value` to the
    /// leaf there; a step whose shape clashes with the tree drops the value.
    fn insert(&mut self, steps: &[Step<'_>], value: &str) {
        let mut node = self;
        for (n, step) in steps.iter().enumerate() {
            let fresh = || match steps.get(n + 1) {
                None => Node::Leaf(Vec::new()),
                Some(next) => Node::empty_for(next),
            };
            node = match (node, step) {
                (Node::Map(map), Step::Key(k)) => map.entry((*k).to_owned()).or_insert_with(fresh),
                (Node::List(list), Step::Index(i)) => list.entry(*i).or_insert_with(fresh),
                _ => return,
            };
        }
        if let Node::Leaf(values) = node {
            values.push(value.to_owned());
        }
    }

    fn empty_for(step: &Step<'_>) -> Node {
        match step {
            Step::Key(_) => Node::Map(BTreeMap::new()),
            Step::Index(_) => Node::List(BTreeMap::new()),
        }
    }

    /// The child `key` of a map node.
    pub(crate) fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(map) => map.get(key),
            _ => None,
        }
    }

    /// The first value of child `key`, or `""`.
    pub(crate) fn text(&self, key: &str) -> String {
        match self.get(key) {
            Some(Node::Leaf(values)) => values.first().cloned().unwrap_or_default(),
            _ => String::new(),
        }
    }

    /// Every value of child `key`, each split into lines, trimmed, empty
    /// lines dropped (a textarea with one value per line, or a repeated field
    /// such as a multiple select).
    pub(crate) fn lines(&self, key: &str) -> Vec<String> {
        match self.get(key) {
            Some(Node::Leaf(values)) => values
                .iter()
                .flat_map(|v| v.lines())
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The entries of list child `key`, in index order.
    pub(crate) fn items(&self, key: &str) -> Vec<&Node> {
        match self.get(key) {
            Some(Node::List(list)) => list.values().collect(),
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names() {
        assert_eq!(
            steps("rules[0].conditions[12].values"),
            Some(vec![
                Step::Key("rules"),
                Step::Index(0),
                Step::Key("conditions"),
                Step::Index(12),
                Step::Key("values")
            ])
        );
        assert_eq!(steps("csrf"), Some(vec![Step::Key("csrf")]));
        for bad in ["", "[0]", "a..b", "a[x]", "a[1", "a.", "a[99999999]", ".a"] {
            assert_eq!(steps(bad), None, "{bad}");
        }
    }

    #[test]
    fn builds_a_tree_with_gaps_and_repeats() {
        let tree = Node::from_pairs([
            ("rules[3].id", "b"),
            ("rules[1].id", "a"),
            ("rules[1].conditions[0].values", "x\n y \n\n"),
            ("rules[1].conditions[0].values", "z"),
            ("rules[1].id", "ignored-second"),
            ("rules.oops", "clash"),
            ("bogus[", "1"),
        ]);
        let rules = tree.items("rules");
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[0].text("id"), "a");
        assert_eq!(rules[1].text("id"), "b");
        assert_eq!(rules[0].items("conditions")[0].lines("values"), vec!["x", "y", "z"]);
        assert_eq!(tree.text("missing"), "");
    }

    #[test]
    fn deep_and_many_names_are_bounded() {
        let deep = format!("rules{}", ".a".repeat(20_000));
        assert_eq!(check_form_limits([deep.as_str()]), Err(FormLimitError::NameTooLong { bytes: deep.len() }));
        let twelve = format!("a{}", ".b".repeat(MAX_FORM_DEPTH - 1));
        let thirteen = format!("{twelve}[0]");
        assert_eq!(check_form_limits([twelve.as_str()]), Ok(()));
        assert_eq!(check_form_limits([thirteen.as_str()]), Err(FormLimitError::TooDeep { depth: 13 }));
        let many = vec!["x"; MAX_FORM_FIELDS + 1];
        assert!(matches!(check_form_limits(many), Err(FormLimitError::TooManyFields { .. })));
        // The builder drops a name deeper than the limit whatever its length,
        // without recursing (this one would overflow a recursive builder).
        let tree = Node::from_pairs([(deep.as_str(), "v"), ("ok", "1")]);
        assert_eq!(tree.text("ok"), "1");
        assert_eq!(tree.get("rules"), None);
        let tree = Node::from_pairs([(twelve.as_str(), "v")]);
        assert!(tree.get("a").is_some());
    }
}
