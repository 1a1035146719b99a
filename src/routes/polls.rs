//! Poll pages: create, vote, results.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum_extra::extract::{Form, FormRejection};
use serde::Deserialize;
use votestream_views::{FormErrors, NewPollForm, ThemeChoice, new_poll, poll};

use super::present;
use crate::domain::{MAX_OPTIONS, MIN_OPTIONS, PollDraft, PollErrors, VoterId};
use crate::error::{AppError, Result};
use crate::polls;
use crate::state::AppState;
use crate::store::{DynStore, Theme, VoteOutcome};
use crate::web::{HxMode, PollId, poll_not_found};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/polls", axum::routing::post(create))
        .route("/polls/new", get(new))
        .route("/polls/{id}", get(show))
        .route("/polls/{id}/votes", axum::routing::post(vote))
        .route("/polls/{id}/results", get(results))
}

fn bad_form(rejection: FormRejection) -> AppError {
    AppError::BadRequest(format!("The form could not be read: {}", rejection.body_text()))
}

fn form_view(themes: &[Theme], draft: PollDraft, errors: PollErrors) -> NewPollForm {
    NewPollForm {
        themes: themes
            .iter()
            .map(|t| ThemeChoice { slug: t.slug.clone(), name: t.name.clone(), icon: t.icon.clone() })
            .collect(),
        question: draft.question,
        theme: draft.theme,
        options: draft.options,
        errors: FormErrors {
            question: errors.question,
            theme: errors.theme,
            options: errors.options,
            option: errors.option,
        },
        min_options: MIN_OPTIONS,
        max_options: MAX_OPTIONS,
    }
}

#[derive(Debug, Deserialize)]
struct NewQuery {
    theme: Option<String>,
}

async fn new(State(store): State<DynStore>, Query(query): Query<NewQuery>, mode: HxMode) -> Result<Response> {
    let themes = store.themes().await?;
    let theme = query.theme.filter(|slug| themes.iter().any(|t| &t.slug == slug)).unwrap_or_default();
    let draft = PollDraft { question: String::new(), theme, options: vec![String::new(); MIN_OPTIONS] };
    let form = form_view(&themes, draft, PollErrors::default());
    Ok(mode.render(StatusCode::OK, new_poll::TITLE, new_poll::fragment(&form)))
}

/// The poll form as posted. `intent` says which button sent it.
#[derive(Debug, Deserialize)]
struct PollForm {
    #[serde(default)]
    question: String,
    #[serde(default)]
    theme: String,
    #[serde(default)]
    option: Vec<String>,
    intent: Option<String>,
}

/// What the poll form's buttons ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Intent {
    Create,
    AddOption,
    RemoveOption(usize),
}

impl Intent {
    fn parse(value: Option<&str>) -> Result<Self> {
        match value {
            None | Some("create") => Ok(Self::Create),
            Some("add") => Ok(Self::AddOption),
            Some(other) => other
                .strip_prefix("remove:")
                .and_then(|i| i.parse().ok())
                .map(Self::RemoveOption)
                .ok_or_else(|| AppError::BadRequest(format!("The form asked for “{other}”, which it cannot do."))),
        }
    }
}

/// Creates the poll, or (without JavaScript as with it) adds or removes an option row and
/// shows the form again.
#[tracing::instrument(skip_all)]
async fn create(
    State(store): State<DynStore>,
    mode: HxMode,
    form: Result<Form<PollForm>, FormRejection>,
) -> Result<Response> {
    let Form(form) = form.map_err(bad_form)?;
    let intent = Intent::parse(form.intent.as_deref())?;
    let themes = store.themes().await?;
    let mut draft = PollDraft { question: form.question, theme: form.theme, options: form.option };
    let render = |status, draft, errors| {
        let view = form_view(&themes, draft, errors);
        mode.render(status, new_poll::TITLE, new_poll::fragment(&view))
    };
    match intent {
        Intent::AddOption => {
            if draft.options.len() < MAX_OPTIONS {
                draft.options.push(String::new());
            }
            Ok(render(StatusCode::OK, draft, PollErrors::default()))
        }
        Intent::RemoveOption(index) => {
            if draft.options.len() > MIN_OPTIONS && index < draft.options.len() {
                draft.options.remove(index);
            }
            Ok(render(StatusCode::OK, draft, PollErrors::default()))
        }
        Intent::Create => {
            let theme_id = themes.iter().find(|t| t.slug == draft.theme.trim()).map(|t| t.id);
            match draft.validate(theme_id) {
                Ok(new_poll) => {
                    let id = store.create_poll(&new_poll).await?;
                    tracing::info!(poll_id = id, "poll created");
                    Ok(Redirect::to(&format!("/polls/{id}")).into_response())
                }
                Err(errors) => Ok(render(StatusCode::UNPROCESSABLE_ENTITY, draft, errors)),
            }
        }
    }
}

#[tracing::instrument(skip_all, fields(poll_id = id))]
async fn show(State(store): State<DynStore>, PollId(id): PollId, voter: VoterId, mode: HxMode) -> Result<Response> {
    let found = store.poll(id).await?.ok_or_else(|| poll_not_found(id))?;
    let page = present::vote_page(store.as_ref(), found, &voter, false).await?;
    Ok(mode.render(StatusCode::OK, &poll::title(&page), poll::fragment(&page)))
}

#[derive(Debug, Deserialize)]
struct VoteForm {
    option: Option<String>,
}

/// One vote. Accepted: back to the poll page (post/redirect/get), which now shows results.
#[tracing::instrument(skip_all, fields(poll_id = id))]
async fn vote(
    State(state): State<AppState>,
    PollId(id): PollId,
    voter: VoterId,
    mode: HxMode,
    form: Result<Form<VoteForm>, FormRejection>,
) -> Result<Response> {
    let Form(form) = form.map_err(bad_form)?;
    let raw = form.option.unwrap_or_default();
    if raw.trim().is_empty() {
        return Err(AppError::Invalid("Choose one of the options before voting.".into()));
    }
    let option_id: i64 = raw.trim().parse().map_err(|_| {
        AppError::Invalid(format!("“{raw}” is not an option of this poll. Choose one of the options shown."))
    })?;
    let status = match polls::vote(&state, id, option_id, &voter).await? {
        VoteOutcome::Accepted(_) => return Ok(Redirect::to(&format!("/polls/{id}")).into_response()),
        VoteOutcome::UnknownPoll => return Err(poll_not_found(id)),
        VoteOutcome::UnknownOption => {
            return Err(AppError::Invalid(format!(
                "Option {option_id} is not part of poll {id}. Choose one of the options shown."
            )));
        }
        VoteOutcome::AlreadyVoted { .. } | VoteOutcome::Closed => StatusCode::CONFLICT,
    };
    // Refused: show the poll as it stands, with the reason on top.
    let found = state.store.poll(id).await?.ok_or_else(|| poll_not_found(id))?;
    let page = present::vote_page(state.store.as_ref(), found, &voter, true).await?;
    Ok(mode.render(status, &poll::title(&page), poll::fragment(&page)))
}

async fn results(State(state): State<AppState>, PollId(id): PollId, mode: HxMode) -> Result<Response> {
    let fragment = polls::results_fragment(&state, id).await?.ok_or_else(|| poll_not_found(id))?;
    // Rendered by our own templates (user text escaped there), cached as the string.
    Ok(mode.render(StatusCode::OK, "Results", maud::PreEscaped(fragment)))
}
