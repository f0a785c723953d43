//! The form that carries nothing but the CSRF token: the buttons that act
//! on what their URL names (revoke, restore, start, stop, log out).

use serde::Deserialize;

/// Fields of forms that carry nothing but the CSRF token: `/sdk-keys/{id}/revoke`,
/// `/tokens/{id}/revoke`, `/audit/{id}/rollback`, `/experiments/{key}/start`,
/// `/experiments/{key}/stop`, `/logout`.
#[derive(Debug, Clone, Deserialize)]
pub struct CsrfForm {
    /// CSRF token (missing = empty: refused as a wrong token, 403).
    #[serde(default)]
    pub csrf: String,
}
