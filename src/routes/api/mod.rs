//! The JSON API, in the spirit of the original VoteStream's endpoints.

use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use axum_extra::routing::TypedPath;
use serde::Deserialize;
use utoipa::{IntoParams, OpenApi, ToSchema};
use votestream_views::paths::{PageQuery, api as path};

mod export;
mod json;
pub mod oembed;
mod owners;

use self::json::{ApiJson, CreatedPoll, Object, PollBody, ThemeBody, ThemeSummary, VoteAccepted, poll_body};
use self::owners::manage_url;
use crate::app::Shape;
use crate::domain::{
    Page, Poll, PollDraft, Protection, ResultsShown, Settings, ThemeStats, VoteOutcome, VoterId, parse_closing_time,
};
use crate::error::{AppError, ErrorBody, json_response};
use crate::guard::client::ClientIp;
use crate::guard::limits::Limits;
use crate::guard::voter::Voter;
use crate::present::ResultsBody;
use crate::present::{self, Tally};
use crate::routes::extract::{PollId, SiteOrigin};
use crate::routes::stream::{Format, poll_stream};
use crate::state::AppState;
use crate::store::{DynStore, PollFilter};
use axum::http::HeaderMap;

type ApiResult<T = Response> = Result<T, AppError>;

pub fn router(limits: &Limits) -> Router<AppState> {
    Router::new()
        .route(path::Themes::PATH, get(themes))
        .route(path::ThemePolls::PATH, get(theme_polls))
        .route(path::Polls::PATH, get(polls).merge(post(create_poll).layer(limits.create())))
        .route(path::Poll::PATH, get(poll).patch(owners::patch).delete(owners::delete))
        .route(path::PollVote::PATH, post(vote).layer(limits.vote()))
        .route(path::PollResults::PATH, get(results))
        .route(path::PollResultsCsv::PATH, get(export::csv))
        .route(path::PollTimelineCsv::PATH, get(export::timeline))
        .route(path::PollStream::PATH, get(api_stream))
        .route(OPENAPI_PATH, get(openapi))
        .route(path::ROOT, any(no_such_endpoint))
        .route(path::FALLBACK, any(no_such_endpoint))
}

async fn no_such_endpoint() -> AppError {
    AppError::endpoint_not_found()
}

/// Where the API's own description is served.
pub const OPENAPI_PATH: &str = "/api/openapi.json";

/// The API's description (OpenAPI 3.1), generated from the types below.
#[derive(OpenApi)]
#[openapi(
    info(title = "VoteStream API", description = "Themed polls, votes and live results. Refusals are `{\"error\": …}` with a 4xx or 5xx."),
    paths(
        themes, theme_polls, polls, poll, create_poll, vote, results, owners::patch, owners::delete,
        export::csv, export::timeline, api_stream, openapi
    ),
    components(schemas(ErrorBody, ThemeBody)),
    modifiers(&ManageKey)
)]
pub struct ApiDoc;

/// The owner's bearer key, as a security scheme of the document.
struct ManageKey;

impl utoipa::Modify for ManageKey {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some("The manage key a poll's creation answered with"))
            .build();
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("manage_key", SecurityScheme::Http(scheme));
    }
}

/// `GET /api/openapi.json`: this API's description.
#[utoipa::path(get, path = "/api/openapi.json", tag = "meta", responses((status = 200, description = "The OpenAPI document", content_type = "application/json")))]
async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

/// `GET /api/themes`: every theme with its totals.
#[utoipa::path(get, path = "/api/themes", tag = "themes", responses((status = 200, body = [ThemeSummary])))]
async fn themes(State(store): State<DynStore>) -> ApiResult<Json<Vec<ThemeSummary>>> {
    let stats = store.theme_stats().await?;
    Ok(Json(
        stats
            .iter()
            .map(|ThemeStats { theme, poll_count, vote_count }| ThemeSummary {
                theme: ThemeBody::from(theme),
                poll_count: *poll_count,
                vote_count: *vote_count,
            })
            .collect(),
    ))
}

/// Paging of the lists: after the last id of the previous page, so many.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
struct Paging {
    /// The last id of the previous page.
    after: Option<i64>,
    /// Polls per page (1–100, default 20).
    limit: Option<u32>,
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
    json: impl Fn(&Poll) -> PollBody,
) -> Response {
    let body = Json(polls.iter().map(json).collect::<Vec<_>>());
    match page.next_after(polls.iter().map(|p| p.id)) {
        Some(after) => {
            let next = format!("<{path}?after={after}&limit={}{filters}>; rel=\"next\"", page.size);
            ([(header::LINK, next)], body).into_response()
        }
        None => body.into_response(),
    }
}

/// `GET /api/themes/{key}/polls`: a page of the theme's polls, results where everyone may
/// see them; `Link: <…>; rel="next"` while more follow.
#[utoipa::path(get, path = "/api/themes/{key}/polls", tag = "themes",
    params(("key" = String, Path, description = "The theme's key (`OnTrend`) or slug"), Paging),
    responses((status = 200, body = [PollBody]), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn theme_polls(
    path::ThemePolls { key }: path::ThemePolls,
    State(store): State<DynStore>,
    Query(query): Query<PageQuery>,
) -> ApiResult {
    let page = page(query)?;
    let theme = store.theme(&key).await?.ok_or_else(|| AppError::theme_not_found(&key))?;
    let polls = store.polls_of_theme(theme.id, page).await?;
    // Lists show results only where everyone may see them.
    Ok(polls_page((path::ThemePolls { key }, ""), page, &polls, |p| poll_body(p, Some(&theme), p.shows_results(false))))
}

/// `GET /api/polls`: a page, optionally of one theme (`theme`: key or slug) and only open
/// or closed polls (`active=true|false`).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
struct PollsQuery {
    after: Option<i64>,
    limit: Option<u32>,
    theme: Option<String>,
    active: Option<String>,
}

#[utoipa::path(get, path = "/api/polls", tag = "polls", params(PollsQuery),
    responses((status = 200, body = [PollBody]), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
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
            return Err(AppError::Invalid(format!("active must be true or false, not “{other}”.")));
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
        poll_body(p, themes.iter().find(|t| t.id == p.theme_id), p.shows_results(false))
    }))
}

