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

/// A `reqwest` client builder. Built together with the SDK (`cargo test -p
/// flagyard-server -p flagyard`), reqwest has the SDK's `rustls-no-provider`
/// and panics on `build()` unless a process-wide crypto provider is
/// installed: ring (the workspace's) is, first.
pub fn http_builder() -> reqwest::ClientBuilder {
    // Fails only when one is installed already, which is as good.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
}
