//! Web UI sessions over HTTP: the `flagyard_session` cookie, the [`UiUser`]
//! extractor, login and logout, and CSRF checks.
//!
//! The cookie holds the session token (`HttpOnly; SameSite=Lax; Path=/`,
//! `Secure` with `FLAGYARD_COOKIE_SECURE=true`, `Max-Age` = the session
//! TTL). Every state-changing UI request must also carry the session's CSRF
//! token, in the `X-CSRF-Token` header (htmx: `hx-headers`) or the `csrf`
//! form field, checked with [`check_csrf`]: SameSite=Lax keeps the cookie
//! off cross-site POSTs, and the token covers older browsers and same-site
//! attackers.
//!
//! A handler that takes [`UiUser`] gets 401 without a live session; one
//! that takes `Option<UiUser>` decides itself (e.g. redirects to the login
//! page). When a request slides the session, [`UiUser::cookie_renewal`]
//! gives the `Set-Cookie` that keeps the browser's cookie alive as long.

use std::net::IpAddr;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};

use super::auth::constant_time_eq;
use super::error::ApiError;
use crate::auth::{Role, hash_secret};
use crate::config::Config;
use crate::service::{self, LoginError, now_ms};
use crate::state::AppState;
use crate::store::Backend;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "flagyard_session";
/// The header that carries the CSRF token (htmx requests).
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The form field that carries the CSRF token (plain form posts).
pub const CSRF_FIELD: &str = "csrf";

/// The logged-in user of a UI request.
#[derive(Debug, Clone)]
pub struct UiUser {
    pub username: String,
    /// Read from the user at every request: a role change applies at once.
    pub role: Role,
    /// The session's CSRF token, to put in forms and `hx-headers`.
    pub csrf: String,
    /// The session id (SHA-256 of the token), e.g. for logout.
    pub session_id: String,
    /// A fresh `Set-Cookie` when this request slid the session.
    renewal: Option<HeaderValue>,
}

impl UiUser {
    /// For the audit log: `user:<username>`.
    pub fn actor(&self) -> String {
        format!("user:{}", self.username)
    }

    /// Fails with 403 unless the user has at least `role`.
    pub fn require(&self, role: Role) -> Result<(), ApiError> {
        if self.role >= role {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!("this needs the {} role; you have {}", role.as_str(), self.role.as_str())))
        }
    }

    /// The `Set-Cookie` to send when this request slid the session, as
    /// response parts: `(user.cookie_renewal(), page)`.
    pub fn cookie_renewal(&self) -> Option<[(HeaderName, HeaderValue); 1]> {
        self.renewal.clone().map(|v| [(header::SET_COOKIE, v)])
    }
}

/// The value of cookie `name` in the request, if any.
pub fn request_cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.trim().trim_matches('"'))
}

/// The session token in the request's cookies, if any.
pub fn session_token(headers: &HeaderMap) -> Option<&str> {
    request_cookie(headers, SESSION_COOKIE)
}

fn cookie(config: &Config, value: &str, max_age_secs: u64) -> HeaderValue {
    let secure = if config.cookie_secure { "; Secure" } else { "" };
    let text = format!("{SESSION_COOKIE}={value}; HttpOnly; SameSite=Lax; Path=/; Max-Age={max_age_secs}{secure}");
    // Tokens are hex with an ASCII prefix: always a valid header value.
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("flagyard_session=; Max-Age=0"))
}

/// The `Set-Cookie` value that stores `token` for the session TTL.
pub fn session_cookie(config: &Config, token: &str) -> HeaderValue {
    cookie(config, token, config.session_ttl.as_secs())
}

/// The `Set-Cookie` value that removes the session cookie.
pub fn clear_session_cookie(config: &Config) -> HeaderValue {
    cookie(config, "", 0)
}

/// Checks a submitted CSRF token against the session's, in constant time:
/// 403 when it is missing or wrong.
pub fn check_csrf(user: &UiUser, submitted: &str) -> Result<(), ApiError> {
    if !submitted.is_empty() && constant_time_eq(&user.csrf, submitted.trim()) {
        Ok(())
    } else {
        Err(ApiError::Forbidden("missing or invalid CSRF token; reload the page and try again".into()))
    }
}

/// [`check_csrf`] on the `X-CSRF-Token` header.
pub fn check_csrf_header(user: &UiUser, headers: &HeaderMap) -> Result<(), ApiError> {
    check_csrf(user, headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or_default())
}

