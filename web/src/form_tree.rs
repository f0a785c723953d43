//! Nested form field names (`rules[0].conditions[1].values`) into a tree.
//!
//! A name is an identifier followed by `.identifier` or `[index]` steps.
//! Repeated names collect all their values in order. Names that do not parse,
//! or clash with a shape already seen (a leaf and a group under one name),
//! are ignored: they only come from tampered forms.

use std::collections::BTreeMap;

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

    fn insert(&mut self, steps: &[Step<'_>], value: &str) {
        let Some((step, rest)) = steps.split_first() else {
            if let Node::Leaf(values) = self {
                values.push(value.to_owned());
            }
            return;
        };
        let fresh = || if rest.is_empty() { Node::Leaf(Vec::new()) } else { Node::empty_for(&rest[0]) };
        let child = match (self, step) {
            (Node::Map(map), Step::Key(k)) => map.entry((*k).to_owned()).or_insert_with(fresh),
            (Node::List(list), Step::Index(i)) => list.entry(*i).or_insert_with(fresh),
            _ => return,
        };
        child.insert(rest, value);
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
}
