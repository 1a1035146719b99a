//! One error type for HTML handlers and its JSON twin for the API.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::Refusal;
use crate::store::StoreError;

/// What can go wrong in a request, as the client should hear it.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 404 with a message naming what was not found.
    #[error("{0}")]
    NotFound(String),
    /// 400: the request itself is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// 401: the request needs a credential it did not send (the API's manage key).
    #[error("{0}")]
    Unauthorized(String),
    /// 403: refused, such as a cross-site form post.
    #[error("{0}")]
    Forbidden(String),
    /// 409: the request conflicts with what is stored (a closed poll).
    #[error("{0}")]
    Conflict(String),
    /// 409: this voter has voted in this poll already.
    #[error("You already voted for {}. One vote per poll.", quoted(.choices))]
    AlreadyVoted {
        /// Their earlier choices: ids and texts.
        choices: Vec<(i64, String)>,
    },
    /// 413: a body over the limit.
    #[error("{0}")]
    TooLarge(String),
    /// 415: a body in a format the endpoint does not read.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 422: well-formed but not acceptable.
    #[error("{0}")]
    Invalid(String),
    /// 503: a dependency is away or saturated; nothing was done, try again shortly.
    #[error("{0}")]
    Unavailable(String),
    /// 500: logged with detail, shown without.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Seconds a client is asked to wait after a 503 (the database breaker's default cooldown).
pub const RETRY_AFTER_UNAVAILABLE_SECS: u64 = 5;

/// Shorthand for handler results.
pub type Result<T, E = AppError> = std::result::Result<T, E>;

impl From<StoreError> for AppError {
    fn from(error: StoreError) -> Self {
        if let StoreError::Batch(cause) = &error
            && !cause.in_doubt()
        {
            // The batch's transaction did not commit: none of it is stored.
            return Self::Unavailable(
                "VoteStream could not save your vote just now; nothing was saved. Please try again in a few seconds."
                    .into(),
            );
        }
        if error.in_doubt() {
            // The call was abandoned mid-way, or its commit's answer lost: say what is known,
            // and no more.
            tracing::warn!(%error, "refused: the database did not answer in time");
            Self::Unavailable(
                "VoteStream's database did not answer in time. What you sent may or may not have been saved: \
                 reload the page to see, then try again if needed."
                    .into(),
            )
        } else if error.is_unavailable() {
            tracing::warn!(%error, "refused: the database is unavailable");
            Self::Unavailable(
                "VoteStream cannot reach its database just now, so nothing was saved. Please try again in a few seconds."
                    .into(),
            )
        } else {
            Self::Internal(error.into())
        }
    }
}

/// The options' texts, quoted and joined, for the message.
fn quoted(choices: &[(i64, String)]) -> String {
    votestream_views::components::quoted_list(choices.iter().map(|(_, text)| text.as_str()))
}

/// The one mapping from a refused vote to what the client hears, for pages and API alike.
impl From<Refusal> for AppError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::UnknownPoll { poll_id } => Self::poll_not_found(poll_id),
            Refusal::UnknownOption { poll_id, option_id } => Self::Invalid(format!(
                "Option {option_id} is not part of poll {poll_id}. Choose one of the options shown."
            )),
            Refusal::Closed => Self::Conflict("This poll is closed: voting has ended.".into()),
            Refusal::AlreadyVoted { choices } => Self::AlreadyVoted { choices },
            Refusal::SameAddress => Self::Conflict(
                "A vote from your network address is already counted in this poll: it takes one per address.".into(),
            ),
            Refusal::TooManyChoices { max, picked } => Self::Invalid(format!(
                "You picked {picked} options; this poll takes at most {max}. Untick some and vote again."
            )),
        }
    }
}

impl AppError {
    /// The 404 for a poll id that is not stored.
    pub fn poll_not_found(id: i64) -> Self {
        Self::NotFound(format!("There is no poll {id}. It may have been removed, or the link may be mistyped."))
    }

    /// A stored poll whose theme is not: the database broke its own foreign key.
    pub fn poll_without_theme(id: i64) -> Self {
        Self::Internal(anyhow::anyhow!("poll {id} has no theme"))
    }

    /// The 404 for a theme slug or key that is not stored.
    pub fn theme_not_found(slug_or_key: &str) -> Self {
        Self::NotFound(format!("There is no theme “{slug_or_key}”."))
    }

