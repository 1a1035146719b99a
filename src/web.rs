//! HTML plumbing: page or fragment, the error page, path ids.

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use maud::Markup;
use votestream_views::{ErrorView, OptionTally, Results, error, layout};

use crate::error::AppError;
use crate::store::PollOption;

/// Whether the request wants the fragment alone (an HTMX swap) or a whole document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HxMode {
    /// True for an HTMX request that is not a history restore.
    pub fragment: bool,
}

impl HxMode {
    /// Reads `HX-Request`; a history restore (`HX-History-Restore-Request`) needs the whole page.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let is_true = |name: &str| headers.get(name).is_some_and(|v| v.as_bytes() == b"true");
        Self { fragment: is_true("hx-request") && !is_true("hx-history-restore-request") }
    }

    /// Renders `content` as a page or fragment with `status`, saying it varies by `HX-Request`.
    pub fn render(self, status: StatusCode, title: &str, content: Markup) -> Response {
        let body = if self.fragment { layout::fragment(title, content) } else { layout::page(title, content) };
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::VARY, HeaderValue::from_static("HX-Request"));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        response
    }
}

impl<S: Send + Sync> FromRequestParts<S> for HxMode {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::from_headers(&parts.headers))
    }
}

/// Fills in the body of error responses (those carrying an [`ErrorView`]) as a page or
/// fragment, as the request asked.
pub async fn render_error_pages(request: Request, next: Next) -> Response {
    let mode = HxMode::from_headers(request.headers());
    let mut response = next.run(request).await;
    let Some(view) = response.extensions_mut().remove::<ErrorView>() else { return response };
    let mut rendered = mode.render(response.status(), &view.title, error::fragment(&view));
    // Keep headers the handler set (Retry-After, Set-Cookie…), replacing only the body's.
    for (name, value) in response.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            rendered.headers_mut().append(name.clone(), value.clone());
        }
    }
    rendered
}

/// The fallback for unknown paths.
pub async fn not_found() -> AppError {
    AppError::NotFound("There is no page at this address. It may have moved, or the link may be mistyped.".into())
}

/// The result bars' view model from stored tallies; pages, the live hub and the cache
/// all render through it.
pub fn results_view(poll_id: i64, options: &[PollOption], closed: bool) -> Results {
    Results {
        poll_id,
        options: options.iter().map(|o| OptionTally { id: o.id, text: o.text.clone(), votes: o.votes }).collect(),
        closed,
    }
}

/// A poll id from the path; anything that is not one is a 404, not a parse error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollId(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for PollId {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(raw) = axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| AppError::NotFound("There is no such poll.".into()))?;
        raw.parse::<i64>()
            .ok()
            .filter(|id| *id > 0)
            .map(Self)
            .ok_or_else(|| AppError::NotFound(format!("There is no poll “{raw}”.")))
    }
}

/// The 404 for a poll id that parsed but is not stored.
pub fn poll_not_found(id: i64) -> AppError {
    AppError::NotFound(format!("There is no poll {id}. It may have been removed, or the link may be mistyped."))
}