/// The client's address (the login rate limiter's per-address key): the
/// TCP peer, or what trusted proxies forwarded for ([`super::client_addr`]).
pub fn client_ip(parts: &Parts) -> Option<IpAddr> {
    super::client_addr::client_ip(&parts.extensions, &parts.headers)
}

fn ttl_ms(config: &Config) -> i64 {
    i64::try_from(config.session_ttl.as_millis()).unwrap_or(i64::MAX)
}

/// The live session named by the request's cookie, slid when due.
pub async fn resolve<B: Backend>(state: &AppState<B>, headers: &HeaderMap) -> Result<Option<UiUser>, ApiError> {
    let Some(token) = session_token(headers).filter(|t| service::is_session_token(t)) else {
        return Ok(None);
    };
    let id = hash_secret(token);
    let now = now_ms();
    let mut tx = state.store.read().await?;
    let found = service::resolve_session(&mut tx, &id, now).await?;
    drop(tx);
    let Some(found) = found else { return Ok(None) };
    let Some(role) = Role::parse(&found.role) else { return Ok(None) };
    let mut renewal = None;
    if service::needs_touch(found.session.last_seen_at, now) {
        let ttl = ttl_ms(&state.config);
        let touch_id = id.clone();
        let touched =
            state.write(move |tx| Box::pin(async move { service::touch_session(tx, &touch_id, ttl, now).await })).await;
        match touched {
            Ok(true) => renewal = Some(session_cookie(&state.config, token)),
            // Logged out meanwhile.
            Ok(false) => return Ok(None),
            // The session is valid all the same; it slides on a later request.
            Err(e) => tracing::warn!(error = %e, "could not slide a session"),
        }
    }
    Ok(Some(UiUser { username: found.username, role, csrf: found.session.csrf_token, session_id: id, renewal }))
}

impl<B: Backend> FromRequestParts<AppState<B>> for UiUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState<B>) -> Result<Self, ApiError> {
        resolve(state, &parts.headers).await?.ok_or(ApiError::Unauthorized("log in first (no or expired session)"))
    }
}

impl<B: Backend> OptionalFromRequestParts<AppState<B>> for UiUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState<B>) -> Result<Option<Self>, ApiError> {
        resolve(state, &parts.headers).await
    }
}

/// A successful login.
#[derive(Debug, Clone)]
pub struct LoggedIn {
    pub user: UiUser,
    /// The `Set-Cookie` value to send with the answer (typically a redirect).
    pub set_cookie: HeaderValue,
}

/// Logs in: refuses (429) while the username or `address` is over the
/// failure limit, checks the password (argon2), and starts a session.
pub async fn login<B: Backend>(
    state: &AppState<B>,
    username: &str,
    password: &str,
    address: Option<IpAddr>,
) -> Result<LoggedIn, LoginError> {
    // Counted before the password is checked, so concurrent attempts
    // cannot overrun the budget; released below on success, and on drop
    // when the check could not be made.
    let attempt = state
        .credentials
        .logins
        .reserve(username, address)
        .map_err(|retry_after_secs| LoginError::RateLimited { retry_after_secs })?;
    let user = match service::verify_login(&state.store, username, password).await {
        Ok(user) => user,
        Err(e @ (LoginError::InvalidCredentials | LoginError::Disabled)) => {
            attempt.failed();
            return Err(e);
        }
        Err(e) => return Err(e),
    };
    let (ttl, now) = (ttl_ms(&state.config), now_ms());
    let session =
        state.write(move |tx| Box::pin(async move { service::create_session(tx, &user, ttl, now).await })).await?;
    // The password changed (or the user was disabled) while this login was
    // being checked: the old password no longer opens a session.
    let Some(session) = session else {
        attempt.failed();
        return Err(LoginError::InvalidCredentials);
    };
    attempt.succeeded();
    let set_cookie = session_cookie(&state.config, &session.token);
    let user = UiUser {
        username: session.username,
        role: session.role,
        csrf: session.csrf,
        session_id: session.id,
        renewal: None,
    };
    Ok(LoggedIn { user, set_cookie })
}

/// Logs out: ends the session everywhere; returns the `Set-Cookie` value
/// that clears the cookie.
pub async fn logout<B: Backend>(state: &AppState<B>, user: &UiUser) -> Result<HeaderValue, ApiError> {
    let id = user.session_id.clone();
    state.write(move |tx| Box::pin(async move { service::end_session(tx, &id).await })).await?;
    Ok(clear_session_cookie(&state.config))
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
