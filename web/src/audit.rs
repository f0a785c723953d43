//! The audit log: who changed what, a before/after diff, and a rollback
//! button to restore any earlier version of a flag's configuration.

use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use crate::diff::{DiffLine, line_diff};
use crate::layout::Layout;

/// A restorable version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollbackTarget {
    /// The flag.
    pub flag: String,
    /// The environment.
    pub environment: String,
    /// The revision this entry produced (restored as a new revision).
    pub revision: u64,
}

/// One audit record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Id (for rollback and paging).
    pub id: String,
    /// When, human readable (RFC 3339 in the `datetime` attribute).
    pub at: String,
    /// Who (user e-mail or token name).
    pub actor: String,
    /// What, e.g. `flag.config.update`.
    pub action: String,
    /// On what, e.g. `new-checkout / production`.
    pub target: String,
    /// The state before as text: a configuration in the editor's words, else indented JSON (empty when created).
    pub before: String,
    /// The state after, likewise (empty when deleted).
    pub after: String,
    /// Set when the entry records a flag configuration that can be restored
    /// (offer it on every entry but the current one).
    pub rollback: Option<RollbackTarget>,
}

impl AuditEntry {
    /// The before/after diff.
    pub fn diff(&self) -> Vec<DiffLine> {
        line_diff(&self.before, &self.after)
    }

    /// Rollback form action: `/audit/{id}/rollback`.
    pub fn rollback_action(&self) -> String {
        format!("/audit/{}/rollback", self.id)
    }
}

/// Filters of `GET /audit` (a GET form).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct AuditFilter {
    /// Flag key.
    pub flag: String,
    /// Actor.
    pub actor: String,
    /// Environment.
    pub environment: String,
    /// Page: entries older than this id.
    pub before: String,
}

/// The audit log page.
#[derive(Debug, Clone, Template, WebTemplate)]
#[template(path = "audit.html")]
pub struct AuditPage {
    /// The frame.
    pub layout: Layout,
    /// Current filter.
    pub filter: AuditFilter,
    /// Entries, newest first.
    pub entries: Vec<AuditEntry>,
    /// Id to page from for older entries, if there are more.
    pub next_before: Option<String>,
}

impl AuditPage {
    /// Link to the next (older) page.
    pub fn next_href(&self) -> Option<String> {
        let before = self.next_before.as_ref()?;
        let enc = crate::flags::urlencode;
        Some(format!(
            "/audit?flag={}&actor={}&environment={}&before={}",
            enc(&self.filter.flag),
            enc(&self.filter.actor),
            enc(&self.filter.environment),
            enc(before)
        ))
    }
}
