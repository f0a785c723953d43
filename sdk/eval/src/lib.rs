//! # flagyard-eval
//!
//! The one evaluation engine of Flagyard, called by the server (remote
//! evaluation, OFREP, the UI's "test a context") and by the embedded SDK.
//!
//! It is pure: no I/O, no async, no locks, and no heap allocation per
//! evaluation. The flow is:
//!
//! 1. [`Snapshot`] (the serde wire model of an environment's rules) is
//!    validated and compiled once by [`Ruleset::compile`] (or
//!    [`Ruleset::from_json`]). Regexes, semantic versions, dates and numbers
//!    are parsed, lists become sets, keys become indices, split ranges and the
//!    murmur3 state of each salt prefix are precomputed. Every problem is
//!    reported with its exact path ([`CompileErrors`]).
//! 2. [`evaluate`] takes the ruleset, a flag key and a [`Context`] and returns
//!    a [`Detail`]: the value, the variant key and the [`Reason`], in two
//!    machine words.
//!
//! Bucketing follows `BUCKETING.md` bit for bit: see [`bucket`].
//!
//! ```
//! use flagyard_eval::{Context, Reason, Ruleset};
//!
//! let rules = Ruleset::from_json(r#"{
//!   "environment": "production",
//!   "flags": {
//!     "new-checkout": {
//!       "type": "boolean",
//!       "variants": [{"key": "on", "value": true}, {"key": "off", "value": false}],
//!       "environments": {"production": {
//!         "enabled": true, "offVariant": "off", "defaultVariant": "off",
//!         "rules": [{"id": "canary", "serve": {"split": {
//!           "variants": [{"variant": "on", "weight": 2500}, {"variant": "off", "weight": 7500}]
//!         }}}]
//!       }}
//!     }
//!   }
//! }"#).unwrap();
//!
//! let d = rules.evaluate("new-checkout", &Context::new("user-1"));
//! assert_eq!(d.reason(), Reason::Split { rule: 0, id: Some("canary"), bucket: 631 });
//! assert_eq!(d.variant(), Some("on"));
//! assert!(d.served_by_split());
//! ```

#![deny(missing_docs)]

mod bucket;
mod compile;
mod context;
mod detail;
mod error;
mod eval;
mod graph;
mod index;
mod model;
mod murmur;
mod ops;
mod ruleset;

pub use bucket::{BUCKETS, bucket, split_ranges};
pub use compile::{MAX_PATTERN_BYTES, MAX_PATTERNS, is_valid_key, parse_snapshot, pattern_totals};
pub use context::{Context, ContextError, Value};
pub use detail::{Detail, EvalError, MAX_RULES, Reason, RuleLabel, Unbucketed};
pub use error::{CompileError, CompileErrorKind, CompileErrors};
pub use eval::{evaluate, evaluate_typed};
pub use model::{
    Condition, Flag, FlagConfig, FlagType, Operator, Prerequisite, Rule, Segment, Serve, Snapshot, Split, Variant,
    WeightedVariant,
};
pub use murmur::murmur3_x86_32;
pub use ops::{Version as SemVersion, parse_rfc3339_millis};
pub use ruleset::{MAX_DEPTH, Ruleset};
