//! HTML plumbing: page or fragment, and the fallback.

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum_extra::routing::TypedPath;
use axum_htmx::{HX_HISTORY_RESTORE_REQUEST, HX_REQUEST, HxRequest};
use maud::Markup;
use votestream_views::{ErrorView, error, layout, paths};

use crate::error::{AppError, ErrorBody, json_response};

/// `PUBLIC_URL`, when set: the address people reach the site at.
#[derive(Debug, Clone, Default)]
pub struct PublicUrl(pub Option<String>);

/// Whether the request wants the fragment alone (an htmx swap) or a whole document.
/// Extracting it marks the response as varying by `HX-Request` (axum-htmx's auto-vary).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HxMode {
    /// True for an htmx request that is not a history restore.
    pub fragment: bool,
}

impl HxMode {
    /// From the request's headers: an htmx request (`HX-Request: true`, and nothing else)
    /// that is not a history restore (the page was not in htmx's cache: it needs all of it).
    pub fn of(headers: &HeaderMap) -> Self {
        Self { fragment: says_true(headers, HX_REQUEST) && !says_true(headers, HX_HISTORY_RESTORE_REQUEST) }
    }

    /// Renders `content` as a page or fragment with `status`.
    pub fn render(self, status: StatusCode, title: &str, content: Markup) -> Response {
        self.render_in(layout::page, status, title, content)
    }

    /// The same inside `document` (the site's layout, or the bare one of embedded polls).
    pub fn render_in(
        self,
        document: impl FnOnce(&str, Markup) -> Markup,
        status: StatusCode,
        title: &str,
        content: Markup,
    ) -> Response {
        let body = if self.fragment { layout::fragment(title, content) } else { document(title, content) };
        let mut response = (status, body).into_response();
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        response
    }
}

/// Whether the `name` header says `true`, as htmx sends it.
fn says_true(headers: &HeaderMap, name: HeaderName) -> bool {
    headers.get(name).is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"true"))
}

impl<S: Send + Sync> FromRequestParts<S> for HxMode {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // Extracted for its side effect: the response then varies by `HX-Request`. The
        // extractor answers for any value; htmx sends exactly `true`, so only that counts.
        let HxRequest(_) = HxRequest::from_request_parts(parts, state).await?;
        Ok(Self::of(&parts.headers))
    }
}

/// Whether `path` answers in JSON: the API's, and oEmbed.
pub fn is_api(path: &str) -> bool {
    path == paths::OEmbed::PATH
        || path.strip_prefix(paths::api::ROOT).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Which kind of answer a refusal takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// `{"error": …}` (the API and oEmbed).
    Json,
    /// The error page, or its fragment for htmx.
    Html(HxMode),
}

impl Audience {
    /// The audience of a request, by its path's route family and its htmx headers.
    pub fn of(request: &Request) -> Self {
        if is_api(request.uri().path()) { Self::Json } else { Self::Html(HxMode::of(request.headers())) }
    }
}

/// The one renderer of refusals, whichever layer refused: `body` with `status` as JSON,
/// or as the error page or fragment.
pub fn refusal(audience: Audience, status: StatusCode, body: ErrorBody) -> Response {
    match audience {
        Audience::Json => json_response(status, serde_json::to_value(body).unwrap_or_default()),
        Audience::Html(mode) => {
            let title = AppError::title_for(status).to_owned();
            let view = ErrorView { status: status.as_u16(), title, message: body.error };
            let mut response = mode.render(status, &view.title, error::fragment(&view));
            response.headers_mut().append(header::VARY, HeaderValue::from_static("hx-request"));
            response
        }
    }
}

/// A refusal made before any router saw the request (an over-long head, a forged host).
pub fn in_callers_format(request: &Request, status: StatusCode, message: String) -> Response {
    refusal(Audience::of(request), status, ErrorBody::new(message))
}

/// The fallback for unknown paths.
pub async fn not_found() -> AppError {
    AppError::page_not_found()
}

#[cfg(test)]
mod tests {
    use axum::http::Request;

    use super::*;

    async fn mode(headers: &[(&str, &str)]) -> HxMode {
        let mut request = Request::builder().uri("/");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let (mut parts, ()) = request.body(()).expect("a request").into_parts();
        let Ok(mode) = HxMode::from_request_parts(&mut parts, &()).await;
        mode
    }

    #[test]
    fn the_api_is_its_prefix_and_below() {
        let cases = [
            ("/api", true),
            ("/api/polls", true),
            ("/oembed", true),
            ("/apis", false),
            ("/", false),
            ("/polls/api", false),
        ];
        for (path, api) in cases {
            assert_eq!(is_api(path), api, "{path}");
        }
    }

    #[tokio::test]
    async fn htmx_swaps_get_the_fragment_and_everything_else_the_page() {
        let cases = [
            ("a plain browser request", vec![], false),
            ("an htmx request", vec![("hx-request", "true")], true),
            ("an htmx history restore", vec![("hx-request", "true"), ("hx-history-restore-request", "true")], false),
            ("a restore header alone", vec![("hx-history-restore-request", "true")], false),
            ("HX-Request: false", vec![("hx-request", "false")], false),
            ("HX-Request with no value", vec![("hx-request", "")], false),
            ("HX-Request: 1", vec![("hx-request", "1")], false),
            ("a restore that says false", vec![("hx-request", "true"), ("hx-history-restore-request", "false")], true),
        ];
        for (description, headers, fragment) in cases {
            assert_eq!(mode(&headers).await.fragment, fragment, "{description}");
        }
    }
}
