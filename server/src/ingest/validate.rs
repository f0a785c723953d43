//! Parsing a `POST /sdk/v1/events` body: the envelope must be right (else
//! the whole batch is refused with a 4xx); each event is then checked on its
//! own, so one bad event is listed as rejected and never spoils the rest.

use serde::Deserialize;
use serde::Serialize;
use serde_json::value::RawValue;

use crate::http::ApiError;

/// Most events in one batch (bodies are also limited in bytes).
pub const MAX_EVENTS: usize = 5_000;
/// Longest unit, flag, variant, rule or event key.
const MAX_TEXT: usize = 256;
/// Events stamped further than this in the future (after clock correction) are refused.
const MAX_FUTURE_MS: i64 = 60 * 60 * 1000;
/// Sender clocks closer than this to the server's are trusted as they are
/// (the difference is mostly network and queueing delay, not skew).
const TRUSTED_SKEW_MS: i64 = 10_000;
/// Events older than this are refused.
const MAX_AGE_MS: i64 = 365 * 24 * 60 * 60 * 1000;
/// Largest accepted |value| (keeps Σx² finite).
const MAX_VALUE: f64 = 1e15;

/// One valid event.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// `unit` was served `variant` of `flag` by the split of rule `rule`.
    Exposure { at: i64, flag: String, variant: String, rule: String, unit: String },
    /// A metric event.
    Track { at: i64, event: String, unit: String, value: Option<f64> },
}

impl Event {
    /// `exposure` or `track`.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Exposure { .. } => "exposure",
            Event::Track { .. } => "track",
        }
    }
}

/// A refused event: its index in the batch and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Rejected {
    pub index: usize,
    pub reason: String,
}

/// A parsed batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub batch_id: String,
    pub events: Vec<Event>,
    pub rejected: Vec<Rejected>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope<'a> {
    batch_id: Option<String>,
    sent_at: Option<i64>,
    #[serde(borrow)]
    events: Option<Vec<&'a RawValue>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEvent {
    kind: Option<String>,
    at: Option<i64>,
    unit: Option<String>,
    flag: Option<String>,
    variant: Option<String>,
    rule: Option<String>,
    event: Option<String>,
    value: Option<f64>,
    version: Option<i64>,
    bucket_by: Option<String>,
}

/// Parses and validates `body`, received at `now` (epoch ms). Event times
/// are corrected for a sender's clock that is more than 10 s off:
/// `at + (now − sentAt)`.
pub fn parse(body: &[u8], now: i64) -> Result<Batch, ApiError> {
    let envelope: Envelope<'_> = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("the body is not a valid event batch: {e}")))?;
    let batch_id = envelope.batch_id.ok_or_else(|| ApiError::invalid("batchId", "required"))?;
    if batch_id.is_empty()
        || batch_id.len() > 128
        || !batch_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(ApiError::invalid("batchId", "expected 1 to 128 characters among A-Z a-z 0-9 - _"));
    }
    let raw = envelope.events.ok_or_else(|| ApiError::invalid("events", "required"))?;
    if raw.len() > MAX_EVENTS {
        return Err(ApiError::TooLarge);
    }
    let skew = match envelope.sent_at {
        Some(sent) if sent > 0 => Some(now.saturating_sub(sent)).filter(|s| s.abs() > TRUSTED_SKEW_MS).unwrap_or(0),
        Some(_) => return Err(ApiError::invalid("sentAt", "expected epoch milliseconds")),
        None => 0,
    };
    let mut events = Vec::with_capacity(raw.len());
    let mut rejected = Vec::new();
    for (index, event) in raw.into_iter().enumerate() {
        match check(event, skew, now) {
            Ok(e) => events.push(e),
            Err(reason) => rejected.push(Rejected { index, reason }),
        }
    }
    Ok(Batch { batch_id, events, rejected })
}

fn text(field: &str, value: Option<String>) -> Result<String, String> {
    match value {
        None => Err(format!("{field}: required")),
        Some(v) if v.is_empty() => Err(format!("{field}: must not be empty")),
        Some(v) if v.len() > MAX_TEXT => Err(format!("{field}: longer than {MAX_TEXT} bytes")),
        Some(v) if v.chars().any(char::is_control) => Err(format!("{field}: contains control characters")),
        Some(v) => Ok(v),
    }
}

