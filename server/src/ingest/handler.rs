//! `POST /sdk/v1/events`.

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::CONTENT_LENGTH;
use futures_util::StreamExt;

use super::pipeline::IngestAnswer;
use super::validate::parse;
use crate::app::AppState;
use crate::http::{ApiError, SdkCaller, is_json};
use crate::service::now_ms;
use crate::store::Backend;

/// Bytes of an over-limit body read and dropped before the `413` is sent.
const DRAIN_BYTES: usize = 32 << 20;

/// Takes a batch of exposures and track events (`docs/protocol.md`); answers
/// with the accepted count and each rejected event's index and reason.
pub async fn post_events<B: Backend>(
    State(state): State<AppState<B>>,
    caller: SdkCaller,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<IngestAnswer>, ApiError> {
    if !is_json(&headers) {
        return Err(ApiError::UnsupportedMediaType);
    }
    // The body limit is the server's (`FLAGYARD_MAX_BODY_BYTES`).
    let body = read_body(&headers, body, state.config.max_body_bytes).await?;
    let received_at = now_ms();
    let batch = parse(&body, received_at)?;
    let answer = state.ingest.submit(caller.environment_id, received_at, batch).await?;
    Ok(Json(answer))
}

/// Reads the body, at most `limit` bytes. An over-limit body is read on and
/// dropped (up to [`DRAIN_BYTES`] more) before the `413` goes out: a client
/// that writes its whole request before reading the answer (most do) would
/// otherwise meet a closed connection instead of the `413`, and the SDK
/// splits a batch on `413` but only retries after a network error.
async fn read_body(headers: &HeaderMap, body: Body, limit: usize) -> Result<Bytes, ApiError> {
    let declared = headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit.saturating_add(DRAIN_BYTES)) {
        return Err(ApiError::TooLarge);
    }
    let unreadable = |e: axum::Error| ApiError::BadRequest(format!("the request body could not be read: {e}"));
    let mut stream = body.into_data_stream();
    let mut data = Vec::with_capacity(declared.unwrap_or(0).min(limit));
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(unreadable)?;
        if data.len() + chunk.len() > limit {
            let mut read = data.len() + chunk.len();
            while read <= limit.saturating_add(DRAIN_BYTES) {
                match stream.next().await {
                    Some(Ok(more)) => read += more.len(),
                    _ => break,
                }
            }
            return Err(ApiError::TooLarge);
        }
        data.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(data))
}
