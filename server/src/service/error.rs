//! What a domain operation can fail with, in the domain's words. The HTTP
//! layer maps it to a status and an RFC 9457 problem body
//! (`http::ApiError`), the web UI to a message on the page it was on; the
//! domain itself knows neither.

use serde::Serialize;

use crate::store::StoreError;

/// A problem with one field of the input, e.g. from the rules compiler.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// Path into the input, e.g. `rules[2].conditions[0].values`.
    pub path: String,
    /// What is wrong there.
    pub message: String,
}

/// Everything a domain operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The named thing does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The operation conflicts with the current state (a stale revision, a
    /// thing still in use, a state that does not allow it), with the reason.
    #[error("{0}")]
    Conflict(String),
    /// A conflict that concerns one field of the input (the weights of a
    /// split a running experiment allocates by): the API answers it as a
    /// conflict, the UI shows it next to that field.
    #[error("{message}")]
    ConflictAt {
        /// Path into the input, as in [`FieldError::path`].
        path: String,
        /// Why.
        message: String,
    },
    /// The input fails validation, field by field.
    #[error("{summary}")]
    Invalid {
        /// One line for humans.
        summary: String,
        /// Each problem with its path.
        errors: Vec<FieldError>,
    },
    /// The caller may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// Storage failed, or is unavailable (`StoreError::Unavailable`), or
    /// refused a duplicate key (`StoreError::Duplicate`).
    #[error("storage error: {0}")]
    Store(#[from] StoreError),
}

impl Error {
    /// A single-field validation error.
    pub fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        let (path, message) = (path.into(), message.into());
        Error::Invalid { summary: format!("{path}: {message}"), errors: vec![FieldError { path, message }] }
    }

    /// A validation error listing `errors`, summarised by the first; `Ok`
    /// when there are none.
    pub fn fields(errors: Vec<FieldError>) -> Result<(), Self> {
        let summary = match errors.as_slice() {
            [] => return Ok(()),
            [one] => format!("{}: {}", one.path, one.message),
            [first, rest @ ..] => format!("{}: {} (and {} more; see `errors`)", first.path, first.message, rest.len()),
        };
        Err(Error::Invalid { summary, errors })
    }

    /// Stored data that cannot be read back (a storage-level fault).
    pub fn corrupt(what: impl std::fmt::Display) -> Self {
        Error::Store(StoreError::Corrupt(what.to_string()))
    }
}

/// The result of a domain operation.
pub type Result<T, E = Error> = std::result::Result<T, E>;
