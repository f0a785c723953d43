//! The OpenFeature Remote Evaluation Protocol (OFREP 0.3), so OpenFeature
//! clients in any language can use Flagyard without a native SDK.
//!
//! Evaluation runs the same engine as the SDK, on rules compiled once per
//! environment version and kept current by the hub.

use std::convert::Infallible;
use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use flagyard_eval::{Context, Detail, Reason, Ruleset};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use super::ofrep_wire;
use crate::http::{ApiError, SdkCaller};
use crate::service::now_ms;
use crate::service::rules::{Edits, Reach, snapshot};
use crate::state::{AppState, EnvRules, Signal};
use crate::store::{Backend, EnvironmentQueries};

/// An SDK key for OFREP: failures are bare 401/403 as the protocol wants.
pub struct OfrepCaller(pub SdkCaller);

impl<B: Backend> FromRequestParts<AppState<B>> for OfrepCaller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState<B>) -> Result<Self, Response> {
        match SdkCaller::from_request_parts(parts, state).await {
            Ok(c) => Ok(OfrepCaller(c)),
            Err(ApiError::Unauthorized(_)) => Err(StatusCode::UNAUTHORIZED.into_response()),
            Err(e) => Err(e.into_response()),
        }
    }
}

/// The current compiled rules of the caller's environment.
pub async fn current_rules<B: Backend>(state: &AppState<B>, caller: &SdkCaller) -> Result<Arc<EnvRules>, ApiError> {
    if let Some(rules) = state.hub.rules(caller.environment_id) {
        return Ok(rules);
    }
    let mut tx = state.store.read().await?;
    let env = tx
        .environment(&caller.environment)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("environment `{}`", caller.environment)))?;
    let snap = snapshot(&mut tx, &env, &Edits::default(), Reach::All).await?;
    drop(tx);
    let ruleset = Ruleset::compile(&snap)
        .map_err(|e| ApiError::Store(crate::store::StoreError::Corrupt(format!("stored rules do not compile: {e}"))))?;
    let rules = Arc::new(EnvRules::new(env.version, ruleset));
    state.hub.cache_rules(env.id, rules.clone());
    Ok(rules)
}

#[derive(Debug, Deserialize)]
struct Request {
    #[serde(default)]
    context: Option<Value>,
}

/// An OFREP error answer (a `503` says when to retry).
fn error(status: StatusCode, key: Option<&str>, code: &str, details: impl Into<String>) -> Response {
    let mut body = json!({"errorCode": code, "errorDetails": details.into()});
    if let Some(k) = key {
        body["key"] = json!(k);
    }
    let mut response = (status, Json(body)).into_response();
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

/// Parses the body's `context`: the fast reader ([`ofrep_wire::fast_context`],
/// borrowing the body), else the general path, which also words the 400
/// answer (`Err`).
pub(crate) fn parse_context<'b>(body: &'b Bytes, key: Option<&str>) -> Result<Context<'b>, Box<Response>> {
    match ofrep_wire::fast_context(body) {
        Some(ctx) => Ok(ctx),
        None => slow_context(body, key),
    }
}

/// The general path: the body as `serde_json::Value`, then
/// [`Context::from_json`]. `Err` is the 400 answer.
pub(crate) fn slow_context(body: &Bytes, key: Option<&str>) -> Result<Context<'static>, Box<Response>> {
    let bad = |code: &str, e: String| Box::new(error(StatusCode::BAD_REQUEST, key, code, e));
    let request: Request = if body.is_empty() {
        Request { context: None }
    } else {
        serde_json::from_slice(body).map_err(|e| bad("PARSE_ERROR", e.to_string()))?
    };
    match request.context {
        None => Ok(Context::anonymous()),
        Some(ctx) => Context::from_json(&ctx).map_err(|e| bad("INVALID_CONTEXT", e.to_string())),
    }
}

