//! Live updates: the SDK endpoints (`/sdk/v1`) and the fan-out behind them.
//!
//! Writes append change records; the [`Hub`] turns each new environment
//! version into one pre-formatted SSE frame shared by all streams of that
//! environment; streams start from a whole snapshot (or resume from
//! `Last-Event-ID` with the missed patches) and then relay frames.

pub(crate) mod ofrep;
mod sse;

use axum::Router;
use axum::routing::get;

use crate::state::AppState;
use crate::store::Backend;

/// The `/sdk/v1` routes.
pub fn router<B: Backend>() -> Router<AppState<B>> {
    Router::new()
        .route("/snapshot", get(sse::snapshot::<B>))
        .route("/stream", get(sse::stream::<B>))
        .route("/events", axum::routing::post(crate::ingest::post_events))
}

/// The `/ofrep/v1` routes.
pub fn ofrep_router<B: Backend>() -> Router<AppState<B>> {
    Router::new()
        .route("/evaluate/flags", axum::routing::post(ofrep::evaluate_all::<B>))
        .route("/evaluate/flags/{key}", axum::routing::post(ofrep::evaluate_flag::<B>))
        .route("/stream", get(ofrep::stream::<B>))
}
