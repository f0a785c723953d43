//! The page frame every full page shares: who is signed in, their role, the
//! CSRF token for forms, flash messages and the navigation.

use serde::{Deserialize, Serialize};

use crate::assets;

/// A user's role (see `docs/api.md`): what the UI offers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads everything except tokens and SDK keys.
    Viewer,
    /// Also changes flags, configurations, segments, metrics, experiments.
    Editor,
    /// Also manages environments, admin tokens, SDK keys and users.
    Admin,
}

impl Role {
    /// Every role, lowest first (for pickers).
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Editor, Role::Admin];

    /// The wire name: `viewer`, `editor` or `admin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// The signed-in user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentUser {
    /// Display name (or e-mail).
    pub name: String,
    /// Their role.
    pub role: Role,
}

/// The tone of a flash message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlashKind {
    /// Neutral information.
    Info,
    /// Something worked.
    Success,
    /// Something failed.
    Error,
}

/// A one-time message shown at the top of the next page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flash {
    /// Its tone.
    pub kind: FlashKind,
    /// The text (escaped when rendered).
    pub message: String,
}

impl Flash {
    /// CSS class suffix and ARIA role for the tone.
    pub fn class(&self) -> &'static str {
        match self.kind {
            FlashKind::Info => "info",
            FlashKind::Success => "success",
            FlashKind::Error => "error",
        }
    }
}

/// Top-level sections of the UI (to highlight the current one in the nav).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// Flags list and flag pages.
    Flags,
    /// Segments.
    Segments,
    /// Experiments.
    Experiments,
    /// Metrics (what experiments measure).
    Metrics,
    /// Releases (changes to many flags at once).
    Releases,
    /// Environments and SDK keys.
    Environments,
    /// Admin tokens.
    Tokens,
    /// Users.
    Users,
    /// Audit log.
    Audit,
}

/// One entry of the navigation bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NavLink {
    /// Target path.
    pub href: &'static str,
    /// Visible text.
    pub label: &'static str,
    /// Whether this is the current section (`aria-current="page"`).
    pub current: bool,
}

/// The page frame: fill one per request.
#[derive(Debug, Clone, Default)]
pub struct Layout {
    /// The `<title>` (the site name is appended).
    pub title: String,
    /// The signed-in user; `None` on the login and error pages.
    pub user: Option<CurrentUser>,
    /// The session's CSRF token, put in a hidden `csrf` field of every form.
    pub csrf: String,
    /// Messages to show once.
    pub flashes: Vec<Flash>,
    /// The current section, if any.
    pub section: Option<Section>,
}

impl Layout {
    /// A frame for `user` with `csrf`, titled `title`, in `section`.
    pub fn new(title: impl Into<String>, user: CurrentUser, csrf: impl Into<String>, section: Section) -> Layout {
        Layout { title: title.into(), user: Some(user), csrf: csrf.into(), flashes: Vec::new(), section: Some(section) }
    }

    /// Whether the user may change flags, segments and experiments.
    pub fn can_edit(&self) -> bool {
        self.user.as_ref().is_some_and(|u| matches!(u.role, Role::Editor | Role::Admin))
    }

    /// Whether the user may manage environments, keys, tokens and users.
    pub fn is_admin(&self) -> bool {
        self.user.as_ref().is_some_and(|u| u.role == Role::Admin)
    }

    /// The navigation links this user may follow.
    pub fn nav(&self) -> Vec<NavLink> {
        if self.user.is_none() {
            return Vec::new();
        }
        let all: [(&'static str, &'static str, Section, bool); 9] = [
            ("/flags", "Flags", Section::Flags, false),
            ("/segments", "Segments", Section::Segments, false),
            ("/experiments", "Experiments", Section::Experiments, false),
            ("/experiment-metrics", "Metrics", Section::Metrics, false),
            ("/releases", "Releases", Section::Releases, false),
            ("/environments", "Environments", Section::Environments, false),
            ("/tokens", "Tokens", Section::Tokens, true),
            ("/users", "Users", Section::Users, true),
            ("/audit", "Audit log", Section::Audit, false),
        ];
        let admin = self.is_admin();
        all.into_iter()
            .filter(|(_, _, _, admin_only)| admin || !admin_only)
            .map(|(href, label, section, _)| NavLink { href, label, current: self.section == Some(section) })
            .collect()
    }

    /// URL of the stylesheet (with a content version for caching).
    pub fn css_href(&self) -> String {
        assets::href("app.css")
    }

    /// URL of htmx.
    pub fn htmx_href(&self) -> String {
        assets::href("htmx.min.js")
    }

    /// URL of the UI's own script.
    pub fn js_href(&self) -> String {
        assets::href("app.js")
    }
}
