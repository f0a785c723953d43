//! # flagyard
//!
//! The embedded Rust SDK of Flagyard: flags are
//! evaluated **locally**, in microseconds' fractions, against a live copy of
//! an environment's rules that the server keeps current over Server-Sent
//! Events (`docs/protocol.md`). Exposures of experiment and canary splits and
//! `track` metric events are batched back to the server.
//!
//! ```no_run
//! use flagyard::{Client, ClientState, Context};
//!
//! # #[tokio::main]
//! # async fn main() -> Result<(), flagyard::Error> {
//! let client = Client::builder("https://flags.example.com", "sdk-key-of-production")
//!     .cache_file("/var/cache/my-service/flags.json") // start with the last rules if the server is down
//!     .build() // waits up to 5 s for the rules
//!     .await?;
//! if client.state() != ClientState::Ready {
//!     eprintln!("flags: {} (serving defaults or last known rules)", client.state());
//! }
//!
//! let user = Context::new("user-7").with("plan", "pro").with("country", "NL");
//! if client.bool_value("new-checkout", &user, false) {
//!     // ... the new checkout
//!     client.track("purchase", &user, Some(42.0));
//! }
//! let color = client.string_value("button-color", &user, "grey");
//! # let _ = color;
//! client.close().await; // final flush of events
//! # Ok(())
//! # }
//! ```
//!
//! Without a server (tests, local development), start offline from a file
//! or a string in the snapshot format (`docs/rules.md`):
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use flagyard::{Client, Context, DefaultReason};
//!
//! let client = Client::builder("", "")
//!     .offline(true)
//!     .bootstrap_json(r#"{"environment": "dev", "version": 1, "flags": {"beta": {
//!         "type": "boolean", "variants": [{"key": "on", "value": true}, {"key": "off", "value": false}],
//!         "environments": {"dev": {"enabled": true, "offVariant": "off", "defaultVariant": "on"}}}}}"#)
//!     .build()
//!     .await
//!     .unwrap();
//! let ctx = Context::new("me");
//! assert!(client.bool_value("beta", &ctx, false));
//! let d = client.number_detail("beta", &ctx, 1.0);
//! assert_eq!(d.value, 1.0);
//! assert!(matches!(d.defaulted(), Some(DefaultReason::WrongType { .. })));
//! # }
//! ```
//!
//! ## How it works
//!
//! - **Rules**: one immutable snapshot and its compiled
//!   [`flagyard_eval::Ruleset`] behind an atomic pointer (`arc-swap`). A
//!   `patch` builds a new snapshot, compiles it and swaps it in. Getters load
//!   the pointer and call the engine: no lock, no I/O; `bool_value` and
//!   `number_value` allocate nothing, the others only their owned result.
//!   Each thread keeps a reference to the rules it last evaluated and checks
//!   it against one atomic serial, which spares the hot path arc-swap's
//!   read-modify-write; the price is that a thread keeps superseded rules
//!   alive until its next evaluation (or its exit).
//! - **Data source**: the SSE stream with reconnection (exponential backoff
//!   with full jitter from [`ClientBuilder::backoff_base`] to
//!   [`ClientBuilder::backoff_cap`], at least the server's `retry:`),
//!   `Last-Event-ID` resumption, a dead-stream timeout of three heartbeats,
//!   and a polling fallback with `If-None-Match`. A refused key (`401`/`403`)
//!   puts the client in [`ClientState::Failed`] and stops all requests.
//! - **Events**: an evaluation served by a split records an exposure once per
//!   (unit, flag, variant) within [`ClientBuilder::exposure_ttl`]. For a unit
//!   already exposed, that costs a hash and a cache lookup and no
//!   allocation; a new exposure allocates its few strings and takes a queue
//!   slot. The queue is bounded and never blocks: when full, events are
//!   dropped and counted in [`Stats::dropped`]. A background task sends
//!   batches with retries, `Retry-After`, batch splitting on `413` and a
//!   circuit breaker; see [`Client::stats`].
//!
//! Getters are synchronous and may be called from any thread; building,
//! [`Client::flush`] and [`Client::close`] need a Tokio runtime.

#![deny(missing_docs)]

mod cache_file;
mod client;
mod config;
mod detail;
mod error;
mod events;
mod source;
mod store;

pub use client::{AllValues, Client};
pub use config::ClientBuilder;
pub use detail::{DefaultReason, EvaluationDetail, EvaluationReason};
pub use error::Error;
pub use events::breaker::BreakerState;
pub use events::queue::Stats;
pub use flagyard_eval::{Context, FlagType, Value};
pub use store::{ClientState, FlagChange};

/// Resolves when shutdown is signalled (or its sender is gone).
pub(crate) async fn stopped(shutdown: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// The evaluation engine this SDK wraps (for its model types and direct use).
pub use flagyard_eval as eval;
