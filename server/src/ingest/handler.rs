//! `POST /sdk/v1/events`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Extension, Request};

use super::pipeline::{Ingest, IngestAnswer};
use super::validate::parse;
use crate::http::{ApiError, SdkCaller, is_json, read_body};
use crate::service::now_ms;

/// Takes a batch of exposures and track events (`docs/protocol.md`); answers
/// with the accepted count and each rejected event's index and reason.
pub async fn post_events(
    Extension(ingest): Extension<Arc<Ingest>>,
    caller: SdkCaller,
    req: Request,
) -> Result<Json<IngestAnswer>, ApiError> {
    if !is_json(req.headers()) {
        return Err(ApiError::UnsupportedMediaType);
    }
    // The body limit is the server's (`FLAGYARD_MAX_BODY_BYTES`).
    let body = read_body(req).await?;
    let received_at = now_ms();
    let batch = parse(&body, received_at)?;
    let answer = ingest.submit(caller.environment_id, received_at, batch).await?;
    Ok(Json(answer))
}
