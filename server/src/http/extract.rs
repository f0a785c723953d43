//! Extractors whose rejections are problem documents, not axum's plain text.
//!
//! Besides shape errors they refuse NUL characters anywhere in a body, path
//! or query: Postgres cannot store them, and no key or text needs them.

use axum::body::Bytes;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::HeaderMap;
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::request::Parts;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use super::error::ApiError;

const NUL_MESSAGE: &str = "text may not contain NUL characters";

/// Whether the request says its body is JSON (`application/json` or `application/*+json`).
pub fn is_json(headers: &HeaderMap) -> bool {
    headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|ct| {
        let mime = ct.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
    })
}

/// The server's body limit (`FLAGYARD_MAX_BODY_BYTES`), a request extension
/// set by the router for [`read_body`].
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// The limit when no [`BodyLimit`] was set (the configuration's default).
const DEFAULT_BODY_LIMIT: usize = 1 << 20;

/// Bytes of an over-limit body read and dropped before the `413` is sent.
const DRAIN_BYTES: usize = 32 << 20;

/// Reads the request's body, at most [`BodyLimit`] bytes. An over-limit body
/// is read on and dropped (up to [`DRAIN_BYTES`] more) before the `413` goes
/// out: a client that writes its whole request before reading the answer
/// (most do) would otherwise meet a closed connection instead of the `413`,
/// and the SDK splits a batch on `413` but only retries after a network error.
pub async fn read_body(req: Request) -> Result<Bytes, ApiError> {
    let limit = req.extensions().get::<BodyLimit>().map_or(DEFAULT_BODY_LIMIT, |l| l.0);
    let declared = req.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse().ok());
    if declared.is_some_and(|n: usize| n > limit.saturating_add(DRAIN_BYTES)) {
        return Err(ApiError::TooLarge);
    }
    let unreadable = |e: axum::Error| ApiError::BadRequest(format!("the request body could not be read: {e}"));
    let mut stream = req.into_body().into_data_stream();
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

/// A JSON body, with problem+json rejections that name the offending field.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, ApiError> {
        if !is_json(req.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = read_body(req).await?;
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(ApiError::BadRequest("the body must be a JSON object".into()));
        }
        // `\u0000` is the only way a NUL can appear in valid JSON text.
        if bytes.windows(6).any(|w| w.eq_ignore_ascii_case(b"\\u0000")) {
            return Err(ApiError::BadRequest(NUL_MESSAGE.into()));
        }
        let mut de = serde_json::Deserializer::from_slice(&bytes);
        let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            match path.as_str() {
                "." | "" => ApiError::BadRequest(format!("invalid JSON body: {inner}")),
                _ => ApiError::BadRequest(format!("{path}: {inner}")),
            }
        })?;
        de.end().map_err(|e| ApiError::BadRequest(format!("invalid JSON body: {e}")))?;
        Ok(Json(value))
    }
}

/// A JSON body that may be left out: a request without a content type and
/// with an empty body reads as `T::default()`.
#[derive(Debug, Clone, Copy, Default)]
pub struct MaybeJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for MaybeJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if req.headers().contains_key(axum::http::header::CONTENT_TYPE) {
            return Json::<T>::from_request(req, state).await.map(|Json(v)| MaybeJson(v));
        }
        let bytes = read_body(req).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            Ok(MaybeJson(T::default()))
        } else {
            Err(ApiError::UnsupportedMediaType)
        }
    }
}

/// `axum::extract::Path` with problem+json rejections.
#[derive(Debug)]
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        if parts.uri.path().contains("%00") {
            return Err(ApiError::BadRequest(NUL_MESSAGE.into()));
        }
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| Path(v))
            .map_err(|e: PathRejection| ApiError::BadRequest(e.body_text()))
    }
}

/// `axum::extract::Query` with problem+json rejections.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        if parts.uri.query().is_some_and(|q| q.contains("%00")) {
            return Err(ApiError::BadRequest(NUL_MESSAGE.into()));
        }
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(v)| Query(v))
            .map_err(|e: QueryRejection| ApiError::BadRequest(e.body_text()))
    }
}
