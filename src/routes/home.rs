//! `/`: the themes.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use votestream_views::{ThemeCard, home};

use super::present::theme_summary;
use crate::error::Result;
use crate::state::AppState;
use crate::store::DynStore;
use crate::web::HxMode;

pub fn router() -> Router<AppState> {
    Router::new().route("/", get(index))
}

#[tracing::instrument(skip_all)]
async fn index(State(store): State<DynStore>, mode: HxMode) -> Result<Response> {
    let cards: Vec<ThemeCard> = store
        .theme_stats()
        .await?
        .iter()
        .map(|s| ThemeCard { theme: theme_summary(&s.theme), poll_count: s.poll_count, vote_count: s.vote_count })
        .collect();
    Ok(mode.render(StatusCode::OK, home::TITLE, home::fragment(&cards)))
}
