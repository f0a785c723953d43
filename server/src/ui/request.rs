//! What UI handlers read from a request: the signed-in user (or a redirect
//! to the login page), the CSRF token and role check every state-changing
//! form passes, posted forms and query strings within their limits, and the
//! paths a redirect may go back to.

use std::future::Future;
use std::pin::Pin;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};

use super::error::UiError;
use crate::auth::Role;
use crate::http::{ApiError, UiUser, check_csrf};
use crate::service::Error as DomainError;
use crate::state::AppState;
use crate::store::Backend;

/// Decoded `application/x-www-form-urlencoded` pairs.
pub type Pairs = Vec<(String, String)>;

/// A signed-in user; without a live session the request is redirected to
/// `/login?next=<path>`.
pub struct Signed(pub UiUser);

impl<B: Backend> FromRequestParts<AppState<B>> for Signed {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState<B>) -> Result<Self, UiError> {
        match crate::http::resolve_session(state, &parts.headers).await? {
            Some(user) => Ok(Signed(user)),
            None => {
                let next = parts.uri.path_and_query().map_or("/flags", |p| p.as_str()).to_owned();
                Err(UiError::Login { next })
            }
        }
    }
}

/// Checks the posted `csrf` field (or the `X-CSRF-Token` header htmx sends)
/// and the role: every state-changing UI handler calls this first.
pub fn authorize(user: &UiUser, headers: &HeaderMap, csrf_field: &str, role: Role) -> Result<(), UiError> {
    let submitted = if csrf_field.is_empty() {
        headers.get(crate::http::CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default()
    } else {
        csrf_field
    };
    check_csrf(user, submitted)?;
    user.require(role)?;
    Ok(())
}

/// The value of `name` among decoded form pairs (first occurrence).
pub fn field<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
}

/// A write through the writer (group commit): the job's value once
/// committed, or the domain error it refused with or the batch failed with.
pub async fn write_value<B, T, F>(state: &AppState<B>, job: F) -> Result<T, DomainError>
where
    B: Backend,
    T: Send + 'static,
    F: for<'t> FnOnce(&'t mut B::Tx) -> Pin<Box<dyn Future<Output = Result<T, DomainError>> + Send + 't>>
        + Send
        + 'static,
{
    state.write(job).await
}

/// Whether `environment` is a production environment (changes there ask for
/// a confirmation): its key is `production` or `prod`, or starts with `prod-`/`prod_`.
pub fn is_production(environment: &str) -> bool {
    let key = environment.to_ascii_lowercase();
    key == "production" || key == "prod" || key.starts_with("prod-") || key.starts_with("prod_")
}

/// A posted `application/x-www-form-urlencoded` body (`axum::Form`) whose
/// rejection is a [`UiError`] page instead of axum's plain text.
pub struct Posted<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S> for Posted<T> {
    type Rejection = UiError;

    /// Reads an `application/x-www-form-urlencoded` body within the body
    /// limit, refuses a form over the field limits (count, name length,
    /// nesting: [`flagyard_web::check_form_limits`]) before anything is
    /// built from it, then decodes `T`.
    async fn from_request(req: axum::extract::Request, _state: &S) -> Result<Self, UiError> {
        let is_form = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| {
            v.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
        });
        if !is_form {
            return Err(UiError::Request(ApiError::UnsupportedMediaType));
        }
        let body = crate::http::read_body(req).await?;
        flagyard_web::check_form_limits(form_urlencoded::parse(&body).map(|(name, _)| name))
            .map_err(|e| UiError::Request(ApiError::BadRequest(format!("the form was refused: {e}"))))?;
        serde_urlencoded::from_bytes(&body)
            .map(Posted)
            .map_err(|e| UiError::Request(ApiError::BadRequest(format!("the form could not be read: {e}"))))
    }
}

/// A query string (`axum::extract::Query`) whose rejection is a [`UiError`] page.
pub struct Params<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequestParts<S> for Params<T> {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, UiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Params(value)),
            Err(e) => Err(UiError::Request(ApiError::BadRequest(format!("bad query string: {}", e.body_text())))),
        }
    }
}

/// The client's address (connection info), for the login rate limiter.
pub struct ClientIp(pub Option<std::net::IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(crate::http::client_ip(parts)))
    }
}

/// `next` when it is a local path (one leading `/`, no scheme, host or
/// control characters), else `/flags`: no open redirects after login.
pub fn local_path(next: &str) -> &str {
    let bytes = next.as_bytes();
    let local = bytes.first() == Some(&b'/')
        && !matches!(bytes.get(1), Some(b'/' | b'\\'))
        && !next.chars().any(|c| c.is_control() || c == '\\');
    if local { next } else { "/flags" }
}

pub use crate::http::request_cookie as cookie;

/// The local path of the page a form was posted from (`Referer` on this
/// host), if it starts with `prefix`.
pub fn referer_path(headers: &HeaderMap, prefix: &str) -> Option<String> {
    let referer = headers.get(header::REFERER)?.to_str().ok()?;
    let host = headers.get(header::HOST)?.to_str().ok()?;
    let rest = referer.strip_prefix("http://").or_else(|| referer.strip_prefix("https://"))?;
    let path = rest.strip_prefix(host)?;
    (path.starts_with(prefix) && local_path(path) == path).then(|| path.to_owned())
}

/// Whether an irreversible action's form was confirmed (`confirm=yes`):
/// posted from a dialog (JavaScript) or from a `ConfirmPage`.
pub fn confirmed(pairs: &[(String, String)]) -> bool {
    field(pairs, "confirm") == "yes"
}

/// The first value of `name` among `pairs`, trimmed.
pub fn trimmed<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    field(pairs, name).trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(local_path("/flags/a?env=prod"), "/flags/a?env=prod");
        for bad in ["//evil.example", "/\\evil.example", "https://evil.example/", "", "flags", "/a\nb"] {
            assert_eq!(local_path(bad), "/flags", "{bad:?}");
        }
        assert!(is_production("production") && is_production("prod-eu") && !is_production("staging"));
    }
}
