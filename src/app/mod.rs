//! `Polls`, the application core: every operation a page or the API performs on polls,
//! over the guarded store, the cache in front of reads, the vote writer, the live bus
//! and the poll shapes. It returns domain values and knows nothing of HTTP or HTML.

mod shape;

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

pub use self::shape::{SHAPES_KEPT, Shape, Shapes};
use crate::announce::{Announcer, cache_key};
use crate::cache::DynCache;
use crate::domain::{
    Ballot, ManageKey, NewPoll, OwnerChange, Poll, SHOWN_MINUTES, Timeline, VoteOutcome, VoterId, results_visible,
};
use crate::live::{Live, PollUpdate};
use crate::store::{DynStore, StoreResult};
use crate::writer::VoteWriter;

/// How often each replica looks for polls whose closing time has come.
pub const DEADLINE_SWEEP: Duration = Duration::from_secs(1);

/// The core. Cloning it is cheap (shared handles).
#[derive(Clone)]
pub struct Polls {
    store: DynStore,
    cache: DynCache,
    live: Arc<Live>,
    votes: VoteWriter,
    shapes: Shapes,
    announcer: Announcer,
    /// With read standbys: how long a poll read from one may be cached (it may be
    /// `DB_READ_MAX_LAG_MS` old, and a later change's drop of the cached copy may come
    /// before it).
    standby_ttl: Option<Duration>,
}

impl Polls {
    /// The core over its parts; `announcer` is the one the vote writer uses too.
    pub fn new(store: DynStore, cache: DynCache, live: Arc<Live>, votes: VoteWriter, announcer: Announcer) -> Self {
        Self { store, cache, live, votes, shapes: Shapes::new(SHAPES_KEPT), announcer, standby_ttl: None }
    }

    /// Polls read from a standby (up to `max_lag` old) are cached for twice that at most
    /// (a second at least), not the whole TTL.
    #[must_use]
    pub fn with_standbys(mut self, max_lag: Duration) -> Self {
        self.standby_ttl = Some((max_lag * 2).max(Duration::from_secs(1)));
        self
    }

    /// The guarded store, for reads that need nothing else (themes, lists, totals).
    pub fn store(&self) -> &DynStore {
        &self.store
    }

    /// The live bus and its per-poll snapshots.
    pub fn live(&self) -> &Arc<Live> {
        &self.live
    }

    /// After a committed change: the cached copy dropped and every viewer told.
    pub async fn announce(&self, update: PollUpdate) {
        self.announcer.announce(update).await;
    }

    /// A poll with its tallies: cache, else database (then cached: briefly when it may
    /// have come from a standby, so a change made meanwhile is not hidden for long).
    pub async fn load(&self, poll_id: i64) -> StoreResult<Option<Poll>> {
        let key = cache_key(poll_id);
        if let Some(poll) = self.cache.get(&key).await.and_then(|json| serde_json::from_str(&json).ok()) {
            return Ok(Some(poll));
        }
        let poll = self.store.poll(poll_id).await?;
        if let Some(poll) = &poll
            && let Ok(json) = serde_json::to_string(poll)
        {
            match self.standby_ttl {
                Some(ttl) => self.cache.put_briefly(&key, json, ttl).await,
                None => self.cache.put(&key, json).await,
            }
        }
        Ok(poll)
    }

    /// The poll's shape: from memory, else from [`Self::load`]. `None` for an unknown poll.
    pub async fn shape(&self, poll_id: i64) -> StoreResult<Option<Arc<Shape>>> {
        if let Some(shape) = self.shapes.get(&poll_id).await {
            return Ok(Some(shape));
        }
        let Some(poll) = self.load(poll_id).await? else { return Ok(None) };
        let shape = Arc::new(Shape::of(&poll));
        self.shapes.insert(poll_id, shape.clone()).await;
        Ok(Some(shape))
    }

    /// The poll's current state: the live snapshot when this replica follows the poll, else
    /// [`Self::load`]. `None` for an unknown poll.
    pub async fn current(&self, poll_id: i64) -> StoreResult<Option<PollUpdate>> {
        if let Some(snapshot) = self.live.hub().current(poll_id) {
            return Ok(Some(snapshot.update.clone()));
        }
        Ok(self.load(poll_id).await?.map(|poll| PollUpdate::of(&poll)))
    }

