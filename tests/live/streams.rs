use rstest::rstest;
use rstest_reuse::apply;
use std::process::Stdio;
use std::time::Duration;

use reqwest::StatusCode;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::on_each_backend;
use crate::support::{Backend, sse::SseClient};
use crate::support::{eventually, new_client, spawn_app, spawn_app_with};

const WAIT: Duration = Duration::from_secs(10);

#[apply(on_each_backend)]
#[tokio::test]
async fn the_first_event_is_the_current_snapshot_with_its_version_as_id(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let poll = app.first_poll("OnTrend").await;
    app.vote(poll, app.poll_options(poll).await[3]).await;

    let mut stream = SseClient::connect(&app.url(&format!("/polls/{poll}/events?format=json")), None).await;
    let first = stream.next_event(WAIT).await.expect("a first event");

    assert_eq!(stream.status, StatusCode::OK);
    assert!(stream.content_type.starts_with("text/event-stream"), "{}", stream.content_type);
    assert_eq!(stream.retry, Some(2000), "a retry hint");
    assert_eq!(first.event, "results");
    assert_eq!(first.id.as_deref(), Some("1"));
    let json = first.json();
    assert_eq!(json["poll_id"], poll);
    assert_eq!(json["total"], 1);
    assert_eq!(json["version"], 1);
    assert_eq!(json["options"][3]["votes"], 1);
    assert_eq!(json["options"][3]["text"], "None, the market is saturated");
}

#[apply(on_each_backend)]
#[tokio::test]
async fn the_html_stream_carries_the_result_bars_and_the_running_total(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let poll = app.first_poll("OnTrend").await;
    let mut stream = SseClient::connect(&app.url(&format!("/polls/{poll}/events")), None).await;
    let results = stream.next_event(WAIT).await.unwrap();
    let total = stream.next_event(WAIT).await.unwrap();
    assert_eq!((results.event.as_str(), total.event.as_str()), ("results", "total"));
    assert_eq!(total.data, "0 votes so far");

    app.vote(poll, app.poll_options(poll).await[0]).await;
    let results = stream.until(WAIT, "with one vote", |e| e.event == "results" && e.id.as_deref() == Some("1")).await;

    assert!(results.data.starts_with(&format!("<section class=\"results\" id=\"results-{poll}\"")), "{}", results.data);
    assert!(results.data.contains("1 vote · 100%"));
    let total = stream.next_event(WAIT).await.unwrap();
    assert_eq!((total.event.as_str(), total.data.as_str()), ("total", "1 vote so far"));
}

#[apply(on_each_backend)]
#[tokio::test]
async fn a_reconnect_with_last_event_id_gets_only_newer_state(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let poll = app.first_poll("Sports").await;
    let options = app.poll_options(poll).await;
    app.post_form_with(&new_client(), &format!("/polls/{poll}/votes"), &[("option", &options[0].to_string())], &[])
        .await;
    let url = app.url(&format!("/polls/{poll}/events?format=json"));

    let mut up_to_date = SseClient::connect(&url, Some("1")).await;
    let mut behind = SseClient::connect(&url, Some("0")).await;

    assert_eq!(behind.next_event(WAIT).await.unwrap().id.as_deref(), Some("1"), "behind: the current state at once");
    assert_eq!(up_to_date.next_event(Duration::from_millis(500)).await, None, "nothing it already has");
    app.post_form_with(&new_client(), &format!("/polls/{poll}/votes"), &[("option", &options[1].to_string())], &[])
        .await;
    let newer = up_to_date.next_event(WAIT).await.expect("the newer state");
    assert_eq!(newer.id.as_deref(), Some("2"));
    assert_eq!(newer.json()["options"][1]["votes"], 1);
}

#[apply(on_each_backend)]
#[tokio::test]
async fn a_closed_poll_sends_a_final_event_and_ends_and_a_caught_up_client_is_told_to_stop(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let owned = app.create_poll(serde_json::json!({})).await;
    let poll = owned.id;
    let mut stream = SseClient::connect(&app.url(&format!("/polls/{poll}/events?format=json")), None).await;
    stream.next_event(WAIT).await.unwrap();

    let closing = app.patch_poll(poll, &owned.key, &serde_json::json!({ "closed": true })).await;
    assert_eq!(closing.status, StatusCode::OK, "{}", closing.body);

    let last_results = stream.until(WAIT, "closed results", |e| e.event == "results").await;
    assert_eq!(last_results.json()["closed"], true);
    let closed = stream.until(WAIT, "closed", |e| e.event == "closed").await;
    assert_eq!(stream.next_event(WAIT).await, None);
    assert!(stream.ended(), "the server ended the stream");
    let again = SseClient::connect(&app.url(&format!("/polls/{poll}/events")), closed.id.as_deref()).await;
    assert_eq!(again.status, StatusCode::NO_CONTENT, "204 stops EventSource from reconnecting");
}

