//! Server-Sent Events for a poll and for a theme, for the pages and the API alike:
//! coalesced, resumable, ending on close.

use std::convert::Infallible;
use std::sync::Arc;

use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};
use tokio_util::sync::CancellationToken;
use votestream_views::{PollTotal, poll, theme};

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};

use crate::config::StreamConfig;
use crate::domain::VoterId;
use crate::error::{AppError, Result};
use crate::guard::client::ClientIp;
use crate::guard::limits::StreamSlot;
use crate::guard::limits::StreamsFull;
use crate::live::{Frames, PollUpdate, Snapshot, Watcher};
use crate::metrics::OpenStream;
use crate::present;
use crate::state::AppState;

/// What the events carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// HTML fragments for htmx's SSE extension.
    Html,
    /// One JSON object per event.
    Json,
}

/// What a stream lives by besides its events: its timing, the shutdown signal that ends
/// it, and the slot it holds among the replica's open streams (freed when it ends).
pub struct Lifetime {
    /// Timing.
    pub config: StreamConfig,
    /// Ends the stream on shutdown.
    pub shutdown: CancellationToken,
    /// Held until the stream ends.
    pub slot: StreamSlot,
    /// Counts the stream as open until it ends.
    pub open: OpenStream,
}

/// The SSE response: a `retry:` hint, then the events, ended by shutdown, with keep-alives.
fn respond(events: impl Stream<Item = Event> + Send + 'static, lifetime: Lifetime) -> Response {
    let Lifetime { config, shutdown, slot, open } = lifetime;
    let hint = Event::default().retry(config.retry).comment("live");
    let stream = futures::stream::once(async { hint })
        .chain(events)
        .map(move |event| {
            let _held = (&slot, &open);
            Ok::<_, Infallible>(event)
        })
        .take_until(shutdown.cancelled_owned());
    Sse::new(stream).keep_alive(KeepAlive::new().interval(config.keep_alive)).into_response()
}

fn poll_frame(snapshot: &Snapshot, format: Format, voted: bool) -> Vec<Event> {
    let id = snapshot.version().to_string();
    match format {
        Format::Html => vec![
            Event::default().event("results").id(&id).data(snapshot.results_html(voted)),
            Event::default().event("total").id(&id).data(&snapshot.total_html),
        ],
        Format::Json => vec![Event::default().event("results").id(&id).data(snapshot.json(voted))],
    }
}

/// The last event of a closed (or deleted) poll: for HTML, the final results (or, held for
/// the presenter's reveal, the notice saying so), which an open ballot on the page swaps
/// itself for.
fn closed_event(snapshot: &Snapshot, format: Format) -> Event {
    let event = Event::default().event("closed").id(snapshot.version().to_string());
    match format {
        // Closed: the results are shown to everyone.
        Format::Html if snapshot.update.is_final() => event.data(snapshot.results_html(true)),
        // Held for the reveal: what takes the ballot's place listens for the reveal's close.
        Format::Html => {
            let held = maud::PreEscaped(snapshot.results_html(true).to_owned());
            event.data(poll::awaiting_reveal(held).into_string())
        }
        Format::Json if snapshot.update.removed => event.data("removed"),
        Format::Json => event.data("closed"),
    }
}

/// A poll's events for a viewer who has (or has not) voted: the current snapshot (unless
/// `last_seen` already has it), then at most one frame per throttle interval (longer while
/// the replica's open streams would exceed its frame budget), always ending on the latest state. A closed poll gets a final `event: closed` and the stream ends.
pub fn poll_events(
    mut watcher: Watcher,
    format: Format,
    (last_seen, voted): (Option<i64>, bool),
    lifetime: Lifetime,
) -> Response {
    let (config, crowd) = (lifetime.config, lifetime.open.crowd());
    let events = async_stream::stream! {
        let mut sent = last_seen;
        loop {
            let snapshot = watcher.latest();
            // Closing changes the state without a new vote: the final results go out too.
            let fresh = sent.is_none_or(|v| snapshot.version() > v);
            if fresh || snapshot.update.is_final() {
                for event in poll_frame(&snapshot, format, voted) {
                    yield event;
                }
                sent = Some(snapshot.version());
            }
            // Closed: the ballot gives way. Results held for the presenter's reveal keep
            // the stream open until the reveal; final results end it.
            if snapshot.update.closed && (fresh || snapshot.update.is_final()) {
                yield closed_event(&snapshot, format);
            }
            if snapshot.update.is_final() {
                break;
            }
            tokio::time::sleep(config.pause(crowd.now())).await;
            if !watcher.changed().await {
                break;
            }
        }
    };
    respond(events, lifetime)
}

