//! Every refusal speaks the caller's language: JSON on `/api`, the error page on HTML
//! routes, whichever layer refused; and nothing is stored.

use reqwest::{Method, StatusCode};
use rstest::rstest;
use rstest_reuse::apply;

use crate::on_each_backend;
use crate::support::{Backend, TestApp, spawn_app};

/// One hostile or malformed request: method, path, content type, body.
struct Attempt {
    what: &'static str,
    method: Method,
    path: String,
    content_type: Option<&'static str>,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
    status: StatusCode,
    says: &'static str,
}

fn attempt(
    what: &'static str,
    method: Method,
    path: impl Into<String>,
    status: StatusCode,
    says: &'static str,
) -> Attempt {
    Attempt { what, method, path: path.into(), content_type: None, headers: Vec::new(), body: Vec::new(), status, says }
}

impl Attempt {
    fn body(mut self, content_type: &'static str, body: impl Into<Vec<u8>>) -> Self {
        self.content_type = Some(content_type);
        self.body = body.into();
        self
    }

    fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

/// Past the request line's and the headers' limit (8 KiB each), below hyper's own.
fn too_long() -> String {
    "a".repeat(9 * 1024)
}

async fn send(app: &TestApp, attempt: &Attempt) -> (StatusCode, String, String) {
    let mut request = app
        .client
        .request(attempt.method.clone(), app.url(&attempt.path))
        .header("Sec-Fetch-Site", "same-origin")
        .body(attempt.body.clone());
    if let Some(content_type) = attempt.content_type {
        request = request.header("content-type", content_type);
    }
    for (name, value) in &attempt.headers {
        request = request.header(*name, value);
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    let content_type =
        response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, content_type, response.text().await.unwrap())
}

const JSON: &str = "application/json";
const FORM: &str = "application/x-www-form-urlencoded";

#[apply(on_each_backend)]
#[tokio::test]
async fn every_api_refusal_is_json_that_says_what_is_wrong(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let poll = app.first_poll("Sports").await;
    let huge = format!(r#"{{"question": "{}", "theme": "Sports", "options": []}}"#, "x".repeat(1 << 20));
    let attempts = [
        attempt("a malformed id", Method::GET, "/api/polls/abc", StatusCode::NOT_FOUND, "There is no poll “abc”"),
        attempt("id zero", Method::GET, "/api/polls/0", StatusCode::NOT_FOUND, "There is no poll"),
        attempt(
            "an absurd id",
            Method::GET,
            "/api/polls/99999999999999999999999",
            StatusCode::NOT_FOUND,
            "There is no poll",
        ),
        attempt(
            "an absurd id on a sub-route",
            Method::GET,
            "/api/polls/1e99/results",
            StatusCode::NOT_FOUND,
            "There is no poll",
        ),
        attempt(
            "a wrong method",
            Method::PUT,
            format!("/api/polls/{poll}"),
            StatusCode::METHOD_NOT_ALLOWED,
            "does not take PUT",
        ),
        attempt(
            "a wrong method on a list",
            Method::PUT,
            "/api/themes",
            StatusCode::METHOD_NOT_ALLOWED,
            "does not take PUT",
        ),
        attempt("an unknown path", Method::GET, "/api/nowhere/at/all", StatusCode::NOT_FOUND, "No such API endpoint."),
        attempt("the bare root", Method::GET, "/api", StatusCode::NOT_FOUND, "No such API endpoint."),
        attempt("a theme key of invalid UTF-8", Method::GET, "/api/themes/%FF/polls", StatusCode::BAD_REQUEST, "UTF-8"),
        attempt("a body over the limit", Method::POST, "/api/polls", StatusCode::PAYLOAD_TOO_LARGE, "too large")
            .body(JSON, huge),
        attempt(
            "a form instead of JSON",
            Method::POST,
            "/api/polls",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "application/json",
        )
        .body(FORM, "question=x"),
        attempt("broken JSON", Method::POST, "/api/polls", StatusCode::BAD_REQUEST, "parse")
            .body(JSON, "{\"question\":"),
        attempt(
            "invalid UTF-8 in JSON",
            Method::POST,
            format!("/api/polls/{poll}/vote"),
            StatusCode::BAD_REQUEST,
            "invalid unicode code point",
        )
        .body(JSON, &b"{\"choice\": \"\xff\"}"[..]),
        attempt(
            "an absurd number",
            Method::POST,
            format!("/api/polls/{poll}/vote"),
            StatusCode::BAD_REQUEST,
            "number out of range",
        )
        .body(JSON, r#"{"choice": 1e400}"#),
        attempt(
            "a number too big",
            Method::POST,
            format!("/api/polls/{poll}/vote"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "choice",
        )
        .body(JSON, r#"{"choice": 99999999999999999999999}"#),
        attempt(
            "an unknown field",
            Method::POST,
            format!("/api/polls/{poll}/vote"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown field",
        )
        .body(JSON, r#"{"option": 1}"#),
        attempt(
            "a NUL in a question",
            Method::POST,
            "/api/polls",
            StatusCode::UNPROCESSABLE_ENTITY,
            "control character (U+0000)",
        )
        .body(JSON, r#"{"question": "Tea\u0000?", "theme": "Sports", "options": [{"text": "a"}, {"text": "b"}]}"#),
        attempt("invisible options", Method::POST, "/api/polls", StatusCode::UNPROCESSABLE_ENTITY, "Option 2 is blank")
            .body(
                JSON,
                r#"{"question": "Tea?", "theme": "Sports", "options": [{"text": "a"}, {"text": "\u200b\u2060"}]}"#,
            ),
        attempt("lookalike options", Method::POST, "/api/polls", StatusCode::UNPROCESSABLE_ENTITY, "repeats option 1")
            .body(JSON, r#"{"question": "Tea?", "theme": "Sports", "options": [{"text": "Yes"}, {"text": "Ｙｅｓ"}]}"#),
        attempt(
            "a request line over the limit",
            Method::GET,
            format!("/api/polls/{}", too_long()),
            StatusCode::URI_TOO_LONG,
            "The address is too long: at most 8192 bytes",
        ),
        attempt(
            "headers over the limit",
            Method::GET,
            "/api/polls",
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers are too large: at most 8192 bytes",
        )
        .header("x-padding", too_long()),
        attempt(
            "a wrong method on the docs",
            Method::DELETE,
            "/api/themes",
            StatusCode::METHOD_NOT_ALLOWED,
            "does not take DELETE",
        ),
    ];
    let polls_before = app.scalar("select count(*) from polls").await;
    for attempt in &attempts {
        let (status, content_type, body) = send(&app, attempt).await;
        assert_eq!(status, attempt.status, "{}: {body}", attempt.what);
        assert!(content_type.starts_with(JSON), "{}: JSON, not {content_type:?}: {body}", attempt.what);
        let json: serde_json::Value =
            serde_json::from_str(&body).unwrap_or_else(|e| panic!("{}: {e}: {body}", attempt.what));
        let message = json["error"].as_str().unwrap_or_else(|| panic!("{}: no error in {json}", attempt.what));
        assert!(message.contains(attempt.says), "{}: {message:?} should say {:?}", attempt.what, attempt.says);
    }
    assert_eq!(app.scalar("select count(*) from polls").await, polls_before, "nothing stored");
    assert_eq!(app.scalar("select count(*) from votes").await, 0, "nothing stored");
}

#[apply(on_each_backend)]
#[tokio::test]
async fn every_html_refusal_is_the_error_page(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let poll = app.first_poll("Sports").await;
    let form = |question: &str| format!("question={question}&theme=sports&option=a&option=b&intent=create");
    let attempts = [
        attempt(
            "a wrong method",
            Method::DELETE,
            format!("/polls/{poll}"),
            StatusCode::METHOD_NOT_ALLOWED,
            "does not take DELETE",
        ),
        attempt("a theme slug of invalid UTF-8", Method::GET, "/themes/%FF", StatusCode::BAD_REQUEST, "UTF-8"),
        attempt("a body over the limit", Method::POST, "/polls", StatusCode::PAYLOAD_TOO_LARGE, "too large")
            .body(FORM, form(&"x".repeat(1 << 20))),
        attempt("JSON instead of a form", Method::POST, "/polls", StatusCode::BAD_REQUEST, "could not be read")
            .body(JSON, "{}"),
        attempt("invalid UTF-8 in a form", Method::POST, "/polls", StatusCode::BAD_REQUEST, "not valid UTF-8")
            .body(FORM, form("Caf%E9")),
        attempt(
            "invalid UTF-8 in a vote",
            Method::POST,
            format!("/polls/{poll}/votes"),
            StatusCode::BAD_REQUEST,
            "not valid UTF-8",
        )
        .body(FORM, "option=%FF"),
        attempt(
            "a NUL in a question",
            Method::POST,
            "/polls",
            StatusCode::UNPROCESSABLE_ENTITY,
            "control character (U+0000)",
        )
        .body(FORM, form("Tea%00")),
        attempt(
            "a request line over the limit",
            Method::GET,
            format!("/polls/{}", too_long()),
            StatusCode::URI_TOO_LONG,
            "The address is too long",
        ),
        attempt(
            "headers over the limit",
            Method::GET,
            format!("/polls/{poll}"),
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "headers are too large",
        )
        .header("cookie", format!("crumbs={}", too_long())),
        attempt(
            "a wrong method on the health check",
            Method::POST,
            "/healthz",
            StatusCode::METHOD_NOT_ALLOWED,
            "does not take POST",
        ),
        attempt(
            "a wrong method on readiness",
            Method::PUT,
            "/readyz",
            StatusCode::METHOD_NOT_ALLOWED,
            "does not take PUT",
        ),
        attempt(
            "a wrong method on the metrics",
            Method::POST,
            "/metrics",
            StatusCode::METHOD_NOT_ALLOWED,
            "does not take POST",
        ),
        attempt(
            "a wrong method on an asset",
            Method::DELETE,
            "/assets/app.css",
            StatusCode::METHOD_NOT_ALLOWED,
            "does not take DELETE",
        ),
    ];
    for attempt in &attempts {
        let (status, content_type, body) = send(&app, attempt).await;
        assert_eq!(status, attempt.status, "{}: {body}", attempt.what);
        assert!(content_type.starts_with("text/html"), "{}: HTML, not {content_type:?}", attempt.what);
        assert!(body.starts_with("<!DOCTYPE html>"), "{}: a whole page: {body}", attempt.what);
        assert!(body.contains(attempt.says), "{}: should say {:?}: {body}", attempt.what, attempt.says);
    }
    let nul = send(&app, &attempts[6]).await.2;
    assert!(nul.contains("field-error"), "the message sits next to the question: {nul}");
    assert_eq!(app.scalar("select count(*) from polls where question like 'Caf%'").await, 0, "nothing stored");
    assert_eq!(app.scalar("select count(*) from votes").await, 0, "nothing stored");
}

#[tokio::test]
async fn an_htmx_request_refused_for_its_size_gets_the_error_fragment() {
    let app = spawn_app(Backend::Sqlite).await;
    let long = attempt(
        "a request line over the limit",
        Method::GET,
        format!("/themes/{}", too_long()),
        StatusCode::URI_TOO_LONG,
        "too long",
    )
    .header("hx-request", "true");

    let (status, content_type, body) = send(&app, &long).await;

    assert_eq!(status, StatusCode::URI_TOO_LONG, "{body}");
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(!body.contains("<!DOCTYPE html>") && body.contains("<h1>Address too long</h1>"), "a fragment: {body}");
}

#[tokio::test]
async fn a_head_past_even_the_generous_buffer_is_still_refused() {
    let app = spawn_app(Backend::Sqlite).await;
    let huge = "a".repeat(20 * 1024);

    let response = app.client.get(app.url("/")).header("x-padding", huge).send().await.unwrap();

    assert_eq!(response.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "hyper's own answer, past 16 KiB");
    let after = app.get("/healthz").await;
    assert_eq!(after.status, StatusCode::OK, "the server goes on serving");
}
