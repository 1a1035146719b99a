//! `/`: the themes.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum_extra::routing::TypedPath;
use votestream_views::{home, paths};

use super::unless_paused;
use crate::breaker::Breakers;
use crate::error::Result;
use crate::present;
use crate::state::AppState;
use crate::store::DynStore;
use crate::web::HxMode;

pub fn router() -> Router<AppState> {
    Router::new().route(paths::Home::PATH, get(index))
}

#[tracing::instrument(level = "debug", skip_all)]
async fn index(State(store): State<DynStore>, State(breakers): State<Breakers>, mode: HxMode) -> Result<Response> {
    let cards = present::theme_cards(&store.theme_stats().await?);
    Ok(mode.render(StatusCode::OK, home::TITLE, unless_paused(&breakers.database, home::fragment(&cards))))
}