    /// Every minute of the poll's timeline: `update`'s own when it holds the whole of it
    /// (read, and shorter than what pages draw), else from the database.
    pub async fn whole_timeline(&self, update: &PollUpdate) -> StoreResult<Timeline> {
        if update.timeline.complete && update.timeline.minutes.len() < SHOWN_MINUTES {
            return Ok(update.timeline.minutes.clone());
        }
        self.store.timeline(update.poll_id).await
    }

    /// Whether this browser has voted in the poll.
    pub async fn voted(&self, poll_id: i64, voter: &VoterId) -> StoreResult<bool> {
        Ok(!self.store.choices(poll_id, voter).await?.is_empty())
    }

    /// The one decision on who sees a poll's results now: the owner's rule
    /// ([`results_visible`]), with this browser's ballot looked up only when the rule
    /// depends on it. If that lookup fails, the results stay withheld.
    pub async fn sees_results(&self, update: &PollUpdate, voter: &VoterId) -> bool {
        let closed = update.is_final();
        if results_visible(update.shown, closed, false) {
            return true;
        }
        results_visible(update.shown, closed, true) && self.voted(update.poll_id, voter).await.unwrap_or(false)
    }

    /// Stores a new poll; its id and the manage key, which exists only in this answer.
    pub async fn create(&self, poll: &NewPoll) -> StoreResult<(i64, ManageKey)> {
        let key = ManageKey::random();
        let id = self.create_owned(poll, &key).await?;
        Ok((id, key))
    }

    /// Stores a new poll managed by `key` (the owner's key of another poll: one manage link
    /// for all the polls of a talk); its id.
    pub async fn create_owned(&self, poll: &NewPoll, key: &ManageKey) -> StoreResult<i64> {
        let id = self.store.create_poll(poll, &key.digest()).await?;
        tracing::info!(poll_id = id, "poll created");
        Ok(id)
    }

    /// Records a ballot through the replica's vote writer, which announces each batch once
    /// it committed.
    pub async fn cast(&self, ballot: &Ballot) -> StoreResult<VoteOutcome> {
        self.votes.cast(ballot.clone()).await
    }

    /// The poll, for the holder of its manage key (`None`: no such poll, or not its key).
    pub async fn owned(&self, poll_id: i64, key: &ManageKey) -> StoreResult<Option<Poll>> {
        self.store.owned_poll(poll_id, &key.digest()).await
    }

    /// Applies the owner's change (close, reopen, settings) and announces it: a close
    /// ends the viewers' streams, a reveal shows them the results.
    pub async fn change(&self, poll_id: i64, key: &ManageKey, change: OwnerChange) -> StoreResult<Option<Poll>> {
        let poll = self.store.change_poll(poll_id, &key.digest(), change).await?;
        if let Some(poll) = &poll {
            tracing::info!(poll_id, ?change, "poll changed by its owner");
            self.announce(PollUpdate::of(poll)).await;
        }
        Ok(poll)
    }

    /// Deletes the poll and announces it gone; false for no such poll, or not its key.
    pub async fn delete(&self, poll_id: i64, key: &ManageKey) -> StoreResult<bool> {
        let Some(poll) = self.owned(poll_id, key).await? else { return Ok(false) };
        let deleted = self.store.delete_poll(poll_id, &key.digest()).await?;
        if deleted {
            tracing::info!(poll_id, "poll deleted by its owner");
            self.announce(PollUpdate::removed(&poll)).await;
        }
        Ok(deleted)
    }

    /// Closes the polls whose closing time has come and announces each. Every replica
    /// runs this; the database hands each poll to exactly one of them.
    pub async fn close_due(&self) -> StoreResult<usize> {
        let ids = self.store.close_due().await?;
        for &poll_id in &ids {
            // Closed in the database now: the cached open copy goes even if the read back
            // below fails (no later sweep returns this poll again).
            self.cache.forget(&cache_key(poll_id)).await;
            if let Some(poll) = self.store.poll_as_written(poll_id).await? {
                tracing::info!(poll_id, "poll closed at its closing time");
                self.announce(PollUpdate::of(&poll)).await;
            }
        }
        Ok(ids.len())
    }

    /// Closes polls at their closing time, every [`DEADLINE_SWEEP`], until `shutdown`.
    pub async fn close_at_deadlines(self, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(DEADLINE_SWEEP);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => break,
                _ = tick.tick() => {}
            }
            if let Err(error) = self.close_due().await
                && !error.is_unavailable()
            {
                tracing::warn!(%error, "closing polls at their closing time failed; trying again");
            }
        }
    }
}