/// Where a presentation stands: `event: stage` with the id of the poll it shows, each time
/// that differs from what the page shows (`showing`). The event's id is that poll too, so
/// a reconnecting page (whose follower still names the poll it was first given) is
/// compared with what it was last sent. Unlike a poll's own stream it goes on past the
/// close: the presenter moves on from closed polls.
pub fn stage_events(mut watcher: Watcher, showing: i64, lifetime: Lifetime) -> Response {
    let events = async_stream::stream! {
        let mut shown = showing;
        loop {
            let snapshot = watcher.latest();
            if snapshot.update.removed {
                break;
            }
            let at = snapshot.update.stage.unwrap_or(snapshot.update.poll_id);
            if at != shown {
                yield Event::default().event("stage").id(at.to_string()).data(at.to_string());
                shown = at;
            }
            if !watcher.changed().await {
                break;
            }
        }
    };
    respond(events, lifetime)
}

fn theme_frame(slug: &str, snapshots: &[Arc<Snapshot>], version: i64, format: Format) -> Event {
    let totals: Vec<PollTotal> = snapshots
        .iter()
        .map(|s| PollTotal { id: s.update.poll_id, total: s.update.voters, closed: s.update.closed })
        .collect();
    let data = match format {
        Format::Html => theme::totals(&totals).into_string(),
        Format::Json => serde_json::json!({
            "theme": slug,
            "version": version,
            "polls": totals.iter().map(|t| serde_json::json!({ "id": t.id, "total": t.total, "closed": t.closed })).collect::<Vec<_>>(),
        })
        .to_string(),
    };
    Event::default().event("totals").id(version.to_string()).data(data)
}

/// A theme's events: the totals of all its polls in one stream (one connection per page),
/// version = the sum of the polls' versions.
pub fn theme_events(
    slug: String,
    mut watchers: Vec<Watcher>,
    format: Format,
    last_seen: Option<i64>,
    lifetime: Lifetime,
) -> Response {
    let (config, crowd) = (lifetime.config, lifetime.open.crowd());
    let events = async_stream::stream! {
        let mut sent = last_seen;
        loop {
            let snapshots: Vec<Arc<Snapshot>> = watchers.iter_mut().map(Watcher::latest).collect();
            let version: i64 = snapshots.iter().map(|s| s.version()).sum();
            if sent.is_none_or(|v| version > v) {
                yield theme_frame(&slug, &snapshots, version, format);
                sent = Some(version);
            }
            if watchers.is_empty() {
                // Nothing to follow: keep-alives until the client leaves.
                std::future::pending::<()>().await;
            }
            tokio::time::sleep(config.pause(crowd.now())).await;
            let (still_open, _, _) =
                futures::future::select_all(watchers.iter_mut().map(|w| Box::pin(w.changed()))).await;
            if !still_open {
                break;
            }
        }
    };
    respond(events, lifetime)
}
/// `Last-Event-ID`, sent by a reconnecting EventSource.
pub fn last_event_id(headers: &HeaderMap) -> Option<i64> {
    headers.get("last-event-id")?.to_str().ok()?.trim().parse().ok()
}

