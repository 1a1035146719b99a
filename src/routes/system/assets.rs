//! Static files from `assets/`, compiled into the binary.

use axum::Router;
use axum::extract::{Path, Query};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use votestream_views::paths::{self, Asset};

use crate::state::AppState;

/// How long a browser keeps an asset asked for by its current fingerprint (a year: a
/// changed file has a new address), and asked for without it or by an old one.
const FINGERPRINTED: &str = "public, max-age=31536000, immutable";
const UNVERSIONED: &str = "public, max-age=3600";

pub fn router() -> Router<AppState> {
    Router::new().route(Asset::PATH, get(serve))
}

#[derive(Debug, Deserialize)]
struct Version {
    v: Option<String>,
}

async fn serve(Path(path): Path<String>, Query(version): Query<Version>) -> Response {
    match paths::ASSETS.iter().find(|asset| asset.name() == path) {
        Some(asset) => {
            let current = version.v.is_some_and(|v| v == asset.version());
            let cache = if current { FINGERPRINTED } else { UNVERSIONED };
            (
                [
                    (header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type())),
                    (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
                ],
                asset.bytes(),
            )
                .into_response()
        }
        None => (StatusCode::NOT_FOUND, "no such asset").into_response(),
    }
}
