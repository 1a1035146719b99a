//! The HTML family: pages, fragments, forms, the embed frame, the manage page and the
//! pages' live streams. Nothing here imports the API family.

use axum::Router;
use maud::Markup;
use votestream_views::components::paused_banner;

use crate::breaker::Breaker;
use crate::guard::limits::Limits;
use crate::state::AppState;

mod form;
pub mod home;
pub mod live;
pub mod manage;
pub mod polls;
pub mod share;
pub mod stage;
pub mod themes;

/// Every HTML route (the caller adds the guards).
pub fn router(limits: &Limits) -> Router<AppState> {
    Router::new()
        .merge(home::router())
        .merge(themes::router())
        .merge(polls::router(limits))
        .merge(manage::router(limits))
        .merge(share::router())
        .merge(live::router())
        .merge(stage::router())
}

/// `content`, under the "voting is paused" banner while the database is away (the page
/// then comes from the last good copy of its reads).
pub(crate) fn unless_paused(database: &Breaker, content: Markup) -> Markup {
    if database.is_closed() {
        content
    } else {
        maud::html! { (paused_banner()) (content) }
    }
}
