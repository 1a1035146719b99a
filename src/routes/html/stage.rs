//! On stage: the presenter views (`/polls/{id}/present`, the owner's
//! `/polls/{id}/manage/{key}/present`, `/themes/{slug}/present`), the phones' page that
//! follows a presentation (`/polls/{id}/join`), and joining by code (`/j`, `/j/{code}`,
//! its QR code).
//!
//! A presentation starts from a poll its owner manages; its owner moves it through the
//! theme's polls (the poll's `stage`), and every wall and phone following it fetches the
//! new poll when the stage stream says so.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum_extra::routing::TypedPath;
use serde::Deserialize;
use votestream_views::paths::{self, JoinQuery, PresentQuery};
use votestream_views::{PresentPage, PresenterControls, home, presenter};

use super::form::Form;
use super::manage::{key_of, owned};
use super::polls::{Frame, render_vote_page};
use super::share::qr_svg;
use crate::domain::{Joined, ManageKey, OwnerChange, Page, Poll};
use crate::error::{AppError, Result};
use crate::guard::voter::Voter;
use crate::present;
use crate::routes::extract::{PollId, SiteOrigin};
use crate::state::AppState;
use crate::web::HxMode;

/// The public routes; the owner's presenter view lives with the manage page (its layers:
/// never cached, never indexed, no `Referer`).
pub fn router() -> Router<AppState> {
    Router::new()
        .route(paths::PollPresent::PATH, get(show_poll))
        .route(paths::ThemePresent::PATH, get(show_theme))
        .route(paths::PollJoin::PATH, get(joined))
        .route(paths::Join::PATH, get(join_box))
        .route(paths::JoinCode::PATH, get(join))
        .route(paths::JoinQr::PATH, get(join_qr))
}

/// The presentation started from `start`: the poll it shows now (the start itself if it
/// never moved, or if the poll it moved to is gone).
async fn on_stage(state: &AppState, start: &Poll) -> Result<Poll> {
    match start.stage {
        Some(id) => Ok(state.polls.store().poll_as_written(id).await?.unwrap_or_else(|| start.clone())),
        None => Ok(start.clone()),
    }
}

/// The wall of the presentation started from `start`, showing `shown`.
async fn wall(state: &AppState, origin: &SiteOrigin, start: i64, shown: &Poll) -> Result<PresentPage> {
    let store = state.polls.store();
    // Independent lookups: one round trip of waiting, not two.
    let (theme, place) =
        tokio::join!(store.theme_by_id(shown.theme_id), store.place_in_theme(shown.theme_id, shown.id));
    let (theme, place) = (theme?.ok_or_else(|| AppError::poll_without_theme(shown.id))?, place?);
    let join = state.codes.code(Joined::Poll(start)).map(|code| present::join_info(&origin.0, code));
    Ok(present::present_page(shown, &theme, place, join, String::new()))
}

fn render(mode: HxMode, status: StatusCode, model: &PresentPage) -> Response {
    mode.render_in(|_, _| presenter::page(model), status, &presenter::title(model), presenter::fragment(model))
}

/// `GET /polls/{id}/present`: the wall, read-only, following the owner's presentation.
async fn show_poll(
    State(state): State<AppState>,
    PollId(id): PollId,
    origin: SiteOrigin,
    mode: HxMode,
) -> Result<Response> {
    let start = state.polls.store().poll_as_written(id).await?.ok_or_else(|| AppError::poll_not_found(id))?;
    let shown = on_stage(&state, &start).await?;
    let mut model = wall(&state, &origin, id, &shown).await?;
    // Read-only: it follows the owner, it does not move on by itself.
    (model.previous, model.next) = (None, None);
    model.follow = Some(present::follow(id, shown.id, paths::PollPresent { id }));
    Ok(render(mode, StatusCode::OK, &model))
}

