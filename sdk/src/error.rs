//! Errors of [`ClientBuilder::build`](crate::ClientBuilder::build).
//!
//! Only configuration problems are errors: a server that is down, slow or
//! refuses the key never makes `build` fail. The client then serves defaults
//! (or the bootstrap / cache-file rules) and reports it in
//! [`Client::state`](crate::Client::state).

use std::path::PathBuf;

/// A client that cannot be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The base URL does not parse, or is not `http`/`https`.
    #[error("invalid base URL `{url}`: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The SDK key is empty or cannot be sent in an HTTP header.
    #[error("invalid SDK key: {0}")]
    InvalidKey(&'static str),
    /// The bootstrap file could not be read.
    #[error("cannot read the bootstrap file {path}: {source}")]
    BootstrapFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The bootstrap rules are not a valid snapshot.
    #[error("invalid bootstrap snapshot: {0}")]
    Bootstrap(#[from] flagyard_eval::CompileErrors),
    /// The HTTP client could not be created (e.g. no TLS backend).
    #[error("cannot create the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    /// TLS could not be configured (the crypto provider refused its defaults).
    #[error("cannot configure TLS: {0}")]
    Tls(String),
    /// An option is out of range.
    #[error("invalid option `{option}`: {reason}")]
    InvalidOption {
        /// The builder method.
        option: &'static str,
        /// Why.
        reason: &'static str,
    },
}