#[apply(on_each_backend)]
#[tokio::test]
async fn the_api_stream_and_the_theme_stream_speak_json(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let polls = app.api("/api/themes/MoralDilemmas/polls").await;
    let second = polls[1]["id"].as_i64().unwrap();
    let mut api = SseClient::connect(&app.url(&format!("/api/polls/{second}/stream")), None).await;
    let mut theme = SseClient::connect(&app.url("/themes/moral-dilemmas/events?format=json"), None).await;
    assert_eq!(api.next_event(WAIT).await.unwrap().json()["total"], 0);
    assert_eq!(theme.next_event(WAIT).await.unwrap().json()["version"], 0);

    app.post_json(&format!("/api/polls/{second}/vote"), &serde_json::json!({ "choice": 2 })).await;

    assert_eq!(api.until(WAIT, "total 1", |e| e.json()["total"] == 1).await.id.as_deref(), Some("1"));
    let totals = theme.until(WAIT, "theme version 1", |e| e.json()["version"] == 1).await.json();
    assert_eq!(totals["theme"], "moral-dilemmas");
    let counts: Vec<i64> = totals["polls"].as_array().unwrap().iter().map(|p| p["total"].as_i64().unwrap()).collect();
    assert_eq!(counts, [0, 1, 0, 0]);
}

#[apply(on_each_backend)]
#[tokio::test]
async fn the_theme_html_stream_swaps_each_polls_count_out_of_band(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let poll = app.first_poll("Sports").await;
    let mut theme = SseClient::connect(&app.url("/themes/sports/events"), None).await;
    theme.next_event(WAIT).await.unwrap();

    app.vote(poll, app.poll_options(poll).await[0]).await;
    let event = theme.until(WAIT, "totals", |e| e.id.as_deref() == Some("1")).await;

    assert_eq!(event.event, "totals");
    assert!(
        event.data.contains(&format!(
            "<span class=\"poll-votes\" id=\"poll-{poll}-votes\" hx-swap-oob=\"true\">1 vote</span>"
        )),
        "{}",
        event.data
    );
    let page = app.get("/themes/sports").await;
    assert_eq!(page.attrs(".live-totals", "sse-connect"), ["/themes/sports/events"], "one stream for the whole page");
    assert_eq!(page.attrs(&format!("#poll-{poll}-votes"), "class"), ["poll-votes"], "the swap target exists");
}

#[apply(on_each_backend)]
#[tokio::test]
async fn bad_stream_requests_get_clear_errors(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let poll = app.first_poll("Sports").await;

    let unknown = app.get("/polls/999999/events").await;
    let api_unknown = app.get("/api/polls/999999/stream").await;
    let bad_format = app.get(&format!("/polls/{poll}/events?format=xml")).await;
    let unknown_theme = app.get("/themes/nope/events").await;

    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(api_unknown.status, StatusCode::NOT_FOUND);
    assert!(api_unknown.json()["error"].as_str().unwrap().contains("There is no poll 999999"));
    assert_eq!(bad_format.status, StatusCode::BAD_REQUEST);
    assert!(bad_format.body.contains("Unknown format “xml”: use html or json."));
    assert_eq!(unknown_theme.status, StatusCode::NOT_FOUND);
}

#[apply(on_each_backend)]
#[tokio::test]
async fn curl_shows_one_json_object_per_data_line(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let poll = app.first_poll("OnTrend").await;
    let option = app.poll_options(poll).await[1];
    let mut curl = tokio::process::Command::new("curl")
        .args(["-sN", "--max-time", "20", &app.url(&format!("/polls/{poll}/events?format=json"))])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("curl is installed");
    let mut lines = BufReader::new(curl.stdout.take().unwrap()).lines();

    let mut seen_totals = Vec::new();
    let reader = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(data) = line.strip_prefix("data: ") {
                let json: serde_json::Value =
                    serde_json::from_str(data).expect("each data line is a whole JSON object");
                seen_totals.push(json["total"].as_i64().unwrap());
                if seen_totals.len() == 1 {
                    app.vote(poll, option).await;
                }
                if json["total"] == 1 {
                    break;
                }
            } else {
                let known = ["event: ", "id: ", "retry: ", ":"];
                assert!(line.is_empty() || known.iter().any(|p| line.starts_with(p)), "unexpected line {line:?}");
            }
        }
    };
    tokio::time::timeout(WAIT, reader).await.expect("curl saw the vote");

    assert_eq!(seen_totals, [0, 1]);
}

