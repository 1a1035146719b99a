//! The router itself, driven with `tower::ServiceExt::oneshot` over the embedded store: no
//! socket, no HTTP client. Refusal formats, routing, extractors and headers.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::body::{Body, to_bytes};
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode, header};
use tower::ServiceExt;
use votestream::config::Settings;

use crate::support::fresh_database;

/// The whole router over a fresh SQLite store with the demo content.
async fn router() -> axum::Router {
    let database_url = fresh_database(crate::support::Backend::Sqlite).await;
    let env = HashMap::from([("DATABASE_URL", database_url.as_str()), ("RATE_LIMIT", "off")]);
    let settings = Settings::from_lookup(|name| env.get(name).map(|v| (*v).to_owned())).unwrap();
    votestream::startup::assemble(&settings).await.expect("the app assembles").0
}

/// What came back: status, content type, body.
async fn send(
    router: &axum::Router,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, String, String) {
    let mut request = Request::builder().method(method).uri(path);
    if !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("host")) {
        request = request.header(header::HOST, "127.0.0.1:3000");
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut request = request.body(Body::empty()).unwrap();
    request.extensions_mut().insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 50_000))));
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let content_type =
        response.headers().get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    let body = String::from_utf8(to_bytes(response.into_body(), 1 << 20).await.unwrap().to_vec()).unwrap();
    (status, content_type, body)
}

/// What is sent, what it is, and what comes back: status and format (`json`, `page` or
/// `fragment`).
type Case<'a> = (&'a str, Method, String, &'a [(&'a str, &'a str)], StatusCode, &'a str);

#[tokio::test]
async fn refusals_speak_the_format_of_their_route_family_and_request() {
    let router = router().await;
    let long = format!("/{}", "a".repeat(9 * 1024));
    let cases: [Case; 8] = [
        ("an unknown page", Method::GET, "/nowhere".into(), &[], StatusCode::NOT_FOUND, "page"),
        (
            "an unknown page for htmx",
            Method::GET,
            "/nowhere".into(),
            &[("hx-request", "true")],
            StatusCode::NOT_FOUND,
            "fragment",
        ),
        (
            "HX-Request: false is a page",
            Method::GET,
            "/nowhere".into(),
            &[("hx-request", "false")],
            StatusCode::NOT_FOUND,
            "page",
        ),
        ("an unknown API path", Method::GET, "/api/nowhere".into(), &[], StatusCode::NOT_FOUND, "json"),
        ("a wrong method on a probe", Method::POST, "/healthz".into(), &[], StatusCode::METHOD_NOT_ALLOWED, "page"),
        (
            "a wrong method on an asset",
            Method::DELETE,
            "/assets/app.css".into(),
            &[],
            StatusCode::METHOD_NOT_ALLOWED,
            "page",
        ),
        ("an over-long API address", Method::GET, format!("/api{long}"), &[], StatusCode::URI_TOO_LONG, "json"),
        ("an over-long page address", Method::GET, long.clone(), &[], StatusCode::URI_TOO_LONG, "page"),
    ];
    for (what, method, path, headers, status, format) in cases {
        let (got, content_type, body) = send(&router, method, &path, headers).await;

        assert_eq!(got, status, "{what}: {body}");
        match format {
            "json" => {
                let json: serde_json::Value =
                    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{what}: {e}: {body}"));
                assert!(json["error"].as_str().is_some_and(|m| !m.is_empty()), "{what}: {json}");
                assert!(content_type.starts_with("application/json"), "{what}: {content_type}");
            }
            "page" => assert!(body.starts_with("<!DOCTYPE html>") && body.contains("<h1>"), "{what}: a page: {body}"),
            _ => assert!(!body.contains("<html") && body.contains("<h1>"), "{what}: a fragment: {body}"),
        }
    }
}

#[tokio::test]
async fn every_answer_carries_the_security_headers_and_names_its_replica() {
    let router = router().await;
    for path in ["/", "/api/themes", "/healthz", "/nowhere"] {
        let mut request = Request::get(path).header(header::HOST, "localhost").body(Body::empty()).unwrap();
        request.extensions_mut().insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 50_001))));
        let response = router.clone().oneshot(request).await.unwrap();
        let policy = response.headers().get("content-security-policy").map(|v| v.to_str().unwrap().to_owned());
        assert!(policy.is_some_and(|p| p.contains("script-src 'self'")), "{path}: a CSP");
        assert!(response.headers().contains_key("x-replica"), "{path}: X-Replica");
        assert!(response.headers().contains_key("x-request-id"), "{path}: a request id");
    }
}

#[tokio::test]
async fn a_forged_host_is_refused_before_any_page_is_built() {
    let router = router().await;

    let (status, _, body) = send(&router, Method::GET, "/", &[("host", "evil.example")]).await;

    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("evil.example") && body.contains("ALLOWED_HOSTS"), "{body}");
}