fn check(raw: &RawValue, skew: i64, now: i64) -> Result<Event, String> {
    if !raw.get().starts_with('{') {
        return Err("not an event object: expected a JSON object".into());
    }
    // The fast path; on failure, parse again tracking the path for the reason.
    let e: RawEvent = match serde_json::from_str(raw.get()) {
        Ok(e) => e,
        Err(_) => {
            let mut de = serde_json::Deserializer::from_str(raw.get());
            let err = match serde_path_to_error::deserialize::<_, RawEvent>(&mut de) {
                Ok(_) => return Err("not a valid event".into()),
                Err(err) => err,
            };
            let path = err.path().to_string();
            let inner = err.into_inner();
            return Err(if path == "." { format!("not an event object: {inner}") } else { format!("{path}: {inner}") });
        }
    };
    let at = e.at.ok_or("at: required")?;
    if at <= 0 {
        return Err("at: expected epoch milliseconds".into());
    }
    let at = at.saturating_add(skew);
    if at > now.saturating_add(MAX_FUTURE_MS) {
        return Err("at: more than an hour in the future (after correcting for sentAt)".into());
    }
    if at < now.saturating_sub(MAX_AGE_MS) {
        return Err("at: older than a year".into());
    }
    let unit = text("unit", e.unit)?;
    match e.kind.as_deref() {
        Some("exposure") => {
            if e.version.is_some_and(|v| v < 0) {
                return Err("version: must not be negative".into());
            }
            if let Some(b) = e.bucket_by {
                text("bucketBy", Some(b))?;
            }
            Ok(Event::Exposure {
                at,
                flag: text("flag", e.flag)?,
                variant: text("variant", e.variant)?,
                rule: text("rule", e.rule)?,
                unit,
            })
        }
        Some("track") => {
            if let Some(v) = e.value
                && !(v.is_finite() && v.abs() <= MAX_VALUE)
            {
                return Err(format!("value: must be a number within ±{MAX_VALUE:e}"));
            }
            Ok(Event::Track { at, event: text("event", e.event)?, unit, value: e.value })
        }
        Some(other) => Err(format!("kind: unknown kind {other:?} (expected \"exposure\" or \"track\")")),
        None => Err("kind: required".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_764_130_000_000;

    fn batch(events: &str) -> Batch {
        parse(format!(r#"{{"batchId":"b1","sentAt":{NOW},"events":[{events}]}}"#).as_bytes(), NOW).unwrap()
    }

    #[test]
    fn parses_both_kinds() {
        let b = batch(&format!(
            r#"{{"kind":"exposure","at":{NOW},"flag":"f","variant":"on","rule":"r1","version":3,"bucketBy":"key","unit":"u1"}},
               {{"kind":"track","at":{NOW},"event":"buy","unit":"u1","value":12.5}},
               {{"kind":"track","at":{NOW},"event":"buy","unit":"u2"}}"#
        ));
        assert!(b.rejected.is_empty(), "{:?}", b.rejected);
        assert_eq!(b.batch_id, "b1");
        assert_eq!(
            b.events[0],
            Event::Exposure { at: NOW, flag: "f".into(), variant: "on".into(), rule: "r1".into(), unit: "u1".into() }
        );
        assert_eq!(b.events[1], Event::Track { at: NOW, event: "buy".into(), unit: "u1".into(), value: Some(12.5) });
        assert_eq!(b.events[2].kind(), "track");
    }

    #[test]
    fn each_bad_event_is_rejected_alone_with_a_reason() {
        let b = batch(&format!(
            r#"{{"kind":"track","at":{NOW},"event":"ok","unit":"u"}},
               {{"kind":"click","at":{NOW},"unit":"u"}},
               {{"kind":"track","at":"yesterday","event":"e","unit":"u"}},
               {{"kind":"track","at":{NOW},"unit":"u"}},
               {{"kind":"exposure","at":{NOW},"flag":"f","variant":"","rule":"r","unit":"u"}},
               {{"kind":"track","at":{},"event":"e","unit":"u"}},
               {{"kind":"track","at":{NOW},"event":"e","unit":"u","value":1e300}},
               [1, 2],
               {{"kind":"track","at":{NOW},"event":"e","unit":""}},
               {{"kind":"track","at":{NOW},"event":"ok2","unit":"u"}}"#,
            NOW + 2 * MAX_FUTURE_MS
        ));
        assert_eq!(b.events.len(), 2);
        let reasons: Vec<(usize, &str)> = b.rejected.iter().map(|r| (r.index, r.reason.as_str())).collect();
        assert_eq!(reasons.iter().map(|r| r.0).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5, 6, 7, 8]);
        assert!(reasons[0].1.contains("unknown kind"), "{reasons:?}");
        assert!(reasons[1].1.starts_with("at:"), "{reasons:?}");
        assert!(reasons[2].1.starts_with("event: required"), "{reasons:?}");
        assert!(reasons[3].1.starts_with("variant:"), "{reasons:?}");
        assert!(reasons[4].1.contains("future"), "{reasons:?}");
        assert!(reasons[5].1.starts_with("value:"), "{reasons:?}");
        assert!(reasons[6].1.contains("not an event object"), "{reasons:?}");
        assert!(reasons[7].1.starts_with("unit:"), "{reasons:?}");
    }

    #[test]
    fn clock_skew_is_corrected_with_sent_at() {
        let body = |sent: i64| {
            format!(
                r#"{{"batchId":"b","sentAt":{sent},"events":[{{"kind":"track","at":{},"event":"e","unit":"u"}}]}}"#,
                sent - 5_000
            )
        };
        let at = |b: &Batch| match b.events[0] {
            Event::Track { at, .. } => at,
            Event::Exposure { at, .. } => at,
        };
        // The sender's clock runs a minute behind: its times move forward by a minute.
        assert_eq!(at(&parse(body(NOW - 60_000).as_bytes(), NOW).unwrap()), NOW - 5_000);
        // A few seconds are delay, not skew: times are kept.
        assert_eq!(at(&parse(body(NOW - 3_000).as_bytes(), NOW).unwrap()), NOW - 8_000);
    }

    #[test]
    fn envelope_errors_refuse_the_batch() {
        for body in [
            "",
            "[]",
            r#"{"events":[]}"#,
            r#"{"batchId":"","events":[]}"#,
            r#"{"batchId":"a b","events":[]}"#,
            r#"{"batchId":"b"}"#,
            r#"{"batchId":"b","events":{}}"#,
            r#"{"batchId":"b","sentAt":-1,"events":[]}"#,
        ] {
            let err = parse(body.as_bytes(), NOW).unwrap_err();
            assert!(err.status_code().is_client_error(), "{body}: {err}");
        }
        let many = format!(r#"{{"batchId":"b","events":[{}]}}"#, vec!["1"; MAX_EVENTS + 1].join(","));
        assert!(matches!(parse(many.as_bytes(), NOW), Err(ApiError::TooLarge)));
    }
}
