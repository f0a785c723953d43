//! The HTTP surface: the admin API (`/api/v1`), operations endpoints, and
//! the plumbing they share (errors, extractors, auth, request logging).

mod api;
mod auth;
mod cache;
mod client_addr;
mod error;
mod experiment_api;
mod extract;
mod middleware;
mod openapi;
mod ops;
mod ramp_api;
mod release_api;
mod routes;
mod session;
mod user_api;

pub use auth::SdkCaller;
pub use client_addr::TrustedProxies;
pub use error::{ApiError, FieldError};
pub use extract::{BodyLimit, is_json, read_body};
pub use middleware::ObserveLayer;
pub use openapi::handler as openapi_handler;
pub use ops::router as ops_router;
#[cfg(debug_assertions)]
pub use release_api::test_clock_router;
pub use routes::router as api_router;
pub use session::{
    CSRF_FIELD, CSRF_HEADER, LoggedIn, SESSION_COOKIE, UiUser, check_csrf, check_csrf_header, clear_session_cookie,
    client_ip, login, logout, request_cookie, resolve as resolve_session, session_cookie, session_token,
};
