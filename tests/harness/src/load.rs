//! A vote load that knows who was told what, and the check of what it stored against
//! that, voter by voter: for the fault tests on two replicas and on the scaled topology.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::ballots::{Answer, ballots_by_voter, cast, counters_out_of_step};
use crate::eventually;

/// Quick breakers for the replicas of a fault test, so a fault is felt and left behind in
/// seconds.
pub const BREAKERS: &[(&str, &str)] = &[
    ("DB_TIMEOUT_MS", "1000"),
    ("DB_ACQUIRE_TIMEOUT_MS", "1000"),
    ("DB_BREAKER_COOLDOWN_MS", "500"),
    ("REDIS_TIMEOUT_MS", "300"),
    ("REDIS_BREAKER_COOLDOWN_MS", "500"),
];

/// How long a test waits for the load to move on.
const WAIT: Duration = Duration::from_secs(30);
/// The load stops by itself after this many votes or this long, whichever comes first.
const MAX_VOTES: usize = 3_000;
const MAX_LOAD: Duration = Duration::from_secs(90);

/// What the load saw, voter by voter (each vote is a new voter: its id comes back in the
/// voter cookie of the answer).
#[derive(Debug, Default)]
pub struct Outcome {
    pub sent: usize,
    pub acknowledged: HashSet<String>,
    /// Refused with 503 "nothing was saved".
    pub refused: HashSet<String>,
    /// Refused with 503 after a call timed out: "may or may not have been saved".
    pub uncertain: HashSet<String>,
    /// Anything else: a wrong status, a 503 without its JSON and Retry-After, a lost connection.
    pub unexpected: Vec<String>,
}

/// Counts the running load's answers as they come, for a test to wait on.
#[derive(Debug, Default)]
pub struct Progress {
    pub acknowledged: AtomicUsize,
    pub refused: AtomicUsize,
}

impl Progress {
    /// Waits until `more` further answers of the kind `count` reads have arrived.
    async fn moves_on(&self, what: &str, more: usize, count: impl Fn(&Self) -> usize) {
        let from = count(self);
        eventually(what, WAIT, async || {
            let now = count(self);
            if now >= from + more { Ok(()) } else { Err(now - from) }
        })
        .await;
    }

    pub async fn acknowledges(&self, more: usize) {
        self.moves_on(&format!("{more} more votes acknowledged"), more, |p| p.acknowledged.load(Ordering::SeqCst))
            .await;
    }

    pub async fn refuses(&self, more: usize) {
        self.moves_on(&format!("{more} more votes refused"), more, |p| p.refused.load(Ordering::SeqCst)).await;
    }
}

/// Votes without cookies (each one a new voter), alternating between the replicas, four at
/// a time, until `stop` is set (or the bounds are reached).
pub async fn vote_load(urls: Vec<String>, stop: Arc<AtomicBool>, progress: Arc<Progress>) -> Outcome {
    let started = Instant::now();
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let mut outcome = Outcome::default();
    let mut n = 0;
    while !stop.load(Ordering::SeqCst) && outcome.sent < MAX_VOTES && started.elapsed() < MAX_LOAD {
        let batch: Vec<_> = (0..4)
            .map(|i| {
                let url = urls[(n + i) % urls.len()].clone();
                let client = client.clone();
                async move { cast(&client, &url, &json!({ "choice": (n + i) % 2 })).await }
            })
            .collect();
        n += 4;
        for answer in futures::future::join_all(batch).await {
            outcome.sent += 1;
            match answer {
                Answer::Acknowledged { voter, .. } => {
                    outcome.acknowledged.insert(voter);
                    progress.acknowledged.fetch_add(1, Ordering::SeqCst);
                }
                // "nothing was saved", or after a timed-out call "may or may not have been
                // saved": either way a 503 is no acknowledgement.
                Answer::Refused { status: StatusCode::SERVICE_UNAVAILABLE, voter: Some(voter), error, retry_after } => {
                    if retry_after && error.contains("nothing was saved") {
                        outcome.refused.insert(voter);
                    } else if retry_after && error.contains("may or may not") {
                        outcome.uncertain.insert(voter);
                    } else {
                        outcome.unexpected.push(format!("503 without its words or Retry-After: {error}"));
                    }
                    progress.refused.fetch_add(1, Ordering::SeqCst);
                }
                other => outcome.unexpected.push(format!("{other:?}")),
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    outcome
}

/// Who is stored for `poll`, checked against who was told what: every acknowledged voter
/// exactly once, no voter told "nothing was saved", nobody else but the uncertain; and
/// every counter equal to its vote rows.
pub async fn assert_stored_as_told(database_url: &str, poll: i64, told: &Outcome) -> usize {
    let stored = ballots_by_voter(database_url, poll).await;
    for voter in &told.acknowledged {
        assert_eq!(stored.get(voter), Some(&1), "acknowledged voter {voter} stored exactly once");
    }
    for voter in stored.keys() {
        assert!(!told.refused.contains(voter), "voter {voter} was told nothing was saved, yet is stored");
        assert!(
            told.acknowledged.contains(voter) || told.uncertain.contains(voter),
            "voter {voter} is stored but was never answered yes or maybe"
        );
    }
    assert_eq!(counters_out_of_step(database_url, poll).await, 0, "every counter equals its vote rows");
    stored.len()
}
