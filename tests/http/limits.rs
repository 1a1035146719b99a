//! Rate limits and stream caps, per client address, with the addresses really different
//! (clients bound to 127.0.0.2, 127.0.0.3…).

use reqwest::StatusCode;
use serde_json::json;

use crate::support::sse::SseClient;
use crate::support::{Backend, TestApp, client_from, spawn_app_with};

const LIMITED: &[(&str, &str)] = &[("RATE_LIMIT", "on"), ("VOTE_BURST", "3"), ("VOTE_PER_MINUTE", "1")];

async fn vote_from(
    app: &TestApp,
    client: &reqwest::Client,
    poll: i64,
    forwarded_for: Option<&str>,
) -> reqwest::Response {
    let mut request = client.post(app.url(&format!("/api/polls/{poll}/vote"))).json(&json!({ "choice": 0 }));
    if let Some(ip) = forwarded_for {
        request = request.header("X-Forwarded-For", ip);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn a_burst_from_one_address_gets_429_with_retry_after_and_another_address_is_unaffected() {
    let app = spawn_app_with(Backend::Sqlite, LIMITED).await;
    let poll = app.first_poll("Sports").await;
    let (flooder, neighbour) = (client_from("127.0.0.2"), client_from("127.0.0.3"));

    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(vote_from(&app, &flooder, poll, None).await.status());
    }
    let refused = vote_from(&app, &flooder, poll, None).await;
    let other = vote_from(&app, &neighbour, poll, None).await;

    assert_eq!(statuses[..3], [StatusCode::OK; 3], "the burst allowance");
    assert_eq!(statuses[3..], [StatusCode::TOO_MANY_REQUESTS; 2], "then refused");
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
    let body: serde_json::Value = refused.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("Too many requests"), "{body}");
    assert_eq!(other.status(), StatusCode::OK, "another address has its own quota");
    assert_eq!(app.scalar("select count(*) from votes").await, 4, "3 + the neighbour's; refusals store nothing");
}

#[tokio::test]
async fn forwarded_for_changes_the_key_only_from_a_trusted_proxy() {
    let untrusting = spawn_app_with(Backend::Sqlite, LIMITED).await;
    let mut trusting_env = LIMITED.to_vec();
    trusting_env.push(("TRUSTED_PROXIES", "127.0.0.4/32"));
    let trusting = spawn_app_with(Backend::Sqlite, &trusting_env).await;
    let (stranger, proxy) = (client_from("127.0.0.5"), client_from("127.0.0.4"));
    let (poll_u, poll_t) = (untrusting.first_poll("Sports").await, trusting.first_poll("Sports").await);

    for _ in 0..3 {
        vote_from(&untrusting, &stranger, poll_u, Some("198.51.100.1")).await;
        vote_from(&trusting, &proxy, poll_t, Some("198.51.100.1")).await;
    }
    let spoofed = vote_from(&untrusting, &stranger, poll_u, Some("198.51.100.2")).await;
    let same_client = vote_from(&trusting, &proxy, poll_t, Some("198.51.100.1")).await;
    let next_client = vote_from(&trusting, &proxy, poll_t, Some("203.0.113.7, 198.51.100.2")).await;

    assert_eq!(spoofed.status(), StatusCode::TOO_MANY_REQUESTS, "a stranger cannot pick its own key");
    assert_eq!(same_client.status(), StatusCode::TOO_MANY_REQUESTS, "the proxy's client used its quota");
    assert_eq!(next_client.status(), StatusCode::OK, "another client behind the proxy (rightmost hop)");
}

