//! Extractors both route families use: a poll id from the path, this site's origin.

use axum::extract::{FromRef, FromRequestParts, Path};
use axum::http::header;
use axum::http::request::Parts;

use crate::error::AppError;
use crate::guard::client::OverHttps;
use crate::web::PublicUrl;

/// A poll id from the path; anything that is not one is a 404, not a parse error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollId(pub i64);

impl PollId {
    /// The id in `raw`, if it is one: a positive whole number.
    fn parse(raw: &str) -> Option<Self> {
        raw.parse::<i64>().ok().filter(|id| *id > 0).map(Self)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PollId {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| AppError::NotFound("There is no such poll.".into()))?;
        Self::parse(&raw).ok_or_else(|| AppError::NotFound(format!("There is no poll “{raw}”.")))
    }
}

/// This site's origin as people reach it (`https://votes.example`): `PUBLIC_URL`, else the
/// request's `Host`, over HTTPS when a trusted proxy says so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteOrigin(pub String);

impl<S: Send + Sync> FromRequestParts<S> for SiteOrigin
where
    PublicUrl: FromRef<S>,
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        if let PublicUrl(Some(url)) = PublicUrl::from_ref(state) {
            return Ok(Self(url));
        }
        let https = parts.extensions.get::<OverHttps>().is_some_and(|OverHttps(https)| *https);
        // Only characters a host and port can have: the header is the client's to write.
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b)))
            .unwrap_or("localhost");
        Ok(Self(format!("{}://{host}", if https { "https" } else { "http" })))
    }
}

impl SiteOrigin {
    /// The absolute address of a path of this site.
    pub fn url(&self, path: impl std::fmt::Display) -> String {
        format!("{}{path}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_positive_whole_numbers_are_poll_ids() {
        assert_eq!(PollId::parse("42"), Some(PollId(42)));
        for raw in ["0", "-3", "abc", "4.2", "", " 1", "99999999999999999999"] {
            assert_eq!(PollId::parse(raw), None, "{raw:?}");
        }
    }
}
