//! A replica stopped with SIGTERM in the middle of a vote burst: the real binary, really
//! signalled.

use std::process::Stdio;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use sqlx::Connection;

use crate::support::sse::SseClient;
use crate::support::{eventually, postgres};

const VOTES: usize = 400;

#[tokio::test]
async fn sigterm_during_a_vote_burst_loses_no_acknowledged_vote_and_ends_streams() {
    let database_url = postgres::server().fresh_database().await;
    let port = postgres::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = tokio::process::Command::new(env!("CARGO_BIN_EXE_votestream"))
        .env("DATABASE_URL", &database_url)
        .env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .env("RATE_LIMIT", "off")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start the votestream binary");
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    eventually("the server ready", Duration::from_secs(30), async || {
        client.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status() == StatusCode::OK)
    })
    .await;
    let polls: serde_json::Value =
        client.get(format!("{base}/api/themes/Sports/polls")).send().await.unwrap().json().await.unwrap();
    let poll = polls[0]["id"].as_i64().unwrap();
    let mut viewer = SseClient::connect(&format!("{base}/polls/{poll}/events?format=json"), None).await;
    viewer.next_event(Duration::from_secs(10)).await.unwrap();

    let vote_url = format!("{base}/api/polls/{poll}/vote");
    let mut acknowledged = 0;
    let mut refused = 0;
    let pid = server.id().unwrap().to_string();
    for round in 0..VOTES / 16 {
        let burst =
            futures::future::join_all((0..16).map(|i| client.post(&vote_url).json(&json!({ "choice": i % 2 })).send()));
        // The signal lands while the sixth burst is in flight.
        let signal = async {
            if round == 5 {
                tokio::time::sleep(Duration::from_millis(2)).await;
                let signalled = std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap();
                assert!(signalled.success());
            }
        };
        let (results, ()) = tokio::join!(burst, signal);
        for result in results {
            match result {
                Ok(response) if response.status() == StatusCode::OK => acknowledged += 1,
                // After the signal: refused connections, or an answer that was not "accepted".
                _ => refused += 1,
            }
        }
    }
    let exit = tokio::time::timeout(Duration::from_secs(30), server.wait()).await.expect("the server exits").unwrap();
    while viewer.next_event(Duration::from_secs(10)).await.is_some() {}
    let mut connection = sqlx::PgConnection::connect(&database_url).await.unwrap();
    let (stored,): (i64,) = sqlx::query_as("select count(*) from votes").fetch_one(&mut connection).await.unwrap();
    println!(
        "SIGTERM mid-burst: votes sent {VOTES}, acknowledged {acknowledged}, not acknowledged {refused}, stored {stored}"
    );

    assert!(exit.success(), "a clean exit: {exit}");
    assert!(acknowledged >= 5 * 16 - 16, "the votes before the signal were taken");
    assert!(refused > 0, "the server stopped taking votes");
    assert!(stored as usize >= acknowledged, "no acknowledged vote lost");
    assert!(stored as usize <= acknowledged + 16, "at most the burst in flight at the signal was stored unanswered");
    assert!(viewer.retry.is_some(), "the stream told the browser when to reconnect");
    assert!(viewer.has_ended(), "the server closed the stream rather than leaving it hanging");
}
