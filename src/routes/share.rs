//! Sharing a poll: its absolute address, a QR code of it, and oEmbed for sites that
//! preview or embed links.

use axum::extract::{FromRef, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use axum_extra::routing::TypedPath;
use qrcode::QrCode;
use qrcode::render::svg;
use serde::Deserialize;
use serde_json::json;
use votestream_views::paths;

use super::PollId;
use crate::error::AppError;
use crate::guard::client::OverHttps;
use crate::present;
use crate::present::{EMBED_HEIGHT, EMBED_WIDTH};
use crate::state::AppState;
use crate::web::PublicUrl;

/// The QR code, among the pages.
pub fn pages() -> Router<AppState> {
    Router::new().route(paths::PollQr::PATH, axum::routing::get(qr))
}

/// oEmbed, which speaks JSON like the API (its refusals too).
pub fn api() -> Router<AppState> {
    Router::new().route(paths::OEmbed::PATH, axum::routing::get(oembed))
}

/// This site's origin as people reach it (`https://votes.example`): `PUBLIC_URL`, else the
/// request's `Host`, over HTTPS when a trusted proxy says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteOrigin(pub String);

impl<S: Send + Sync> FromRequestParts<S> for SiteOrigin
where
    PublicUrl: FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let PublicUrl(Some(url)) = PublicUrl::from_ref(state) {
            return Ok(Self(url));
        }
        let https = parts.extensions.get::<OverHttps>().is_some_and(|OverHttps(https)| *https);
        // Only characters a host and port can have: the header is the client's to write.
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b)))
            .unwrap_or("localhost");
        Ok(Self(format!("{}://{host}", if https { "https" } else { "http" })))
    }
}

impl SiteOrigin {
    /// The absolute address of a path of this site.
    pub fn url(&self, path: impl std::fmt::Display) -> String {
        format!("{}{path}", self.0)
    }
}

/// `GET /polls/{id}/qr.svg`: the poll's address as a QR code.
async fn qr(State(state): State<AppState>, PollId(id): PollId, origin: SiteOrigin) -> Result<Response, AppError> {
    state.polls.load(id).await?.ok_or_else(|| AppError::poll_not_found(id))?;
    let code = QrCode::new(origin.url(paths::Poll { id })).map_err(|error| AppError::Internal(error.into()))?;
    let image = code.render::<svg::Color<'_>>().min_dimensions(200, 200).quiet_zone(true).build();
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("image/svg+xml")),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400")),
        ],
        image,
    )
        .into_response())
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
