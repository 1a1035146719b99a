//! `/metrics`: Prometheus text that a scraper reads, with counts that match what happened.

use std::collections::HashMap;

use reqwest::StatusCode;
use rstest::rstest;
use rstest_reuse::apply;

use crate::on_each_backend;
use crate::support::sse::SseClient;
use crate::support::{Backend, TestApp, client_from, new_client, spawn_app, spawn_app_with};

/// One sample line: its name, labels and value.
struct Sample {
    name: String,
    labels: HashMap<String, String>,
    value: f64,
}

/// Reads the exposition strictly: every line is a `# HELP`/`# TYPE`/`# UNIT`/`# EOF`
/// comment or `name{label="value",…} number`, label values escaped as the format says.
async fn scrape(app: &TestApp) -> Vec<Sample> {
    let page = app.get("/metrics").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.header("content-type").starts_with("application/openmetrics-text"), "{}", page.header("content-type"));
    assert!(page.body.ends_with("# EOF\n"));
    let line_re =
        regex_lite::Regex::new(r#"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?[0-9.]+(?:e[+-]?[0-9]+)?|\+Inf|NaN)$"#)
            .unwrap();
    let label_re = regex_lite::Regex::new(r#"([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?"#).unwrap();
    let comment_re = regex_lite::Regex::new(r"^# (HELP|TYPE|UNIT) [a-zA-Z_:][a-zA-Z0-9_:]* .+$|^# EOF$").unwrap();
    let mut samples = Vec::new();
    for line in page.body.lines() {
        if line.starts_with('#') {
            assert!(comment_re.is_match(line), "not an exposition comment: {line:?}");
            continue;
        }
        let caps = line_re.captures(line).unwrap_or_else(|| panic!("not an exposition line: {line:?}"));
        let raw_labels = caps.get(2).map_or("", |m| m.as_str());
        let labels: HashMap<String, String> =
            label_re.captures_iter(raw_labels).map(|c| (c[1].to_owned(), c[2].to_owned())).collect();
        let rebuilt: String = label_re.find_iter(raw_labels).map(|m| m.as_str()).collect();
        assert_eq!(rebuilt, raw_labels, "labels that do not parse in {line:?}");
        let value = caps[3].replace("+Inf", "inf").parse().unwrap();
        samples.push(Sample { name: caps[1].to_owned(), labels, value });
    }
    samples
}

/// The value of the sample `name` whose labels include `labels`.
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| s.name == name && labels.iter().all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v)))
        .map(|s| s.value)
}

#[apply(on_each_backend)]
#[tokio::test]
async fn the_vote_counter_matches_the_votes_cast_and_requests_are_counted_by_route(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let poll = app.first_poll("Sports").await;
    let options = app.poll_options(poll).await;
    let voters: Vec<_> = (0..3).map(|_| new_client()).collect();
    for voter in &voters {
        let vote = app
            .post_form_with(voter, &format!("/polls/{poll}/votes"), &[("option", &options[0].to_string())], &[])
            .await;
        assert_eq!(vote.status, StatusCode::SEE_OTHER);
    }
    let again = app
        .post_form_with(&voters[0], &format!("/polls/{poll}/votes"), &[("option", &options[1].to_string())], &[])
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    let mut stream = SseClient::connect(&app.url(&format!("/polls/{poll}/events")), None).await;
    stream.next_event(std::time::Duration::from_secs(10)).await.unwrap();

    let metrics = scrape(&app).await;

    let stored = app.scalar("select count(*) from ballots").await;
    #[allow(clippy::cast_precision_loss)]
    let stored = stored as f64;
    assert_eq!(value(&metrics, "votestream_votes_total", &[("outcome", "accepted")]), Some(stored));
    assert_eq!(stored, 3.0);
    assert_eq!(value(&metrics, "votestream_votes_total", &[("outcome", "duplicate")]), Some(1.0));
    let route = [("route", "/polls/{id}/votes"), ("method", "POST")];
    assert_eq!(value(&metrics, "votestream_http_requests_total", &[route[0], route[1], ("status", "303")]), Some(3.0));
    assert_eq!(value(&metrics, "votestream_http_requests_total", &[route[0], route[1], ("status", "409")]), Some(1.0));
    assert!(
        !metrics.iter().any(|s| s.labels.get("route").is_some_and(|r| r.contains(&poll.to_string()))),
        "routes are templates, never ids"
    );
    assert_eq!(value(&metrics, "votestream_http_request_duration_seconds_count", &route), Some(4.0));
    assert_eq!(value(&metrics, "votestream_sse_streams_open", &[]), Some(1.0));
    assert_eq!(value(&metrics, "votestream_breaker_state", &[("dependency", "database")]), Some(0.0));
    assert!(value(&metrics, "votestream_db_pool_connections", &[("state", "idle")]).is_some());

    drop(stream);
    crate::support::eventually("the stream counted as closed", std::time::Duration::from_secs(10), async || {
        value(&scrape(&app).await, "votestream_sse_streams_open", &[]) == Some(0.0)
    })
    .await;
}

#[tokio::test]
async fn metrics_are_exempt_from_rate_limits() {
    let app =
        spawn_app_with(Backend::Sqlite, &[("RATE_LIMIT", "on"), ("READ_BURST", "2"), ("READ_PER_MINUTE", "1")]).await;
    let scraper = client_from("127.0.0.9");
    for _ in 0..10 {
        let response = scraper.get(app.url("/metrics")).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    let page = scraper.get(app.url("/")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK, "the first page read is within the burst: the scrapes took none of it");
}
