//! What every API handler shares: the JSON body extractor (objects only, refusals that
//! say what is wrong) and the JSON of a poll.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use serde::de::{DeserializeOwned, Error as _, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};

use crate::domain::{Poll, Theme, rfc3339};
use crate::error::{ApiError, AppError};
use crate::present::{self, Tally};

/// A JSON object, and only an object, read as `T`. serde's derived structs also accept an
/// array of their fields in order (`["a"]` for `{"text": "a"}`): the documented shape is
/// the object, so anything else is refused, naming where it was.
#[derive(Debug)]
pub struct Object<T>(pub T);

impl<'de, T: DeserializeOwned> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Only<T>(std::marker::PhantomData<T>);
        impl<'de, T: DeserializeOwned> Visitor<'de> for Only<T> {
            type Value = Object<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut object = serde_json::Map::new();
                while let Some((key, value)) = map.next_entry::<String, Value>()? {
                    if object.contains_key(&key) {
                        return Err(A::Error::custom(format_args!("duplicate field `{key}`")));
                    }
                    object.insert(key, value);
                }
                // Keep the path inside (`options[0]`): the caller's tracker sees only this object.
                serde_path_to_error::deserialize(Value::Object(object)).map(Object).map_err(A::Error::custom)
            }
        }
        deserializer.deserialize_map(Only(std::marker::PhantomData))
    }
}

/// `Json` whose rejections are JSON errors that say what is wrong with the body, which
/// must be an object.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<Object<T>>::from_request(request, state).await {
            Ok(Json(Object(value))) => Ok(Self(value)),
            Err(rejection) => Err(ApiError(match rejection {
                JsonRejection::JsonDataError(e) => {
                    AppError::Invalid(format!("The JSON body does not fit: {}", e.body_text()))
                }
                JsonRejection::MissingJsonContentType(e) => AppError::UnsupportedMediaType(e.body_text()),
                other => AppError::BadRequest(other.body_text()),
            })),
        }
    }
}

pub fn theme_json(theme: &Theme) -> Value {
    json!({
        "key": theme.key, "slug": theme.slug, "name": theme.name,
        "icon": theme.icon, "color": theme.color, "description": theme.description,
    })
}

/// A poll as JSON, with its results as this caller may see them.
pub fn poll_json(poll: &Poll, theme: Option<&Theme>, sees_results: bool) -> Value {
    let results = present::results_json(&Tally::of(poll), sees_results);
    json!({
        "id": poll.id,
        "question": poll.question,
        "theme": theme.map(|t| t.key.as_str()),
        "closed": poll.closed,
        "closes_at": poll.settings.closes_at.map(rfc3339),
        "max_choices": poll.max_choices,
        "results_shown": poll.settings.results.as_str(),
        "protection": poll.settings.protection.as_str(),
        "options": results["options"],
        "total": results["total"],
        "voters": poll.voters,
        "withheld": results["withheld"],
    })
}