/// Headers that keep proxies (nginx) from buffering or caching the stream.
pub fn streaming(response: impl IntoResponse) -> Response {
    let mut response = response.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// A slot among the open streams for `client`, with the stream's timing and shutdown.
pub fn lifetime(state: &AppState, ClientIp(client): ClientIp) -> Result<Lifetime, StreamsFull> {
    let slot = state.limits.streams.acquire(client)?;
    Ok(Lifetime { config: state.streams, shutdown: state.shutdown.clone(), slot, open: state.metrics.stream_opened() })
}

/// A poll's stream for `client`: refused when the client holds too many, 204 for a closed
/// poll the client already has in full, else its events.
pub async fn poll_stream(
    state: &AppState,
    (client, voter): (ClientIp, VoterId),
    id: i64,
    format: Format,
    headers: &HeaderMap,
) -> Result<Response> {
    let lifetime = match lifetime(state, client) {
        Ok(lifetime) => lifetime,
        Err(full) => return Ok(full.into_response()),
    };
    let mut watcher = state.polls.live().hub().watch(id).await?.ok_or_else(|| AppError::poll_not_found(id))?;
    let last_seen = last_event_id(headers);
    let current = watcher.latest();
    // A closed poll the client already has in full: 204 tells EventSource to stop retrying.
    if current.update.is_final() && last_seen.is_some_and(|v| v >= current.version()) {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    // Looked up once per stream, only while the owner's rule makes it matter.
    let voted = current.withholds() && state.polls.voted(id, &voter).await.unwrap_or(false);
    let events = poll_events(watcher, format, (last_seen, voted), lifetime);
    Ok(streaming(events))
}

/// What the hub renders once per update, in the streams' words: the results fragment
/// and JSON (a deleted poll's notice once removed), and the running total.
pub const FRAMES: Frames = Frames { results: results_frame, total: total_frame };

fn results_frame(update: &PollUpdate, voted: bool) -> (String, String) {
    let tally = present::Tally::of_update(update);
    let html = if update.removed {
        poll::removed(update.poll_id).into_string()
    } else {
        poll::results(&present::results(&tally, voted)).into_string()
    };
    let mut json = present::results_json(&tally, voted);
    // Live frames carry the tallies; the timeline (up to a day of minutes) is in
    // `GET /api/polls/{id}/results`, and drawn in the HTML frames.
    if let Some(fields) = json.as_object_mut() {
        fields.remove("timeline");
    }
    json["version"] = update.version.into();
    json["removed"] = update.removed.into();
    (html, json.to_string())
}

fn total_frame(update: &PollUpdate) -> String {
    poll::total(update.total()).into_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ResultsShown;

    fn update(version: i64, shown: ResultsShown, closed: bool) -> PollUpdate {
        PollUpdate::example(version, shown, closed)
    }

    #[test]
    fn a_snapshot_carries_the_bars_the_total_and_the_json_with_its_version() {
        let snapshot = Snapshot::render(update(2, ResultsShown::Always, false), &FRAMES);

        assert!(snapshot.results_html(false).contains("2 votes in total"), "{}", snapshot.results_html(false));
        assert_eq!(snapshot.total_html, "2 votes so far");
        let json: serde_json::Value = serde_json::from_str(snapshot.json(false)).expect("JSON");
        assert_eq!((json["version"].as_i64(), json["closed"].as_bool()), (Some(2), Some(false)));
    }

    #[test]
    fn withheld_results_say_how_many_voted_and_nothing_more() {
        let split = Snapshot::render(update(3, ResultsShown::AfterVote, false), &FRAMES);
        assert!(
            split.results_html(false).contains("3 have voted") && split.results_html(true).contains("votes in total")
        );
        let hidden = Snapshot::render(update(3, ResultsShown::AfterClose, false), &FRAMES);
        assert!(hidden.results_html(false).contains("3 have voted"), "{}", hidden.results_html(false));
        assert!(!hidden.results_html(false).contains("votes in total"));
        assert!(!hidden.json(false).contains("\"votes\""), "{}", hidden.json(false));
        // The rule is after closing: voting does not reveal.
        assert!(hidden.results_html(true).contains("3 have voted"), "{}", hidden.results_html(true));
    }
}
