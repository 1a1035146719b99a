//! Poll pages: create, vote, results.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::routing::TypedPath;
use axum_htmx::HX_PUSH_URL;
use serde::Deserialize;
use votestream_views::paths::{self, NewPollQuery};
use votestream_views::{NewPollForm, layout, new_poll, poll};

use super::form::Form;
use crate::domain::{Joined, MAX_OPTIONS, MIN_OPTIONS, ManageKey, Poll, PollDraft, Refusal, VoteOutcome, VoterId};
use crate::error::{AppError, Result};
use crate::guard::limits::Limits;
use crate::guard::voter::Voter;
use crate::present;
use crate::present::Tally;
use crate::routes::extract::PollId;
use crate::routes::extract::SiteOrigin;
use crate::state::AppState;
use crate::store::DynStore;
use crate::web::HxMode;

pub fn router(limits: &Limits) -> Router<AppState> {
    Router::new()
        .route(paths::Polls::PATH, post(create).layer(limits.create()))
        .route(paths::NewPoll::PATH, get(new))
        .route(paths::Poll::PATH, get(show))
        .route(paths::PollVotes::PATH, post(vote).layer(limits.vote()))
        .route(paths::PollResults::PATH, get(results))
        .route(paths::EmbedPoll::PATH, get(show_embedded))
        .route(paths::EmbedPollVotes::PATH, post(vote_embedded).layer(limits.vote()))
}

/// Where a poll page is shown: on the site (known by its origin, for share links), or
/// alone in an iframe on another site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Frame {
    Site(SiteOrigin),
    Embedded,
    /// On a phone that joined the presentation started from poll `start`: the page
    /// follows it.
    Joined {
        origin: SiteOrigin,
        start: i64,
    },
}

impl Frame {
    fn poll_path(&self, id: i64) -> String {
        match self {
            Self::Site(_) | Self::Joined { .. } => paths::Poll { id }.to_string(),
            Self::Embedded => paths::EmbedPoll { id }.to_string(),
        }
    }
}

async fn new(State(store): State<DynStore>, Query(query): Query<NewPollQuery>, mode: HxMode) -> Result<Response> {
    let themes = store.themes().await?;
    let theme = query.theme.filter(|slug| themes.iter().any(|t| &t.slug == slug)).unwrap_or_default();
    let form = present::poll_form(&themes, blank_draft(theme), &[], None);
    Ok(mode.render(StatusCode::OK, new_poll::TITLE, new_poll::fragment(&form)))
}

