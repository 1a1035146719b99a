//! The voter cookie: a random id given on first visit, HttpOnly and SameSite.

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use crate::domain::VoterId;
use crate::error::AppError;

/// The cookie's name.
pub const COOKIE: &str = "vs_voter";
const MAX_AGE_SECS: u32 = 400 * 24 * 60 * 60;

/// The voter id in the request's cookies, if it is a valid one.
pub fn from_cookies(headers: &HeaderMap) -> Option<VoterId> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .and_then(|(_, value)| VoterId::parse(value))
}

/// Gives every request a voter: the cookie's, or a new one that the response then sets.
pub async fn assign(mut request: Request, next: Next) -> Response {
    let (voter, fresh) = match from_cookies(request.headers()) {
        Some(voter) => (voter, false),
        None => (VoterId::random(), true),
    };
    request.extensions_mut().insert(voter.clone());
    let mut response = next.run(request).await;
    if fresh {
        let cookie = format!("{COOKIE}={voter}; Path=/; Max-Age={MAX_AGE_SECS}; HttpOnly; SameSite=Lax");
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
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
