//! The JSON API, in the spirit of the original VoteStream's endpoints.

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use axum_extra::routing::TypedPath;
use serde::Deserialize;
use serde_json::{Value, json};
use votestream_views::paths::{PageQuery, api as path};

mod json;
mod owners;

use self::json::{ApiJson, Object, poll_json, theme_json};
use self::owners::manage_url;
use super::PollId;
use super::share::SiteOrigin;
use crate::app::Shape;
use crate::domain::{
    Page, Poll, PollDraft, Protection, ResultsShown, Settings, ThemeStats, VoteOutcome, VoterId, parse_closing_time,
};
use crate::error::{ApiError, AppError, json_response};
use crate::guard::limits::Limits;
use crate::guard::voter::Voter;
use crate::present::{self, Tally};
use crate::state::AppState;
use crate::store::{DynStore, PollFilter};

type ApiResult<T = Response> = Result<T, ApiError>;

pub fn router(limits: &Limits) -> Router<AppState> {
    Router::new()
        .route(path::Themes::PATH, get(themes))
        .route(path::ThemePolls::PATH, get(theme_polls))
        .route(path::Polls::PATH, get(polls).merge(post(create_poll).layer(limits.create())))
        .route(path::Poll::PATH, get(poll).patch(owners::patch).delete(owners::delete))
        .route(path::PollVote::PATH, post(vote).layer(limits.vote()))
        .route(path::PollResults::PATH, get(results))
        .route(path::PollResultsCsv::PATH, get(super::export::csv))
        .route(path::ROOT, any(no_such_endpoint))
        .route(path::FALLBACK, any(no_such_endpoint))
}

