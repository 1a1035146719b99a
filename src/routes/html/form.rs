//! Form bodies as browsers send them: UTF-8 text. Anything else comes from a broken or
//! hostile client and is refused, rather than read with U+FFFD in place of what was sent.

use axum::body::{Body, Bytes, to_bytes};
use axum::extract::{FromRequest, Request};
use axum_extra::extract::Form as ExtraForm;
use serde::de::DeserializeOwned;

use crate::error::AppError;

/// An `application/x-www-form-urlencoded` body whose every name and value is UTF-8 once
/// percent-decoded, deserialized as axum-extra's `Form` does (repeated fields as lists).
#[derive(Debug, Clone)]
pub struct Form<T>(pub T);

/// True when every `name=value` pair of `body` decodes to UTF-8 text.
fn decodes_to_utf8(body: &[u8]) -> bool {
    body.split(|b| *b == b'&')
        .flat_map(|pair| pair.splitn(2, |b| *b == b'='))
        .all(|part| percent_encoding::percent_decode(part).decode_utf8().is_ok())
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Form<T> {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (parts, body) = request.into_parts();
        // The body limit layer bounds the stream; running past it ends the read here.
        let bytes: Bytes = to_bytes(body, usize::MAX)
            .await
            .map_err(|_| AppError::TooLarge("The form is too large to read.".into()))?;
        if !decodes_to_utf8(&bytes) {
            return Err(AppError::BadRequest(
                "The form is not valid UTF-8 text. Send it from the page, or encode it as UTF-8.".into(),
            ));
        }
        let request = Request::from_parts(parts, Body::from(bytes));
        let ExtraForm(value) = ExtraForm::<T>::from_request(request, state).await.map_err(|rejection| {
            AppError::BadRequest(format!("The form could not be read: {}", rejection.body_text()))
        })?;
        Ok(Self(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_utf8_forms_are_read() {
        let cases = [
            ("plain", &b"question=Tea&option=a&option=b"[..], true),
            ("escaped UTF-8", b"question=Caf%C3%A9", true),
            ("plus for space", b"question=Tea+or+coffee", true),
            ("empty", b"", true),
            ("an escaped lone byte", b"question=%FF", false),
            ("a raw invalid byte", b"question=\xff", false),
            ("a truncated sequence", b"option=%C3", false),
            ("in a name", b"%FE=x", false),
        ];
        for (description, body, ok) in cases {
            assert_eq!(decodes_to_utf8(body), ok, "{description}");
        }
    }
}
