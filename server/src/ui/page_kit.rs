//! Helpers of the management, audit and experiment pages: service errors
//! turned into form errors, htmx-aware redirects with a flash message,
//! responses that must not be cached (a secret shown once), and times.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use flagyard_web::{FieldError, FlashKind};

use super::common::{UiError, is_htmx, see_other_with};
use crate::http::ApiError;
use crate::store::StoreError;

/// Decoded `application/x-www-form-urlencoded` pairs.
pub type Pairs = Vec<(String, String)>;

/// A service error a form can show: its status and the problems by field
/// (paths with `strip` removed; form-wide problems have an empty path).
/// Anything else (storage failures, 403...) stays an error page.
pub fn form_errors(e: ApiError, strip: &str) -> Result<(StatusCode, Vec<FieldError>), UiError> {
    let status = e.status_code();
    let errors = match e {
        ApiError::Invalid { errors, .. } => errors
            .into_iter()
            .map(|f| FieldError::new(f.path.strip_prefix(strip).unwrap_or(&f.path), f.message))
            .collect(),
        ApiError::Store(StoreError::Duplicate) => vec![FieldError::new("", "a resource with that key already exists")],
        e @ (ApiError::BadRequest(_) | ApiError::Conflict(_) | ApiError::NotFound(_)) => {
            vec![FieldError::new("", e.to_string())]
        }
        other => return Err(UiError::Api(other)),
    };
    Ok((status, errors))
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

/// After a successful post: a 303 to `path` with a flash message; for htmx,
/// a 200 with `HX-Redirect` (htmx then loads the page itself).
pub fn done(headers: &HeaderMap, path: &str, kind: FlashKind, message: &str) -> Response {
    let mut response = see_other_with(path, kind, message);
    if is_htmx(headers) {
        *response.status_mut() = StatusCode::OK;
        response.headers_mut().remove(header::LOCATION);
        if let Ok(value) = HeaderValue::from_str(path) {
            response.headers_mut().insert("hx-redirect", value);
        }
    }
    response
}

/// `response` with `status`.
pub fn with_status(status: StatusCode, mut response: Response) -> Response {
    *response.status_mut() = status;
    response
}

/// `response`, never stored by a cache (it shows a secret once).
pub fn no_store(mut response: Response) -> Response {
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The first value of `name` among `pairs`, trimmed.
pub fn trimmed<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    super::common::field(pairs, name).trim()
}

/// Epoch milliseconds as UTC text for people: `2025-01-31 12:00:05 UTC`.
pub fn when(ms: i64) -> String {
    // `2025-01-31T12:00:05.000Z` → `2025-01-31 12:00:05 UTC`.
    let text = crate::service::rfc3339(ms);
    format!("{} {} UTC", &text[..10], &text[11..19])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_utc() {
        assert_eq!(when(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(when(1_738_324_805_000), "2025-01-31 12:00:05 UTC");
        assert_eq!(when(951_868_799_999), "2000-02-29 23:59:59 UTC");
    }
}
