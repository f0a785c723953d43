//! A minimal Server-Sent Events reader for tests of `/sdk/v1/stream`.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;

/// One event (or a comment, with `event == ":"`).
#[derive(Debug, Clone)]
pub struct Event {
    pub event: String,
    pub id: Option<i64>,
    pub data: String,
}

impl Event {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).expect("event data is JSON")
    }
}

/// An open stream.
pub struct SseReader {
    body: std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<axum::body::Bytes>> + Send>>,
    buffer: String,
    pub status: reqwest::StatusCode,
}

impl SseReader {
    /// Opens `base/sdk/v1/stream` with `key` and an optional `Last-Event-ID`.
    pub async fn open(base: &str, key: &str, last_event_id: Option<i64>) -> SseReader {
        SseReader::open_query(base, "", key, last_event_id).await
    }

    /// [`SseReader::open`] with a query string (`?patch=configs`, or empty).
    pub async fn open_query(base: &str, query: &str, key: &str, last_event_id: Option<i64>) -> SseReader {
        let client = super::http_builder().build().expect("client");
        let mut req = client.get(format!("{base}/sdk/v1/stream{query}")).bearer_auth(key);
        if let Some(id) = last_event_id {
            req = req.header("Last-Event-ID", id.to_string());
        }
        let res = req.send().await.expect("stream request");
        let status = res.status();
        SseReader { body: Box::pin(res.bytes_stream()), buffer: String::new(), status }
    }

    /// The next event or comment within `within`; `None` if the stream ended.
    /// Panics on timeout.
    pub async fn next_within(&mut self, within: Duration) -> Option<Event> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                return Some(parse(&block));
            }
            match tokio::time::timeout_at(deadline, self.body.next()).await {
                Err(_) => panic!("no event within {within:?}; buffered: {:?}", self.buffer),
                Ok(None) => return None,
                Ok(Some(Err(_))) => return None,
                Ok(Some(Ok(chunk))) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
            }
        }
    }

    /// The next event that is not a comment or `retry:`.
    pub async fn next_event(&mut self, within: Duration) -> Option<Event> {
        loop {
            let e = self.next_within(within).await?;
            if e.event != ":" && e.event != "retry" {
                return Some(e);
            }
        }
    }
}

fn parse(block: &str) -> Event {
    let mut event = Event { event: "message".into(), id: None, data: String::new() };
    for line in block.lines() {
        if let Some(comment) = line.strip_prefix(':') {
            return Event { event: ":".into(), id: None, data: comment.trim().to_owned() };
        }
        let (field, value) = line.split_once(':').map_or((line, ""), |(f, v)| (f, v.strip_prefix(' ').unwrap_or(v)));
        match field {
            "event" => event.event = value.to_owned(),
            "id" => event.id = value.parse().ok(),
            "data" => {
                if !event.data.is_empty() {
                    event.data.push('\n');
                }
                event.data.push_str(value);
            }
            "retry" => event.event = "retry".into(),
            _ => {}
        }
    }
    event
}
