//! # flagyard-server
//!
//! The Flagyard flag service: an admin REST API over flags, per-environment
//! configurations, segments, tokens and SDK keys, with an audit log and
//! rollback; SQLite (embedded default) or Postgres storage; operations
//! endpoints. The rules are validated by the one engine, `flagyard-eval`.
//!
//! Layers, outside in: `http` (routes, auth, errors) → `service` (domain
//! operations, one transaction each, generic over the backend) → `store`
//! (SQL per backend). `app` wires them; `config`, `telemetry` and
//! `shutdown` are the 12-factor plumbing.

mod app;
mod auth;
mod config;
#[doc(hidden)]
pub mod fuzzing;
mod http;
mod ingest;
mod live;
mod serve;
mod service;
mod shutdown;
mod state;
pub mod store;
mod telemetry;
mod ui;
pub mod ui_users;

pub use app::{migrate, router, serve};
pub use auth::Role;
pub use config::{Cidr, Config, ConfigError, LogFormat};
pub use http::ApiError;
pub use shutdown::signal as shutdown_signal;
pub use state::AppState;
pub use telemetry::init_logging;
