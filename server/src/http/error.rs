//! The one API error type: a status code and an RFC 9457 problem body.
//!
//! Client errors say exactly what is wrong; internal errors are logged with
//! the request id and answered without internals.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

pub use crate::service::FieldError;
use crate::service::{Error as DomainError, LoginError};
use crate::store::StoreError;

/// Everything a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Missing or invalid credentials.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// Valid credentials without the needed role or scope.
    #[error("{0}")]
    Forbidden(String),
    /// The named thing does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// Malformed input (syntax, wrong type, bad key...).
    #[error("{0}")]
    BadRequest(String),
    /// Well-formed input that fails validation, field by field.
    #[error("{summary}")]
    Invalid {
        /// One line for humans.
        summary: String,
        /// Each problem with its path.
        errors: Vec<FieldError>,
    },
    /// The request conflicts with the current state (stale revision, duplicate key, still referenced).
    #[error("{0}")]
    Conflict(String),
    /// The body is larger than the limit (`FLAGYARD_MAX_BODY_BYTES`, default 1 MiB).
    #[error("the request body is larger than the server accepts (FLAGYARD_MAX_BODY_BYTES, default 1 MiB)")]
    TooLarge,
    /// The route exists but not with this method.
    #[error("method not allowed on this route")]
    MethodNotAllowed,
    #[error("the query string is longer than the server accepts (8 KiB)")]
    UriTooLong,
    /// The body is not JSON.
    #[error("expected a JSON body (Content-Type: application/json)")]
    UnsupportedMediaType,
    /// Too many requests (overload or rate limit): retry after the given seconds.
    #[error("{detail}")]
    TooManyRequests {
        /// What was limited, for humans.
        detail: String,
        /// Seconds to wait (`Retry-After`).
        retry_after_secs: u64,
    },
    /// The server cannot take the request now (stopping, database away): retry after the given seconds.
    #[error("{detail}")]
    Unavailable {
        /// Why, for humans.
        detail: String,
        /// Seconds to wait (`Retry-After`).
        retry_after_secs: u64,
    },
    /// A storage failure.
    #[error("storage error: {0}")]
    Store(#[from] StoreError),
}

/// The problem document (RFC 9457) of every error answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[schema(as = Problem)]
pub struct Problem<'a> {
    /// Always `about:blank`: the status says what kind of problem it is.
    #[serde(rename = "type")]
    kind: &'static str,
    /// Short name of the status.
    title: &'static str,
    /// The HTTP status.
    status: u16,
    /// What is wrong, for humans.
    detail: String,
    /// Field-level problems (validation), each with its path.
    #[serde(skip_serializing_if = "<[FieldError]>::is_empty")]
    errors: &'a [FieldError],
}

impl ApiError {
    /// The HTTP status for this error.
    pub fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Conflict(_) | ApiError::Store(StoreError::Duplicate) => StatusCode::CONFLICT,
            ApiError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::UriTooLong => StatusCode::URI_TOO_LONG,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable { .. } | ApiError::Store(StoreError::Unavailable(_)) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A single-field validation error.
    pub fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        let (path, message) = (path.into(), message.into());
        ApiError::Invalid { summary: format!("{path}: {message}"), errors: vec![FieldError { path, message }] }
    }

    fn title(&self) -> &'static str {
        match self {
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not found",
            ApiError::BadRequest(_) => "bad request",
            ApiError::Invalid { .. } => "invalid input",
            ApiError::Conflict(_) | ApiError::Store(StoreError::Duplicate) => "conflict",
            ApiError::TooLarge => "payload too large",
            ApiError::UnsupportedMediaType => "unsupported media type",
            ApiError::MethodNotAllowed => "method not allowed",
            ApiError::UriTooLong => "URI too long",
            ApiError::TooManyRequests { .. } => "too many requests",
            ApiError::Unavailable { .. } | ApiError::Store(StoreError::Unavailable(_)) => "service unavailable",
            ApiError::Store(_) => "internal error",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status_code();
        let detail = match &self {
            ApiError::Store(StoreError::Duplicate) => "a resource with that key already exists".to_owned(),
            ApiError::Store(e @ StoreError::Unavailable(_)) => {
                tracing::warn!(error = %e, "database unavailable");
                "the database is unavailable right now; retry shortly".to_owned()
            }
            ApiError::Store(e) => {
                // Logged with the request's span (and id); never sent.
                tracing::error!(error = %e, "storage failure");
                "the server could not complete the request; it has been logged".to_owned()
            }
            other => other.to_string(),
        };
        let errors: &[FieldError] = match &self {
            ApiError::Invalid { errors, .. } => errors,
            _ => &[],
        };
        let body = Problem { kind: "about:blank", title: self.title(), status: status.as_u16(), detail, errors };
        let mut response = (status, Json(body)).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if let ApiError::TooManyRequests { retry_after_secs, .. } | ApiError::Unavailable { retry_after_secs, .. } =
            &self
        {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
        }
        if let ApiError::Store(StoreError::Unavailable(_)) = &self {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// The HTTP answer to each domain error.
impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::NotFound(what) => ApiError::NotFound(what),
            DomainError::Conflict(why) | DomainError::ConflictAt { message: why, .. } => ApiError::Conflict(why),
            DomainError::Invalid { summary, errors } => ApiError::Invalid { summary, errors },
            DomainError::Forbidden(why) => ApiError::Forbidden(why),
            DomainError::Store(e) => ApiError::Store(e),
        }
    }
}

impl From<LoginError> for ApiError {
    fn from(e: LoginError) -> Self {
        match e {
            LoginError::InvalidCredentials => ApiError::Unauthorized("invalid username or password"),
            LoginError::Disabled => ApiError::Forbidden("this account is disabled".into()),
            LoginError::RateLimited { retry_after_secs } => ApiError::TooManyRequests {
                detail: format!("too many failed login attempts; try again in {retry_after_secs} s"),
                retry_after_secs,
            },
            LoginError::Other(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_refusals_have_their_statuses() {
        let e: ApiError = LoginError::RateLimited { retry_after_secs: 7 }.into();
        assert_eq!(e.status_code().as_u16(), 429);
        assert_eq!(ApiError::from(LoginError::InvalidCredentials).status_code().as_u16(), 401);
        assert_eq!(ApiError::from(LoginError::Disabled).status_code().as_u16(), 403);
    }

    #[test]
    fn domain_errors_have_their_statuses() {
        let status = |e: DomainError| ApiError::from(e).status_code().as_u16();
        assert_eq!(status(DomainError::NotFound("flag `x`".into())), 404);
        assert_eq!(status(DomainError::Conflict("stale".into())), 409);
        assert_eq!(status(DomainError::invalid("key", "bad")), 422);
        assert_eq!(status(DomainError::Forbidden("no".into())), 403);
        assert_eq!(status(DomainError::Store(StoreError::Duplicate)), 409);
        assert_eq!(status(DomainError::Store(StoreError::Unavailable("down".into()))), 503);
        assert_eq!(status(DomainError::corrupt("bad row")), 500);
    }
}
