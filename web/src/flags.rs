//! The flags list: search and filters, a kill switch per environment that
//! works in place, the create form, and the live-update hook.

use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use crate::errors::{FieldError, message_for};
use crate::layout::Layout;
use crate::onboarding::Onboarding;

/// An environment column of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvColumn {
    /// Environment key.
    pub key: String,
    /// Whether toggling here asks for confirmation.
    pub production: bool,
}

/// A flag's state in one environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvState {
    /// Environment key.
    pub environment: String,
    /// On or off.
    pub enabled: bool,
    /// Whether toggling asks for confirmation.
    pub production: bool,
    /// Revision of the configuration (posted as `baseRevision`).
    pub revision: u64,
}

/// One row of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlagRow {
    /// Flag key.
    pub key: String,
    /// Display name (may be empty).
    pub name: String,
    /// Description (may be empty).
    pub description: String,
    /// Value type: `boolean`, `string`, `number`, `json`.
    pub value_type: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Whether it looks stale (not evaluated lately / fully rolled out).
    pub stale: bool,
    /// A ramp's badge: `ramping`, `rolled back` (its newest ramp), or empty.
    pub ramp: String,
    /// Whether it is archived.
    pub archived: bool,
    /// One entry per list column, in column order.
    pub environments: Vec<EnvState>,
    /// Last change, human readable.
    pub updated: String,
}

impl FlagRow {
    /// Link to the flag page.
    pub fn href(&self) -> String {
        format!("/flags/{}", self.key)
    }

    /// `id` of the row (target of in-place swaps).
    pub fn row_id(&self) -> String {
        format!("flag-{}", self.key)
    }
}

impl EnvState {
    /// The toggle form's action.
    pub fn toggle_action(&self, flag: &str) -> String {
        format!("/flags/{flag}/environments/{}/toggle", self.environment)
    }

    /// The state the toggle asks for.
    pub fn target(&self) -> &'static str {
        if self.enabled { "false" } else { "true" }
    }
}

/// The search and filters (a GET form to `/flags`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct FlagsFilter {
    /// Free text on key, name and description.
    pub q: String,
    /// Only flags with this tag (empty = any).
    pub tag: String,
    /// Environment `state` applies to (empty = any environment).
    pub env: String,
    /// `on`, `off` or empty.
    pub state: String,
    /// Only stale flags when `true`.
    pub stale: bool,
}

impl FlagsFilter {
    /// The filter as a query string (without `?`), for links and live updates.
    pub fn query(&self) -> String {
        let mut parts = Vec::new();
        for (k, v) in [("q", &self.q), ("tag", &self.tag), ("env", &self.env), ("state", &self.state)] {
            if !v.is_empty() {
                parts.push(format!("{k}={}", urlencode(v)));
            }
        }
        if self.stale {
            parts.push("stale=true".to_owned());
        }
        parts.join("&")
    }
}

/// Percent-encodes a query value.
pub(crate) fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The table body (fragment `flags_table.html`): served by `GET /flags/rows`
/// (same query as `/flags`) for searches and live updates.
#[derive(Debug, Clone, Template, WebTemplate)]
#[template(path = "flags_table.html")]
pub struct FlagsTable {
    /// CSRF token for the toggle forms.
    pub csrf: String,
    /// Columns.
    pub columns: Vec<EnvColumn>,
    /// Rows.
    pub rows: Vec<FlagRow>,
    /// The list's version (e.g. the sum or max of environment versions):
    /// `data-version`, compared with the version `/ui/events` announces.
    pub version: u64,
    /// The filter, to re-fetch the same rows.
    pub filter: FlagsFilter,
    /// Whether the user may toggle.
    pub can_edit: bool,
}

impl FlagsTable {
    /// Per column, how many of the listed flags are on there.
    pub fn on_counts(&self) -> Vec<(String, usize)> {
        self.columns
            .iter()
            .map(|col| {
                let on = self
                    .rows
                    .iter()
                    .filter(|r| r.environments.iter().any(|e| e.environment == col.key && e.enabled))
                    .count();
                (col.key.clone(), on)
            })
            .collect()
    }

    /// URL of this fragment with the current filter.
    pub fn src(&self) -> String {
        let q = self.filter.query();
        if q.is_empty() { "/flags/rows".to_owned() } else { format!("/flags/rows?{q}") }
    }
}

/// One row (fragment `flag_row.html`): the answer to a toggle from htmx.
#[derive(Debug, Clone, Template, WebTemplate)]
#[template(path = "flag_row.html")]
pub struct FlagRowFragment {
    /// CSRF token.
    pub csrf: String,
    /// The row.
    pub row: FlagRow,
    /// Whether the user may toggle.
    pub can_edit: bool,
}

/// The create form's state: input kept and errors after a failed attempt.
#[derive(Debug, Clone, Default)]
pub struct NewFlagView {
    /// What was typed.
    pub form: NewFlagForm,
    /// Problems by field name.
    pub errors: Vec<FieldError>,
}

