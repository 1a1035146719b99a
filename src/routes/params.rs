//! Path parameters shared by the HTML and API routes.

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;

use crate::error::AppError;

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
