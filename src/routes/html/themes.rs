//! `/themes/{slug}`: a theme's polls.

use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum_extra::routing::TypedPath;
use votestream_views::paths::PageQuery;
use votestream_views::{paths, theme};

use super::unless_paused;
use crate::breaker::Breakers;
use crate::domain::Page;
use crate::error::{AppError, Result};
use crate::present;
use crate::state::AppState;
use crate::store::DynStore;
use crate::web::HxMode;

pub fn router() -> Router<AppState> {
    Router::new().route(paths::Theme::PATH, get(show))
}

#[tracing::instrument(level = "debug", skip_all, fields(slug = %slug))]
async fn show(
    paths::Theme { slug }: paths::Theme,
    State(store): State<DynStore>,
    State(breakers): State<Breakers>,
    Query(query): Query<PageQuery>,
    mode: HxMode,
) -> Result<Response> {
    let page = Page::parse(query.after, query.limit).map_err(AppError::Invalid)?;
    let found = store.theme(&slug).await?.ok_or_else(|| AppError::theme_not_found(&slug))?;
    let polls = store.polls_of_theme(found.id, page).await?;
    let before = match page.after {
        Some(after) => store.polls_of_theme_up_to(found.id, after).await?,
        None => 0,
    };
    let first_number = usize::try_from(before).unwrap_or(0) + 1;
    let model = present::theme_page(&found, page, polls, first_number);
    Ok(mode.render(StatusCode::OK, &theme::title(&model), unless_paused(&breakers.database, theme::fragment(&model))))
}
