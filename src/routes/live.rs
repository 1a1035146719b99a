//! Live streams: `/polls/{id}/events`, `/themes/{slug}/events`, `/api/polls/{id}/stream`.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum_extra::routing::TypedPath;
use serde::Deserialize;
use votestream_views::paths;

use super::PollId;
use crate::domain::{Page, VoterId};
use crate::error::{AppError, Result};
use crate::guard::client::ClientIp;
use crate::guard::limits::StreamsFull;
use crate::routes::stream::{self, Format, Lifetime};
use crate::state::AppState;

/// Routes that share the HTML guards.
pub fn pages() -> Router<AppState> {
    Router::new().route(paths::PollEvents::PATH, get(poll_events)).route(paths::ThemeEvents::PATH, get(theme_events))
}

/// The API's JSON stream.
pub fn api() -> Router<AppState> {
    Router::new().route(paths::api::PollStream::PATH, get(api_stream))
}

#[derive(Debug, Deserialize)]
struct FormatQuery {
    format: Option<String>,
    /// A theme stream follows the polls of one page of the theme, as the page shows them.
    after: Option<i64>,
    limit: Option<u32>,
}

impl FormatQuery {
    fn format(&self) -> Result<Format> {
        match self.format.as_deref() {
            None | Some("html") => Ok(Format::Html),
            Some("json") => Ok(Format::Json),
            Some(other) => Err(AppError::BadRequest(format!("Unknown format “{other}”: use html or json."))),
        }
    }
}

/// `Last-Event-ID`, sent by a reconnecting EventSource.
fn last_event_id(headers: &HeaderMap) -> Option<i64> {
    headers.get("last-event-id")?.to_str().ok()?.trim().parse().ok()
}

/// Headers that keep proxies (nginx) from buffering or caching the stream.
fn streaming(response: impl IntoResponse) -> Response {
    let mut response = response.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// A slot among the open streams for `client`, with the stream's timing and shutdown.
fn lifetime(state: &AppState, ClientIp(client): ClientIp) -> Result<Lifetime, StreamsFull> {
    let slot = state.limits.streams.acquire(client)?;
    Ok(Lifetime { config: state.streams, shutdown: state.shutdown.clone(), slot, open: state.metrics.stream_opened() })
}

async fn poll_stream(
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
    if current.update.closed && last_seen.is_some_and(|v| v >= current.version()) {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    // Looked up once per stream, only while the owner's rule makes it matter.
    let voted = current.withholds() && state.polls.voted(id, &voter).await.unwrap_or(false);
    let events = stream::poll_events(watcher, format, (last_seen, voted), lifetime);
    Ok(streaming(events))
}

#[tracing::instrument(skip_all, fields(poll_id = id))]
async fn poll_events(
    State(state): State<AppState>,
    client: ClientIp,
    voter: VoterId,
    PollId(id): PollId,
    Query(query): Query<FormatQuery>,
    headers: HeaderMap,
) -> Result<Response> {
    poll_stream(&state, (client, voter), id, query.format()?, &headers).await
}

/// `GET /api/polls/{id}/stream`: Server-Sent Events, each `data:` the results as JSON
/// (with its `version`), the latest state first; `Last-Event-ID` resumes.
#[utoipa::path(get, path = "/api/polls/{id}/stream", tag = "polls", params(("id" = i64, Path)),
    responses((status = 200, description = "An event stream of results", content_type = "text/event-stream"),
        (status = 404, body = crate::error::ErrorBody), (status = 429, body = crate::error::ErrorBody)))]
pub async fn api_stream(
    State(state): State<AppState>,
    client: ClientIp,
    voter: VoterId,
    PollId(id): PollId,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    poll_stream(&state, (client, voter), id, Format::Json, &headers).await
}

#[tracing::instrument(skip_all, fields(slug = %slug))]
async fn theme_events(
    paths::ThemeEvents { slug }: paths::ThemeEvents,
    State(state): State<AppState>,
    client: ClientIp,
    Query(query): Query<FormatQuery>,
    headers: HeaderMap,
) -> Result<Response> {
    let format = query.format()?;
    let lifetime = match lifetime(&state, client) {
        Ok(lifetime) => lifetime,
        Err(full) => return Ok(full.into_response()),
    };
    let theme = state.polls.store().theme(&slug).await?.ok_or_else(|| AppError::theme_not_found(&slug))?;
    let page = Page::parse(query.after, query.limit).map_err(AppError::Invalid)?;
    let polls = state.polls.store().polls_of_theme(theme.id, page).await?;
    let watchers = polls.iter().map(|poll| state.polls.live().hub().watch_loaded(poll)).collect();
    let events = stream::theme_events(theme.slug, watchers, format, last_event_id(&headers), lifetime);
    Ok(streaming(events))
}
