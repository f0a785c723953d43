//! The login page.

use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use crate::layout::Layout;

/// The login page. Posts [`LoginForm`] to `/login`.
#[derive(Debug, Clone, Template, WebTemplate)]
#[template(path = "login.html")]
pub struct LoginPage {
    /// The frame (no user; `csrf` from the pre-session).
    pub layout: Layout,
    /// The username typed last time (kept after a failed attempt).
    pub username: String,
    /// Where to go after signing in (hidden field `next`).
    pub next: String,
    /// "Wrong username or password", etc.
    pub error: Option<String>,
}

/// Fields of `POST /login`.
#[derive(Debug, Clone, Deserialize)]
pub struct LoginForm {
    /// CSRF token (missing = empty: refused as a wrong token, 403).
    #[serde(default)]
    pub csrf: String,
    /// Username.
    pub username: String,
    /// Password.
    pub password: String,
    /// Local path to return to (validate: must start with a single `/`).
    #[serde(default)]
    pub next: String,
}
