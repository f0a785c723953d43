//! # flagyard-tests
//!
//! End-to-end tests of Flagyard: the real `flagyard` binary, started as a
//! child process on a free port with a fresh database, exercised by real
//! clients. This library is the harness; the tests are in `tests/`.

mod a11y;
mod browser;
mod postgres;
mod server;

pub use a11y::{axe_source, serious_violations};
pub use browser::{
    Browser, click, css, eventually, fill, login, main_says, pick, screenshot_dir, text, text_now, value_now,
};
pub use postgres::PgDatabase;
pub use server::{Server, ServerOptions};
