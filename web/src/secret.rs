//! A secret just created (an SDK key or an admin token), shown once on the
//! page that created it, with a copy button; never again.

/// A secret just created (SDK key or admin token): shown once, with a copy button.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedSecret {
    /// What it was created as (its name).
    pub name: String,
    /// The secret itself.
    pub secret: String,
}
