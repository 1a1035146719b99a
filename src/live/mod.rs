//! Live results: per-poll snapshots fed by a bus (Redis Pub/Sub or in-process), streamed
//! to viewers as Server-Sent Events.

mod hub;
pub mod redis;
pub mod stream;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use hub::{Hub, Snapshot, Watcher};

use crate::store::{Poll, PollOption};

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

/// Publishes updates to this replica's viewers and, with Redis, to every other replica.
pub struct Live {
    hub: Arc<Hub>,
    redis: Option<redis::Publisher>,
}

impl Live {
    /// Live updates within this process only.
    pub fn local(hub: Arc<Hub>) -> Self {
        Self { hub, redis: None }
    }

    /// Live updates across replicas through Redis.
    pub fn with_redis(hub: Arc<Hub>, publisher: redis::Publisher) -> Self {
        Self { hub, redis: Some(publisher) }
    }

    /// The per-poll snapshots.
    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// Hands an update to local viewers at once, then to the other replicas. A failed
    /// publish is logged: the vote is committed, and the next update heals the viewers.
    pub async fn publish(&self, update: PollUpdate) {
        if update.options.is_empty() {
            return;
        }
        self.hub.apply(&update);
        if let Some(redis) = &self.redis {
            redis.publish(&update).await;
        }
    }
}
