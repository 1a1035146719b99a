//! Live results: per-poll snapshots fed by a bus (Redis Pub/Sub or in-process), streamed
//! to viewers as Server-Sent Events.

mod hub;
pub mod redis;
pub mod stream;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use hub::{Hub, Snapshot, Watcher};

use crate::domain::{Poll, PollOption};

/// What travels on the bus: absolute tallies and a version that only grows (the poll's
/// total), so a lost or reordered update heals with the next one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PollUpdate {
    /// The poll.
    pub poll_id: i64,
    /// Its total; a replica keeps the highest it has seen.
    pub version: i64,
    /// Voting has ended.
    pub closed: bool,
    /// Every option with its votes.
    pub options: Vec<PollOption>,
}

impl PollUpdate {
    /// The update describing `poll` as stored.
    pub fn of(poll: &Poll) -> Self {
        Self::new(poll.id, poll.closed, poll.options.clone())
    }

    /// An update from a tally.
    pub fn new(poll_id: i64, closed: bool, options: Vec<PollOption>) -> Self {
        Self { poll_id, version: options.iter().map(|o| o.votes).sum(), closed, options }
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
}

impl Live {
    /// Live updates through `bus`, landing in `hub`.
    pub fn new(hub: Arc<Hub>, bus: impl Bus) -> Self {
        Self { hub, bus: Box::new(bus) }
    }

    /// The per-poll snapshots.
    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// Applies an update here, then broadcasts it.
    pub async fn publish(&self, update: PollUpdate) {
        self.hub.apply(&update);
        self.bus.broadcast(&update).await;
    }
}