#[apply(on_each_backend)]
#[tokio::test]
async fn a_viewer_that_stops_reading_does_not_hold_back_voters_or_other_viewers(#[case] backend: Backend) {
    let app = spawn_app_with(backend, &[("SSE_THROTTLE_MS", "0")]).await;
    let poll = app.first_poll("OnTrend").await;
    let options = app.poll_options(poll).await;
    let url = app.url(&format!("/polls/{poll}/events"));
    // Connected with a small receive buffer, asked for the HTML stream, then never read again.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stalled = socket.connect(app.addr).await.unwrap();
    let request =
        format!("GET /polls/{poll}/events HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n\r\n", app.addr);
    tokio::io::AsyncWriteExt::write_all(&mut stalled, request.as_bytes()).await.unwrap();
    let stalled_port = stalled.local_addr().unwrap().port();
    let mut reader = SseClient::connect(&format!("{url}?format=json"), None).await;
    reader.next_event(WAIT).await.unwrap();

    let votes =
        (0..300).map(|i| {
            let voter = new_client();
            let option = options[i % 4].to_string();
            let app = &app;
            async move {
                app.post_form_with(&voter, &format!("/polls/{poll}/votes"), &[("option", &option)], &[]).await.status
            }
        });
    let statuses = tokio::time::timeout(Duration::from_secs(60), futures::future::join_all(votes))
        .await
        .expect("voters were not held up");

    assert!(statuses.iter().all(|s| *s == StatusCode::SEE_OTHER));
    let last = reader.until(WAIT, "the final tally", |e| e.json()["total"] == 300).await;
    assert_eq!(last.id.as_deref(), Some("300"));
    // The stalled viewer really stopped reading: its receive queue holds unread bytes and
    // the server holds frames it could not send to it.
    let (unread, unsent) = tcp_queues(stalled_port, app.addr.port());
    assert!(unread > 0, "the stalled socket has bytes it never read");
    assert!(unsent > 0, "the server's side of it holds frames the viewer would not take");
    drop(stalled);
}

/// From `/proc/net/tcp`: bytes waiting unread at the client's end (local `client` port) and
/// unsent at the server's end of the same connection.
fn tcp_queues(client: u16, server: u16) -> (u64, u64) {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let port = |address: &str| u16::from_str_radix(address.rsplit(':').next().unwrap(), 16).unwrap();
    let (mut unread, mut unsent) = (0, 0);
    for line in table.lines().skip(1) {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (local, remote) = (port(fields[1]), port(fields[2]));
        let (tx, rx) = fields[4].split_once(':').unwrap();
        let (tx, rx) = (u64::from_str_radix(tx, 16).unwrap(), u64::from_str_radix(rx, 16).unwrap());
        if local == client && remote == server {
            unread = rx;
        }
        if local == server && remote == client {
            unsent = tx;
        }
    }
    (unread, unsent)
}

#[apply(on_each_backend)]
#[tokio::test]
async fn channels_are_freed_when_the_last_viewer_leaves(#[case] backend: Backend) {
    let app = spawn_app_with(backend, &[("SSE_KEEPALIVE_SECS", "1")]).await;
    let poll = app.first_poll("OnTrend").await;
    let hub = app.state.polls.live().hub().clone();
    let mut stream = SseClient::connect(&app.url(&format!("/polls/{poll}/events")), None).await;
    stream.next_event(WAIT).await.unwrap();
    assert_eq!(hub.watched(), [poll]);

    drop(stream);

    eventually("the channel freed", WAIT, async || hub.watched().is_empty()).await;
}

#[apply(on_each_backend)]
#[tokio::test]
async fn a_stream_outlives_the_request_timeout(#[case] backend: Backend) {
    let app = spawn_app_with(backend, &[("REQUEST_TIMEOUT_SECS", "1")]).await;
    let poll = app.first_poll("Sports").await;
    let mut stream = SseClient::connect(&app.url(&format!("/polls/{poll}/events?format=json")), None).await;
    stream.next_event(WAIT).await.unwrap();

    assert_eq!(stream.next_event(Duration::from_millis(1500)).await, None, "quiet past the timeout");
    app.vote(poll, app.poll_options(poll).await[1]).await;

    let event = stream.next_event(WAIT).await.expect("still streaming after the request timeout");
    assert_eq!(event.json()["total"], 1);
}

#[apply(on_each_backend)]
#[tokio::test]
async fn shutdown_ends_open_streams_so_the_server_can_drain(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let poll = app.first_poll("Sports").await;
    let mut stream = SseClient::connect(&app.url(&format!("/polls/{poll}/events")), None).await;
    stream.next_event(WAIT).await.unwrap();

    tokio::time::timeout(WAIT, app.stop()).await.expect("the server stopped despite an open stream");

    // Whatever was already sent can still be read; then the stream ends.
    while stream.next_event(WAIT).await.is_some() {}
    assert!(stream.ended(), "the client saw the stream end and can reconnect elsewhere");
}
