//! The owner's side of the API: `PATCH`/`DELETE /api/polls/{id}` with the manage key as
//! `Authorization: Bearer <key>`, and the manage link a new poll's answer carries. A key
//! that is not the poll's gets the same 403 as a poll that is not there.

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::{Deserialize, Deserializer};
use votestream_views::paths;

use super::json::{ApiJson, PollBody, poll_body};
use crate::domain::{ManageKey, OwnerChange, Protection, ResultsShown, Settings, parse_closing_time};
use crate::error::{AppError, ErrorBody};
use crate::routes::extract::{PollId, SiteOrigin};
use crate::state::AppState;
use utoipa::ToSchema;

/// The manage key from `Authorization: Bearer <key>`.
pub struct OwnerKey(ManageKey);

impl<S: Send + Sync> FromRequestParts<S> for OwnerKey {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Err(AppError::Unauthorized("Send the poll's manage key as “Authorization: Bearer <key>”.".into()));
        };
        let key = value.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")).and_then(|k| ManageKey::parse(k.trim()));
        key.map(Self).ok_or_else(AppError::not_the_owner)
    }
}

/// A field that may be absent (unchanged), `null` (cleared) or a value.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<Option<T>, D::Error> {
    T::deserialize(deserializer).map(Some)
}

/// `PATCH /api/polls/{id}`: any of these; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PollPatch {
    closed: Option<bool>,
    /// `always`, `after_vote` or `after_close`.
    #[schema(value_type = Option<String>)]
    results: Option<ResultsShown>,
    /// `browser`, `address` or `none`.
    #[schema(value_type = Option<String>)]
    protection: Option<Protection>,
    /// RFC 3339, in the future; `null` never closes by itself.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    closes_at: Option<Option<String>>,
}

/// `PATCH /api/polls/{id}`: the owner's changes; the poll as it then stands.
#[utoipa::path(patch, path = "/api/polls/{id}", tag = "owners", params(("id" = i64, Path)), request_body = PollPatch,
    security(("manage_key" = [])),
    responses((status = 200, body = PollBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn patch(
    State(state): State<AppState>,
    PollId(id): PollId,
    OwnerKey(key): OwnerKey,
    ApiJson(body): ApiJson<PollPatch>,
) -> Result<Json<PollBody>, AppError> {
    let mut poll = state.polls.owned(id, &key).await?.ok_or_else(AppError::not_the_owner)?;
    if body.results.is_some() || body.protection.is_some() || body.closes_at.is_some() {
        let closes_at = match &body.closes_at {
            None => poll.settings.closes_at,
            Some(None) => None,
            Some(Some(text)) => Some(parse_closing_time(text).map_err(AppError::Invalid)?),
        };
        let settings = Settings {
            results: body.results.unwrap_or(poll.settings.results),
            protection: body.protection.unwrap_or(poll.settings.protection),
            closes_at,
        };
        poll = state
            .polls
            .change(id, &key, OwnerChange::Configure(settings))
            .await?
            .ok_or_else(AppError::not_the_owner)?;
    }
    if let Some(closed) = body.closed
        && closed != poll.closed
    {
        let change = if closed { OwnerChange::Close } else { OwnerChange::Reopen };
        poll = state.polls.change(id, &key, change).await?.ok_or_else(AppError::not_the_owner)?;
    }
    let theme = state.polls.store().theme_by_id(poll.theme_id).await?;
    Ok(Json(poll_body(&poll, theme.as_ref(), true)))
}

/// `DELETE /api/polls/{id}`: 204 once the poll and its votes are gone.
#[utoipa::path(delete, path = "/api/polls/{id}", tag = "owners", params(("id" = i64, Path)),
    security(("manage_key" = [])),
    responses((status = 204, description = "Deleted"), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    PollId(id): PollId,
    OwnerKey(key): OwnerKey,
) -> Result<StatusCode, AppError> {
    if state.polls.delete(id, &key).await? { Ok(StatusCode::NO_CONTENT) } else { Err(AppError::not_the_owner()) }
}

/// The manage link of a new poll, for the API's answer.
pub fn manage_url(origin: &SiteOrigin, id: i64, key: &ManageKey) -> String {
    format!("{}{}", origin.0, paths::ManagePoll { id, key: key.expose().to_owned() })
}
