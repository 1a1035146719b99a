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

use crate::error::{AppError, ErrorBody};
use crate::web::{self, Audience, HxMode};

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

/// Renders a refusal of the route family `audience`: our own errors (an [`ErrorBody`] in
/// the response's extensions) with their words, and any other refusal not already in the
/// family's format worded from its status and the refusing layer's words. The refusing
/// layer's headers (Retry-After, Allow, Set-Cookie…) are kept; the body's own replaced.
async fn render(response: Response, audience: Audience, method: &Method, wording: Wording) -> Response {
    let mut response = response;
    let native = match audience {
        Audience::Json => "application/json",
        Audience::Html(_) => "text/html",
    };
    let body = match response.extensions_mut().remove::<ErrorBody>() {
        Some(body) => body,
        None if is_refusal(&response) && !content_type_is(&response, native) => {
            let status = response.status();
            let (parts, body) = response.into_parts();
            let message = explain(status, method, words(body).await, wording, audience == Audience::Json);
            response = Response::from_parts(parts, Body::empty());
            ErrorBody::new(message)
        }
        None => return response,
    };
    let (mut parts, _) = response.into_parts();
    let (worded, body) = web::refusal(audience, parts.status, body).into_parts();
    parts.headers.remove(header::CONTENT_TYPE);
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.extend(worded.headers);
    Response::from_parts(parts, body)
}

/// HTML routes: every refusal as the error page, or its fragment for htmx.
pub async fn html(
    State(wording): State<Wording>,
    mode: HxMode,
    method: Method,
    request: Request,
    next: Next,
) -> Response {
    let response = next.run(request).await;
    render(response, Audience::Html(mode), &method, wording).await
}

/// `/api`: every refusal as `{"error": …}`, never cached.
pub async fn api(State(wording): State<Wording>, method: Method, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    render(response, Audience::Json, &method, wording).await
}

/// The last word, outside every router: a refusal that still has no body (the router's
/// `405` for the probes and assets, say) gets one in the caller's format.
pub async fn bodiless(State(wording): State<Wording>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let audience = Audience::of(&request);
    let response = next.run(request).await;
    let empty = response.headers().get(header::CONTENT_LENGTH).is_some_and(|length| length == "0")
        || axum::body::HttpBody::size_hint(response.body()).exact() == Some(0);
    if !is_refusal(&response) || !empty {
        return response;
    }
    render(response, audience, &method, wording).await
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
