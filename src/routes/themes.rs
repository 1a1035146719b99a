//! `/themes/{slug}`: a theme's polls.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use votestream_views::{PollCard, ThemePage, theme};

use super::present::theme_summary;
use crate::error::{AppError, Result};
use crate::state::AppState;
use crate::store::DynStore;
use crate::web::HxMode;

pub fn router() -> Router<AppState> {
    Router::new().route("/themes/{slug}", get(show))
}

#[tracing::instrument(skip_all, fields(slug = %slug))]
async fn show(State(store): State<DynStore>, Path(slug): Path<String>, mode: HxMode) -> Result<Response> {
    let found = store
        .theme(&slug)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("There is no theme “{slug}”. Pick one from the themes page.")))?;
    let polls = store.polls_of_theme(found.id).await?;
    let model = ThemePage {
        theme: theme_summary(&found),
        polls: polls
            .into_iter()
            .map(|p| PollCard {
                id: p.id,
                total_votes: p.total(),
                question: p.question,
                options: p.options.into_iter().map(|o| o.text).collect(),
                closed: p.closed,
            })
            .collect(),
    };
    Ok(mode.render(StatusCode::OK, &theme::title(&model), theme::fragment(&model)))
}
