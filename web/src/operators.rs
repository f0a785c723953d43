//! The condition operators of `docs/rules.md`, with the input each needs.

/// Which input the condition editor shows for an operator's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// One value of a chosen type (string, number, boolean).
    Single,
    /// Several values of a chosen type, one per line.
    List,
    /// Several strings, one per line.
    Strings,
    /// Regular expressions, one per line.
    Regex,
    /// One number.
    Number,
    /// One semantic version.
    Semver,
    /// One RFC 3339 date-time or epoch milliseconds.
    Date,
    /// No value.
    Nothing,
    /// Segment keys (a multiple select).
    Segments,
    /// A flag and its variant keys.
    Prerequisite,
}

/// One operator as the UI offers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OperatorInfo {
    /// Wire name (`docs/rules.md`), e.g. `semver_gte`.
    pub name: &'static str,
    /// Human label, e.g. "version ≥".
    pub label: &'static str,
    /// The value input.
    pub input: InputKind,
}

impl OperatorInfo {
    /// Whether the condition has an `attribute`.
    pub fn needs_attribute(&self) -> bool {
        !matches!(self.input, InputKind::Segments | InputKind::Prerequisite)
    }

    /// Whether the user picks the values' type (string, number, boolean).
    pub fn typed(&self) -> bool {
        matches!(self.input, InputKind::Single | InputKind::List)
    }

    /// Whether the values are a list (one per line).
    pub fn is_list(&self) -> bool {
        matches!(self.input, InputKind::List | InputKind::Strings | InputKind::Regex)
    }
}

const fn op(name: &'static str, label: &'static str, input: InputKind) -> OperatorInfo {
    OperatorInfo { name, label, input }
}

/// A labelled group of operators (an `<optgroup>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OperatorGroup {
    /// Group label.
    pub label: &'static str,
    /// Its operators.
    pub operators: &'static [OperatorInfo],
}

/// Every operator, grouped for the picker.
pub const OPERATOR_GROUPS: &[OperatorGroup] = &[
    OperatorGroup {
        label: "Compare",
        operators: &[
            op("eq", "equals", InputKind::Single),
            op("neq", "does not equal", InputKind::Single),
            op("in", "is one of", InputKind::List),
            op("not_in", "is none of", InputKind::List),
            op("exists", "exists", InputKind::Nothing),
        ],
    },
    OperatorGroup {
        label: "Text",
        operators: &[
            op("contains", "contains", InputKind::Strings),
            op("starts_with", "starts with", InputKind::Strings),
            op("ends_with", "ends with", InputKind::Strings),
            op("matches", "matches regex", InputKind::Regex),
        ],
    },
    OperatorGroup {
        label: "Numbers",
        operators: &[
            op("lt", "<", InputKind::Number),
            op("lte", "≤", InputKind::Number),
            op("gt", ">", InputKind::Number),
            op("gte", "≥", InputKind::Number),
        ],
    },
    OperatorGroup {
        label: "Versions",
        operators: &[
            op("semver_lt", "version <", InputKind::Semver),
            op("semver_lte", "version ≤", InputKind::Semver),
            op("semver_eq", "version =", InputKind::Semver),
            op("semver_gte", "version ≥", InputKind::Semver),
            op("semver_gt", "version >", InputKind::Semver),
        ],
    },
    OperatorGroup {
        label: "Dates",
        operators: &[op("before", "before", InputKind::Date), op("after", "after", InputKind::Date)],
    },
    OperatorGroup {
        label: "Segments and flags",
        operators: &[
            op("segment", "in segment", InputKind::Segments),
            op("not_segment", "not in segment", InputKind::Segments),
            op("prerequisite", "flag serves", InputKind::Prerequisite),
        ],
    },
];

/// Every operator, in picker order.
pub fn operators() -> impl Iterator<Item = &'static OperatorInfo> {
    OPERATOR_GROUPS.iter().flat_map(|g| g.operators.iter())
}

/// The operator named `name`.
pub fn operator(name: &str) -> Option<&'static OperatorInfo> {
    operators().find(|o| o.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_matches_the_engine() {
        let names: Vec<&str> = operators().map(|o| o.name).collect();
        assert_eq!(names.len(), 23);
        for name in names {
            let parsed: Result<flagyard_eval::Operator, _> = serde_json::from_value(serde_json::json!(name));
            assert!(parsed.is_ok(), "engine does not know operator {name}");
        }
        assert_eq!(operator("in").map(|o| o.input), Some(InputKind::List));
        assert!(operator("bogus").is_none());
        assert!(!operator("segment").is_some_and(|o| o.needs_attribute()));
    }
}
