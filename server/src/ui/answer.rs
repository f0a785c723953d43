//! How UI handlers answer: rendered pages in the page frame, redirects
//! (post/redirect/get) with a one-time flash message, htmx-aware redirects,
//! and the small formatting the pages share.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use flagyard_web::{CurrentUser, Flash, FlashKind, Layout, Section, Template};

use crate::auth::Role;
use crate::http::{UiUser, request_cookie as cookie};

/// The cookie carrying a one-time message across a redirect.
const FLASH_COOKIE: &str = "flagyard_flash";

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
    // Domain messages quote names as code (`x`); the UI shows quotation marks.
    vec![Flash { kind, message: flagyard_web::plain_quotes(&decode(&raw[1..])) }]
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

/// Epoch milliseconds as UTC text for people: `2025-01-31 12:00:05 UTC`.
pub fn when(ms: i64) -> String {
    // `2025-01-31T12:00:05.000Z` → `2025-01-31 12:00:05 UTC`.
    let text = crate::service::rfc3339(ms);
    format!("{} {} UTC", &text[..10], &text[11..19])
}

/// Whether htmx sent the request (answer with a fragment).
pub fn is_htmx(headers: &HeaderMap) -> bool {
    headers.get("hx-request").is_some_and(|v| v.as_bytes() == b"true")
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
    fn next_paths_are_encoded() {
        assert_eq!(encode("/flags?q=a b&env=prod"), "/flags%3Fq%3Da%20b%26env%3Dprod");
    }
    #[test]
    fn times_read_as_utc() {
        assert_eq!(when(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(when(1_738_324_805_000), "2025-01-31 12:00:05 UTC");
        assert_eq!(when(951_868_799_999), "2000-02-29 23:59:59 UTC");
    }
}
