//! `GET /assets/{name}`: the static files compiled into `flagyard-web`, with
//! strong ETags. Pages link them as `/assets/{name}?v={hash}`: such URLs
//! never change content, so they are cached for a year (`immutable`);
//! without the current `?v=` the browser revalidates every time
//! (`If-None-Match` → 304).
//! No session needed: the login page uses them too.

use axum::Router;
use axum::extract::{Path, RawQuery};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::state::AppState;
use crate::store::Backend;

/// `Cache-Control` of versioned URLs.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `Cache-Control` of bare URLs.
const REVALIDATE: &str = "no-cache";

pub(super) fn routes<B: Backend>() -> Router<AppState<B>> {
    Router::new().route("/assets/{name}", get(asset))
}

/// Whether `If-None-Match` names `etag` (a list, or `*`).
fn matches(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == etag || t == "*")
}

async fn asset(Path(name): Path<String>, RawQuery(query): RawQuery, headers: HeaderMap) -> Response {
    let Some(file) = flagyard_web::asset(&name) else {
        return (StatusCode::NOT_FOUND, [(header::CACHE_CONTROL, REVALIDATE)], "no such asset").into_response();
    };
    // Only the current hash is immutable: an old `?v=` must not pin new bytes.
    let versioned = query.is_some_and(|q| flagyard_web::asset_href(&name).ends_with(&format!("?{q}")));
    let cache = HeaderValue::from_static(if versioned { IMMUTABLE } else { REVALIDATE });
    let etag = HeaderValue::from_static(file.etag);
    if matches(&headers, file.etag) {
        return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag), (header::CACHE_CONTROL, cache)]).into_response();
    }
    let kind = HeaderValue::from_static(file.content_type);
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::ETAG, etag),
            (header::CACHE_CONTROL, cache),
            (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
        ],
        file.body,
    )
        .into_response()
}
