//! Live updates: the SDK endpoints (`/sdk/v1`) and the fan-out behind them.
//!
//! Writes append change records; the [`Hub`] turns each new environment
//! version into one pre-formatted SSE frame shared by all streams of that
//! environment; streams start from a whole snapshot (or resume from
//! `Last-Event-ID` with the missed patches) and then relay frames.

pub(crate) mod ofrep;
mod ofrep_wire;
mod sse;

use std::future::Future;

use axum::Router;
use axum::routing::get;
use futures_util::StreamExt;
use tokio_stream::wrappers::BroadcastStream;

use crate::http::SdkCaller;
use crate::state::AppState;
use crate::store::Backend;

/// The `/sdk/v1` routes.
pub fn router<B: Backend>() -> Router<AppState<B>> {
    Router::new()
        .route("/sdk/v1/snapshot", get(sse::snapshot::<B>))
        .route("/sdk/v1/stream", get(sse::stream::<B>))
        .route("/sdk/v1/events", axum::routing::post(crate::ingest::post_events))
}

/// The `/ofrep/v1` routes.
pub fn ofrep_router<B: Backend>() -> Router<AppState<B>> {
    Router::new()
        .route("/ofrep/v1/evaluate/flags", axum::routing::post(ofrep::evaluate_all::<B>))
        .route("/ofrep/v1/evaluate/flags/{key}", axum::routing::post(ofrep::evaluate_flag::<B>))
        .route("/ofrep/v1/stream", get(ofrep::stream::<B>))
}

/// Resolves when an SDK key's stream must end: the server stops, or the key
/// was revoked (checked again on every key signal; a lagged key channel
/// counts as one). Subscribes at once, so call it before reading anything.
fn ended<B: Backend>(
    state: &AppState<B>,
    caller: SdkCaller,
    stream: &'static str,
) -> impl Future<Output = ()> + Send + use<B> {
    let mut keys = BroadcastStream::new(state.hub.subscribe_keys());
    let mut shutdown = state.shutdown.clone();
    let store = state.store.clone();
    async move {
        let revoked = async {
            while keys.next().await.is_some() {
                // Boxed: inline, the database read's future would be part of
                // every open stream's state while it waits for a signal.
                if !Box::pin(caller.still_valid(&store)).await {
                    tracing::info!(key_id = caller.key_id, "SDK key revoked: ending its {stream}");
                    return;
                }
            }
        };
        tokio::select! {
            biased;
            () = shutdown.recv() => {}
            () = revoked => {}
        }
    }
}
