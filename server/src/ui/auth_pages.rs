//! Signing in and out: `GET /login`, `POST /login`, `POST /logout`.
//!
//! The login form has no session to take a CSRF token from, so it uses a
//! double submit: `GET /login` sets a short-lived pre-session cookie
//! (`flagyard_login_csrf`, `HttpOnly; SameSite=Lax; Path=/login`) and puts
//! the same random value in the form; `POST /login` refuses the attempt
//! unless both are present and equal, and also refuses a cross-site
//! `Origin`. Wrong credentials re-render the page (401, username kept),
//! too many failures answer 429 with `Retry-After`, a disabled account 403.
//! Success sets the session cookie and goes to `next` (local paths only).

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use flagyard_web::{CsrfForm, Layout, LoginForm, LoginPage};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::answer::{flashes, render};
use super::error::UiError;
use super::request::{ClientIp, Params, Posted, Signed, authorize, cookie, local_path};
use crate::auth::{Role, new_secret};
use crate::http::UiUser;
use crate::service::LoginError;
use crate::state::AppState;
use crate::store::Backend;

/// The pre-session cookie of the login form's CSRF token.
const LOGIN_CSRF_COOKIE: &str = "flagyard_login_csrf";
/// How long a login form stays usable.
const LOGIN_CSRF_SECS: u64 = 3600;

pub(super) fn routes<B: Backend>() -> Router<AppState<B>> {
    Router::new().route("/login", get(login_page::<B>).post(login::<B>)).route("/logout", post(logout::<B>))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct LoginQuery {
    next: String,
}

/// A token as [`new_secret`] makes them: 64 hex digits.
fn plausible_token(t: &str) -> bool {
    t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit())
}

fn login_csrf_cookie<B: Backend>(state: &AppState<B>, token: &str, max_age: u64) -> Option<HeaderValue> {
    let secure = if state.config.cookie_secure { "; Secure" } else { "" };
    let text = format!("{LOGIN_CSRF_COOKIE}={token}; HttpOnly; SameSite=Lax; Path=/login; Max-Age={max_age}{secure}");
    HeaderValue::from_str(&text).ok()
}

/// The login page with `token` in its form (and the cookie holding it).
fn login_form<B: Backend>(
    state: &AppState<B>,
    headers: &HeaderMap,
    status: StatusCode,
    token: &str,
    username: String,
    next: &str,
    error: Option<String>,
) -> Response {
    let mut layout = Layout { title: "Sign in".into(), csrf: token.to_owned(), ..Layout::default() };
    layout.flashes = flashes(headers);
    let page = LoginPage { layout, username, next: local_path(next).to_owned(), error };
    let mut response = (status, render(&page)).into_response();
    let headers = response.headers_mut();
    if let Some(value) = login_csrf_cookie(state, token, LOGIN_CSRF_SECS) {
        headers.append(header::SET_COOKIE, value);
    }
    headers.append(header::SET_COOKIE, HeaderValue::from_static("flagyard_flash=; Path=/; Max-Age=0"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The login form's token: the one the browser holds, else a new one.
fn current_token(headers: &HeaderMap) -> String {
    cookie(headers, LOGIN_CSRF_COOKIE).filter(|t| plausible_token(t)).map_or_else(|| new_secret(""), str::to_owned)
}

async fn login_page<B: Backend>(
    State(state): State<AppState<B>>,
    user: Option<UiUser>,
    headers: HeaderMap,
    Params(query): Params<LoginQuery>,
) -> Response {
    if user.is_some() {
        return super::answer::see_other(local_path(&query.next));
    }
    login_form(&state, &headers, StatusCode::OK, &current_token(&headers), String::new(), &query.next, None)
}

/// Whether a present `Origin` header names this host (absent is fine: the
/// double-submit token still protects the form).
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else { return true };
    let origin = origin.to_str().unwrap_or_default();
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
    let origin_host = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://"));
    !host.is_empty() && origin_host.is_some_and(|o| o.eq_ignore_ascii_case(host))
}

async fn login<B: Backend>(
    State(state): State<AppState<B>>,
    ClientIp(address): ClientIp,
    headers: HeaderMap,
    Posted(form): Posted<LoginForm>,
) -> Result<Response, UiError> {
    let next = local_path(&form.next).to_owned();
    if !same_origin(&headers) {
        return Err(UiError::Request(crate::http::ApiError::Forbidden("cross-site login attempts are refused".into())));
    }
    let held = cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    let submitted = form.csrf.trim();
    if held.is_empty() || submitted.is_empty() || !bool::from(held.as_bytes().ct_eq(submitted.as_bytes())) {
        let message = "The sign-in form expired or was not sent from this site; please try again.".to_owned();
        let fresh = new_secret("");
        return Ok(login_form(&state, &headers, StatusCode::FORBIDDEN, &fresh, form.username, &next, Some(message)));
    }
    let refused = |status: StatusCode, message: &str| {
        login_form(&state, &headers, status, held, form.username.clone(), &next, Some(message.to_owned()))
    };
    match crate::http::login(&state, form.username.trim(), &form.password, address).await {
        Ok(done) => {
            let mut response = super::answer::see_other(&next);
            let out = response.headers_mut();
            out.append(header::SET_COOKIE, done.set_cookie);
            if let Some(clear) = login_csrf_cookie(&state, "", 0) {
                out.append(header::SET_COOKIE, clear);
            }
            tracing::info!(user = %done.user.username, "signed in to the web UI");
            Ok(response)
        }
        Err(LoginError::InvalidCredentials) => Ok(refused(StatusCode::UNAUTHORIZED, "Wrong username or password.")),
        Err(LoginError::Disabled) => {
            Ok(refused(StatusCode::FORBIDDEN, "This account is disabled; ask an administrator."))
        }
        Err(LoginError::RateLimited { retry_after_secs }) => {
            let message = format!("Too many failed attempts; try again in {retry_after_secs} s.");
            let mut response = refused(StatusCode::TOO_MANY_REQUESTS, &message);
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            Ok(response)
        }
        Err(LoginError::Other(e)) => Err(e.into()),
    }
}

async fn logout<B: Backend>(
    State(state): State<AppState<B>>,
    Signed(user): Signed,
    headers: HeaderMap,
    Posted(form): Posted<CsrfForm>,
) -> Result<Response, UiError> {
    authorize(&user, &headers, &form.csrf, Role::Viewer)?;
    let clear = crate::http::logout(&state, &user).await?;
    let mut response = super::answer::see_other("/login");
    response.headers_mut().append(header::SET_COOKIE, clear);
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("flags.example:8080"));
        assert!(same_origin(&h));
        h.insert(header::ORIGIN, HeaderValue::from_static("http://flags.example:8080"));
        assert!(same_origin(&h));
        h.insert(header::ORIGIN, HeaderValue::from_static("https://evil.example"));
        assert!(!same_origin(&h));
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(!same_origin(&h));
    }

    #[test]
    fn tokens() {
        assert!(plausible_token(&new_secret("")));
        assert!(!plausible_token("x; Path=/"));
    }
}
