//! The releases pages: the list with the new-release form, and one
//! release: its changes (add and remove them while it is a draft), the
//! preview (each change's diff, the problems, the flags whose answers may
//! change), and apply, schedule, cancel the schedule, revert.

use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use crate::diff::DiffLine;
use crate::layout::Layout;

/// One row of the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseRow {
    pub id: i64,
    pub name: String,
    /// `draft`, `scheduled`, `applied`, `reverted`, `failed`.
    pub state: String,
    pub changes: usize,
    /// When: scheduled for, or applied at (RFC 3339), or empty.
    pub when: String,
    /// Who created it.
    pub by: String,
}

/// The list (`GET /releases`).
#[derive(Debug, Clone, Template, WebTemplate)]
#[template(path = "releases.html")]
pub struct ReleasesPage {
    pub layout: Layout,
    pub releases: Vec<ReleaseRow>,
}

/// Fields of `POST /releases`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct NewReleaseForm {
    pub csrf: String,
    pub name: String,
    pub description: String,
}

/// Fields of `POST /releases/{id}/changes`: one flag in one environment.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ReleaseChangeForm {
    pub csrf: String,
    pub flag: String,
    pub environment: String,
    /// `on`, `off`, or empty (unchanged).
    pub enabled: String,
    /// A variant, or empty (unchanged).
    pub default_variant: String,
    /// A variant, or empty (unchanged).
    pub off_variant: String,
}

/// Fields of `POST /releases/{id}/schedule`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ScheduleForm {
    pub csrf: String,
    /// RFC 3339 with an offset.
    pub at: String,
}

/// One change of a release, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeRow {
    pub flag: String,
    pub environment: String,
    /// What it sets, for people (`enabled: on; default variant: b`).
    pub summary: String,
}

/// One change in the preview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangePreviewView {
    pub flag: String,
    /// The fields that change (empty: nothing changes).
    pub fields: Vec<String>,
    pub stale: bool,
    /// The configuration before and after, line by line.
    pub diff: Vec<DiffLine>,
}

/// One environment in the preview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvironmentPreviewView {
    pub environment: String,
    /// The version applying would create.
    pub next_version: i64,
    pub changes: Vec<ChangePreviewView>,
    pub affected_flags: Vec<String>,
}

/// One release (`GET /releases/{id}`).
#[derive(Debug, Clone, Template, WebTemplate)]
#[template(path = "release.html")]
pub struct ReleasePage {
    pub layout: Layout,
    pub id: i64,
    pub name: String,
    pub description: String,
    pub state: String,
    pub changes: Vec<ChangeRow>,
    /// Present for drafts, failed and scheduled releases.
    pub preview: Option<Vec<EnvironmentPreviewView>>,
    /// Problems that stop applying now (path: message).
    pub problems: Vec<String>,
    /// Each environment's new version, once applied.
    pub versions: Vec<(String, i64)>,
    pub scheduled_at: Option<String>,
    pub failure: Option<String>,
    pub reverts: Option<i64>,
    pub reverted_by: Option<i64>,
    /// Flags and environments for the add-a-change form.
    pub flags: Vec<String>,
    pub environments: Vec<String>,
}

impl ReleasePage {
    /// Changes may still be added or removed.
    pub fn editable(&self) -> bool {
        self.state == "draft" || self.state == "failed"
    }

    /// The form action of `what` (`apply`, `schedule`, `unschedule`, `revert`, `changes`).
    pub fn action(&self, what: &str) -> String {
        format!("/releases/{}/{what}", self.id)
    }

    /// The action removing change `i`.
    pub fn remove_action(&self, i: &usize) -> String {
        format!("/releases/{}/changes/{i}/remove", self.id)
    }
}