/// The OFREP reason of an engine reason, for the flag at `index`.
fn reason(rules: &Ruleset, index: usize, d: &Detail<'_>) -> &'static str {
    match d.reason() {
        Reason::Off => "DISABLED",
        Reason::RuleMatch { .. } => "TARGETING_MATCH",
        Reason::Split { .. } => "SPLIT",
        // No rule and no prerequisite to consult: the value cannot vary.
        Reason::Default if rules.rule_count_at(index) == Some(0) => "STATIC",
        Reason::Default | Reason::PrerequisiteFailed { .. } => "DEFAULT",
        Reason::Error(_) => "ERROR",
    }
}

/// One flag's OFREP result, its JSON appended to `out`: `Ok(())` for a
/// value, `Err(status)` for an error. The key is looked up once; a flag
/// whose answer no context can change (see [`Ruleset::is_constant`]) is
/// serialised once per version and copied from then on.
fn evaluate_one(rules: &EnvRules, key: &str, ctx: &Context<'_>, out: &mut Vec<u8>) -> Result<(), StatusCode> {
    let failed = |out: &mut Vec<u8>, status: StatusCode, body: Value| {
        // Serialising a `Value` into a vector cannot fail.
        let _ = serde_json::to_writer(&mut *out, &body);
        Err(status)
    };
    let Some(index) = rules.ruleset.flag_index(key) else {
        return failed(
            out,
            StatusCode::NOT_FOUND,
            json!({"key": key, "errorCode": "FLAG_NOT_FOUND", "errorDetails": format!("no flag `{key}` in this environment")}),
        );
    };
    let constant = rules.ruleset.is_constant(index);
    if constant && let Some(bytes) = rules.constant_answer(index) {
        out.extend_from_slice(&bytes);
        return Ok(());
    }
    let d = rules.ruleset.evaluate_index(index, ctx);
    match d.value() {
        Some(value) if d.unbucketed().is_some_and(|u| u.attribute == "key") && ctx.key().is_none() => failed(
            out,
            StatusCode::BAD_REQUEST,
            json!({"key": key, "errorCode": "TARGETING_KEY_MISSING",
                   "errorDetails": "this flag splits traffic by targetingKey, which the context lacks", "value": value}),
        ),
        Some(value) => {
            let answer = ofrep_wire::Answer {
                key,
                metadata: ofrep_wire::Metadata { flagyard_reason: &d, version: rules.version },
                reason: reason(&rules.ruleset, index, &d),
                value,
                variant: d.variant(),
            };
            if constant {
                out.extend_from_slice(&rules.cache_constant_answer(index, ofrep_wire::answer_bytes(&answer)));
            } else {
                ofrep_wire::write_answer(out, &answer);
            }
            Ok(())
        }
        None => failed(
            out,
            StatusCode::BAD_REQUEST,
            json!({"key": key, "errorCode": "GENERAL", "errorDetails": d.to_string()}),
        ),
    }
}

/// A JSON body as a response.
fn json_response(status: StatusCode, body: Vec<u8>) -> Response {
    (status, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body).into_response()
}

/// `POST /ofrep/v1/evaluate/flags/{key}`.
pub async fn evaluate_flag<B: Backend>(
    State(state): State<AppState<B>>,
    OfrepCaller(caller): OfrepCaller,
    axum::extract::Path(key): axum::extract::Path<String>,
    body: Bytes,
) -> Response {
    let ctx = match parse_context(&body, Some(&key)) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let rules = match current_rules(&state, &caller).await {
        Ok(r) => r,
        Err(e) => return error(e.status_code(), Some(&key), "GENERAL", "the flags could not be loaded"),
    };
    let mut out = Vec::with_capacity(192);
    let status = evaluate_one(&rules, &key, &ctx, &mut out).err().unwrap_or(StatusCode::OK);
    json_response(status, out)
}

/// `POST /ofrep/v1/evaluate/flags`: every flag, with an ETag over the rules
/// version and the context (`If-None-Match` → 304).
pub async fn evaluate_all<B: Backend>(
    State(state): State<AppState<B>>,
    OfrepCaller(caller): OfrepCaller,
    headers: BulkHeaders,
    body: Bytes,
) -> Response {
    let ctx = match parse_context(&body, None) {
        Ok(c) => c,
        Err(r) => return *r,
    };
    let rules = match current_rules(&state, &caller).await {
        Ok(r) => r,
        Err(e) => return error(e.status_code(), None, "GENERAL", "the flags could not be loaded"),
    };
    let etag = format!("\"{}-{:016x}\"", rules.version, fnv1a(&body));
    let fresh = headers.if_none_match.as_ref().and_then(|v| v.to_str().ok()).is_some_and(|v| v.trim() == etag);
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        // Members in `serde_json::Map` order (sorted keys), as a `Value` would
        // serialise them: eventStreams, flags, metadata.
        let mut out = Vec::with_capacity(160 + 192 * rules.ruleset.len());
        out.extend_from_slice(b"{\"eventStreams\":[{\"inactivityDelaySec\":120,\"type\":\"sse\",\"url\":");
        write_stream_url(&mut out, &headers);
        out.extend_from_slice(b"}],\"flags\":[");
        for (i, k) in rules.ruleset.flag_keys().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let _ = evaluate_one(&rules, k, &ctx, &mut out);
        }
        out.extend_from_slice(b"],\"metadata\":{\"environment\":");
        // Serialising a string into a vector cannot fail.
        let _ = serde_json::to_writer(&mut out, &*caller.environment);
        out.extend_from_slice(b",\"version\":");
        let _ = write!(out, "{}", rules.version);
        out.extend_from_slice(b"}}");
        json_response(StatusCode::OK, out)
    };
    if let Ok(v) = HeaderValue::from_str(&etag) {
        response.headers_mut().insert(header::ETAG, v);
    }
    response
}

