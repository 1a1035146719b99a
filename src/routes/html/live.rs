//! The pages' live streams: `/polls/{id}/events` and `/themes/{slug}/events`.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum_extra::routing::TypedPath;
use serde::Deserialize;
use votestream_views::paths;

use crate::domain::{Page, VoterId};
use crate::error::{AppError, Result};
use crate::guard::client::ClientIp;
use crate::routes::extract::PollId;
use crate::routes::stream::{self, Format, last_event_id, lifetime, poll_stream, streaming};
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(paths::PollEvents::PATH, get(poll_events))
        .route(paths::ThemeEvents::PATH, get(theme_events))
        .route(paths::PollStage::PATH, get(stage_events))
}

#[derive(Debug, Deserialize)]
struct StageQuery {
    /// The poll the page shows now.
    showing: Option<i64>,
}

/// `GET /polls/{id}/stage?showing=…`: where the presentation started from this poll moves.
#[tracing::instrument(level = "debug", skip_all, fields(poll_id = id))]
async fn stage_events(
    State(state): State<AppState>,
    client: ClientIp,
    PollId(id): PollId,
    Query(query): Query<StageQuery>,
    headers: HeaderMap,
) -> Result<Response> {
    let lifetime = match lifetime(&state, client) {
        Ok(lifetime) => lifetime,
        Err(full) => return Ok(full.into_response()),
    };
    let watcher = state.polls.live().hub().watch(id).await?.ok_or_else(|| AppError::poll_not_found(id))?;
    // A reconnect names the poll it was last sent; the first connection, the one it shows.
    let showing = last_event_id(&headers).or(query.showing).unwrap_or(id);
    Ok(streaming(stream::stage_events(watcher, showing, lifetime)))
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

#[tracing::instrument(level = "debug", skip_all, fields(poll_id = id))]
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

#[tracing::instrument(level = "debug", skip_all, fields(slug = %slug))]
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
