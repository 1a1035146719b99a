//! CSRF defence: a state-changing request must come from our own pages.
//!
//! Browsers say where a request comes from in `Sec-Fetch-Site` (all current ones) or at
//! least `Origin`. A request with neither is not from a browser form (curl, a script) and
//! carries no ambient cookie risk worth refusing.

use axum::extract::Request;
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::{AppError, json_error};

const REFUSED: &str = "This request came from another site, so it was refused. Submit the form from VoteStream itself.";

/// True when the headers show a cross-site request.
pub fn is_cross_site(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return !matches!(site.as_bytes(), b"same-origin" | b"none");
    }
    let Some(origin) = headers.get(header::ORIGIN) else { return false };
    let Ok(origin) = origin.to_str() else { return true };
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else { return true };
    let authority = origin.split_once("://").map_or("", |(_, rest)| rest);
    !authority.eq_ignore_ascii_case(host)
}

fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Refuses cross-site state changes on HTML routes with the error page.
pub async fn html(request: Request, next: Next) -> Response {
    if changes_state(request.method()) && is_cross_site(request.headers()) {
        return AppError::Forbidden(REFUSED.into()).into_response();
    }
    next.run(request).await
}

/// Refuses cross-site state changes on the API with a JSON error.
pub async fn api(request: Request, next: Next) -> Response {
    if changes_state(request.method()) && is_cross_site(request.headers()) {
        return json_error(StatusCode::FORBIDDEN, REFUSED);
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn requests_are_judged_by_where_they_come_from() {
        let cases = [
            ("same-origin fetch metadata", headers(&[("sec-fetch-site", "same-origin")]), false),
            ("typed into the address bar", headers(&[("sec-fetch-site", "none")]), false),
            ("another site", headers(&[("sec-fetch-site", "cross-site")]), true),
            ("a sibling subdomain", headers(&[("sec-fetch-site", "same-site")]), true),
            ("matching Origin", headers(&[("origin", "http://votes.test:8080"), ("host", "votes.test:8080")]), false),
            ("foreign Origin", headers(&[("origin", "https://evil.test"), ("host", "votes.test")]), true),
            ("opaque Origin", headers(&[("origin", "null"), ("host", "votes.test")]), true),
            ("no browser headers (curl)", headers(&[("host", "votes.test")]), false),
        ];
        for (description, headers, cross) in cases {
            assert_eq!(is_cross_site(&headers), cross, "{description}");
        }
    }
}