/// `GET /api/polls/{id}`: the poll, its results as this caller may see them.
#[utoipa::path(get, path = "/api/polls/{id}", tag = "polls", params(("id" = i64, Path)),
    responses((status = 200, body = PollBody), (status = 404, body = ErrorBody)))]
async fn poll(State(state): State<AppState>, PollId(id): PollId, voter: VoterId) -> ApiResult<Json<PollBody>> {
    let poll = state.polls.load(id).await?.ok_or_else(|| AppError::poll_not_found(id))?;
    let theme = state.polls.store().theme_by_id(poll.theme_id).await?;
    let sees = state.polls.sees_results(&crate::live::PollUpdate::of(&poll), &voter).await;
    Ok(Json(poll_body(&poll, theme.as_ref(), sees)))
}

/// The results as this caller may see them (withheld: the number who voted).
#[utoipa::path(get, path = "/api/polls/{id}/results", tag = "polls", params(("id" = i64, Path)),
    responses((status = 200, body = ResultsBody), (status = 404, body = ErrorBody)))]
async fn results(State(state): State<AppState>, PollId(id): PollId, voter: VoterId) -> ApiResult<Json<ResultsBody>> {
    let update = state.polls.current(id).await?.ok_or_else(|| AppError::poll_not_found(id))?;
    let sees = state.polls.sees_results(&update, &voter).await;
    let mut body = present::results_body(&Tally::of_update(&update), sees);
    if sees {
        body.timeline = present::minute_votes(&state.polls.whole_timeline(&update).await?);
    }
    Ok(Json(body))
}

/// A new poll.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewPollBody {
    /// Up to 300 characters.
    question: String,
    /// A theme's key or slug.
    theme: String,
    /// 2 to 10, each up to 200 characters, no two alike.
    #[schema(value_type = Vec<NewOptionBody>)]
    options: Vec<Object<NewOptionBody>>,
    /// How many options one voter may pick (default 1).
    max_choices: Option<u32>,
    /// `always` (default), `after_vote` or `after_close`.
    #[schema(value_type = Option<String>)]
    results: Option<ResultsShown>,
    /// `browser` (default), `address` or `none`.
    #[schema(value_type = Option<String>)]
    protection: Option<Protection>,
    /// RFC 3339, in the future.
    closes_at: Option<String>,
}

/// One option of a new poll.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct NewOptionBody {
    text: String,
}

/// `POST /api/polls`: 201 with the poll, its `Location`, and its manage link and key,
/// which no later answer repeats.
#[utoipa::path(post, path = "/api/polls", tag = "polls", request_body = NewPollBody,
    responses((status = 201, body = CreatedPoll), (status = 400, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
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
            let body = CreatedPoll {
                poll: poll_body(&poll, theme.as_ref(), true),
                manage_url: manage_url(&origin, id, &key),
                manage_key: key.expose().to_owned(),
            };
            let location = path::Poll { id }.to_string();
            let mut response = (StatusCode::CREATED, [(header::LOCATION, location)], Json(body)).into_response();
            // The answer holds a secret.
            response.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
            Ok(response)
        }
        Err(problems) => {
            let summary: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
            let body = ErrorBody {
                error: format!("The poll was not created: {}", summary.join(" ")),
                fields: Some(problems.iter().map(|p| (p.field.name(), p.message.clone())).collect()),
                option_ids: None,
                option_id: None,
            };
            Ok(json_response(StatusCode::UNPROCESSABLE_ENTITY, serde_json::to_value(body).unwrap_or_default()))
        }
    }
}

/// One of: `{"choice": index}` (0-based, as the original app took it), `{"option_id": n}`,
/// or for a poll that takes several, `{"choices": [i, …]}` / `{"option_ids": [n, …]}`.
#[derive(Debug, Deserialize, ToSchema)]
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

/// `POST /api/polls/{id}/vote`: one ballot; 200 once it is stored.
#[utoipa::path(post, path = "/api/polls/{id}/vote", tag = "polls", params(("id" = i64, Path)), request_body = VoteBody,
    responses((status = 200, body = VoteAccepted), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 503, body = ErrorBody)))]
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
        return Err(AppError::from(refusal));
    }
    match state.polls.cast(&ballot).await? {
        VoteOutcome::Accepted { poll } => {
            let answer = VoteAccepted {
                status: "accepted".to_owned(),
                option_id: if let [option_id] = ballot.options.as_slice() { Some(*option_id) } else { None },
                option_ids: ballot.options,
                results: poll.map(|p| present::results_body(&Tally::of(&p), true)),
            };
            Ok(Json(answer).into_response())
        }
        VoteOutcome::Refused(refusal) => Err(AppError::from(refusal)),
    }
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
