//! The API's shapes, as types: the body extractor (objects only, refusals that say what is
//! wrong) and every answer's body. The OpenAPI document is generated from them.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use serde::de::{DeserializeOwned, Error as _, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::domain::{Poll, Theme, rfc3339};
use crate::error::AppError;
use crate::present::{self, OptionResult, ResultsBody, Tally};

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
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<Object<T>>::from_request(request, state).await {
            Ok(Json(Object(value))) => Ok(Self(value)),
            Err(rejection) => Err(match rejection {
                JsonRejection::JsonDataError(e) => {
                    AppError::Invalid(format!("The JSON body does not fit: {}", e.body_text()))
                }
                JsonRejection::MissingJsonContentType(e) => AppError::UnsupportedMediaType(e.body_text()),
                other => AppError::BadRequest(other.body_text()),
            }),
        }
    }
}

/// A theme.
#[derive(Debug, Serialize, ToSchema)]
pub struct ThemeBody {
    /// The key the API names it by (`OnTrend`).
    pub key: String,
    /// Its address's slug (`on-trend`).
    pub slug: String,
    /// Its name (`#OnTrend`).
    pub name: String,
    /// One emoji.
    pub icon: String,
    /// `#rrggbb`.
    pub color: String,
    /// A sentence or two.
    pub description: String,
}

impl From<&Theme> for ThemeBody {
    fn from(theme: &Theme) -> Self {
        Self {
            key: theme.key.clone(),
            slug: theme.slug.clone(),
            name: theme.name.clone(),
            icon: theme.icon.clone(),
            color: theme.color.clone(),
            description: theme.description.clone(),
        }
    }
}

/// A theme with its totals, as `GET /api/themes` lists it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ThemeSummary {
    #[serde(flatten)]
    pub theme: ThemeBody,
    /// Its number of polls.
    pub poll_count: i64,
    /// Votes over all its polls.
    pub vote_count: i64,
}

/// A poll, with its results as the caller may see them.
#[derive(Debug, Serialize, ToSchema)]
pub struct PollBody {
    pub id: i64,
    pub question: String,
    /// Its theme's key.
    pub theme: Option<String>,
    /// Whether voting has ended.
    pub closed: bool,
    /// When voting ends by itself (RFC 3339), if ever.
    pub closes_at: Option<String>,
    /// How many options one voter may pick.
    pub max_choices: u8,
    /// `always`, `after_vote` or `after_close`.
    pub results_shown: String,
    /// One vote per `browser`, per `address`, or `none`.
    pub protection: String,
    /// Every option; without its votes while the results are withheld.
    pub options: Vec<OptionResult>,
    /// All votes; `null` while the results are withheld.
    pub total: Option<i64>,
    /// How many have voted.
    pub voters: i64,
    /// Whether the caller may not see the votes yet.
    pub withheld: bool,
}

/// A poll as JSON, with its results as this caller may see them.
pub fn poll_body(poll: &Poll, theme: Option<&Theme>, sees_results: bool) -> PollBody {
    let results = present::results_body(&Tally::of(poll), sees_results);
    PollBody {
        id: poll.id,
        question: poll.question.clone(),
        theme: theme.map(|t| t.key.clone()),
        closed: poll.closed,
        closes_at: poll.settings.closes_at.map(rfc3339),
        max_choices: poll.max_choices,
        results_shown: poll.settings.results.as_str().to_owned(),
        protection: poll.settings.protection.as_str().to_owned(),
        options: results.options,
        total: results.total,
        voters: poll.voters,
        withheld: results.withheld,
    }
}

/// A new poll: the poll, and its manage link and key, which no later answer repeats.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedPoll {
    #[serde(flatten)]
    pub poll: PollBody,
    /// The owner's page (close, settings, delete).
    pub manage_url: String,
    /// The bearer key for `PATCH`/`DELETE /api/polls/{id}`.
    pub manage_key: String,
}

/// A vote accepted.
#[derive(Debug, Serialize, ToSchema)]
pub struct VoteAccepted {
    /// `accepted`.
    pub status: String,
    /// The options voted for.
    pub option_ids: Vec<i64>,
    /// The option voted for, when it was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub option_id: Option<i64>,
    /// The results after the vote; `null` when they could not be read back (the vote is
    /// stored all the same: `GET /api/polls/{id}/results` shows it).
    pub results: Option<ResultsBody>,
}