impl NewFlagView {
    /// Error for field `name`.
    pub fn error(&self, name: &str) -> Option<String> {
        message_for(&self.errors, name)
    }

    /// The value-type choices (value, selected).
    pub fn type_choices(&self) -> Vec<(&'static str, bool)> {
        let current = if self.form.value_type.is_empty() { "boolean" } else { self.form.value_type.as_str() };
        ["boolean", "string", "number", "json"].into_iter().map(|t| (t, t == current)).collect()
    }
}

/// Fields of `POST /flags`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct NewFlagForm {
    /// CSRF token.
    pub csrf: String,
    /// Flag key.
    pub key: String,
    /// Display name.
    pub name: String,
    /// `boolean`, `string`, `number` or `json` (field `type`).
    #[serde(rename = "type")]
    pub value_type: String,
    /// Description.
    pub description: String,
    /// Tags, comma-separated.
    pub tags: String,
    /// Variants, one `key=value` (JSON value) per line; empty for booleans.
    pub variants: String,
}

/// Fields of `POST /flags/{key}/environments/{env}/toggle`.
#[derive(Debug, Clone, Deserialize)]
pub struct ToggleForm {
    /// CSRF token (missing = empty: refused as a wrong token, 403).
    #[serde(default)]
    pub csrf: String,
    /// The state asked for: `true` or `false` (idempotent on double submit).
    /// The kill switch always wins: it carries no base revision, since it
    /// changes nothing but `enabled` and says which state it wants, so a
    /// rules edit saved since the page loaded never refuses it.
    pub enabled: bool,
    /// `yes` once confirmed (needed in production: answer a [`crate::ConfirmPage`] otherwise).
    #[serde(default)]
    pub confirm: String,
    /// Where to go afterwards (a local path), carried through the
    /// confirmation page; empty: the page the form was posted from.
    #[serde(default, rename = "return")]
    pub return_to: String,
}

/// The flags list page.
#[derive(Debug, Clone, Template, WebTemplate)]
#[template(path = "flags.html")]
pub struct FlagsPage {
    /// The frame.
    pub layout: Layout,
    /// Current filter.
    pub filter: FlagsFilter,
    /// Tags for the tag filter.
    pub tags: Vec<String>,
    /// The table.
    pub table: FlagsTable,
    /// Flags matching (may exceed the rows shown).
    pub total: usize,
    /// The create form.
    pub new_flag: NewFlagView,
    /// The first steps, until an SDK key has been used.
    pub onboarding: Option<Onboarding>,
}

impl FlagsPage {
    /// Tag choices (tag, selected).
    pub fn tag_choices(&self) -> Vec<(String, bool)> {
        self.tags.iter().map(|t| (t.clone(), *t == self.filter.tag)).collect()
    }

    /// Environment choices (key, selected).
    pub fn env_choices(&self) -> Vec<(String, bool)> {
        self.table.columns.iter().map(|c| (c.key.clone(), c.key == self.filter.env)).collect()
    }

    /// State choices (value, label, selected).
    pub fn state_choices(&self) -> [(&'static str, &'static str, bool); 3] {
        let s = self.filter.state.as_str();
        [("", "any", s.is_empty()), ("on", "on", s == "on"), ("off", "off", s == "off")]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings() {
        let f =
            FlagsFilter { q: "a b&c".into(), tag: String::new(), env: "prod".into(), state: "on".into(), stale: true };
        assert_eq!(f.query(), "q=a%20b%26c&env=prod&state=on&stale=true");
        assert_eq!(FlagsFilter::default().query(), "");
    }

    #[test]
    fn counts_per_environment() {
        let state = |environment: &str, enabled: bool| EnvState {
            environment: environment.into(),
            enabled,
            production: false,
            revision: 1,
        };
        let row = |key: &str, dev: bool, prod: bool| FlagRow {
            key: key.into(),
            name: String::new(),
            description: String::new(),
            value_type: "boolean".into(),
            tags: vec![],
            stale: false,
            ramp: String::new(),
            archived: false,
            environments: vec![state("dev", dev), state("prod", prod)],
            updated: String::new(),
        };
        let table = FlagsTable {
            csrf: String::new(),
            columns: vec![
                EnvColumn { key: "dev".into(), production: false },
                EnvColumn { key: "prod".into(), production: true },
            ],
            rows: vec![row("a", true, false), row("b", true, true), row("c", false, false)],
            version: 1,
            filter: FlagsFilter::default(),
            can_edit: true,
        };
        assert_eq!(table.on_counts(), vec![("dev".to_owned(), 2), ("prod".to_owned(), 1)]);
        let html = table.render().unwrap_or_default();
        assert!(html.contains("On, of the 3 listed") && html.contains(">2 on<") && html.contains(">1 on<"), "{html}");
    }
}
