//! Logging set-up: one subscriber, filtered by `RUST_LOG`, as text or JSON.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;
use crate::config::vars::logs::RUST_LOG;
use crate::guard::client::ClientIp;

/// Installs the global subscriber. A second call (tests) is a no-op.
pub fn init(format: &LogFormat) {
    // Unset, `RUST_LOG.default`: our events and one line per request; sqlx's migration
    // notices and per-query lines only when something is wrong.
    let filter = EnvFilter::try_from_env(RUST_LOG.name).unwrap_or_else(|_| EnvFilter::new(RUST_LOG.default));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _already_set = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Request spans: method, matched route (not the raw path), request id, client address; one line per
/// response with status and latency. Health checks are not routed through this layer.
pub fn http_trace() -> tower_http::trace::TraceLayer<
    tower_http::classify::SharedClassifier<tower_http::classify::ServerErrorsAsFailures>,
    impl Fn(&axum::http::Request<axum::body::Body>) -> tracing::Span + Clone,
    tower_http::trace::DefaultOnRequest,
    tower_http::trace::DefaultOnResponse,
> {
    let on_response = tower_http::trace::DefaultOnResponse::new()
        .level(tracing::Level::INFO)
        .latency_unit(tower_http::LatencyUnit::Micros);
    tower_http::trace::TraceLayer::new_for_http().on_response(on_response).make_span_with(
        |request: &axum::http::Request<axum::body::Body>| {
            let route =
                request.extensions().get::<axum::extract::MatchedPath>().map_or("unmatched", |p| p.as_str()).to_owned();
            let request_id =
                request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-").to_owned();
            let client = request.extensions().get::<ClientIp>().map(|ClientIp(ip)| *ip);
            tracing::info_span!("request", method = %request.method(), route, request_id, client = ?client)
        },
    )
}
