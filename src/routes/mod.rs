//! The router: two families that never import each other, `html` (pages, fragments,
//! forms) and `api` (JSON), plus `system` (probes, metrics, assets), each behind its
//! guards and its refusal wording; what both families use is in `extract` and `stream`.
//! Every route is registered by the `PATH` of its type in `votestream_views::paths`, the
//! same type its links are built from.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware::{from_fn, from_fn_with_state};
use axum_htmx::AutoVaryLayer;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;

use crate::config::Settings;
use crate::guard::client::{self, TrustedProxies};
use crate::guard::limits::Limits;
use crate::guard::voter::VoterCookies;
use crate::guard::{csrf, head, headers, hosts, voter};
use crate::state::AppState;
use crate::telemetry::{self, RequestLog};
use crate::web;

pub mod api;
pub mod extract;
pub mod html;
pub mod refusals;
pub mod stream;
pub mod system;

/// Every route with its guards.
pub fn router(state: AppState, settings: &Settings, voter_cookies: VoterCookies) -> Router {
    let wording = refusals::Wording { body_limit: settings.http.body_limit };
    let limits = &state.limits;
    let pages = html::router(limits)
        .merge(system::pages())
        .fallback(web::not_found)
        .layer(from_fn(csrf::html))
        .layer(from_fn_with_state(voter_cookies.clone(), voter::assign));
    let pages = guarded(pages, settings, limits)
        .layer(from_fn_with_state(wording, refusals::html))
        // Outermost of the pages' layers: every page and refusal that asked for HX-Request varies by it.
        .layer(AutoVaryLayer);
    let api = api::router(limits)
        .merge(api::oembed::router())
        .layer(from_fn(csrf::api))
        .layer(from_fn_with_state(voter_cookies, voter::assign));
    let api = guarded(api, settings, limits).layer(from_fn_with_state(wording, refusals::api));
    // Probes stay out of the request log: load balancers call them every few seconds.
    let traced = Router::new()
        .merge(api)
        .merge(system::assets::router())
        .merge(pages)
        .layer(from_fn_with_state(hosts::AllowedHosts::new(&settings.http), hosts::check))
        .layer(from_fn_with_state(state.metrics.clone(), crate::metrics::record))
        .layer(from_fn_with_state(RequestLog::new(&settings.logs), telemetry::requests));
    let app = traced
        .merge(system::probes())
        .with_state(state)
        .layer(from_fn_with_state(wording, refusals::bodiless))
        .layer(from_fn(head::refuse_large));
    let replica = HeaderValue::from_str(&settings.http.replica_name).unwrap_or(HeaderValue::from_static("unnamed"));
    let proxies = TrustedProxies::new(settings.http.trusted_proxies.clone());
    app.layer(from_fn_with_state(headers::Policies::new(&settings.embed), headers::apply))
        .layer(from_fn_with_state(proxies, client::identify))
        .layer(SetResponseHeaderLayer::overriding(HeaderName::from_static("x-replica"), replica))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

/// The bounds every request of `router` lives within: the read quota, body size, time,
/// and a panic caught as a 500. Applied inside each router's refusal layer, so their
/// refusals are worded too.
fn guarded(router: Router<AppState>, settings: &Settings, limits: &Limits) -> Router<AppState> {
    router
        .layer(CatchPanicLayer::new())
        .layer(DefaultBodyLimit::max(settings.http.body_limit))
        .layer(RequestBodyLimitLayer::new(settings.http.body_limit))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, settings.http.request_timeout))
        .layer(limits.read())
}
