//! What every UI handler shares: the signed-in user (or a redirect to the
//! login page), the page frame, CSRF checks on posted forms, htmx
//! detection, redirects with a flash message, and error pages.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use flagyard_web::{CurrentUser, ErrorPage, Flash, FlashKind, Layout, Section, Template};

use crate::app::AppState;
use crate::http::{ApiError, Role, UiUser, check_csrf};
use crate::store::Backend;

/// The cookie carrying a one-time message across a redirect.
const FLASH_COOKIE: &str = "flagyard_flash";

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

/// Why a UI request failed: sent to the login page, or an error page.
#[derive(Debug)]
pub enum UiError {
    /// No live session: go to the login page, then back to `next`.
    Login { next: String },
    /// Anything else, shown as an error page with the error's status.
    Api(ApiError),
}

impl From<ApiError> for UiError {
    fn from(e: ApiError) -> Self {
        UiError::Api(e)
    }
}

impl From<crate::store::StoreError> for UiError {
    fn from(e: crate::store::StoreError) -> Self {
        UiError::Api(ApiError::Store(e))
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        match self {
            UiError::Login { next } => see_other(&format!("/login?next={}", encode(&next))),
            UiError::Api(e) => {
                let status = e.status_code();
                let detail = match &e {
                    ApiError::Store(err) => {
                        tracing::error!(error = %err, "storage failure in the UI");
                        "The server could not complete the request; it has been logged.".to_owned()
                    }
                    other => other.to_string(),
                };
                let page = ErrorPage {
                    layout: Layout {
                        title: status.canonical_reason().unwrap_or("Error").to_owned(),
                        ..Layout::default()
                    },
                    status: status.as_u16(),
                    title: status.canonical_reason().unwrap_or("Error").to_owned(),
                    detail,
                    request_id: None,
                };
                let mut response = (status, render(&page)).into_response();
                if let Some(secs) = retry_after(&e) {
                    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
                }
                response
            }
        }
    }
}

fn retry_after(e: &ApiError) -> Option<u64> {
    match e {
        ApiError::TooManyRequests { retry_after_secs, .. } | ApiError::Unavailable { retry_after_secs, .. } => {
            Some(*retry_after_secs)
        }
        _ => None,
    }
}

/// Percent-encodes `s` for a query parameter.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Renders a template to an HTML response (an error page if rendering fails).
pub fn render<T: Template>(page: &T) -> Response {
    match page.render() {
        Ok(html) => ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a template failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "the page could not be rendered").into_response()
        }
    }
}

/// [`render`] for `user`, renewing the session cookie when the request slid it.
pub fn page<T: Template>(user: &UiUser, page: &T) -> Response {
    let mut response = render(page);
    if let Some([(name, value)]) = user.cookie_renewal() {
        response.headers_mut().append(name, value);
    }
    // A page that was shown consumed the flash message.
    response.headers_mut().append(header::SET_COOKIE, HeaderValue::from_static("flagyard_flash=; Path=/; Max-Age=0"));
    response
}

/// 303 See Other to `path` (post/redirect/get).
pub fn see_other(path: &str) -> Response {
    let location = HeaderValue::from_str(path).unwrap_or_else(|_| HeaderValue::from_static("/flags"));
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

/// [`see_other`] with a one-time message for the next page.
pub fn see_other_with(path: &str, kind: FlashKind, message: &str) -> Response {
    let mut response = see_other(path);
    let tag = match kind {
        FlashKind::Info => "i",
        FlashKind::Success => "s",
        FlashKind::Error => "e",
    };
    let cookie = format!("{FLASH_COOKIE}={tag}{}; Path=/; Max-Age=60; HttpOnly; SameSite=Lax", encode(message));
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

/// The flash message the previous redirect left, if any.
pub fn flashes(headers: &HeaderMap) -> Vec<Flash> {
    let Some(raw) = cookie(headers, FLASH_COOKIE).filter(|r| !r.is_empty()) else { return Vec::new() };
    let kind = match raw.as_bytes()[0] {
        b's' => FlashKind::Success,
        b'e' => FlashKind::Error,
        _ => FlashKind::Info,
    };
    vec![Flash { kind, message: decode(&raw[1..]) }]
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1..i + 3)) {
            (b'%', Some(hex)) => match std::str::from_utf8(hex).ok().and_then(|h| u8::from_str_radix(h, 16).ok()) {
                Some(b) => {
                    out.push(b);
                    i += 3;
                    continue;
                }
                None => out.push(b'%'),
            },
            (b'+', _) => out.push(b' '),
            (b, _) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The page frame for `user`.
pub fn frame(user: &UiUser, headers: &HeaderMap, title: impl Into<String>, section: Section) -> Layout {
    let mut layout = Layout::new(title, current_user(user), user.csrf.clone(), section);
    layout.flashes = flashes(headers);
    layout
}

/// The web crate's view of the signed-in user.
pub fn current_user(user: &UiUser) -> CurrentUser {
    CurrentUser { name: user.username.clone(), role: web_role(user.role) }
}

/// The web crate's role for an API role.
pub fn web_role(role: Role) -> flagyard_web::Role {
    match role {
        Role::Viewer => flagyard_web::Role::Viewer,
        Role::Editor => flagyard_web::Role::Editor,
        Role::Admin => flagyard_web::Role::Admin,
    }
}

/// Whether htmx sent the request (answer with a fragment).
pub fn is_htmx(headers: &HeaderMap) -> bool {
    headers.get("hx-request").is_some_and(|v| v.as_bytes() == b"true")
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

pub use crate::http::write_value;

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
            return Err(UiError::Api(ApiError::UnsupportedMediaType));
        }
        let body = crate::http::read_body(req).await?;
        flagyard_web::check_form_limits(form_urlencoded::parse(&body).map(|(name, _)| name))
            .map_err(|e| UiError::Api(ApiError::BadRequest(format!("the form was refused: {e}"))))?;
        serde_urlencoded::from_bytes(&body)
            .map(Posted)
            .map_err(|e| UiError::Api(ApiError::BadRequest(format!("the form could not be read: {e}"))))
    }
}

/// A query string (`axum::extract::Query`) whose rejection is a [`UiError`] page.
pub struct Params<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequestParts<S> for Params<T> {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, UiError> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Params(value)),
            Err(e) => Err(UiError::Api(ApiError::BadRequest(format!("bad query string: {}", e.body_text())))),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flash_messages_round_trip_through_the_cookie() {
        let message = "Flag \"new-checkout\" created; 25 % rollout";
        let response = see_other_with("/flags", FlashKind::Success, message);
        let cookie = response.headers().get(header::SET_COOKIE).unwrap().to_str().unwrap();
        let value = cookie.split(';').next().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(value).unwrap());
        let got = flashes(&headers);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].message, message);
        assert_eq!(got[0].kind, FlashKind::Success);
    }

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(local_path("/flags/a?env=prod"), "/flags/a?env=prod");
        for bad in ["//evil.example", "/\\evil.example", "https://evil.example/", "", "flags", "/a\nb"] {
            assert_eq!(local_path(bad), "/flags", "{bad:?}");
        }
        assert!(is_production("production") && is_production("prod-eu") && !is_production("staging"));
    }

    #[test]
    fn next_paths_are_encoded() {
        assert_eq!(encode("/flags?q=a b&env=prod"), "/flags%3Fq%3Da%20b%26env%3Dprod");
    }
}
