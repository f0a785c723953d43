//! Entry points for the fuzz targets in `fuzz/` (`cargo fuzz`), and for
//! nothing else: this module exists only so that `fuzz/fuzz_targets/` can
//! reach two request-body parsers that are private to the crate. Each
//! function is a thin call of the real parser (no copy of its logic); the
//! server itself never calls them. See `docs/fuzzing.md`.

use axum::body::Bytes;
use flagyard_eval::Context;

/// A fixed "now" (2025-11-26, epoch ms) for the event-batch parser, so that
/// a fuzz input behaves the same on every run.
pub const EVENT_BATCH_NOW: i64 = 1_764_130_000_000;

/// Parses `body` as a `POST /sdk/v1/events` batch received at
/// [`EVENT_BATCH_NOW`] (`ingest::validate::parse`); whether the batch was
/// accepted (individual events may still be rejected).
pub fn event_batch(body: &[u8]) -> bool {
    crate::ingest::validate::parse(body, EVENT_BATCH_NOW).is_ok()
}

/// Parses `body` as an OFREP evaluation request (`live::ofrep::parse_context`,
/// as `POST /ofrep/v1/evaluate/flags/{key}` does); the evaluation context, or
/// `None` when the server would answer 400.
pub fn ofrep_request(body: &[u8]) -> Option<Context<'static>> {
    let body = Bytes::copy_from_slice(body);
    crate::live::ofrep::parse_context(&body, Some("fuzz-flag")).ok().map(Context::into_owned)
}
