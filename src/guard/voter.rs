//! The voter cookie: a random id given on first visit, HttpOnly and SameSite.

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};

use crate::domain::VoterId;
use crate::error::AppError;

/// The cookie's name.
pub const COOKIE: &str = "vs_voter";
/// How long a browser keeps its voter id: 400 days, the most browsers allow.
const MAX_AGE: time::Duration = time::Duration::days(400);

/// The voter id in the request's cookies, if it is a valid one.
pub fn from_jar(jar: &CookieJar) -> Option<VoterId> {
    jar.get(COOKIE).and_then(|cookie| VoterId::parse(cookie.value()))
}

/// The cookie that gives a browser its voter id.
fn cookie(voter: &VoterId) -> Cookie<'static> {
    Cookie::build((COOKIE, voter.to_string()))
        .path("/")
        .max_age(MAX_AGE)
        .http_only(true)
        .same_site(SameSite::Lax)
        .build()
}

/// Gives every request a voter: the cookie's, or a new one that the response then sets.
pub async fn assign(jar: CookieJar, mut request: Request, next: Next) -> Response {
    let (voter, fresh) = match from_jar(&jar) {
        Some(voter) => (voter, false),
        None => (VoterId::random(), true),
    };
    request.extensions_mut().insert(voter.clone());
    let response = next.run(request).await;
    if fresh { (jar.add(cookie(&voter)), response).into_response() } else { response }
}

/// Handlers take the voter as an argument.
impl<S: Send + Sync> FromRequestParts<S> for VoterId {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<VoterId>()
            .cloned()
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("voter middleware missing on this route")))
    }
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue, header};

    use super::*;

    fn jar(cookie_headers: &[&'static str]) -> CookieJar {
        let mut headers = HeaderMap::new();
        for value in cookie_headers {
            headers.append(header::COOKIE, HeaderValue::from_static(value));
        }
        CookieJar::from_headers(&headers)
    }

    #[test]
    fn the_voter_is_read_from_its_cookie_among_others() {
        let id = "0123456789abcdef0123456789abcdef";
        let cases = [
            ("alone", vec!["vs_voter=0123456789abcdef0123456789abcdef"], Some(id)),
            ("among others", vec!["theme=dark; vs_voter=0123456789abcdef0123456789abcdef; x=1"], Some(id)),
            ("in a second Cookie header", vec!["a=1", "vs_voter=0123456789abcdef0123456789abcdef"], Some(id)),
            ("no cookie", vec![], None),
            ("a forged value", vec!["vs_voter=0123456789abcdef0123456789abcdeg"], None),
            ("an injection attempt", vec!["vs_voter=0123456789abcdef0123456789abcde%3B"], None),
            ("a look-alike name", vec!["xvs_voter=0123456789abcdef0123456789abcdef"], None),
        ];
        for (description, headers, expected) in cases {
            assert_eq!(from_jar(&jar(&headers)).as_ref().map(VoterId::as_str), expected, "{description}");
        }
    }

    #[test]
    fn the_cookie_is_http_only_same_site_and_long_lived() {
        let voter = VoterId::random();

        let set = cookie(&voter).to_string();

        assert!(set.starts_with(&format!("vs_voter={voter}")), "{set}");
        for part in ["Path=/", "HttpOnly", "SameSite=Lax", "Max-Age=34560000"] {
            assert!(set.contains(part), "{part} in {set}");
        }
    }
}
