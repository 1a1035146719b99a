//! A poll's address as a QR code.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum_extra::routing::TypedPath;
use qrcode::QrCode;
use qrcode::render::svg;
use votestream_views::paths;

use crate::error::AppError;
use crate::routes::extract::{PollId, SiteOrigin};
use crate::state::AppState;

/// The QR code, among the pages.
pub fn router() -> Router<AppState> {
    Router::new().route(paths::PollQr::PATH, axum::routing::get(qr))
}

/// `GET /polls/{id}/qr.svg`: the poll's address as a QR code.
async fn qr(State(state): State<AppState>, PollId(id): PollId, origin: SiteOrigin) -> Result<Response, AppError> {
    state.polls.load(id).await?.ok_or_else(|| AppError::poll_not_found(id))?;
    qr_svg(&origin.url(paths::Poll { id }))
}

/// `url` as a QR code, an SVG image kept a day by browsers.
pub fn qr_svg(url: &str) -> Result<Response, AppError> {
    let code = QrCode::new(url).map_err(|error| AppError::Internal(error.into()))?;
    let image = code.render::<svg::Color<'_>>().min_dimensions(200, 200).quiet_zone(true).build();
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static("image/svg+xml")),
            (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400")),
        ],
        image,
    )
        .into_response())
}
