//! Shared by the server's integration tests (`mod support;` in each).
//!
//! Every test gets a database of its own: see [`db`]. Not every test binary
//! uses every helper, hence the `dead_code` allowance.
#![allow(dead_code, unused_imports, unused_macros)]

pub mod app;
pub mod cluster;
pub mod db;
pub mod sse;
pub mod ui_client;

pub use db::{PgTestDb, SqliteTestDb, TestBackend, pg_backend, sqlite_backend};
