//! Every refusal in the caller's language, whichever layer refused (a handler, an
//! extractor, the router, the body limit, the timeout, a panic): the error page or htmx
//! fragment on HTML routes, `{"error": …}` on `/api`. The rule is general: any 4xx or 5xx
//! that is not already in the caller's format is rewritten, keeping its status and
//! headers, with a message that says what was wrong.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use votestream_views::{ErrorView, error};

use axum_htmx::{HX_HISTORY_RESTORE_REQUEST, HX_REQUEST};

use crate::error::{AppError, json_response};
use crate::web::HxMode;

/// Longest refusal body read back to reuse its words.
const MAX_REFUSAL_BODY: usize = 2048;

/// What the layers need to word a refusal.
#[derive(Debug, Clone, Copy)]
pub struct Wording {
    /// The request body limit, in bytes.
    pub body_limit: usize,
}

fn is_refusal(response: &Response) -> bool {
    response.status().is_client_error() || response.status().is_server_error()
}

fn content_type_is(response: &Response, prefix: &str) -> bool {
    response.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with(prefix))
}

/// The refusal's own words, if it has a short UTF-8 body.
async fn words(body: Body) -> Option<String> {
    let bytes = to_bytes(body, MAX_REFUSAL_BODY).await.ok()?;
    let text = String::from_utf8(bytes.to_vec()).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// A message that says what was wrong, from the status and the refusing layer's words.
fn explain(status: StatusCode, method: &Method, words: Option<String>, wording: Wording, api: bool) -> String {
    match status {
        StatusCode::NOT_FOUND if api => AppError::endpoint_not_found().public_message(),
        StatusCode::NOT_FOUND => AppError::page_not_found().public_message(),
        StatusCode::METHOD_NOT_ALLOWED => format!("This address does not take {method} requests."),
        StatusCode::REQUEST_TIMEOUT => "The request took too long. Please try again.".into(),
        StatusCode::PAYLOAD_TOO_LARGE => {
            format!("The request body is too large: at most {} bytes are accepted.", wording.body_limit)
        }
        // Never the words of a crash: they may say more than a client should know.
        status if status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE => {
            AppError::Internal(anyhow::anyhow!("{status} from a lower layer: {}", words.unwrap_or_default()))
                .public_message()
        }
        status => words.unwrap_or_else(|| status.canonical_reason().unwrap_or("Refused").to_owned()),
    }
}

/// HTML routes: error responses carrying an [`ErrorView`] get their page or fragment; any
/// other refusal that is not HTML is worded and rendered the same way.
pub async fn html(
    State(wording): State<Wording>,
    mode: HxMode,
    method: Method,
    request: Request,
    next: Next,
) -> Response {
    let mut response = next.run(request).await;
    let view = match response.extensions_mut().remove::<ErrorView>() {
        Some(view) => view,
        None if is_refusal(&response) && !content_type_is(&response, "text/html") => {
            let status = response.status();
            let (parts, body) = response.into_parts();
            let message = explain(status, &method, words(body).await, wording, false);
            response = Response::from_parts(parts, Body::empty());
            ErrorView { status: status.as_u16(), title: AppError::title_for(status).to_owned(), message }
        }
        None => return response,
    };
    let mut rendered = mode.render(response.status(), &view.title, error::fragment(&view));
    // Keep headers the refusing layer set (Retry-After, Allow, Set-Cookie…), not the body's.
    for (name, value) in response.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            rendered.headers_mut().append(name.clone(), value.clone());
        }
    }
    rendered
}

/// `/api`: every refusal that is not JSON becomes `{"error": …}`, never cached.
pub async fn api(State(wording): State<Wording>, method: Method, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    if !is_refusal(&response) || content_type_is(&response, "application/json") {
        return response;
    }
    let status = response.status();
    // An extractor shared with the HTML routes refused with our own error (a bad poll id).
    let view = response.extensions_mut().remove::<ErrorView>();
    let (mut parts, body) = response.into_parts();
    let message = match view {
        Some(view) => view.message,
        None => explain(status, &method, words(body).await, wording, true),
    };
    // Keep the refusing layer's headers (Retry-After, Allow…); the body's own are replaced.
    let (json_parts, body) = json_response(status, serde_json::json!({ "error": message })).into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.extend(json_parts.headers);
    Response::from_parts(parts, body)
}

/// The last word, outside every router: a refusal that still has no body (the router's
/// `405` for the probes and assets, say) gets one in the caller's format.
pub async fn bodiless(State(wording): State<Wording>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    // Only what choosing the format needs: whether htmx asked.
    let htmx: Vec<_> = [HX_REQUEST, HX_HISTORY_RESTORE_REQUEST]
        .into_iter()
        .filter_map(|name| request.headers().get(&name).map(|value| (name, value.clone())))
        .collect();
    let response = next.run(request).await;
    let empty = response.headers().get(header::CONTENT_LENGTH).is_some_and(|length| length == "0")
        || axum::body::HttpBody::size_hint(response.body()).exact() == Some(0);
    if !is_refusal(&response) || !empty {
        return response;
    }
    let status = response.status();
    let (parts, _) = response.into_parts();
    let message = explain(status, &method, None, wording, crate::web::is_api(&path));
    let mut probe = Request::new(Body::empty());
    *probe.uri_mut() = path.parse().unwrap_or_default();
    probe.headers_mut().extend(htmx);
    let worded = crate::web::in_callers_format(&probe, status, message);
    // Keep the refusing layer's headers (Allow, Retry-After…); the body's own come with it.
    let (worded_parts, body) = worded.into_parts();
    let mut parts = parts;
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.extend(worded_parts.headers);
    Response::from_parts(parts, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    const WORDING: Wording = Wording { body_limit: 1000 };

    #[test]
    fn refusals_are_worded_for_people() {
        let get = Method::GET;
        let cases = [
            (StatusCode::METHOD_NOT_ALLOWED, Method::DELETE, None, "does not take DELETE requests"),
            (StatusCode::PAYLOAD_TOO_LARGE, get.clone(), Some("length limit exceeded"), "at most 1000 bytes"),
            (StatusCode::BAD_REQUEST, get.clone(), Some("Invalid URL"), "Invalid URL"),
            (StatusCode::INTERNAL_SERVER_ERROR, get.clone(), Some("panicked at secret.rs"), "on our side"),
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, get.clone(), None, "Unsupported Media Type"),
            (StatusCode::SERVICE_UNAVAILABLE, get.clone(), Some("Voting is paused."), "Voting is paused."),
        ];
        for (status, method, words, expected) in cases {
            let message = explain(status, &method, words.map(str::to_owned), WORDING, true);
            assert!(message.contains(expected), "{status}: {message}");
            assert!(!message.contains("secret.rs"), "{status}: {message}");
        }
        assert_eq!(explain(StatusCode::NOT_FOUND, &get, None, WORDING, true), "No such API endpoint.");
    }
}
