//! `POST /sdk/v1/events`.

use axum::Json;
use axum::extract::{Request, State};

use super::pipeline::IngestAnswer;
use super::validate::parse;
use crate::app::AppState;
use crate::http::{ApiError, SdkCaller, is_json, read_body};
use crate::service::now_ms;
use crate::store::Backend;

/// Takes a batch of exposures and track events (`docs/protocol.md`); answers
/// with the accepted count and each rejected event's index and reason.
pub async fn post_events<B: Backend>(
    State(state): State<AppState<B>>,
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
    let answer = state.ingest.submit(caller.environment_id, received_at, batch).await?;
    Ok(Json(answer))
}
