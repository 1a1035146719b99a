//! The JSON API, in the spirit of the original VoteStream's endpoints.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use axum_extra::routing::TypedPath;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use votestream_views::paths::{PageQuery, api as path};

use super::PollId;
use crate::domain::{Page, Poll, PollDraft, PollOption, Theme, ThemeStats, VoteOutcome, VoterId};
use crate::error::{ApiError, AppError, json_response};
use crate::guard::limits::Limits;
use crate::service;
use crate::state::AppState;
use crate::store::DynStore;

type ApiResult<T = Response> = Result<T, ApiError>;

pub fn router(limits: &Limits) -> Router<AppState> {
    Router::new()
        .route(path::Themes::PATH, get(themes))
        .route(path::ThemePolls::PATH, get(theme_polls))
        .route(path::Polls::PATH, get(polls).merge(post(create_poll).layer(limits.create())))
        .route(path::Poll::PATH, get(poll))
        .route(path::PollVote::PATH, post(vote).layer(limits.vote()))
        .route(path::PollResults::PATH, get(results))
        .route(path::PollResultsCsv::PATH, get(super::export::csv))
        .route(path::ROOT, any(no_such_endpoint))
        .route(path::FALLBACK, any(no_such_endpoint))
}

async fn no_such_endpoint() -> ApiError {
    ApiError(AppError::endpoint_not_found())
}

/// `Json` whose rejections are JSON errors that say what is wrong with the body.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(ApiError(match rejection {
                JsonRejection::JsonDataError(e) => {
                    AppError::Invalid(format!("The JSON body does not fit: {}", e.body_text()))
                }
                JsonRejection::MissingJsonContentType(e) => AppError::UnsupportedMediaType(e.body_text()),
                other => AppError::BadRequest(other.body_text()),
            })),
        }
    }
}

fn theme_json(theme: &Theme) -> Value {
    json!({
        "key": theme.key, "slug": theme.slug, "name": theme.name,
        "icon": theme.icon, "color": theme.color, "description": theme.description,
    })
}

fn options_json(options: &[PollOption]) -> Value {
    options.iter().map(|o| json!({ "id": o.id, "text": o.text, "votes": o.votes })).collect()
}

fn poll_json(poll: &Poll, theme: Option<&Theme>) -> Value {
    json!({
        "id": poll.id,
        "question": poll.question,
        "theme": theme.map(|t| t.key.as_str()),
        "closed": poll.closed,
        "options": options_json(&poll.options),
        "total": poll.total(),
    })
}

fn results_json(poll_id: i64, options: &[PollOption]) -> Value {
    json!({
        "poll_id": poll_id,
        "options": options_json(options),
        "total": options.iter().map(|o| o.votes).sum::<i64>(),
    })
}

async fn themes(State(store): State<DynStore>) -> ApiResult<Json<Value>> {
    let stats = store.theme_stats().await?;
    Ok(Json(
        stats
            .iter()
            .map(|ThemeStats { theme, poll_count, vote_count }| {
                let mut value = theme_json(theme);
                value["poll_count"] = json!(poll_count);
                value["vote_count"] = json!(vote_count);
                value
            })
            .collect(),
    ))
}

/// The page a list request asks for, or a 422 that says what is wrong with it.
fn page(query: PageQuery) -> Result<Page, AppError> {
    Page::parse(query.after, query.limit).map_err(AppError::Invalid)
}

/// A page of polls as JSON: the array, and a `Link: <…>; rel="next"` header while more follow.
fn polls_page(path: impl std::fmt::Display, page: Page, polls: &[Poll], json: impl Fn(&Poll) -> Value) -> Response {
    let body = Json(polls.iter().map(json).collect::<Value>());
    match page.next_after(polls.iter().map(|p| p.id)) {
        Some(after) => {
            let next = format!("<{path}?after={after}&limit={}>; rel=\"next\"", page.size);
            ([(header::LINK, next)], body).into_response()
        }
        None => body.into_response(),
    }
}

