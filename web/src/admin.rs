//! Shared bits of the admin pages: a secret shown once, and the plain
//! CSRF-only form (revoke, rollback, start, stop, logout).

use serde::Deserialize;

/// A secret just created (SDK key or admin token): shown once, with a copy button.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedSecret {
    /// What it was created as (its name).
    pub name: String,
    /// The secret itself.
    pub secret: String,
}

/// Fields of forms that carry nothing but the CSRF token: `/sdk-keys/{id}/revoke`,
/// `/tokens/{id}/revoke`, `/audit/{id}/rollback`, `/experiments/{key}/start`,
/// `/experiments/{key}/stop`, `/logout`.
#[derive(Debug, Clone, Deserialize)]
pub struct CsrfForm {
    /// CSRF token (missing = empty: refused as a wrong token, 403).
    #[serde(default)]
    pub csrf: String,
}
