//! The wire format of an environment's rules (serde, camelCase JSON).
//!
//! These types are what the server stores, what `/sdk/v1/snapshot` sends and
//! what the SDK receives. They are plain data; [`crate::Ruleset::compile`]
//! validates them and turns them into the form that evaluation runs on.
//! Unknown fields are ignored so that an older SDK keeps working when a newer
//! server adds descriptive fields.

use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

/// All rules of one environment: the unit the SDK downloads and evaluates.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    /// The environment whose configuration is evaluated (e.g. `production`).
    pub environment: String,
    /// The environment's version: +1 on every change.
    #[serde(default)]
    pub version: u64,
    /// Flags by key.
    #[serde(default, deserialize_with = "unique_map")]
    pub flags: BTreeMap<String, Flag>,
    /// Reusable named condition sets by key.
    #[serde(default, deserialize_with = "unique_map")]
    pub segments: BTreeMap<String, Segment>,
}

/// A flag: its type, its variants, and its configuration per environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Flag {
    /// The type every variant's value has.
    #[serde(rename = "type")]
    pub kind: FlagType,
    /// The values this flag can serve, in display order.
    pub variants: Vec<Variant>,
    /// Configuration per environment key.
    #[serde(deserialize_with = "unique_map")]
    pub environments: BTreeMap<String, FlagConfig>,
}

/// The value type of a flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FlagType {
    /// `true` / `false`.
    Boolean,
    /// A UTF-8 string.
    String,
    /// A JSON number (f64).
    Number,
    /// Any JSON value.
    Json,
}

impl FlagType {
    /// The lowercase name used on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            FlagType::Boolean => "boolean",
            FlagType::String => "string",
            FlagType::Number => "number",
            FlagType::Json => "json",
        }
    }

    /// Whether `value` is of this type.
    pub fn admits(self, value: &serde_json::Value) -> bool {
        match self {
            FlagType::Boolean => value.is_boolean(),
            FlagType::String => value.is_string(),
            FlagType::Number => value.is_number(),
            FlagType::Json => true,
        }
    }
}

impl fmt::Display for FlagType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One value a flag can serve, named by a key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Variant {
    /// Stable name (`on`, `off`, `treatment`...), unique within the flag.
    pub key: String,
    /// The value, of the flag's type.
    pub value: serde_json::Value,
}

/// A flag's configuration in one environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct FlagConfig {
    /// The kill switch: when `false`, every context gets `off_variant`.
    pub enabled: bool,
    /// Served when the flag is off or a prerequisite fails.
    pub off_variant: String,
    /// Served when no rule matches.
    pub default_variant: String,
    /// Flags that must serve given variants first; otherwise `off_variant`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prerequisites: Vec<Prerequisite>,
    /// Ordered rules; the first that matches decides.
    #[serde(default)]
    pub rules: Vec<Rule>,
}

/// "Flag `flag` serves one of `variants` for this context."
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Prerequisite {
    /// The other flag's key.
    pub flag: String,
    /// Variant keys of that flag that satisfy the prerequisite.
    pub variants: Vec<String>,
}

/// A targeting rule: when every condition holds, serve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Rule {
    /// Optional stable id, unique within the configuration; reported in reasons.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// All must hold (an empty list always holds).
    #[serde(default)]
    pub conditions: Vec<Condition>,
    /// What a matching context gets.
    pub serve: Serve,
}

/// What a rule serves: `{"variant": "on"}` or `{"split": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum Serve {
    /// One fixed variant.
    Variant(String),
    /// A percentage split by bucket (see `BUCKETING.md`).
    Split(Split),
}

/// A weighted split of traffic over variants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Split {
    /// Variants with weights in basis points that add up to 10000.
    pub variants: Vec<WeightedVariant>,
    /// Share of traffic in the split, in basis points (10000 = all).
    #[serde(default = "full_coverage")]
    pub coverage: u32,
    /// Context attribute to bucket by; default the targeting key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket_by: Option<String>,
    /// Hash salt; default the flag key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt: Option<String>,
}

fn full_coverage() -> u32 {
    10_000
}

/// A variant and its weight in a split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WeightedVariant {
    /// Variant key of the flag.
    pub variant: String,
    /// Basis points (0..=10000).
    pub weight: u32,
}

/// A condition on the context. Which fields are used depends on `op`:
///
/// | op | attribute | values |
/// | --- | --- | --- |
/// | `eq`, `neq` | required | exactly one string, number or boolean |
/// | `in`, `not_in` | required | strings / numbers / booleans (any of) |
/// | `contains`, `starts_with`, `ends_with` | required | one or more strings (any of) |
/// | `matches` | required | one or more regular expressions (any of) |
/// | `lt`, `lte`, `gt`, `gte` | required | exactly one number |
/// | `semver_lt` ... `semver_gt` | required | exactly one semantic version |
/// | `before`, `after` | required | exactly one RFC 3339 date-time or epoch milliseconds |
/// | `exists` | required | none |
/// | `segment`, `not_segment` | none | one or more segment keys (member of any) |
/// | `prerequisite` | none (`flag` instead) | variant keys of `flag` (serves any) |
///
/// A condition on an attribute the context lacks, or holds with a type the
/// operator does not apply to, does not hold — negated operators included.
/// A list-of-strings attribute matches when any element does (`neq` and
/// `not_in`: when no element does).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Condition {
    /// Context attribute name (`key` is the targeting key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribute: Option<String>,
    /// The operator.
    pub op: Operator,
    /// Operands (see the table above).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<serde_json::Value>,
    /// For `prerequisite`: the other flag's key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flag: Option<String>,
}

/// Condition operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum Operator {
    Eq,
    Neq,
    In,
    NotIn,
    Contains,
    StartsWith,
    EndsWith,
    Matches,
    Lt,
    Lte,
    Gt,
    Gte,
    SemverLt,
    SemverLte,
    SemverEq,
    SemverGte,
    SemverGt,
    Before,
    After,
    Exists,
    Segment,
    NotSegment,
    Prerequisite,
}

/// A reusable set of conditions. A context is a member when its targeting key
/// is `included`; otherwise, when it is not `excluded` and `conditions` is
/// non-empty and every condition holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Segment {
    /// Targeting keys that are always members.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub included: Vec<String>,
    /// Targeting keys that are never members (unless included).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded: Vec<String>,
    /// All must hold. May use `segment` but not `prerequisite`.
    #[serde(default)]
    pub conditions: Vec<Condition>,
}

/// Deserialize a JSON object into a map, refusing duplicate keys (serde's
/// default keeps the last one silently).
fn unique_map<'de, D, V>(deserializer: D) -> Result<BTreeMap<String, V>, D::Error>
where
    D: Deserializer<'de>,
    V: Deserialize<'de>,
{
    struct UniqueMap<V>(PhantomData<V>);
    impl<'de, V: Deserialize<'de>> Visitor<'de> for UniqueMap<V> {
        type Value = BTreeMap<String, V>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object with unique keys")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut out = BTreeMap::new();
            while let Some(key) = map.next_key::<String>()? {
                if out.contains_key(&key) {
                    return Err(serde::de::Error::custom(format_args!("duplicate key `{key}`")));
                }
                let value = map.next_value()?;
                out.insert(key, value);
            }
            Ok(out)
        }
    }
    deserializer.deserialize_map(UniqueMap(PhantomData))
}
