//! Poll operations that touch more than storage: the cache in front of reads, and the live
//! bus after every committed change.

use crate::domain::VoterId;
use votestream_views::poll;

use crate::live::PollUpdate;
use crate::state::AppState;
use crate::store::{Poll, PollOption, StoreResult, VoteOutcome};
use crate::web::results_view;

fn cache_key(poll_id: i64) -> String {
    format!("poll:{poll_id}")
}

fn fragment_key(poll_id: i64) -> String {
    format!("results-html:{poll_id}")
}

/// Drops what a committed change made stale.
async fn forget(state: &AppState, poll_id: i64) {
    state.cache.forget(&cache_key(poll_id)).await;
    state.cache.forget(&fragment_key(poll_id)).await;
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

/// The current tallies: the live snapshot when this replica follows the poll, else
/// [`load`]. `None` for an unknown poll.
pub async fn tallies(state: &AppState, poll_id: i64) -> StoreResult<Option<(Vec<PollOption>, bool)>> {
    if let Some(snapshot) = state.live.hub().current(poll_id) {
        return Ok(Some((snapshot.update.options.clone(), snapshot.update.closed)));
    }
    Ok(load(state, poll_id).await?.map(|poll| (poll.options, poll.closed)))
}

/// The result bars as HTML: the live snapshot's (rendered once per update), else the
/// cached fragment, else rendered from [`tallies`] and cached.
pub async fn results_fragment(state: &AppState, poll_id: i64) -> StoreResult<Option<String>> {
    if let Some(snapshot) = state.live.hub().current(poll_id) {
        return Ok(Some(snapshot.results_html.clone()));
    }
    let key = fragment_key(poll_id);
    if let Some(html) = state.cache.get(&key).await {
        return Ok(Some(html));
    }
    let Some((options, closed)) = tallies(state, poll_id).await? else { return Ok(None) };
    let html = poll::results(&results_view(poll_id, &options, closed)).into_string();
    state.cache.put(&key, html.clone()).await;
    Ok(Some(html))
}

/// Records a vote; once committed, drops the stale cache entry and tells every viewer.
pub async fn vote(state: &AppState, poll_id: i64, option_id: i64, voter: &VoterId) -> StoreResult<VoteOutcome> {
    let outcome = state.store.cast_vote(poll_id, option_id, voter).await?;
    if let VoteOutcome::Accepted(options) = &outcome {
        // Both talk to Redis in the scaled mode: one round trip of waiting, not two.
        let update = PollUpdate::new(poll_id, false, options.clone());
        tokio::join!(forget(state, poll_id), state.live.publish(update));
    }
    Ok(outcome)
}

/// Ends voting on a poll and tells every viewer (their streams send a final event).
pub async fn close(state: &AppState, poll_id: i64) -> StoreResult<bool> {
    let closed = state.store.close_poll(poll_id).await?;
    forget(state, poll_id).await;
    if let Some(poll) = state.store.poll(poll_id).await? {
        state.live.publish(PollUpdate::of(&poll)).await;
    }
    Ok(closed)
}
