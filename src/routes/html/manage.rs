//! The owner's page of a poll (`/polls/{id}/manage/{key}`): close, reopen, settings,
//! delete, each a plain form. A key that is not the poll's gets the same 403 as a poll
//! that is not there. The API's side is `routes::api::owners`.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::routing::TypedPath;
use serde::Deserialize;
use tower_http::set_header::SetResponseHeaderLayer;
use votestream_views::paths;
use votestream_views::{ManagePage, layout, manage};

use super::form::Form;
use super::polls::{PollForm, SharedKey, blank_draft, form_view, submit};
use crate::domain::{
    JoinCodes, Joined, ManageKey, OwnerChange, Poll, Protection, ResultsShown, Settings, describe_time, unix_now,
};
use crate::error::{AppError, Result};
use crate::guard::limits::Limits;
use crate::present::{self, Tally};
use crate::routes::extract::SiteOrigin;
use crate::state::AppState;
use crate::web::HxMode;

/// The manage page's routes. Its address holds the key: the responses are never cached,
/// never indexed, and never named in a `Referer` sent from them.
pub fn router(limits: &Limits) -> Router<AppState> {
    Router::new()
        .route(paths::ManagePoll::PATH, get(show).post(act))
        .route(paths::ManageNewPoll::PATH, get(new_poll).merge(post(create_poll).layer(limits.create())))
        .route(paths::ManagePresent::PATH, get(super::stage::show_owner).post(super::stage::act_owner))
        .layer(SetResponseHeaderLayer::overriding(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")))
        .layer(SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .layer(SetResponseHeaderLayer::overriding(
            header::HeaderName::from_static("x-robots-tag"),
            HeaderValue::from_static("noindex"),
        ))
}

/// The manage key in an owner's address; one that is no key gets the same 403 as a wrong one.
pub(super) fn key_of(raw: &str) -> Result<ManageKey> {
    ManageKey::parse(raw).ok_or_else(AppError::not_the_owner)
}

/// The poll `key` owns; 403 for any other key, and for a poll that is not there.
pub(super) async fn owned(state: &AppState, id: i64, key: &ManageKey) -> Result<Poll> {
    state.polls.owned(id, key).await?.ok_or_else(AppError::not_the_owner)
}

#[derive(Debug, Deserialize)]
struct ManageQuery {
    /// Present (`?created`) right after the poll was made.
    created: Option<String>,
}

fn page(
    codes: &JoinCodes,
    poll: &Poll,
    link: &paths::ManagePoll,
    origin: &SiteOrigin,
    created: bool,
    notice: Option<String>,
) -> ManagePage {
    ManagePage {
        question: poll.question.clone(),
        manage_url: format!("{}{link}", origin.0),
        action: link.to_string(),
        created,
        // The owner always sees the results.
        results: present::results(&Tally { shown: ResultsShown::Always, ..Tally::of(poll) }, true),
        results_shown: poll.settings.results.as_str(),
        protection: poll.settings.protection.as_str(),
        closes_at: poll.settings.closes_at.map(describe_time),
        max_choices: poll.max_choices,
        notice,
        held: poll.held,
        present: paths::ManagePresent { id: poll.id, key: link.key.clone() }.to_string(),
        add_poll: paths::ManageNewPoll { id: poll.id, key: link.key.clone() }.to_string(),
        join_code: codes.code(Joined::Poll(poll.id)),
    }
}

fn render(mode: HxMode, status: StatusCode, model: &ManagePage) -> Response {
    let document = |title: &str, content| layout::page_with_head(title, manage::head(), content);
    mode.render_in(document, status, &manage::title(model), manage::fragment(model))
}

async fn show(
    link: paths::ManagePoll,
    State(state): State<AppState>,
    Query(query): Query<ManageQuery>,
    origin: SiteOrigin,
    mode: HxMode,
) -> Result<Response> {
    let key = key_of(&link.key)?;
    let poll = owned(&state, link.id, &key).await?;
    Ok(render(mode, StatusCode::OK, &page(&state.codes, &poll, &link, &origin, query.created.is_some(), None)))
}

/// The key and the poll it owns, as the form for another poll under it needs them.
async fn shared_key(state: &AppState, link: &paths::ManageNewPoll) -> Result<(Poll, SharedKey)> {
    let key = key_of(&link.key)?;
    let poll = owned(state, link.id, &key).await?;
    let shared = SharedKey { key, question: poll.question.clone(), action: link.to_string() };
    Ok((poll, shared))
}

/// `GET /polls/{id}/manage/{key}/new`: the poll form, in this poll's theme, for a poll that
/// shares its manage link.
async fn new_poll(link: paths::ManageNewPoll, State(state): State<AppState>, mode: HxMode) -> Result<Response> {
    let (poll, shared) = shared_key(&state, &link).await?;
    let themes = state.polls.store().themes().await?;
    let theme = themes.iter().find(|t| t.id == poll.theme_id).map(|t| t.slug.clone()).unwrap_or_default();
    let view = form_view(&themes, blank_draft(theme), &[], None, Some(&shared));
    Ok(mode.render(StatusCode::OK, votestream_views::new_poll::TITLE, votestream_views::new_poll::fragment(&view)))
}

/// `POST /polls/{id}/manage/{key}/new`: the poll form posted, the new poll under this key.
async fn create_poll(
    link: paths::ManageNewPoll,
    State(state): State<AppState>,
    mode: HxMode,
    Form(form): Form<PollForm>,
) -> Result<Response> {
    let (_, shared) = shared_key(&state, &link).await?;
    submit(&state, mode, form, Some(shared)).await
}

/// The manage page's forms, told apart by their button's `action`.
#[derive(Debug, Deserialize)]
struct ManageForm {
    action: Option<String>,
    results: Option<String>,
    protection: Option<String>,
    closes_in: Option<String>,
    confirm: Option<String>,
}

/// The longest "close in" the form offers, in seconds (a week), and so accepts.
const LONGEST_CLOSES_IN: i64 = 7 * 24 * 3600;

/// A named setting, or a 422 naming what was sent.
fn choice<T>(raw: Option<&str>, current: T, parse: fn(&str) -> Option<T>, what: &str) -> Result<T> {
    match raw {
        None => Ok(current),
        Some(value) => parse(value).ok_or_else(|| AppError::Invalid(format!("“{value}” is not a choice for {what}."))),
    }
}

/// The settings form: every field optional (the current value stays).
fn form_settings(poll: &Poll, form: &ManageForm) -> Result<Settings> {
    let closes_at = match form.closes_in.as_deref() {
        None | Some("keep") => poll.settings.closes_at,
        Some("never") => None,
        Some(seconds) => match seconds.parse::<i64>() {
            Ok(n) if (1..=LONGEST_CLOSES_IN).contains(&n) => Some(unix_now() + n),
            _ => return Err(AppError::Invalid(format!("“{seconds}” is not a choice for the closing time."))),
        },
    };
    Ok(Settings {
        results: choice(form.results.as_deref(), poll.settings.results, ResultsShown::parse, "when results are shown")?,
        protection: choice(
            form.protection.as_deref(),
            poll.settings.protection,
            Protection::parse,
            "duplicate protection",
        )?,
        closes_at,
    })
}

async fn act(
    link: paths::ManagePoll,
    State(state): State<AppState>,
    origin: SiteOrigin,
    mode: HxMode,
    Form(form): Form<ManageForm>,
) -> Result<Response> {
    let key = key_of(&link.key)?;
    let poll = owned(&state, link.id, &key).await?;
    let change = match form.action.as_deref() {
        Some("close") => OwnerChange::Close,
        Some("reopen") => OwnerChange::Reopen,
        Some("reveal") => OwnerChange::Reveal,
        Some("settings") => OwnerChange::Configure(form_settings(&poll, &form)?),
        Some("delete") if form.confirm.as_deref() == Some("yes") => {
            if !state.polls.delete(link.id, &key).await? {
                return Err(AppError::not_the_owner());
            }
            return Ok(mode.render(StatusCode::OK, "Poll deleted", manage::deleted(&poll.question, poll.total())));
        }
        Some("delete") => {
            let notice = "Tick the box to confirm, then press Delete poll again. Nothing was deleted.".to_owned();
            let model = page(&state.codes, &poll, &link, &origin, false, Some(notice));
            return Ok(render(mode, StatusCode::UNPROCESSABLE_ENTITY, &model));
        }
        Some(other) => return Err(AppError::BadRequest(format!("The form asked for “{other}”, which it cannot do."))),
        None => return Err(AppError::BadRequest("The form did not say what to do.".into())),
    };
    state.polls.change(link.id, &key, change).await?.ok_or_else(AppError::not_the_owner)?;
    // Post/redirect/get: a reload does not repeat the change.
    Ok(Redirect::to(&link.to_string()).into_response())
}
