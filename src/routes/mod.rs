//! The router: HTML pages, the JSON API, assets and health checks. Every route is
//! registered by the `PATH` of its type in `votestream_views::paths`, the same type its
//! links are built from.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::from_fn;
use axum_htmx::AutoVaryLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;

use crate::config::Settings;
use crate::guard::{csrf, headers, voter};
use crate::state::AppState;
use crate::web;

pub mod api;
pub mod assets;
pub mod home;
pub mod live;
mod params;
pub mod polls;
pub mod system;
pub mod themes;

pub use params::PollId;

/// Every route with its guards.
pub fn router(state: AppState, settings: &Settings) -> Router {
    let pages = Router::new()
        .merge(home::router())
        .merge(themes::router())
        .merge(polls::router())
        .merge(system::pages())
        .merge(live::pages())
        .fallback(web::not_found)
        .layer(from_fn(csrf::html))
        .layer(from_fn(voter::assign))
        .layer(from_fn(web::render_error_pages))
        .layer(AutoVaryLayer);
    let api = api::router().merge(live::api()).layer(from_fn(csrf::api)).layer(from_fn(voter::assign));
    // Probes stay out of the request log: load balancers call them every few seconds.
    let traced = Router::new().merge(api).merge(assets::router()).merge(pages).layer(crate::telemetry::http_trace());
    let app = traced.merge(system::probes()).with_state(state);
    let replica = HeaderValue::from_str(&settings.replica_name).unwrap_or(HeaderValue::from_static("unnamed"));
    headers::apply(app)
        .layer(DefaultBodyLimit::max(settings.body_limit))
        .layer(RequestBodyLimitLayer::new(settings.body_limit))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, settings.request_timeout))
        .layer(SetResponseHeaderLayer::overriding(HeaderName::from_static("x-replica"), replica))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}
