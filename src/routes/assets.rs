//! Static files from `assets/`, compiled into the binary.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use votestream_views::paths::{self, Asset};

use crate::state::AppState;

/// (the asset, content type, bytes)
const FILES: &[(Asset, &str, &[u8])] = &[
    (paths::APP_CSS, "text/css; charset=utf-8", include_bytes!("../../assets/app.css")),
    (paths::FAVICON, "image/svg+xml", include_bytes!("../../assets/favicon.svg")),
    (paths::HTMX_JS, "text/javascript; charset=utf-8", include_bytes!("../../assets/vendor/htmx.min.js")),
    (paths::HTMX_SSE_JS, "text/javascript; charset=utf-8", include_bytes!("../../assets/vendor/htmx-ext-sse.min.js")),
    (paths::EMBED_JS, "text/javascript; charset=utf-8", include_bytes!("../../assets/embed.js")),
    (paths::EMBED_HOST_JS, "text/javascript; charset=utf-8", include_bytes!("../../assets/embed-host.js")),
    (paths::SHARE_JS, "text/javascript; charset=utf-8", include_bytes!("../../assets/share.js")),
];

pub fn router() -> Router<AppState> {
    Router::new().route(Asset::PATH, get(serve))
}

async fn serve(Path(path): Path<String>) -> Response {
    match FILES.iter().find(|(asset, _, _)| asset.name() == path) {
        Some((_, content_type, bytes)) => (
            [
                (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
                (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600")),
            ],
            *bytes,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}