/// The request headers the bulk answer reads (cheap clones of their
/// bytes, instead of a copy of the whole header map).
pub struct BulkHeaders {
    host: Option<HeaderValue>,
    forwarded_proto: Option<HeaderValue>,
    if_none_match: Option<HeaderValue>,
}

impl<S: Sync> FromRequestParts<S> for BulkHeaders {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        let headers = &parts.headers;
        Ok(BulkHeaders {
            host: headers.get(header::HOST).cloned(),
            forwarded_proto: headers.get("x-forwarded-proto").cloned(),
            if_none_match: headers.get(header::IF_NONE_MATCH).cloned(),
        })
    }
}

/// The absolute URL of the event stream, as the client reached us.
fn stream_url(headers: &BulkHeaders) -> String {
    fn text(v: Option<&HeaderValue>) -> Option<&str> {
        v.and_then(|v| v.to_str().ok())
    }
    match text(headers.host.as_ref()) {
        Some(host) => format!("{}://{host}/ofrep/v1/stream", text(headers.forwarded_proto.as_ref()).unwrap_or("http")),
        None => "/ofrep/v1/stream".to_owned(),
    }
}

/// [`stream_url`] as a JSON string, appended to `out`.
fn write_stream_url(out: &mut Vec<u8>, headers: &BulkHeaders) {
    // Serialising a string into a vector cannot fail.
    let _ = serde_json::to_writer(out, &stream_url(headers));
}

/// FNV-1a of the request body, for the bulk ETag.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}

