//! Security headers on every response. Pages may not be framed, except the `/embed/…`
//! pages, which the sites in `EMBED_ALLOWED_ORIGINS` may frame.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::config::Embed;

/// Scripts, styles and everything else only from this origin; no inline code. Framing
/// (`frame-ancestors`) is added per response.
const POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'";

/// Where embeddable pages live.
pub const EMBED_PREFIX: &str = "/embed/";

/// The two policies: for every page, and for embeddable pages.
#[derive(Debug, Clone)]
pub struct Policies {
    page: HeaderValue,
    embed: HeaderValue,
}

impl Policies {
    /// From `EMBED_ALLOWED_ORIGINS`.
    pub fn new(embed: &Embed) -> Self {
        Self { page: policy("'none'"), embed: policy(&embed.allowed_origins.join(" ")) }
    }
}

/// The strictest policy: the fallback should a built one ever be unusable.
const NO_FRAMES: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
     connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

fn policy(frame_ancestors: &str) -> HeaderValue {
    // Origins were checked when the settings were read (ASCII, no quotes or semicolons), so
    // this cannot fail; if it ever did, nothing may frame the page.
    HeaderValue::from_str(&format!("{POLICY}; frame-ancestors {frame_ancestors}"))
        .unwrap_or_else(|_| HeaderValue::from_static(NO_FRAMES))
}

/// Adds the headers: the content policy and the referrer rule (unless a handler set its
/// own), no sniffing, and for pages that may not be framed the legacy `X-Frame-Options`.
pub async fn apply(State(policies): State<Policies>, request: Request, next: Next) -> Response {
    let embeddable = request.uri().path().starts_with(EMBED_PREFIX);
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        let policy = if embeddable { &policies.embed } else { &policies.page };
        headers.insert(header::CONTENT_SECURITY_POLICY, policy.clone());
    }
    if !embeddable {
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // A page whose address holds a secret (the manage page) sets a stricter one itself.
    if !headers.contains_key(header::REFERRER_POLICY) {
        headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policies_are_whole_and_differ_only_in_who_may_frame() {
        assert_eq!(policy("'none'"), NO_FRAMES);
        let embed = policy("https://blog.example http://127.0.0.1:8081");
        let embed = embed.to_str().expect("ASCII");
        assert!(embed.starts_with(POLICY), "{embed}");
        assert!(embed.ends_with("; frame-ancestors https://blog.example http://127.0.0.1:8081"), "{embed}");
    }
}
