//! oEmbed (`/oembed?url=…`) for sites that preview or embed links: JSON like the API,
//! its refusals too.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use axum_extra::routing::TypedPath;
use serde::Deserialize;
use serde_json::json;
use votestream_views::paths;

use crate::error::AppError;
use crate::present::{self, EMBED_HEIGHT, EMBED_WIDTH};
use crate::routes::extract::SiteOrigin;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route(paths::OEmbed::PATH, axum::routing::get(oembed))
}

#[derive(Debug, Deserialize)]
struct OEmbedQuery {
    url: Option<String>,
    format: Option<String>,
    maxwidth: Option<u32>,
    maxheight: Option<u32>,
}

/// `GET /oembed?url=…`: `type: rich` with the embed frame, for a poll address of this site.
async fn oembed(
    State(state): State<AppState>,
    origin: SiteOrigin,
    Query(query): Query<OEmbedQuery>,
) -> Result<Response, AppError> {
    if query.format.as_deref().is_some_and(|f| f != "json") {
        return Err(AppError::Invalid("Only format=json is offered.".into()));
    }
    let url = query.url.ok_or_else(|| AppError::Invalid("Give the poll's address as url=….".into()))?;
    let id = url
        .strip_prefix(&format!("{}/polls/", origin.0))
        .and_then(|rest| rest.split(['?', '#']).next())
        .and_then(|id| id.parse::<i64>().ok())
        .ok_or_else(|| AppError::NotFound(format!("“{url}” is not the address of a poll on this site.")))?;
    let poll = state.polls.load(id).await?.ok_or_else(|| AppError::poll_not_found(id))?;
    let width = query.maxwidth.map_or(EMBED_WIDTH, |w| w.min(EMBED_WIDTH));
    let height = query.maxheight.map_or(EMBED_HEIGHT, |h| h.min(EMBED_HEIGHT));
    Ok(Json(json!({
        "version": "1.0",
        "type": "rich",
        "provider_name": "VoteStream",
        "provider_url": origin.url(paths::Home),
        "title": poll.question,
        "width": width,
        "height": height,
        "html": present::embed_snippet(&origin.0, id, &poll.question),
    }))
    .into_response())
}
