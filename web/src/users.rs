//! Users: list, create, change role, disable, set a password; one's own
//! account page (change one's password).

use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use crate::errors::{FieldError, message_for};
use crate::layout::{Layout, Role};

/// A user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    /// Username (the sign-in name; it also addresses the user in
    /// `/users/{username}/...`).
    pub username: String,
    /// Role.
    pub role: Role,
    /// Whether disabled (cannot sign in).
    pub disabled: bool,
    /// Whether it is the signed-in user (who cannot disable or demote themselves).
    pub is_self: bool,
    /// Creation time.
    pub created: String,
}

impl UserRow {
    /// Role choices for this user (value, selected).
    pub fn role_choices(&self) -> Vec<(&'static str, bool)> {
        Role::ALL.into_iter().map(|r| (r.as_str(), r == self.role)).collect()
    }
}

/// The users page (`GET /users`, admins only).
#[derive(Debug, Clone, Template, WebTemplate)]
#[template(path = "users.html")]
pub struct UsersPage {
    /// The frame.
    pub layout: Layout,
    /// Users.
    pub users: Vec<UserRow>,
    /// The create form as typed (the password is never echoed).
    pub form: NewUserForm,
    /// Problems by field (`username`, `password`, `role`).
    pub errors: Vec<FieldError>,
}

impl UsersPage {
    /// Error for field `name`.
    pub fn error(&self, name: &str) -> Option<String> {
        message_for(&self.errors, name)
    }

    /// Role choices for a new user (value, selected).
    pub fn role_choices(&self) -> Vec<(&'static str, bool)> {
        let current = if self.form.role.is_empty() { "viewer" } else { self.form.role.as_str() };
        Role::ALL.into_iter().map(|r| (r.as_str(), r.as_str() == current)).collect()
    }
}

/// Fields of `POST /users`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct NewUserForm {
    /// CSRF token.
    pub csrf: String,
    /// Username: 1 to 64 ASCII letters, digits, `_`, `.`, `@` or `-`.
    pub username: String,
    /// Initial password.
    pub password: String,
    /// `viewer`, `editor` or `admin`.
    pub role: String,
}

/// Fields of `POST /users/{username}/role`.
#[derive(Debug, Clone, Deserialize)]
pub struct UserRoleForm {
    /// CSRF token.
    pub csrf: String,
    /// The new role.
    pub role: Role,
}

/// Fields of `POST /users/{username}/disable`.
#[derive(Debug, Clone, Deserialize)]
pub struct UserDisableForm {
    /// CSRF token.
    pub csrf: String,
    /// `true` to disable, `false` to enable again.
    pub disabled: bool,
}

/// The signed-in user's account page (`GET /account`).
#[derive(Debug, Clone, Template, WebTemplate)]
#[template(path = "account.html")]
pub struct AccountPage {
    /// The frame.
    pub layout: Layout,
    /// Problems by field (`current`, `password`, `repeat`).
    pub errors: Vec<FieldError>,
}

impl AccountPage {
    /// Error for field `name`.
    pub fn error(&self, name: &str) -> Option<String> {
        message_for(&self.errors, name)
    }
}
