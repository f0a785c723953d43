//! The HTTP surface: the admin API (`/api/v1`), operations endpoints, and
//! the plumbing they share (errors, extractors, auth, request logging).

mod api;
mod auth;
mod cache;
mod error;
mod experiment_api;
mod extract;
mod openapi;
mod ops;
mod routes;

pub use auth::{ADMIN_TOKEN_PREFIX, Credentials, Role, SDK_KEY_PREFIX, SdkCaller, hash_secret, new_secret};
pub use cache::AnswerCache;
pub use error::{ApiError, FieldError};
pub use openapi::handler as openapi_handler;
pub use ops::{observe, router as ops_router};
pub use routes::router as api_router;
