//! Live results: per-poll snapshots fed by a bus (Redis Pub/Sub or in-process), streamed
//! to viewers as Server-Sent Events.

mod hub;
pub mod redis;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use hub::{Frames, Hub, Snapshot, Watcher};

use crate::domain::{Poll, PollOption, ResultsShown, VotesOverTime};
use crate::metrics::{SharedMetrics, unix_millis};

/// What travels on the bus: the poll's absolute state and a version that only grows (its
/// total plus its revision, both read in one statement after a commit), so a lost or
/// reordered update heals with the next one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollUpdate {
    /// The poll.
    pub poll_id: i64,
    /// Total votes plus owner revisions; a replica keeps the highest it has seen.
    pub version: i64,
    /// Voting has ended.
    pub closed: bool,
    /// The owner deleted the poll: viewers are told, and their streams end.
    #[serde(default)]
    pub removed: bool,
    /// Ballots cast.
    #[serde(default)]
    pub voters: i64,
    /// The owner's visibility rule (absent from a replica of an older release: always).
    #[serde(default)]
    pub shown: ResultsShown,
    /// Every option with its votes.
    pub options: Vec<PollOption>,
    /// When it was published (unix milliseconds; 0 before that), for the bus lag metric.
    #[serde(default)]
    pub sent_at_ms: u64,
    /// Closed from the presenter, results held for the reveal.
    #[serde(default)]
    pub held: bool,
    /// Where a presentation started from this poll stands, if it moved on.
    #[serde(default)]
    pub stage: Option<i64>,
    /// Votes per minute; the hub folds each update's into what it has.
    #[serde(default)]
    pub timeline: VotesOverTime,
}

#[cfg(test)]
impl PollUpdate {
    /// A one-option poll (id 1) at `version`, with as many votes, for tests.
    pub fn example(version: i64, shown: ResultsShown, closed: bool) -> Self {
        Self {
            poll_id: 1,
            version,
            closed,
            removed: false,
            voters: version,
            shown,
            options: vec![PollOption { id: 1, text: "Yes".into(), votes: version }],
            sent_at_ms: 0,
            held: false,
            stage: None,
            timeline: VotesOverTime { complete: true, ..VotesOverTime::default() },
        }
    }
}

impl PollUpdate {
    /// The update describing `poll` as stored.
    pub fn of(poll: &Poll) -> Self {
        Self {
            poll_id: poll.id,
            version: poll.total() + poll.revision,
            closed: poll.closed,
            removed: false,
            voters: poll.voters,
            shown: poll.settings.results,
            options: poll.options.clone(),
            sent_at_ms: 0,
            held: poll.held,
            stage: poll.stage,
            timeline: poll.timeline.clone(),
        }
    }

    /// Whether its results are final and shown to everyone: closed, and not held for a
    /// reveal. Streams end then.
    pub fn is_final(&self) -> bool {
        self.closed && !self.held
    }

    /// The last update of a deleted poll: after everything viewers saw of it.
    pub fn removed(poll: &Poll) -> Self {
        Self { version: poll.total() + poll.revision + 1, closed: true, removed: true, ..Self::of(poll) }
    }

    /// Votes over all options.
    pub fn total(&self) -> i64 {
        self.options.iter().map(|o| o.votes).sum()
    }
}

/// Carries committed updates to every replica's hub.
#[async_trait::async_trait]
pub trait Bus: Send + Sync + 'static {
    /// Sends an update to the other replicas; this replica's hub has it already. Failures
    /// are logged, not returned: the vote is committed, and the next update heals.
    async fn broadcast(&self, update: &PollUpdate);
}

/// One replica: the hub is the whole audience.
pub struct LocalBus;

#[async_trait::async_trait]
impl Bus for LocalBus {
    async fn broadcast(&self, _update: &PollUpdate) {}
}

/// Publishes updates to this replica's viewers at once, then over the bus to the others.
pub struct Live {
    hub: Arc<Hub>,
    bus: Box<dyn Bus>,
    metrics: SharedMetrics,
}

impl Live {
    /// Live updates through `bus`, landing in `hub`.
    pub fn new(hub: Arc<Hub>, bus: impl Bus, metrics: SharedMetrics) -> Self {
        Self { hub, bus: Box::new(bus), metrics }
    }

    /// The per-poll snapshots.
    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// Applies an update here, then broadcasts it.
    pub async fn publish(&self, mut update: PollUpdate) {
        self.hub.apply(&update);
        update.sent_at_ms = unix_millis();
        self.bus.broadcast(&update).await;
        self.metrics.published();
    }
}
