//! Environments and their SDK keys.

use askama::Template;
use askama_web::WebTemplate;
use serde::Deserialize;

use crate::errors::{FieldError, message_for};
use crate::layout::Layout;
use crate::secret::CreatedSecret;

/// An environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvironmentRow {
    /// Key.
    pub key: String,
    /// Display name.
    pub name: String,
    /// Current version.
    pub version: u64,
    /// Whether changes here ask for confirmation.
    pub production: bool,
}

/// An SDK key (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdkKeyRow {
    /// Id (for revoking).
    pub id: String,
    /// Name.
    pub name: String,
    /// Its environment.
    pub environment: String,
    /// First characters of the secret, to recognise it.
    pub prefix: String,
    /// Creation time.
    pub created: String,
    /// Last use, if known.
    pub last_used: Option<String>,
    /// Whether revoked.
    pub revoked: bool,
}

/// The environments page (`GET /environments`). Environments and SDK keys
/// are created and revoked by admins only.
#[derive(Debug, Clone, Template, WebTemplate)]
#[template(path = "environments.html")]
pub struct EnvironmentsPage {
    /// The frame.
    pub layout: Layout,
    /// Environments.
    pub environments: Vec<EnvironmentRow>,
    /// SDK keys (empty unless admin).
    pub keys: Vec<SdkKeyRow>,
    /// A key just created.
    pub created_key: Option<CreatedSecret>,
    /// The new-environment form as typed.
    pub new_environment: NewEnvironmentForm,
    /// The new-key form as typed.
    pub new_key: NewSdkKeyForm,
    /// Problems of the last submission, by field (`key`, `name`, `environment`).
    pub errors: Vec<FieldError>,
}

impl EnvironmentsPage {
    /// Error for field `name`.
    pub fn error(&self, name: &str) -> Option<String> {
        message_for(&self.errors, name)
    }

    /// Environment choices for the new key (key, selected).
    pub fn env_choices(&self) -> Vec<(String, bool)> {
        self.environments.iter().map(|e| (e.key.clone(), e.key == self.new_key.environment)).collect()
    }
}

/// Fields of `POST /environments`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct NewEnvironmentForm {
    /// CSRF token.
    pub csrf: String,
    /// Key.
    pub key: String,
    /// Display name.
    pub name: String,
}

/// Fields of `POST /sdk-keys`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct NewSdkKeyForm {
    /// CSRF token.
    pub csrf: String,
    /// Environment key.
    pub environment: String,
    /// Name.
    pub name: String,
}