/// The poll form as posted. `intent` says which button sent it.
#[derive(Debug, Deserialize)]
pub(crate) struct PollForm {
    #[serde(default)]
    question: String,
    #[serde(default)]
    theme: String,
    #[serde(default)]
    option: Vec<String>,
    #[serde(default)]
    max_choices: String,
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
#[tracing::instrument(level = "debug", skip_all)]
async fn create(State(state): State<AppState>, mode: HxMode, Form(form): Form<PollForm>) -> Result<Response> {
    submit(&state, mode, form, None).await
}

/// The poll form under an owner's key: a poll made from another poll's manage page shares
/// its manage link.
pub(crate) struct SharedKey {
    /// The key the new poll shares.
    pub key: ManageKey,
    /// The poll it comes from, by question (said on the form).
    pub question: String,
    /// Where the form posts (the manage address it was opened from).
    pub action: String,
}

/// The poll form's empty state: two blank options, `theme` preselected.
pub(crate) fn blank_draft(theme: String) -> PollDraft {
    PollDraft { question: String::new(), theme, options: vec![String::new(); MIN_OPTIONS], max_choices: String::new() }
}

/// The poll form as `shared` (if any) shows it.
pub(crate) fn form_view(
    themes: &[crate::domain::Theme],
    draft: PollDraft,
    problems: &[crate::domain::Problem],
    focus_option: Option<usize>,
    shared: Option<&SharedKey>,
) -> NewPollForm {
    let mut view = present::poll_form(themes, draft, problems, focus_option);
    if let Some(shared) = shared {
        view.action.clone_from(&shared.action);
        view.sharing_key_of = Some(shared.question.clone());
    }
    view
}

/// The poll form posted: create (under `shared`'s key, or a new one), or a row more or less.
pub(crate) async fn submit(
    state: &AppState,
    mode: HxMode,
    form: PollForm,
    shared: Option<SharedKey>,
) -> Result<Response> {
    let intent = Intent::parse(form.intent.as_deref())?;
    let themes = state.polls.store().themes().await?;
    let mut draft =
        PollDraft { question: form.question, theme: form.theme, options: form.option, max_choices: form.max_choices };
    let render = |status, draft, problems: &[_], focus_option| {
        let view = form_view(&themes, draft, problems, focus_option, shared.as_ref());
        mode.render(status, new_poll::TITLE, new_poll::fragment(&view))
    };
    match intent {
        Intent::AddOption => {
            if draft.options.len() < MAX_OPTIONS {
                draft.options.push(String::new());
            }
            let last = draft.options.len().checked_sub(1);
            Ok(render(StatusCode::OK, draft, &[], last))
        }
        Intent::RemoveOption(index) => {
            if draft.options.len() > MIN_OPTIONS && index < draft.options.len() {
                draft.options.remove(index);
            }
            let in_its_place = index.min(draft.options.len().saturating_sub(1));
            Ok(render(StatusCode::OK, draft, &[], Some(in_its_place)))
        }
        Intent::Create => {
            let theme_id = themes.iter().find(|t| t.slug == draft.theme.trim()).map(|t| t.id);
            match draft.validate(theme_id) {
                Ok(new_poll) => match &shared {
                    // To the manage page, which shows the manage link this once.
                    None => {
                        let (id, key) = state.polls.create(&new_poll).await?;
                        Ok(Redirect::to(&paths::manage_new(id, key.expose())).into_response())
                    }
                    // The link is known: the new poll's manage page, under it.
                    Some(shared) => {
                        let id = state.polls.create_owned(&new_poll, &shared.key).await?;
                        let link = paths::ManagePoll { id, key: shared.key.expose().to_owned() };
                        Ok(Redirect::to(&link.to_string()).into_response())
                    }
                },
                Err(problems) => Ok(render(StatusCode::UNPROCESSABLE_ENTITY, draft, &problems, None)),
            }
        }
    }
}

/// The vote page as `voter` sees it in `frame`; `refusal` says why their vote was just
/// refused.
pub(crate) async fn render_vote_page(
    state: &AppState,
    poll: Poll,
    voter: &Voter,
    (mode, frame): (HxMode, Frame),
    status: StatusCode,
    refusal: Option<String>,
) -> Result<Response> {
    let store = state.polls.store().as_ref();
    // Three independent lookups: one round trip of waiting, not three.
    // A voter given its id by this request has no ballot to look up.
    let choices = async { if voter.fresh { Ok(Vec::new()) } else { store.choices(poll.id, &voter.id).await } };
    let (theme, place, choices) =
        tokio::join!(store.theme_by_id(poll.theme_id), store.place_in_theme(poll.theme_id, poll.id), choices);
    let theme = theme?.ok_or_else(|| AppError::poll_without_theme(poll.id))?;
    let place = place?;
    // With the database away the page still shows (from the last good copy), without a ballot.
    let choices = match choices {
        Ok(choices) => Ok(choices),
        Err(error) if error.is_unavailable() => Err(()),
        Err(error) => return Err(error.into()),
    };
    // A standby may not have replayed this voter's own ballot's count yet: their page shows
    // the poll as the primary has it.
    let poll = match &choices {
        Ok(chosen) if !chosen.is_empty() && !store.standbys().is_empty() => {
            store.poll_as_written(poll.id).await?.ok_or_else(|| AppError::poll_not_found(poll.id))?
        }
        _ => poll,
    };
    let mut page = present::vote_page(&poll, &theme, place, choices, refusal);
    match frame {
        Frame::Embedded => {
            page.embedded = true;
            Ok(mode.render_in(layout::embed, status, &poll::title(&page), poll::fragment(&page)))
        }
        Frame::Site(origin) => {
            page.share = Some(present::share(&origin.0, &poll));
            page.join_code = state.codes.code(Joined::Poll(poll.id));
            let head = poll::head(&page);
            let document = |title: &str, content| layout::page_with_head(title, head, content);
            Ok(mode.render_in(document, status, &poll::title(&page), poll::fragment(&page)))
        }
        Frame::Joined { origin, start } => {
            page.share = Some(present::share(&origin.0, &poll));
            page.join_code = state.codes.code(Joined::Poll(start));
            let head = poll::head(&page);
            let follow = present::follow(start, poll.id, paths::PollJoin { id: start });
            let document = |title: &str, content| layout::page_following(title, head, &follow, content);
            Ok(mode.render_in(document, status, &poll::title(&page), poll::fragment(&page)))
        }
    }
}

#[tracing::instrument(level = "debug", skip_all, fields(poll_id = id))]
async fn show(
    State(state): State<AppState>,
    PollId(id): PollId,
    voter: Voter,
    mode: HxMode,
    origin: SiteOrigin,
) -> Result<Response> {
    let found = state.polls.load(id).await?.ok_or_else(|| AppError::poll_not_found(id))?;
    render_vote_page(&state, found, &voter, (mode, Frame::Site(origin)), StatusCode::OK, None).await
}

/// `/embed/polls/{id}`: the poll alone, for an iframe (the framing rule is in `guard::headers`).
#[tracing::instrument(level = "debug", skip_all, fields(poll_id = id))]
async fn show_embedded(
    State(state): State<AppState>,
    PollId(id): PollId,
    voter: Voter,
    mode: HxMode,
) -> Result<Response> {
    let found = state.polls.load(id).await?.ok_or_else(|| AppError::poll_not_found(id))?;
    render_vote_page(&state, found, &voter, (mode, Frame::Embedded), StatusCode::OK, None).await
}

/// The ballot as posted: one `option` (a button), or several (checkboxes).
#[derive(Debug, Deserialize)]
struct VoteForm {
    #[serde(default)]
    option: Vec<String>,
}

#[tracing::instrument(level = "debug", skip_all, fields(poll_id = id))]
async fn vote(
    State(state): State<AppState>,
    PollId(id): PollId,
    voter: Voter,
    mode: HxMode,
    origin: SiteOrigin,
    Form(form): Form<VoteForm>,
) -> Result<Response> {
    cast(&state, id, &voter, (mode, Frame::Site(origin)), form).await
}

#[tracing::instrument(level = "debug", skip_all, fields(poll_id = id))]
async fn vote_embedded(
    State(state): State<AppState>,
    PollId(id): PollId,
    voter: Voter,
    mode: HxMode,
    Form(form): Form<VoteForm>,
) -> Result<Response> {
    cast(&state, id, &voter, (mode, Frame::Embedded), form).await
}

/// One vote. Accepted: back to the poll page in its frame (post/redirect/get), which now
/// shows results. Refused because of the voter's own or the poll's state: the poll as it
/// stands, with the reason on top; any other refusal: the error page.
async fn cast(
    state: &AppState,
    id: i64,
    voter: &Voter,
    (mode, frame): (HxMode, Frame),
    form: VoteForm,
) -> Result<Response> {
    let mut options = Vec::with_capacity(form.option.len());
    for raw in form.option.iter().filter(|raw| !raw.trim().is_empty()) {
        options.push(raw.trim().parse::<i64>().map_err(|_| {
            AppError::Invalid(format!("“{raw}” is not an option of this poll. Choose one of the options shown."))
        })?);
    }
    if options.is_empty() {
        return Err(AppError::Invalid("Choose one of the options before voting.".into()));
    }
    let shape = state.polls.shape(id).await?.ok_or_else(|| AppError::poll_not_found(id))?;
    let ballot = voter.ballot(id, options);
    // Checked against what never changes about the poll before the writer sees it.
    let refusal = match shape.refusal(id, &ballot.options) {
        Some(refusal @ Refusal::TooManyChoices { .. }) => AppError::from(refusal),
        Some(refusal) => return Err(refusal.into()),
        None => match state.polls.cast(&ballot).await? {
            VoteOutcome::Accepted { .. } if voter.fresh && frame == Frame::Embedded => {
                return accepted_without_cookie(state, id, voter, (mode, frame)).await;
            }
            VoteOutcome::Accepted { .. } => return Ok(Redirect::to(&frame.poll_path(id)).into_response()),
            VoteOutcome::Refused(
                refusal @ (Refusal::AlreadyVoted { .. }
                | Refusal::SameAddress
                | Refusal::Closed
                | Refusal::TooManyChoices { .. }),
            ) => AppError::from(refusal),
            VoteOutcome::Refused(refusal) => return Err(refusal.into()),
        },
    };
    // Refused for the voter's own or the poll's state: the poll as it stands, with the reason.
    let found = state.polls.store().poll(id).await?.ok_or_else(|| AppError::poll_not_found(id))?;
    render_vote_page(state, found, voter, (mode, frame), refusal.status(), Some(refusal.to_string())).await
}

/// A vote accepted from a frame that sent no voter cookie: inside another site over plain
/// HTTP, or where the browser refuses even partitioned cookies, it will keep none, so a
/// redirect would show it a fresh ballot. It gets the poll as its voter now sees it, at
/// the poll's own address for htmx's history.
async fn accepted_without_cookie(
    state: &AppState,
    id: i64,
    voter: &Voter,
    (mode, frame): (HxMode, Frame),
) -> Result<Response> {
    let found = state.polls.store().poll(id).await?.ok_or_else(|| AppError::poll_not_found(id))?;
    let path = frame.poll_path(id);
    let voted = Voter { fresh: false, ..voter.clone() };
    let mut response = render_vote_page(state, found, &voted, (mode, frame), StatusCode::OK, None).await?;
    if let Ok(path) = HeaderValue::from_str(&path) {
        response.headers_mut().insert(HX_PUSH_URL, path);
    }
    Ok(response)
}

/// The result bars as this viewer may see them.
async fn results(State(state): State<AppState>, PollId(id): PollId, voter: VoterId, mode: HxMode) -> Result<Response> {
    // The live snapshot's fragment when this replica follows the poll: rendered once per update.
    if let Some(snapshot) = state.polls.live().hub().current(id) {
        let voted = snapshot.withholds() && state.polls.voted(id, &voter).await.unwrap_or(false);
        // Rendered by our own templates (user text escaped there).
        let html = maud::PreEscaped(snapshot.results_html(voted).to_owned());
        return Ok(mode.render(StatusCode::OK, "Results", html));
    }
    // Not followed here: the poll from the cache or the database (the snapshot was just missed).
    let found = state.polls.load(id).await?.ok_or_else(|| AppError::poll_not_found(id))?;
    let voted = !found.shows_results(false) && state.polls.voted(id, &voter).await.unwrap_or(false);
    Ok(mode.render(StatusCode::OK, "Results", poll::results(&present::results(&Tally::of(&found), voted))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_buttons_say_what_they_want() {
        let cases = [
            (None, Some(Intent::Create)),
            (Some("create"), Some(Intent::Create)),
            (Some("add"), Some(Intent::AddOption)),
            (Some("remove:3"), Some(Intent::RemoveOption(3))),
            (Some("remove:"), None),
            (Some("remove:-1"), None),
            (Some("remove:x"), None),
            (Some("delete"), None),
            (Some(""), None),
        ];
        for (value, expected) in cases {
            assert_eq!(Intent::parse(value).ok(), expected, "{value:?}");
        }
        let refused = Intent::parse(Some("<b>")).expect_err("unknown intent");
        assert!(refused.to_string().contains("“<b>”"), "names what was asked: {refused}");
    }
}
