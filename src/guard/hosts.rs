//! Without `PUBLIC_URL`, absolute links (share links, QR codes, link previews, oEmbed,
//! the manage link) are built from the request's `Host`, which the client writes. So
//! only the hosts in `ALLOWED_HOSTS` (by default the loopback names and the bind
//! address) are answered; any other gets `400`, before a forged name could be reflected.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::config::Settings;
use crate::routes::refusals;

/// The host names answered, or `None` when `PUBLIC_URL` makes the `Host` irrelevant.
#[derive(Debug, Clone)]
pub struct AllowedHosts(Option<Arc<[String]>>);

impl AllowedHosts {
    pub fn new(settings: &Settings) -> Self {
        Self(settings.allowed_hosts.as_deref().map(Arc::from))
    }

    /// Whether a `Host` header value names an allowed host (any port).
    fn allows(&self, host: &str) -> bool {
        let Some(names) = &self.0 else { return true };
        let name = host_name(host).to_ascii_lowercase();
        names.contains(&name)
    }
}

/// The name in a `Host` value, without its port: `votes.example:8080` → `votes.example`,
/// `[::1]:3000` → `::1`.
fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    host.rsplit_once(':').filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit())).map_or(host, |(name, _)| name)
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
            refusals::in_callers_format(&request, StatusCode::BAD_REQUEST, message)
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
        ];
        for (description, host, expected) in cases {
            assert_eq!(allowed.allows(host), expected, "{description}");
        }
        assert!(AllowedHosts(None).allows("anything.example"), "with PUBLIC_URL, any host");
    }
}