    /// Headers the status calls for: `Retry-After` on a 503.
    fn add_headers(&self, response: &mut Response) {
        if matches!(self, Self::Unavailable(_)) {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_UNAVAILABLE_SECS));
        }
        if matches!(self, Self::Unauthorized(_)) {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Conflict(_) | Self::AlreadyVoted { .. } => StatusCode::CONFLICT,
            Self::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What the client is told. Internal errors are not described (their cause goes to the
    /// log with the request's line: [`Cause`]).
    pub fn public_message(&self) -> String {
        match self {
            Self::Internal(_) => "Something went wrong on our side. Please try again in a moment.".to_owned(),
            other => other.to_string(),
        }
    }

    /// The error page's headline for a status.
    pub fn title_for(status: StatusCode) -> &'static str {
        match status {
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => "Not allowed",
            StatusCode::CONFLICT => "Not possible now",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "Unsupported format",
            StatusCode::UNPROCESSABLE_ENTITY => "Cannot do that",
            StatusCode::METHOD_NOT_ALLOWED => "Not here",
            StatusCode::PAYLOAD_TOO_LARGE => "Too large",
            StatusCode::URI_TOO_LONG => "Address too long",
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => "Headers too large",
            StatusCode::REQUEST_TIMEOUT => "Too slow",
            StatusCode::TOO_MANY_REQUESTS => "Slow down",
            StatusCode::SERVICE_UNAVAILABLE => "Paused for a moment",
            status if status.is_server_error() => "Something went wrong",
            _ => "Bad request",
        }
    }

    /// The 403 for a manage key that is not the poll's (or a poll that is not there): the
    /// same answer either way, so it reveals nothing.
    pub fn not_the_owner() -> Self {
        Self::Forbidden(
            "This manage link is not valid: check that you copied all of it. A deleted poll's link no longer works."
                .into(),
        )
    }

    /// The 404 for an `/api` address no endpoint answers.
    pub fn endpoint_not_found() -> Self {
        Self::NotFound("No such API endpoint.".into())
    }

    /// The 404 for an address nothing answers.
    pub fn page_not_found() -> Self {
        Self::NotFound("There is no page at this address. It may have moved, or the link may be mistyped.".into())
    }
}

/// A refusal on its way out: its status and headers now, its words in an extension. The
/// route family's refusal layer (`routes::refusals`) renders it, as JSON or as the error
/// page or htmx fragment, through the one renderer (`web::refusal`).
/// Why a request failed on our side, put on its response for the request's log line
/// (`telemetry::requests`): the cause is logged once, with the request's id and route,
/// sampled or not.
#[derive(Debug, Clone)]
pub struct Cause(pub String);

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let mut body = ErrorBody::new(self.public_message());
        if let Self::AlreadyVoted { choices } = &self {
            body.option_ids = Some(choices.iter().map(|(id, _)| *id).collect());
            if let [(option_id, _)] = choices.as_slice() {
                body.option_id = Some(*option_id);
            }
        }
        let mut response = self.status().into_response();
        self.add_headers(&mut response);
        response.extensions_mut().insert(body);
        if let Self::Internal(error) = &self {
            response.extensions_mut().insert(Cause(format!("{error:#}")));
        }
        response
    }
}

/// Every refusal: what is wrong, and for some what it is about.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What is wrong, in words.
    pub error: String,
    /// Per field of a poll not created: its problem.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fields: Option<std::collections::BTreeMap<String, String>>,
    /// An earlier vote's options (already voted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub option_ids: Option<Vec<i64>>,
    /// An earlier vote's option, when it was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub option_id: Option<i64>,
}

impl ErrorBody {
    /// Just the message.
    pub fn new(error: impl Into<String>) -> Self {
        Self { error: error.into(), fields: None, option_ids: None, option_id: None }
    }
}

/// `{"error": message}` with `status`.
pub fn json_error(status: StatusCode, message: &str) -> Response {
    json_response(status, serde_json::to_value(ErrorBody::new(message)).unwrap_or_default())
}

/// Every JSON refusal: `body` with `status`, never cached.
pub fn json_response(status: StatusCode, body: serde_json::Value) -> Response {
    let mut response = (status, Json(body)).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