async fn theme_polls(
    path::ThemePolls { key }: path::ThemePolls,
    State(store): State<DynStore>,
    Query(query): Query<PageQuery>,
) -> ApiResult {
    let page = page(query)?;
    let theme = store.theme(&key).await?.ok_or_else(|| AppError::theme_not_found(&key))?;
    let polls = store.polls_of_theme(theme.id, page).await?;
    Ok(polls_page(path::ThemePolls { key }, page, &polls, |p| poll_json(p, Some(&theme))))
}

async fn polls(State(store): State<DynStore>, Query(query): Query<PageQuery>) -> ApiResult {
    let page = page(query)?;
    let themes = store.themes().await?;
    let polls = store.polls(page).await?;
    Ok(polls_page(path::Polls, page, &polls, |p| poll_json(p, themes.iter().find(|t| t.id == p.theme_id))))
}

async fn poll(State(state): State<AppState>, PollId(id): PollId) -> ApiResult<Json<Value>> {
    let poll = service::load(&state, id).await?.ok_or_else(|| AppError::poll_not_found(id))?;
    let theme = state.store.theme_by_id(poll.theme_id).await?;
    Ok(Json(poll_json(&poll, theme.as_ref())))
}

async fn results(State(state): State<AppState>, PollId(id): PollId) -> ApiResult<Json<Value>> {
    let (options, _) = service::tallies(&state, id).await?.ok_or_else(|| AppError::poll_not_found(id))?;
    Ok(Json(results_json(id, &options)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewPollBody {
    question: String,
    theme: String,
    options: Vec<NewOptionBody>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewOptionBody {
    text: String,
}

async fn create_poll(State(store): State<DynStore>, ApiJson(body): ApiJson<NewPollBody>) -> ApiResult {
    let theme = store.theme(body.theme.trim()).await?;
    let draft = PollDraft {
        question: body.question,
        theme: body.theme,
        options: body.options.into_iter().map(|o| o.text).collect(),
    };
    match draft.validate(theme.as_ref().map(|t| t.id)) {
        Ok(new_poll) => {
            let id = store.create_poll(&new_poll).await?;
            let poll = store.poll(id).await?.ok_or_else(|| AppError::poll_not_found(id))?;
            let location = path::Poll { id }.to_string();
            Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(poll_json(&poll, theme.as_ref())))
                .into_response())
        }
        Err(problems) => {
            let summary: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
            let fields: serde_json::Map<String, Value> =
                problems.iter().map(|p| (p.field.name(), json!(p.message))).collect();
            let body = json!({ "error": format!("The poll was not created: {}", summary.join(" ")), "fields": fields });
            Ok(json_response(StatusCode::UNPROCESSABLE_ENTITY, body))
        }
    }
}

/// `{"choice": index}` (0-based, as the original app took it) or `{"option_id": n}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VoteBody {
    choice: Option<i64>,
    option_id: Option<i64>,
}

async fn vote(
    State(state): State<AppState>,
    PollId(id): PollId,
    voter: VoterId,
    ApiJson(body): ApiJson<VoteBody>,
) -> ApiResult {
    let poll = service::load(&state, id).await?.ok_or_else(|| AppError::poll_not_found(id))?;
    let option_id = match (body.choice, body.option_id) {
        (Some(choice), None) => {
            let count = poll.options.len();
            usize::try_from(choice).ok().and_then(|i| poll.options.get(i)).map(|o| o.id).ok_or_else(|| {
                AppError::Invalid(format!(
                    "choice {choice} is out of range: this poll has {count} options, numbered 0 to {}.",
                    count.saturating_sub(1)
                ))
            })?
        }
        (None, Some(option_id)) => option_id,
        _ => {
            return Err(AppError::Invalid(
                "Give either \"choice\" (the option's 0-based index) or \"option_id\", not both.".into(),
            )
            .into());
        }
    };
    match service::vote(&state, id, option_id, &voter).await? {
        VoteOutcome::Accepted { tally } => Ok(Json(json!({
            "status": "accepted",
            "option_id": option_id,
            // Absent when the tally could not be read back after the commit: the vote is
            // stored, and `GET /api/polls/{id}/results` shows it.
            "results": tally.map(|options| results_json(id, &options)),
        }))
        .into_response()),
        VoteOutcome::Refused(refusal) => Err(AppError::from(refusal).into()),
    }
}
