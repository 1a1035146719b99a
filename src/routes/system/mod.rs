//! Health checks, readiness, metrics, totals, the theme colours and the static assets.

pub mod assets;

use std::fmt::Write as _;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use axum_extra::routing::TypedPath;
use serde_json::json;
use votestream_views::{Stats, paths, stats};

use crate::breaker::Breakers;
use crate::error::Result;
use crate::state::AppState;
use crate::store::DynStore;
use crate::web::HxMode;

/// Pages that share the HTML guards.
pub fn pages() -> Router<AppState> {
    Router::new().route(paths::Stats::PATH, get(totals)).route(paths::ThemesCss::PATH, get(theme_css))
}

/// Liveness, readiness and metrics, outside every guard (scrapers and balancers call them
/// every few seconds; no quota applies).
pub fn probes() -> Router<AppState> {
    Router::new()
        .route(paths::Healthz::PATH, get(healthz))
        .route(paths::Readyz::PATH, get(readyz))
        .route(paths::Metrics::PATH, get(crate::metrics::expose))
}

async fn healthz() -> &'static str {
    "ok"
}

/// Ready when the database answers (through its breaker: an open one answers at once).
/// Redis being away does not make a replica unready: it degrades, and says so here.
async fn readyz(State(store): State<DynStore>, State(breakers): State<Breakers>) -> Response {
    let database = store.ping().await;
    if let Err(error) = &database {
        tracing::warn!(%error, "not ready: database unreachable");
    }
    let ready = database.is_ok();
    let body = json!({
        "status": if ready { "ready" } else { "not ready" },
        "database": if ready { "up" } else { "down" },
        "breakers": {
            "database": breakers.database.state().to_string(),
            "redis": breakers.redis.as_ref().map(|b| b.state().to_string()),
        },
        // A standby that is down or behind only sends its reads to the primary: still ready.
        "standbys": store.standbys().into_iter().map(|s| json!({
            "standby": s.name,
            "state": match (s.up, s.reading) {
                (false, _) => "down",
                (true, false) => "lagging",
                (true, true) => "reading",
            },
            "lag_ms": s.lag_ms,
        })).collect::<Vec<_>>(),
    });
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(body)).into_response()
}

/// Totals as a page, or as JSON for `Accept: application/json`.
async fn totals(State(store): State<DynStore>, headers: HeaderMap, mode: HxMode) -> Result<Response> {
    let t = store.totals().await?;
    let wants_json =
        headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).is_some_and(|v| v.contains("application/json"));
    if wants_json {
        return Ok(Json(json!({ "themes": t.themes, "polls": t.polls, "options": t.options, "votes": t.votes }))
            .into_response());
    }
    let model = Stats { themes: t.themes, polls: t.polls, options: t.options, votes: t.votes };
    let mut response = mode.render(StatusCode::OK, stats::TITLE, stats::fragment(&model));
    response.headers_mut().append(header::VARY, HeaderValue::from_static("Accept"));
    Ok(response)
}

/// One class per theme carrying its colour, so markup needs no inline styles (the CSP
/// forbids them). Slugs and colours are constrained by the schema to safe characters.
async fn theme_css(State(store): State<DynStore>) -> Result<Response> {
    let mut css = String::new();
    for theme in store.themes().await? {
        let _ = writeln!(css, ".theme-{} {{ --theme: {}; }}", theme.slug, theme.color);
    }
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8")),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=60")),
        ],
        css,
    )
        .into_response())
}
