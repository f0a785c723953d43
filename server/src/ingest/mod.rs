//! Event ingest (`POST /sdk/v1/events`): parsing and per-event validation,
//! a bounded queue folded into one transaction at a time, batch-id
//! idempotence, and attribution of exposures and metric events to
//! experiments (first exposure, exclusion of multi-variant units, per-variant
//! sufficient statistics). Design: `docs/experiments.md`.

mod attribute;
mod handler;
mod pipeline;
pub(crate) mod validate;

pub use handler::post_events;
pub use pipeline::Ingest;
