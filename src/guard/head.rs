//! Request heads over our limits: a request line over [`MAX_REQUEST_LINE`] gets `414`,
//! headers over [`MAX_HEADERS`] get `431`, each with a body in the caller's format.
//!
//! hyper answers a head larger than its buffer itself, with a bare `431`. Its buffer
//! ([`READ_BUFFER`]) therefore holds both our limits together, so that this check sees
//! any request that breaks only one of them first. No larger: the same bound caps what hyper queues for a viewer that stopped
//! reading, and a lagging viewer should get the latest state, not a backlog.

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;

use crate::web;

/// The longest request line (method, target, version) we read: 8 KiB, as most servers.
pub const MAX_REQUEST_LINE: usize = 8 * 1024;
/// The most header bytes (names, values and their separators) we read: 8 KiB.
pub const MAX_HEADERS: usize = 8 * 1024;
/// The largest a connection's read (and write) buffer may grow: past it, hyper refuses
/// the head.
pub const READ_BUFFER: usize = 16 * 1024;

/// The request line's length as sent: method, target, version, spaces and CRLF.
fn request_line_len(request: &Request) -> usize {
    let target = request.uri().path_and_query().map_or(1, |p| p.as_str().len());
    request.method().as_str().len() + 1 + target + 1 + "HTTP/1.1".len() + 2
}

/// The headers' length as sent: `name: value` and CRLF each.
fn headers_len(request: &Request) -> usize {
    request.headers().iter().map(|(name, value)| name.as_str().len() + 2 + value.len() + 2).sum()
}

/// Refuses a request line or headers over our limits, before anything else reads them.
pub async fn refuse_large(request: Request, next: Next) -> Response {
    if request_line_len(&request) > MAX_REQUEST_LINE {
        let message = format!(
            "The address is too long: at most {MAX_REQUEST_LINE} bytes are read. Use a shorter link, or send long data in a request body."
        );
        return web::in_callers_format(&request, StatusCode::URI_TOO_LONG, message);
    }
    if headers_len(&request) > MAX_HEADERS {
        let message = format!(
            "The request's headers are too large: at most {MAX_HEADERS} bytes are read. Clear this site's cookies, or send fewer or shorter headers."
        );
        return web::in_callers_format(&request, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, message);
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_count_what_was_sent() {
        let request =
            Request::get("/polls/1?x=1").header("host", "a").body(axum::body::Body::empty()).expect("a request");
        assert_eq!(request_line_len(&request), "GET /polls/1?x=1 HTTP/1.1\r\n".len());
        assert_eq!(headers_len(&request), "host: a\r\n".len());
    }
}
