//! Poll operations that touch more than storage: the cache in front of reads, and the live
//! bus after every committed change. Routes (HTML and API alike) call these; nothing here
//! knows about HTTP or HTML.

use crate::domain::{Poll, PollOption, VoteOutcome, VoterId};
use crate::live::PollUpdate;
use crate::state::AppState;
use crate::store::StoreResult;

fn cache_key(poll_id: i64) -> String {
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

/// The current tallies and whether the poll is closed: the live snapshot when this replica
/// follows the poll, else [`load`]. `None` for an unknown poll.
pub async fn tallies(state: &AppState, poll_id: i64) -> StoreResult<Option<(Vec<PollOption>, bool)>> {
    if let Some(snapshot) = state.live.hub().current(poll_id) {
        return Ok(Some((snapshot.update.options.clone(), snapshot.update.closed)));
    }
    Ok(load(state, poll_id).await?.map(|poll| (poll.options, poll.closed)))
}

/// Records a vote; once committed, drops the stale cache entry and tells every viewer.
pub async fn vote(state: &AppState, poll_id: i64, option_id: i64, voter: &VoterId) -> StoreResult<VoteOutcome> {
    let outcome = state.store.cast_vote(poll_id, option_id, voter).await?;
    if let VoteOutcome::Accepted { tally } = &outcome {
        let key = cache_key(poll_id);
        let forget = state.cache.forget(&key);
        match tally {
            // Both talk to Redis in the scaled mode: one round trip of waiting, not two.
            Some(options) => {
                tokio::join!(forget, state.live.publish(PollUpdate::new(poll_id, false, options.clone())));
            }
            // Nothing to tell viewers yet: the next vote's tally includes this one.
            None => forget.await,
        }
    }
    Ok(outcome)
}

/// Ends voting on a poll and tells every viewer (their streams send a final event).
pub async fn close(state: &AppState, poll_id: i64) -> StoreResult<bool> {
    let closed = state.store.close_poll(poll_id).await?;
    state.cache.forget(&cache_key(poll_id)).await;
    if let Some(poll) = state.store.poll(poll_id).await? {
        state.live.publish(PollUpdate::of(&poll)).await;
    }
    Ok(closed)
}