async fn no_such_endpoint() -> ApiError {
    ApiError(AppError::endpoint_not_found())
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

/// A page of polls as JSON: the array, and a `Link: <…>; rel="next"` header while more
/// follow, keeping the list's `filters` (`&theme=…&active=…`, or nothing).
fn polls_page(
    (path, filters): (impl std::fmt::Display, &str),
    page: Page,
    polls: &[Poll],
    json: impl Fn(&Poll) -> Value,
) -> Response {
    let body = Json(polls.iter().map(json).collect::<Value>());
    match page.next_after(polls.iter().map(|p| p.id)) {
        Some(after) => {
            let next = format!("<{path}?after={after}&limit={}{filters}>; rel=\"next\"", page.size);
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
    // Lists show results only where everyone may see them.
    Ok(polls_page((path::ThemePolls { key }, ""), page, &polls, |p| poll_json(p, Some(&theme), p.shows_results(false))))
}

/// `GET /api/polls`: a page, optionally of one theme (`theme`: key or slug) and only open
/// or closed polls (`active=true|false`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PollsQuery {
    after: Option<i64>,
    limit: Option<u32>,
    theme: Option<String>,
    active: Option<String>,
}

async fn polls(State(store): State<DynStore>, Query(query): Query<PollsQuery>) -> ApiResult {
    let page = page(PageQuery { after: query.after, limit: query.limit })?;
    let themes = store.themes().await?;
    let theme = match &query.theme {
        None => None,
        Some(wanted) => Some(
            themes
                .iter()
                .find(|t| t.key == *wanted || t.slug == *wanted)
                .ok_or_else(|| AppError::theme_not_found(wanted))?,
        ),
    };
    let open = match query.active.as_deref() {
        None => None,
        Some("true") => Some(true),
        Some("false") => Some(false),
        Some(other) => {
            return Err(AppError::Invalid(format!("active must be true or false, not “{other}”.")).into());
        }
    };
    let polls = store.polls(page, PollFilter { theme_id: theme.map(|t| t.id), open }).await?;
    // The next page's link keeps the filters.
    let mut filters = String::new();
    if let Some(theme) = theme {
        filters.push_str(&format!("&theme={}", theme.key));
    }
    if let Some(active) = &query.active {
        filters.push_str(&format!("&active={active}"));
    }
    Ok(polls_page((path::Polls, &filters), page, &polls, |p| {
        poll_json(p, themes.iter().find(|t| t.id == p.theme_id), p.shows_results(false))
    }))
}

async fn poll(State(state): State<AppState>, PollId(id): PollId, voter: VoterId) -> ApiResult<Json<Value>> {
    let poll = state.polls.load(id).await?.ok_or_else(|| AppError::poll_not_found(id))?;
    let theme = state.polls.store().theme_by_id(poll.theme_id).await?;
    let sees = state.polls.sees_results(&crate::live::PollUpdate::of(&poll), &voter).await;
    Ok(Json(poll_json(&poll, theme.as_ref(), sees)))
}

/// The results as this caller may see them (withheld: the number who voted).
async fn results(State(state): State<AppState>, PollId(id): PollId, voter: VoterId) -> ApiResult<Json<Value>> {
    let update = state.polls.current(id).await?.ok_or_else(|| AppError::poll_not_found(id))?;
    let sees = state.polls.sees_results(&update, &voter).await;
    Ok(Json(present::results_json(&update.tally(), sees)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewPollBody {
    question: String,
    theme: String,
    options: Vec<Object<NewOptionBody>>,
    /// How many options one voter may pick (default 1).
    max_choices: Option<u32>,
    results: Option<ResultsShown>,
    protection: Option<Protection>,
    /// RFC 3339, in the future.
    closes_at: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewOptionBody {
    text: String,
}

/// `POST /api/polls`: 201 with the poll, its `Location`, and its manage link and key,
/// which no later answer repeats.
async fn create_poll(
    State(state): State<AppState>,
    origin: SiteOrigin,
    ApiJson(body): ApiJson<NewPollBody>,
) -> ApiResult {
    let theme = state.polls.store().theme(body.theme.trim()).await?;
    let draft = PollDraft {
        question: body.question,
        theme: body.theme,
        options: body.options.into_iter().map(|Object(o)| o.text).collect(),
        max_choices: body.max_choices.map(|n| n.to_string()).unwrap_or_default(),
    };
    let closes_at = body.closes_at.as_deref().map(parse_closing_time).transpose().map_err(AppError::Invalid)?;
    match draft.validate(theme.as_ref().map(|t| t.id)) {
        Ok(mut new_poll) => {
            new_poll.settings = Settings {
                results: body.results.unwrap_or_default(),
                protection: body.protection.unwrap_or_default(),
                closes_at,
            };
            let (id, key) = state.polls.create(&new_poll).await?;
            let poll = state.polls.store().poll(id).await?.ok_or_else(|| AppError::poll_not_found(id))?;
            let mut json = poll_json(&poll, theme.as_ref(), true);
            json["manage_url"] = json!(manage_url(&origin, id, &key));
            json["manage_key"] = json!(key.expose());
            let location = path::Poll { id }.to_string();
            let mut response = (StatusCode::CREATED, [(header::LOCATION, location)], Json(json)).into_response();
            // The answer holds a secret.
            response.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
            Ok(response)
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

/// One of: `{"choice": index}` (0-based, as the original app took it), `{"option_id": n}`,
/// or for a poll that takes several, `{"choices": [i, …]}` / `{"option_ids": [n, …]}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VoteBody {
    choice: Option<i64>,
    option_id: Option<i64>,
    choices: Option<Vec<i64>>,
    option_ids: Option<Vec<i64>>,
}

impl VoteBody {
    /// The option ids voted for, indexes looked up in the poll's `shape`.
    fn option_ids(self, shape: &Shape) -> Result<Vec<i64>, AppError> {
        let by_index = |choice: i64| {
            let count = shape.options.len();
            usize::try_from(choice).ok().and_then(|i| shape.options.get(i)).copied().ok_or_else(|| {
                AppError::Invalid(format!(
                    "choice {choice} is out of range: this poll has {count} options, numbered 0 to {}.",
                    count.saturating_sub(1)
                ))
            })
        };
        let ids = match (self.choice, self.option_id, self.choices, self.option_ids) {
            (Some(choice), None, None, None) => vec![by_index(choice)?],
            (None, Some(option_id), None, None) => vec![option_id],
            (None, None, Some(choices), None) => choices.into_iter().map(by_index).collect::<Result<_, _>>()?,
            (None, None, None, Some(ids)) => ids,
            _ => {
                return Err(AppError::Invalid(
                    "Give exactly one of \"choice\" (an option's 0-based index), \"option_id\", \"choices\" or \"option_ids\"."
                        .into(),
                ));
            }
        };
        if ids.is_empty() {
            return Err(AppError::Invalid("Choose at least one option.".into()));
        }
        Ok(ids)
    }
}

async fn vote(
    State(state): State<AppState>,
    PollId(id): PollId,
    voter: Voter,
    ApiJson(body): ApiJson<VoteBody>,
) -> ApiResult {
    // Checked against what never changes about the poll before the writer sees it.
    let shape = state.polls.shape(id).await?.ok_or_else(|| AppError::poll_not_found(id))?;
    let ballot = voter.ballot(id, body.option_ids(&shape)?);
    if let Some(refusal) = shape.refusal(id, &ballot.options) {
        return Err(AppError::from(refusal).into());
    }
    match state.polls.cast(&ballot).await? {
        VoteOutcome::Accepted { poll } => {
            let mut answer = json!({
                "status": "accepted",
                "option_ids": ballot.options,
                // Absent when the tally could not be read back after the commit: the vote
                // is stored, and `GET /api/polls/{id}/results` shows it.
                "results": poll.map(|p| present::results_json(&Tally::of(&p), true)),
            });
            if let [option_id] = ballot.options.as_slice() {
                answer["option_id"] = json!(option_id);
            }
            Ok(Json(answer).into_response())
        }
        VoteOutcome::Refused(refusal) => Err(AppError::from(refusal).into()),
    }
}
