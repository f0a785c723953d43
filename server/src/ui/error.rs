//! Why a UI request failed, and how the UI shows it: the login page for a
//! missing session, an error page for a refused request or a domain error
//! (in the UI's own words, not the API's problem body), and domain errors a
//! form can show next to its fields.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use flagyard_web::{ErrorPage, FieldError, Layout};

use super::answer::{encode, render, see_other};
use crate::http::ApiError;
use crate::service::Error as DomainError;
use crate::store::StoreError;

/// Why a UI request failed: sent to the login page, or an error page.
#[derive(Debug)]
pub enum UiError {
    /// No live session: go to the login page, then back to `next`.
    Login { next: String },
    /// A domain operation failed: an error page in the UI's words.
    Domain(DomainError),
    /// The request itself was refused (a malformed form, a cross-site post,
    /// a rate limit): an error page with the HTTP layer's status.
    Request(ApiError),
}

impl From<ApiError> for UiError {
    fn from(e: ApiError) -> Self {
        UiError::Request(e)
    }
}

impl From<DomainError> for UiError {
    fn from(e: DomainError) -> Self {
        UiError::Domain(e)
    }
}

impl From<crate::store::StoreError> for UiError {
    fn from(e: crate::store::StoreError) -> Self {
        UiError::Domain(DomainError::Store(e))
    }
}

/// The status and message of the error page for a domain error; storage
/// failures are logged and not shown.
fn domain_page(e: &DomainError) -> (StatusCode, String, Option<u64>) {
    match e {
        DomainError::NotFound(_) => (StatusCode::NOT_FOUND, e.to_string(), None),
        DomainError::Conflict(_) | DomainError::ConflictAt { .. } | DomainError::Store(StoreError::Duplicate) => {
            let detail = match e {
                DomainError::Store(_) => "Something with that key already exists.".to_owned(),
                other => other.to_string(),
            };
            (StatusCode::CONFLICT, detail, None)
        }
        DomainError::Invalid { .. } => (StatusCode::UNPROCESSABLE_ENTITY, e.to_string(), None),
        DomainError::Forbidden(_) => (StatusCode::FORBIDDEN, e.to_string(), None),
        DomainError::Store(err @ StoreError::Unavailable(_)) => {
            tracing::warn!(error = %err, "database unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "The database is unavailable right now; retry shortly.".to_owned(),
                Some(1),
            )
        }
        DomainError::Store(err) => {
            tracing::error!(error = %err, "storage failure in the UI");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "The server could not complete the request; it has been logged.".to_owned(),
                None,
            )
        }
    }
}

/// The status and message of the error page for a refused request.
fn request_page(e: &ApiError) -> (StatusCode, String, Option<u64>) {
    let retry_after = match e {
        ApiError::TooManyRequests { retry_after_secs, .. } | ApiError::Unavailable { retry_after_secs, .. } => {
            Some(*retry_after_secs)
        }
        _ => None,
    };
    match e {
        ApiError::Store(err) => domain_page(&DomainError::Store(err.for_waiter())),
        other => (other.status_code(), other.to_string(), retry_after),
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let (status, detail, retry_after) = match self {
            UiError::Login { next } => return see_other(&format!("/login?next={}", encode(&next))),
            UiError::Domain(e) => domain_page(&e),
            UiError::Request(e) => request_page(&e),
        };
        let title = status.canonical_reason().unwrap_or("Error").to_owned();
        let page = ErrorPage {
            layout: Layout { title: title.clone(), ..Layout::default() },
            status: status.as_u16(),
            title,
            detail,
            request_id: None,
        };
        let mut response = (status, render(&page)).into_response();
        if let Some(secs) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

/// A domain error a form can show: its status and the problems by field
/// (paths with `strip` removed; form-wide problems have an empty path).
/// Anything else (storage failures, 403...) stays an error page.
pub fn form_errors(e: DomainError, strip: &str) -> Result<(StatusCode, Vec<FieldError>), UiError> {
    Ok(match e {
        DomainError::Invalid { errors, .. } => (
            StatusCode::UNPROCESSABLE_ENTITY,
            errors
                .into_iter()
                .map(|f| FieldError::new(f.path.strip_prefix(strip).unwrap_or(&f.path), f.message))
                .collect(),
        ),
        DomainError::Store(StoreError::Duplicate) => {
            (StatusCode::CONFLICT, vec![FieldError::new("", "a resource with that key already exists")])
        }
        e @ DomainError::Conflict(_) => (StatusCode::CONFLICT, vec![FieldError::new("", e.to_string())]),
        DomainError::ConflictAt { path, message } => (StatusCode::CONFLICT, vec![FieldError::new(path, message)]),
        e @ DomainError::NotFound(_) => (StatusCode::NOT_FOUND, vec![FieldError::new("", e.to_string())]),
        other => return Err(UiError::Domain(other)),
    })
}

/// Moves form-wide problems (empty path) to `field`, for forms that only
/// show messages next to their fields.
pub fn onto_field(mut errors: Vec<FieldError>, field: &str) -> Vec<FieldError> {
    for e in &mut errors {
        if e.path.is_empty() {
            e.path = field.to_owned();
        }
    }
    errors
}
