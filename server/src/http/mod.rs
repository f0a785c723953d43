//! The HTTP surface: the admin API (`/api/v1`), operations endpoints, and
//! the plumbing they share (errors, extractors, auth, request logging).

mod api;
mod auth;
mod error;
mod extract;
mod ops;

pub use api::router as api_router;
pub use auth::{ADMIN_TOKEN_PREFIX, Role, SDK_KEY_PREFIX, hash_secret, new_secret};
pub use error::{ApiError, FieldError};
pub use ops::{observe, router as ops_router};