/// `GET /themes/{slug}/present?poll=…`: the theme's polls on the wall, one at a time,
/// browsed with ← and →; phones join the theme with its code.
async fn show_theme(
    link: paths::ThemePresent,
    State(state): State<AppState>,
    Query(query): Query<PresentQuery>,
    origin: SiteOrigin,
    mode: HxMode,
) -> Result<Response> {
    let store = state.polls.store();
    let theme = store.theme(&link.slug).await?.ok_or_else(|| AppError::theme_not_found(&link.slug))?;
    let poll = match query.poll {
        Some(id) => store
            .poll(id)
            .await?
            .filter(|p| p.theme_id == theme.id)
            .ok_or_else(|| AppError::NotFound(format!("Poll {id} is not one of {}'s polls.", theme.name)))?,
        None => {
            let first = store.polls_of_theme(theme.id, Page { after: None, size: 1 }).await?;
            let first = first.first().ok_or_else(|| {
                AppError::NotFound(format!("{} has no polls yet: there is nothing to present.", theme.name))
            })?;
            store.poll(first.id).await?.ok_or_else(|| AppError::poll_not_found(first.id))?
        }
    };
    let place = store.place_in_theme(theme.id, poll.id).await?;
    let join = state.codes.code(Joined::Theme(theme.id)).map(|code| present::join_info(&origin.0, code));
    let model =
        present::present_page(&poll, &theme, place, join, paths::ThemePresent { slug: theme.slug.clone() }.to_string());
    Ok(render(mode, StatusCode::OK, &model))
}

/// The owner's wall, with its controls; `notice` says why an action could not be done.
async fn owner_wall(
    state: &AppState,
    link: &paths::ManagePresent,
    key: &ManageKey,
    origin: &SiteOrigin,
    notice: Option<String>,
) -> Result<PresentPage> {
    let start = owned(state, link.id, key).await?;
    let shown = on_stage(state, &start).await?;
    let owns_poll = shown.id == start.id || state.polls.owned(shown.id, key).await?.is_some();
    let mut model = wall(state, origin, link.id, &shown).await?;
    model.controls =
        Some(PresenterControls { action: link.to_string(), owns_poll, closed: shown.closed, held: shown.held, notice });
    model.follow = Some(present::follow(link.id, shown.id, link));
    Ok(model)
}

/// `GET /polls/{id}/manage/{key}/present`: the owner's wall.
pub async fn show_owner(
    link: paths::ManagePresent,
    State(state): State<AppState>,
    origin: SiteOrigin,
    mode: HxMode,
) -> Result<Response> {
    let key = key_of(&link.key)?;
    let model = owner_wall(&state, &link, &key, &origin, None).await?;
    Ok(render(mode, StatusCode::OK, &model))
}

/// The presenter's buttons, told apart by `action`.
#[derive(Debug, Deserialize)]
pub struct PresentForm {
    action: Option<String>,
}

/// `POST /polls/{id}/manage/{key}/present`: previous, next, close, reveal; then the wall
/// again (post/redirect/get).
pub async fn act_owner(
    link: paths::ManagePresent,
    State(state): State<AppState>,
    origin: SiteOrigin,
    mode: HxMode,
    Form(form): Form<PresentForm>,
) -> Result<Response> {
    let key = key_of(&link.key)?;
    let start = owned(&state, link.id, &key).await?;
    let shown = on_stage(&state, &start).await?;
    let place = || async { state.polls.store().place_in_theme(shown.theme_id, shown.id).await };
    let (target, change) = match form.action.as_deref() {
        Some("next") => match place().await?.next {
            Some(next) => (link.id, OwnerChange::Present(next)),
            None => return refuse(&state, &link, &key, &origin, mode, "This is the theme's last poll.").await,
        },
        Some("previous") => match place().await?.previous {
            Some(previous) => (link.id, OwnerChange::Present(previous)),
            None => return refuse(&state, &link, &key, &origin, mode, "This is the theme's first poll.").await,
        },
        Some("close") => (shown.id, OwnerChange::CloseForReveal),
        Some("reveal") if shown.held => (shown.id, OwnerChange::Reveal),
        Some("reveal") => {
            let why = if shown.closed {
                "The results of this poll are already shown."
            } else {
                "Close voting first (C): the results are revealed after the close."
            };
            return refuse(&state, &link, &key, &origin, mode, why).await;
        }
        Some(other) => {
            return Err(AppError::BadRequest(format!("The presenter asked for “{other}”, which it cannot do.")));
        }
        None => return Err(AppError::BadRequest("The form did not say what to do.".into())),
    };
    if state.polls.change(target, &key, change).await?.is_none() {
        let why = "Only this poll's owner can close it or reveal its results: this manage link owns another poll.";
        return refuse(&state, &link, &key, &origin, mode, why).await;
    }
    Ok(Redirect::to(&link.to_string()).into_response())
}

