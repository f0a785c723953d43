//! The rules editor's data as typed: drafts that keep the user's input
//! verbatim (numbers as text) so a failed save loses nothing.

/// Type of the values of an `eq`/`neq`/`in`/`not_in` condition (field `type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ValueType {
    /// JSON strings.
    #[default]
    String,
    /// JSON numbers.
    Number,
    /// `true` / `false`.
    Boolean,
}

impl ValueType {
    /// Form value: `string`, `number` or `boolean`.
    pub fn as_str(self) -> &'static str {
        match self {
            ValueType::String => "string",
            ValueType::Number => "number",
            ValueType::Boolean => "boolean",
        }
    }

    pub(crate) fn parse(s: &str) -> ValueType {
        match s {
            "number" => ValueType::Number,
            "boolean" => ValueType::Boolean,
            _ => ValueType::String,
        }
    }
}

/// One condition as typed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConditionDraft {
    /// Context attribute (empty for segment and prerequisite operators).
    pub attribute: String,
    /// Operator wire name.
    pub op: String,
    /// Values, one per entry.
    pub values: Vec<String>,
    /// Type of the values for typed operators.
    pub value_type: ValueType,
    /// For `prerequisite`: the other flag.
    pub flag: String,
}

/// A split's variant and its weight as typed (percent).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WeightDraft {
    /// Variant key.
    pub variant: String,
    /// Weight in percent as typed (`12.5`); up to two decimals (basis points).
    pub weight: String,
}

/// A split as typed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SplitDraft {
    /// Variants and weights.
    pub variants: Vec<WeightDraft>,
    /// Coverage in percent as typed (empty = 100).
    pub coverage: String,
    /// Attribute to bucket by (empty = targeting key).
    pub bucket_by: String,
    /// Salt (empty = the flag key).
    pub salt: String,
}

/// What a rule serves, as typed. Both parts are kept so switching back and
/// forth loses nothing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServeDraft {
    /// `true` for a split, `false` for one variant.
    pub is_split: bool,
    /// The variant served when not a split.
    pub variant: String,
    /// The split.
    pub split: SplitDraft,
}

/// One rule as typed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RuleDraft {
    /// Rule id (optional; experiments refer to it).
    pub id: String,
    /// Conditions, all of which must hold.
    pub conditions: Vec<ConditionDraft>,
    /// What it serves.
    pub serve: ServeDraft,
}

/// A prerequisite as typed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PrerequisiteDraft {
    /// The other flag.
    pub flag: String,
    /// Variant keys of it that satisfy the prerequisite.
    pub variants: Vec<String>,
}

/// A flag's configuration in one environment as the editor posts it (the
/// `enabled` switch has its own toggle form and is not part of it).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConfigDraft {
    /// The revision the edit is based on (`baseRevision`; empty = none).
    pub base_revision: String,
    /// Served when off or a prerequisite fails.
    pub off_variant: String,
    /// Served when no rule matches.
    pub default_variant: String,
    /// Prerequisites.
    pub prerequisites: Vec<PrerequisiteDraft>,
    /// Rules in order.
    pub rules: Vec<RuleDraft>,
    /// "Apply at" as typed (`scheduleAt`): not part of the configuration,
    /// kept so a re-rendered form still schedules instead of saving.
    pub schedule_at: String,
    /// The production "I am changing …" box as posted, kept across a
    /// re-render (a failed save, an added rule).
    pub confirmed: bool,
}