#[tokio::test]
async fn a_browser_over_the_limit_gets_the_error_page_and_htmx_the_fragment() {
    let app =
        spawn_app_with(Backend::Sqlite, &[("RATE_LIMIT", "on"), ("READ_BURST", "2"), ("READ_PER_MINUTE", "1")]).await;
    let client = client_from("127.0.0.6");
    for _ in 0..2 {
        assert_eq!(client.get(app.url("/")).send().await.unwrap().status(), StatusCode::OK);
    }

    let page = client.get(app.url("/")).send().await.unwrap();
    let fragment = client.get(app.url("/")).header("HX-Request", "true").send().await.unwrap();
    let asset = client.get(app.url("/assets/app.css")).send().await.unwrap();
    let probe = client.get(app.url("/healthz")).send().await.unwrap();

    assert_eq!(page.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(page.headers().contains_key("retry-after"));
    let page = page.text().await.unwrap();
    assert!(page.starts_with("<!DOCTYPE html>") && page.contains("Too many requests from your address"), "{page}");
    let fragment = fragment.text().await.unwrap();
    assert!(!fragment.contains("<html") && fragment.contains("Too many requests"), "{fragment}");
    assert_eq!(asset.status(), StatusCode::OK, "assets are exempt");
    assert_eq!(probe.status(), StatusCode::OK, "probes are exempt");
}

#[tokio::test]
async fn live_streams_are_capped_per_address_before_they_start() {
    let app = spawn_app_with(Backend::Sqlite, &[("RATE_LIMIT", "on"), ("SSE_MAX_PER_CLIENT", "2")]).await;
    let poll = app.first_poll("Sports").await;
    let url = app.url(&format!("/api/polls/{poll}/stream"));

    let first = SseClient::connect(&url, None).await;
    let _second = SseClient::connect(&url, None).await;
    let third = reqwest::get(&url).await.unwrap();
    let elsewhere = client_from("127.0.0.7").get(&url).send().await.unwrap();

    assert_eq!(third.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(third.headers().contains_key("retry-after"));
    assert!(third.text().await.unwrap().contains("live streams open"));
    assert_eq!(elsewhere.status(), StatusCode::OK, "another address has its own streams");
    drop(first);
    crate::support::eventually("a slot freed by a closed stream", std::time::Duration::from_secs(10), async || {
        reqwest::get(&url).await.unwrap().status() == StatusCode::OK
    })
    .await;
}

#[tokio::test]
async fn a_flood_of_polls_from_one_address_is_cut_short() {
    let app =
        spawn_app_with(Backend::Sqlite, &[("RATE_LIMIT", "on"), ("CREATE_BURST", "5"), ("CREATE_PER_MINUTE", "1")])
            .await;
    let client = client_from("127.0.0.8");
    let before = app.scalar("select count(*) from polls").await;

    let mut created = 0;
    let mut refused = 0;
    for i in 0..20 {
        let body =
            json!({ "question": format!("Flood {i}?"), "theme": "Sports", "options": [{"text": "a"}, {"text": "b"}] });
        match client.post(app.url("/api/polls")).json(&body).send().await.unwrap().status() {
            StatusCode::CREATED => created += 1,
            StatusCode::TOO_MANY_REQUESTS => refused += 1,
            other => panic!("unexpected {other}"),
        }
    }

    assert_eq!((created, refused), (5, 15));
    assert_eq!(app.scalar("select count(*) from polls").await, before + 5);
}

#[tokio::test]
async fn a_connection_that_never_finishes_its_headers_is_closed() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = spawn_app_with(Backend::Sqlite, &[("HEADER_READ_TIMEOUT_SECS", "1")]).await;
    let mut slow = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nHost: votes.test\r\n").await.unwrap();

    let mut reply = Vec::new();
    let closed = tokio::time::timeout(std::time::Duration::from_secs(10), slow.read_to_end(&mut reply)).await;

    assert!(closed.is_ok(), "the server closed the connection instead of holding it");
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.is_empty() || reply.starts_with("HTTP/1.1 408"), "no page for a half-sent request: {reply}");
    let page = app.get("/").await;
    assert_eq!(page.status, StatusCode::OK, "whole requests are served as before");
}