/// The owner's wall again with why the action was not done (409: the presentation's
/// state does not allow it).
async fn refuse(
    state: &AppState,
    link: &paths::ManagePresent,
    key: &ManageKey,
    origin: &SiteOrigin,
    mode: HxMode,
    why: &str,
) -> Result<Response> {
    let model = owner_wall(state, link, key, origin, Some(why.to_owned())).await?;
    Ok(render(mode, StatusCode::CONFLICT, &model))
}

/// `GET /polls/{id}/join`: a phone in the presentation started from this poll: the poll on
/// the wall now, as this voter sees it, following the presenter.
async fn joined(
    State(state): State<AppState>,
    PollId(id): PollId,
    voter: Voter,
    mode: HxMode,
    origin: SiteOrigin,
) -> Result<Response> {
    // As written: the stage event that brought the phone here must not meet an older copy.
    let start = state.polls.store().poll_as_written(id).await?.ok_or_else(|| AppError::poll_not_found(id))?;
    let shown = on_stage(&state, &start).await?;
    render_vote_page(&state, shown, &voter, (mode, Frame::Joined { origin, start: id }), StatusCode::OK, None).await
}

/// `GET /j?code=…`: the home page's box. A code leads on to `/j/{CODE}`; anything else is
/// the box again with what is wrong.
async fn join_box(State(state): State<AppState>, Query(query): Query<JoinQuery>, mode: HxMode) -> Result<Response> {
    // The address on the wall, opened as it is: the box, nothing wrong yet.
    let Some(typed) = query.code else {
        return Ok(mode.render(StatusCode::OK, "Join a poll", home::join_page(None)));
    };
    match state.codes.canonical(&typed) {
        Ok(code) => Ok(Redirect::to(&paths::JoinCode { code }.to_string()).into_response()),
        Err(problem) => Ok(again(mode, StatusCode::BAD_REQUEST, &typed, &problem.describe())),
    }
}

fn again(mode: HxMode, status: StatusCode, typed: &str, message: &str) -> Response {
    // What was typed goes back into the field, trimmed to what a code could be.
    let typed: String = typed.chars().take(12).collect();
    mode.render(status, "Join a poll", home::join_page(Some((&typed, message))))
}

/// `GET /j/{code}`: the poll's presentation (its phones' page) or the theme.
async fn join(link: paths::JoinCode, State(state): State<AppState>, mode: HxMode) -> Result<Response> {
    let not_found = |code: &str| {
        let message =
            format!("No poll or presentation has the code {code}. Check the code on the screen and try again.");
        again(mode, StatusCode::NOT_FOUND, code, &message)
    };
    let joined = match state.codes.read(&link.code) {
        Ok(joined) => joined,
        Err(problem) => return Ok(again(mode, StatusCode::BAD_REQUEST, &link.code, &problem.describe())),
    };
    let code = state.codes.code(joined).unwrap_or_default();
    match joined {
        Joined::Poll(id) => match state.polls.load(id).await? {
            Some(_) => Ok(Redirect::to(&paths::PollJoin { id }.to_string()).into_response()),
            None => Ok(not_found(&code)),
        },
        Joined::Theme(id) => match state.polls.store().theme_by_id(id).await? {
            Some(theme) => Ok(Redirect::to(&paths::Theme { slug: theme.slug }.to_string()).into_response()),
            None => Ok(not_found(&code)),
        },
    }
}

/// `GET /j/{code}/qr.svg`: the join link as a QR code (for any well-formed code: what it
/// leads to is looked up when it is followed).
async fn join_qr(link: paths::JoinQr, State(state): State<AppState>, origin: SiteOrigin) -> Result<Response> {
    let code = state.codes.canonical(&link.code).map_err(|problem| AppError::Invalid(problem.describe()))?;
    qr_svg(&origin.url(paths::JoinCode { code }))
}
