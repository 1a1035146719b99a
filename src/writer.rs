//! The vote writer: each replica's one path from a ballot to the database. Ballots that
//! arrive within a short window (`VOTE_BATCH_WAIT_MS`, at most `VOTE_BATCH_MAX`) go into
//! one transaction together; each request is answered once that transaction committed (or
//! failed: then every ballot in it hears so, none half-stored); then one update per
//! touched poll goes to the viewers.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::announce::Announcer;
use crate::config::BatchSettings;
use crate::domain::{Ballot, VoteOutcome};
use crate::live::PollUpdate;
use crate::metrics::SharedMetrics;
use crate::store::{DynStore, StoreError, StoreResult};

/// Ballots waiting for the writer, at most (then a request waits for room: backpressure,
/// not memory).
const QUEUE: usize = 10_000;

struct Job {
    ballot: Ballot,
    reply: oneshot::Sender<StoreResult<VoteOutcome>>,
}

/// What the writer needs besides the store: where committed tallies go.
pub struct Outlets {
    /// Each touched poll is announced here (its cached copy dropped, its viewers told).
    pub announcer: Announcer,
    /// Outcomes and batch sizes are counted here.
    pub metrics: SharedMetrics,
}

/// The handle requests cast through. Cloning it is cheap; the writer stops when the last
/// handle is dropped, after finishing what it was given.
#[derive(Clone)]
pub struct VoteWriter {
    jobs: mpsc::Sender<Job>,
}

impl VoteWriter {
    /// Starts the writer task.
    pub fn start(store: DynStore, settings: BatchSettings, outlets: Outlets) -> Self {
        let (jobs, queue) = mpsc::channel(QUEUE);
        tokio::spawn(run(queue, store, settings, outlets));
        Self { jobs }
    }

    /// Casts a ballot and waits for its commit.
    pub async fn cast(&self, ballot: Ballot) -> StoreResult<VoteOutcome> {
        let (reply, answer) = oneshot::channel();
        self.jobs.send(Job { ballot, reply }).await.map_err(|_| StoreError::Unavailable)?;
        answer.await.map_err(|_| StoreError::Unavailable)?
    }
}

async fn run(mut queue: mpsc::Receiver<Job>, store: DynStore, settings: BatchSettings, outlets: Outlets) {
    let mut batch: Vec<Job> = Vec::with_capacity(settings.max);
    while let Some(first) = queue.recv().await {
        batch.push(first);
        outlets.metrics.waiting(batch.len());
        let deadline = Instant::now() + settings.wait;
        while batch.len() < settings.max {
            match tokio::time::timeout_at(deadline, queue.recv()).await {
                Ok(Some(job)) => {
                    batch.push(job);
                    outlets.metrics.waiting(batch.len());
                }
                // The window closed, or every handle is gone: write what there is.
                Ok(None) | Err(_) => break,
            }
        }
        write(&store, &outlets, std::mem::take(&mut batch)).await;
        outlets.metrics.waiting(0);
    }
}

/// One transaction for `jobs`; every job is answered; then viewers hear of each poll.
async fn write(store: &DynStore, outlets: &Outlets, jobs: Vec<Job>) {
    let (ballots, replies): (Vec<Ballot>, Vec<_>) = jobs.into_iter().map(|job| (job.ballot, job.reply)).unzip();
    outlets.metrics.batch(ballots.len());
    match store.cast_ballots(&ballots).await {
        Ok(outcomes) => {
            // Viewers and the cache first, so a voter who reloads at once sees the vote.
            let mut touched = BTreeMap::new();
            for outcome in &outcomes {
                if let VoteOutcome::Accepted { poll: Some(poll) } = outcome {
                    touched.entry(poll.id).or_insert(poll);
                }
            }
            let updates = touched.into_values().map(|poll| outlets.announcer.announce(PollUpdate::of(poll)));
            futures::future::join_all(updates).await;
            for (reply, outcome) in replies.into_iter().zip(outcomes) {
                outlets.metrics.vote(&outcome);
                let _gone = reply.send(Ok(outcome));
            }
        }
        Err(error) => {
            tracing::warn!(%error, ballots = ballots.len(), "a batch of ballots failed; none of it is stored");
            let shared = Arc::new(error);
            for reply in replies {
                let _gone = reply.send(Err(StoreError::Batch(shared.clone())));
            }
        }
    }
}