/// `GET /ofrep/v1/stream`: `refetchEvaluation` after every change of the
/// environment (OFREP event streams), heartbeats in between; it ends when
/// its SDK key is revoked (as `/sdk/v1/stream` does) or the server stops.
pub async fn stream<B: Backend>(State(state): State<AppState<B>>, OfrepCaller(caller): OfrepCaller) -> Response {
    // Subscribe before reading: nothing committed after the read is missed.
    let signals = BroadcastStream::new(state.hub.subscribe(caller.environment_id));
    let ended = super::ended(&state, caller.clone(), "OFREP stream");
    let mut version = match current_rules(&state, &caller).await {
        Ok(rules) => rules.version,
        Err(e) => return e.into_response(),
    };
    state.hub.observed(caller.environment_id, version);
    let refetches = signals.filter_map(move |signal| {
        let v = match signal {
            Ok(Signal::Patch(f)) => f.version,
            Ok(Signal::Reset(v)) => v,
            // Versions were missed: one refetch covers them.
            Err(BroadcastStreamRecvError::Lagged(_)) => version + 1,
        };
        let event = (v > version).then(|| {
            version = v;
            let data = json!({"type": "refetchEvaluation", "etag": format!("\"{v}\""), "lastModified": now_ms()});
            Ok::<_, Infallible>(Event::default().data(data.to_string()))
        });
        std::future::ready(event)
    });
    let retry = Ok(Event::default().retry(Duration::from_millis(1000)));
    let events = futures_util::stream::once(std::future::ready(retry)).chain(refetches).take_until(ended);
    Sse::new(events).keep_alive(KeepAlive::new().interval(state.config.sse_heartbeat).text("heartbeat")).into_response()
}

/// The fast reader (`ofrep_wire.rs`) against the general path.
#[cfg(test)]
mod wire_tests {
    use std::borrow::Cow;

    use axum::body::Bytes;
    use flagyard_eval::Value;

    use super::ofrep_wire::fast_context;
    use super::slow_context;

    /// The fast reader agrees with the general one wherever it answers, and
    /// gives up on everything the general one refuses.
    #[test]
    fn fast_and_general_readers_agree() {
        let bodies = [
            "",
            "{}",
            "null",
            r#"{"context": null}"#,
            r#"{"context": {}}"#,
            r#"{"context": {"targetingKey": "u1", "country": "NL", "age": 31, "v": "1.2.3"}}"#,
            r#"{"context": {"targetingKey": "u\u00e9\n", "tags": ["a", "b\"c"], "on": true, "x": null}}"#,
            r#"{"context": {"key": "a", "targetingKey": "b"}}"#,
            r#"{"context": {"targetingKey": "b", "key": "a"}}"#,
            r#"{"context": {"targetingKey": null, "key": "a"}}"#,
            r#"{"context": {"targetingKey": "a", "targetingKey": null}}"#,
            r#"{"context": {"a": 1, "a": 2.5, "b": "x", "b": null}}"#,
            r#"{"context": {"big": 18446744073709551615, "neg": -3, "f": 1.0, "e": 1e400}}"#,
            r#"{"context": {"nested": {"a": 1}}}"#,
            r#"{"context": {"nested": {"a": 1}, "nested": 1}}"#,
            r#"{"context": {"list": [1, 2]}}"#,
            r#"{"context": {"targetingKey": 5}}"#,
            r#"{"context": 5}"#,
            r#"{"context": [1]}"#,
            r#"{"other": 1, "context": {"a": "b"}}"#,
            r#"{"context": {"a": "b"}, "context": {"a": "c"}}"#,
            "{not json",
            r#"{"context": {"a": "b"}} trailing"#,
        ];
        for body in bodies {
            let general = slow_context(&Bytes::from(body), None).ok();
            // Where the fast reader gives up, the caller takes the general path.
            if let Some(fast) = fast_context(body.as_bytes()) {
                let general = general.unwrap_or_else(|| panic!("only the fast reader accepts {body}"));
                assert_eq!(fast.key(), general.key(), "{body}");
                let mut a: Vec<_> = fast.attributes().map(|(n, v)| (n.to_owned(), v.clone().into_owned())).collect();
                let mut b: Vec<_> = general.attributes().map(|(n, v)| (n.to_owned(), v.clone().into_owned())).collect();
                a.sort_by(|x, y| x.0.cmp(&y.0));
                b.sort_by(|x, y| x.0.cmp(&y.0));
                assert_eq!(a, b, "{body}");
            }
        }
        // The common case is read without copying.
        let body = br#"{"context": {"targetingKey": "user-1", "country": "NL"}}"#;
        let ctx = fast_context(body).expect("a plain context");
        assert_eq!(ctx.key(), Some("user-1"));
        assert!(matches!(ctx.get("country"), Some(Value::String(Cow::Borrowed("NL")))));
    }
}
