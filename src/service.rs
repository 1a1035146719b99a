//! Poll operations that touch more than storage: the cache in front of reads, and the live
//! bus after every committed change. Routes (HTML and API alike) call these; nothing here
//! knows about HTTP or HTML.

use std::time::Duration;

use std::sync::Arc;

use crate::domain::{Ballot, ManageKey, NewPoll, OwnerChange, Poll, Refusal, VoteOutcome, VoterId, results_visible};
use crate::live::PollUpdate;
use crate::state::AppState;
use crate::store::StoreResult;

/// The cache key of a poll.
pub fn cache_key(poll_id: i64) -> String {
    format!("poll:{poll_id}")
}

/// A poll with its tallies: cache, else database (then cached).
pub async fn load(state: &AppState, poll_id: i64) -> StoreResult<Option<Poll>> {
    let key = cache_key(poll_id);
    if let Some(poll) = state.cache.get(&key).await.and_then(|json| serde_json::from_str(&json).ok()) {
        return Ok(Some(poll));
    }
    let poll = state.store.poll(poll_id).await?;
    if let Some(poll) = &poll
        && let Ok(json) = serde_json::to_string(poll)
    {
        state.cache.put(&key, json).await;
    }
    Ok(poll)
}

/// What never changes about a poll once created: its options in order and how many a
/// voter may pick. Ballots are checked against it before they reach the vote writer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    /// Option ids, in order.
    pub options: Vec<i64>,
    /// How many a voter may pick.
    pub max_choices: u8,
}

impl Shape {
    /// Why `options` cannot be a ballot in poll `poll_id`, if they cannot.
    pub fn refusal(&self, poll_id: i64, options: &[i64]) -> Option<Refusal> {
        if let Some(&option_id) = options.iter().find(|o| !self.options.contains(o)) {
            return Some(Refusal::UnknownOption { poll_id, option_id });
        }
        let mut distinct = options.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        (distinct.len() > usize::from(self.max_choices))
            .then_some(Refusal::TooManyChoices { max: self.max_choices, picked: distinct.len() })
    }
}

/// Shapes of polls, kept in the process (they never change; a deleted poll's shape
/// lingers harmlessly: the writer refuses its ballots).
pub type Shapes = moka::future::Cache<i64, Arc<Shape>>;

/// How many poll shapes a replica keeps.
pub const SHAPES_KEPT: u64 = 100_000;

/// The poll's shape: from memory, else from [`load`]. `None` for an unknown poll.
pub async fn shape(state: &AppState, poll_id: i64) -> StoreResult<Option<Arc<Shape>>> {
    if let Some(shape) = state.shapes.get(&poll_id).await {
        return Ok(Some(shape));
    }
    let Some(poll) = load(state, poll_id).await? else { return Ok(None) };
    let shape = Arc::new(Shape { options: poll.options.iter().map(|o| o.id).collect(), max_choices: poll.max_choices });
    state.shapes.insert(poll_id, shape.clone()).await;
    Ok(Some(shape))
}

/// The poll's current state: the live snapshot when this replica follows the poll, else
/// [`load`]. `None` for an unknown poll.
pub async fn current(state: &AppState, poll_id: i64) -> StoreResult<Option<PollUpdate>> {
    if let Some(snapshot) = state.live.hub().current(poll_id) {
        return Ok(Some(snapshot.update.clone()));
    }
    Ok(load(state, poll_id).await?.map(|poll| PollUpdate::of(&poll)))
}

/// Whether this browser has voted in the poll.
pub async fn voted(state: &AppState, poll_id: i64, voter: &VoterId) -> StoreResult<bool> {
    Ok(!state.store.choices(poll_id, voter).await?.is_empty())
}

/// Whether this browser may see the poll's results now. The lookup happens only when the
/// owner's rule depends on it; if it fails the results stay withheld.
pub async fn sees_results(state: &AppState, update: &PollUpdate, voter: &VoterId) -> bool {
    if results_visible(update.shown, update.closed, false) {
        return true;
    }
    results_visible(update.shown, update.closed, true) && voted(state, update.poll_id, voter).await.unwrap_or(false)
}

/// Stores a new poll; its id and the manage key, which exists only in this answer.
pub async fn create(state: &AppState, poll: &NewPoll) -> StoreResult<(i64, ManageKey)> {
    let key = ManageKey::random();
    let id = state.store.create_poll(poll, &key.digest()).await?;
    tracing::info!(poll_id = id, "poll created");
    Ok((id, key))
}

/// Records a ballot through the replica's vote writer (which, once its batch committed,
/// drops the stale cache entry and tells every viewer).
pub async fn vote(state: &AppState, ballot: &Ballot) -> StoreResult<VoteOutcome> {
    state.votes.cast(ballot.clone()).await
}

/// The poll, for the holder of its manage key (`None`: no such poll, or not its key).
pub async fn owned(state: &AppState, poll_id: i64, key: &ManageKey) -> StoreResult<Option<Poll>> {
    state.store.owned_poll(poll_id, &key.digest()).await
}

/// Applies the owner's change and tells every viewer (a close ends their streams; a
/// reveal shows them the results).
pub async fn change(state: &AppState, poll_id: i64, key: &ManageKey, change: OwnerChange) -> StoreResult<Option<Poll>> {
    let poll = state.store.change_poll(poll_id, &key.digest(), change).await?;
    if let Some(poll) = &poll {
        tracing::info!(poll_id, ?change, "poll changed by its owner");
        let key = cache_key(poll_id);
        tokio::join!(state.cache.forget(&key), state.live.publish(PollUpdate::of(poll)));
    }
    Ok(poll)
}

/// Deletes the poll and tells its viewers; false for no such poll, or not its key.
pub async fn delete(state: &AppState, poll_id: i64, key: &ManageKey) -> StoreResult<bool> {
    let Some(poll) = owned(state, poll_id, key).await? else { return Ok(false) };
    let deleted = state.store.delete_poll(poll_id, &key.digest()).await?;
    if deleted {
        tracing::info!(poll_id, "poll deleted by its owner");
        let key = cache_key(poll_id);
        tokio::join!(state.cache.forget(&key), state.live.publish(PollUpdate::removed(&poll)));
    }
    Ok(deleted)
}

/// Closes the polls whose closing time has come and tells their viewers. Every replica
/// runs this; the database hands each poll to exactly one of them.
pub async fn close_due(state: &AppState) -> StoreResult<usize> {
    let ids = state.store.close_due().await?;
    for &poll_id in &ids {
        state.cache.forget(&cache_key(poll_id)).await;
        if let Some(poll) = state.store.poll(poll_id).await? {
            tracing::info!(poll_id, "poll closed at its closing time");
            state.live.publish(PollUpdate::of(&poll)).await;
        }
    }
    Ok(ids.len())
}

/// How often each replica looks for polls whose closing time has come.
pub const DEADLINE_SWEEP: Duration = Duration::from_secs(1);

/// Closes polls at their closing time, every [`DEADLINE_SWEEP`], until shutdown.
pub async fn close_at_deadlines(state: AppState) {
    let mut tick = tokio::time::interval(DEADLINE_SWEEP);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            () = state.shutdown.cancelled() => break,
            _ = tick.tick() => {}
        }
        if let Err(error) = close_due(&state).await
            && !error.is_unavailable()
        {
            tracing::warn!(%error, "closing polls at their closing time failed; trying again");
        }
    }
}
