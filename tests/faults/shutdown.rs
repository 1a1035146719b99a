//! A replica stopped with SIGTERM while votes wait in its writer: the real binary, really
//! signalled.

use std::collections::HashSet;
use std::process::Stdio;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use tokio::time::Instant;

use crate::support::ballots::{Answer, cast};
use crate::support::sse::SseClient;
use crate::support::{ballots_by_voter, counters_out_of_step, eventually, postgres};

/// Votes sent before the signal (held by the writer's window), and after it.
const BEFORE: usize = 48;
const AFTER: usize = 16;

/// One vote by a new voter: when its answer came, and the voter if it was accepted.
async fn vote(client: reqwest::Client, url: String) -> (Instant, Result<String, String>) {
    let result = match cast(&client, &url, &json!({ "choice": 0 })).await {
        Answer::Acknowledged { voter, .. } => Ok(voter),
        Answer::Refused { status, .. } => Err(status.to_string()),
        Answer::Lost(why) => Err(why),
    };
    (Instant::now(), result)
}

/// `votestream_votes_waiting` from `/metrics`.
async fn waiting(client: &reqwest::Client, base: &str) -> Option<f64> {
    let text = client.get(format!("{base}/metrics")).send().await.ok()?.text().await.ok()?;
    text.lines().find_map(|l| l.strip_prefix("votestream_votes_waiting ")).and_then(|v| v.trim().parse().ok())
}

#[tokio::test]
async fn sigterm_with_votes_in_flight_answers_them_loses_none_and_ends_streams() {
    let database_url = postgres::server().fresh_database().await;
    let port = crate::support::free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = tokio::process::Command::new(env!("CARGO_BIN_EXE_votestream"))
        .env("DATABASE_URL", &database_url)
        .env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .env("RATE_LIMIT", "off")
        // A long batch window, so the signal surely lands while ballots wait in it.
        .env("VOTE_BATCH_WAIT_MS", "400")
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

    let before: Vec<_> = (0..BEFORE).map(|_| tokio::spawn(vote(client.clone(), vote_url.clone()))).collect();
    let held = eventually("ballots waiting in the writer", Duration::from_secs(10), async || {
        match waiting(&client, &base).await {
            Some(n) if n >= 1.0 => Ok(n),
            other => Err(other),
        }
    })
    .await;
    let signalled_at = Instant::now();
    let signalled = std::process::Command::new("kill").args(["-TERM", &server.id().unwrap().to_string()]).status();
    assert!(signalled.unwrap().success());
    // Once the signal is handled the listener is gone; votes on new connections then fail.
    eventually("the server no longer accepting connections", Duration::from_secs(10), async || {
        tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err()
    })
    .await;
    let fresh = reqwest::Client::builder().pool_max_idle_per_host(0).timeout(Duration::from_secs(10)).build().unwrap();
    let after: Vec<_> = (0..AFTER).map(|_| tokio::spawn(vote(fresh.clone(), vote_url.clone()))).collect();

    let mut answers = Vec::new();
    for task in before {
        answers.push(task.await.unwrap());
    }
    let mut refused_after = 0;
    for task in after {
        let answer = task.await.unwrap();
        refused_after += usize::from(answer.1.is_err());
        answers.push(answer);
    }
    let exit = tokio::time::timeout(Duration::from_secs(30), server.wait()).await.expect("the server exits").unwrap();
    while viewer.next_event(Duration::from_secs(10)).await.is_some() {}
    let acknowledged: HashSet<String> = answers.iter().filter_map(|(_, r)| r.as_ref().ok().cloned()).collect();
    let drained = answers.iter().filter(|(at, r)| r.is_ok() && *at > signalled_at).count();
    let unanswered = answers.iter().filter(|(_, r)| r.as_ref().is_err_and(|e| e.starts_with("transport"))).count();
    let stored = ballots_by_voter(&database_url, poll).await;
    println!(
        "SIGTERM with {held} ballots waiting: sent {}, acknowledged {} ({drained} after the signal), not \
         acknowledged {}, stored {}",
        BEFORE + AFTER,
        acknowledged.len(),
        answers.len() - acknowledged.len(),
        stored.len()
    );

    assert!(exit.success(), "a clean exit: {exit}");
    assert!(drained >= 1, "ballots in flight at the signal were written and answered during the drain");
    assert_eq!(refused_after, AFTER, "the server stopped taking votes");
    for voter in &acknowledged {
        assert_eq!(stored.get(voter), Some(&1), "acknowledged voter {voter} stored exactly once");
    }
    let strangers = stored.keys().filter(|v| !acknowledged.contains(*v)).count();
    assert!(strangers <= unanswered, "{strangers} stored voters never acknowledged, beyond {unanswered} unanswered");
    assert_eq!(counters_out_of_step(&database_url, poll).await, 0, "every counter equals its vote rows");
    assert!(viewer.retry.is_some(), "the stream told the browser when to reconnect");
    assert!(viewer.has_ended(), "the server closed the stream rather than leaving it hanging");
}
