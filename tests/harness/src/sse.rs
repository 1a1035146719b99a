//! A small Server-Sent Events reader over reqwest, parsing the wire format per the spec.

use std::pin::Pin;
use std::time::Duration;

use futures::{Stream, StreamExt};
use reqwest::StatusCode;

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    pub event: String,
    pub id: Option<String>,
    pub data: String,
}

impl SseEvent {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.data).unwrap_or_else(|e| panic!("event data is not JSON ({e}): {}", self.data))
    }
}

type ByteStream = Pin<Box<dyn Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>;

/// An open event stream.
pub struct SseClient {
    pub status: StatusCode,
    pub content_type: String,
    /// The `retry:` hint, once seen.
    pub retry: Option<u64>,
    /// Comment lines seen (keep-alives among them).
    pub comments: usize,
    body: ByteStream,
    buffer: String,
    ended: bool,
}

impl SseClient {
    /// Opens `url`, optionally resuming after `last_event_id`.
    pub async fn connect(url: &str, last_event_id: Option<&str>) -> Self {
        let client = reqwest::Client::new();
        let mut request = client.get(url).header("Accept", "text/event-stream");
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id);
        }
        let response = request.send().await.unwrap_or_else(|e| panic!("connect {url}: {e}"));
        let status = response.status();
        let content_type =
            response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        Self {
            status,
            content_type,
            retry: None,
            comments: 0,
            body: Box::pin(response.bytes_stream()),
            buffer: String::new(),
            ended: false,
        }
    }

    /// True once the server closed the stream.
    pub fn ended(&self) -> bool {
        self.ended
    }

    /// Parses one block of lines; `None` for blocks without data (comments, retry only).
    fn parse_block(&mut self, block: &str) -> Option<SseEvent> {
        let mut event = String::from("message");
        let mut id = None;
        let mut data: Vec<&str> = Vec::new();
        for line in block.lines() {
            if line.starts_with(':') {
                self.comments += 1;
                continue;
            }
            let (field, value) =
                line.split_once(':').map_or((line, ""), |(f, v)| (f, v.strip_prefix(' ').unwrap_or(v)));
            match field {
                "event" => event = value.to_owned(),
                "id" => id = Some(value.to_owned()),
                "data" => data.push(value),
                "retry" => self.retry = value.parse().ok(),
                _ => {}
            }
        }
        (!data.is_empty()).then(|| SseEvent { event, id, data: data.join("\n") })
    }

    /// The next event, or `None` if the stream ends or `timeout` passes first.
    pub async fn next_event(&mut self, timeout: Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                if let Some(event) = self.parse_block(&block) {
                    return Some(event);
                }
            }
            if self.ended {
                return None;
            }
            match tokio::time::timeout_at(deadline, self.body.next()).await {
                Err(_) => return None,
                Ok(Some(Ok(chunk))) => self.buffer.push_str(&String::from_utf8_lossy(&chunk)),
                Ok(Some(Err(_)) | None) => self.ended = true,
            }
        }
    }

    /// Whether the server closed the stream.
    pub fn has_ended(&self) -> bool {
        self.ended
    }

    /// Reads events until one satisfies `wanted`; panics with what was seen otherwise.
    /// Waits until every one of `viewers` (JSON streams) shows `total`, each within
    /// `timeout`; how long that took.
    pub async fn all_reach(viewers: &mut [Self], total: i64, timeout: Duration) -> Duration {
        let started = tokio::time::Instant::now();
        for viewer in viewers {
            viewer.until(timeout, &format!("the tally {total}"), |e| e.json()["total"] == total).await;
        }
        started.elapsed()
    }

    pub async fn until(&mut self, timeout: Duration, what: &str, wanted: impl Fn(&SseEvent) -> bool) -> SseEvent {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut last = None;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_event(left).await {
                Some(event) if wanted(&event) => return event,
                Some(event) => last = Some(event),
                None => panic!("no event {what} within {timeout:?} (ended: {}); last seen: {last:?}", self.ended),
            }
        }
    }
}
