//! Without `PUBLIC_URL`, absolute links (share links, QR codes, link previews, oEmbed,
//! the manage link) are built from the request's `Host`, which the client writes. So
//! only the hosts in `ALLOWED_HOSTS` (by default the loopback names and the bind
//! address) are answered; any other gets `400`, before a forged name could be reflected.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::uri::Authority;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::config::Http;
use crate::web;

/// The host names answered, or `None` when `PUBLIC_URL` makes the `Host` irrelevant.
#[derive(Debug, Clone)]
pub struct AllowedHosts(Option<Arc<[String]>>);

impl AllowedHosts {
    pub fn new(settings: &Http) -> Self {
        Self(settings.allowed_hosts.names().map(Arc::from))
    }

    /// Whether a `Host` header value names an allowed host (any port).
    fn allows(&self, host: &str) -> bool {
        let Some(names) = &self.0 else { return true };
        host_name(host).is_some_and(|name| names.contains(&name))
    }
}

/// The name in a `Host` value, lowercase, without its port: `votes.example:8080` →
/// `votes.example`, `[::1]:3000` → `::1`. `None` unless the value is a host and an
/// optional port, nothing more (no user, no path, nothing after an IPv6 literal).
fn host_name(host: &str) -> Option<String> {
    let authority: Authority = host.parse().ok()?;
    let name = authority.host();
    let port = host.strip_prefix(name)?;
    let port_ok = port.is_empty()
        || port.strip_prefix(':').is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if !port_ok {
        return None;
    }
    // In brackets only an IPv6 address.
    let name = match name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
        Some(inside) => inside.parse::<std::net::Ipv6Addr>().ok()?.to_string(),
        None => name.to_ascii_lowercase(),
    };
    Some(name)
}

/// Refuses a request whose `Host` is not allowed, in the caller's format.
pub async fn check(State(allowed): State<AllowedHosts>, request: Request, next: Next) -> Response {
    let host = request.headers().get(header::HOST).map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    match host {
        Some(host) if !allowed.allows(&host) => {
            let shown: String = host.chars().take(100).collect();
            let message = format!(
                "This server does not answer for the host “{shown}”. Its operator lists the names it answers in \
                 ALLOWED_HOSTS, or sets PUBLIC_URL."
            );
            web::in_callers_format(&request, StatusCode::BAD_REQUEST, message)
        }
        _ => next.run(request).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_judged_by_name_whatever_the_port() {
        let allowed =
            AllowedHosts(Some(Arc::from(vec!["localhost".to_owned(), "::1".to_owned(), "votes.example".to_owned()])));
        let cases = [
            ("a listed name", "votes.example", true),
            ("with a port", "votes.example:8080", true),
            ("in capitals", "VOTES.example", true),
            ("IPv6 loopback with a port", "[::1]:3000", true),
            ("localhost", "localhost:3000", true),
            ("another name", "evil.example", false),
            ("a listed name as a suffix", "evil-votes.example", false),
            ("a listed name as a prefix", "votes.example.evil", false),
            ("a name with a bogus port", "votes.example:x", false),
            ("empty", "", false),
            ("text after an IPv6 literal", "[::1]evil.example", false),
            ("a name in brackets", "[localhost]", false),
            ("a user part", "evil.example@votes.example", false),
            ("a path", "votes.example/x", false),
        ];
        for (description, host, expected) in cases {
            assert_eq!(allowed.allows(host), expected, "{description}");
        }
        assert!(AllowedHosts(None).allows("anything.example"), "with PUBLIC_URL, any host");
    }
}
