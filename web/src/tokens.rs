//! Admin tokens.

use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use crate::errors::{FieldError, message_for};
use crate::layout::{Layout, Role};
use crate::secret::CreatedSecret;

/// An admin token (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    /// Id (for revoking).
    pub id: String,
    /// Name.
    pub name: String,
    /// Role it grants.
    pub role: Role,
    /// First characters of the secret.
    pub prefix: String,
    /// Creation time.
    pub created: String,
    /// Last use, if known.
    pub last_used: Option<String>,
    /// Whether revoked.
    pub revoked: bool,
}

/// The tokens page (`GET /tokens`, admins only).
#[derive(Debug, Clone, Template, WebTemplate)]
#[template(path = "tokens.html")]
pub struct TokensPage {
    /// The frame.
    pub layout: Layout,
    /// Tokens.
    pub tokens: Vec<TokenRow>,
    /// A token just created.
    pub created: Option<CreatedSecret>,
    /// The form as typed.
    pub form: NewTokenForm,
    /// Problems by field (`name`, `role`).
    pub errors: Vec<FieldError>,
}

impl TokensPage {
    /// Error for field `name`.
    pub fn error(&self, name: &str) -> Option<String> {
        message_for(&self.errors, name)
    }

    /// Role choices (value, selected).
    pub fn role_choices(&self) -> Vec<(&'static str, bool)> {
        let current = if self.form.role.is_empty() { "viewer" } else { self.form.role.as_str() };
        Role::ALL.into_iter().map(|r| (r.as_str(), r.as_str() == current)).collect()
    }
}

/// Fields of `POST /tokens`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct NewTokenForm {
    /// CSRF token.
    pub csrf: String,
    /// Name.
    pub name: String,
    /// `viewer`, `editor` or `admin`.
    pub role: String,
}
