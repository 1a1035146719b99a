//! One `watch` channel per watched poll, holding its latest snapshot rendered once, in
//! the words the HTTP layer gives it ([`Frames`]): the live layer knows no template.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::{Notify, watch};

use super::PollUpdate;
use crate::domain::{Poll, results_visible};
use crate::store::{DynStore, StoreResult};

/// How an update is put into words for viewers, once per update: the results (HTML and
/// JSON) for a viewer who has or has not voted, and the running total. Given by the HTTP
/// layer (`routes::stream::FRAMES`).
#[derive(Debug, Clone, Copy)]
pub struct Frames {
    /// `(html, json)` of the results as a viewer who has (`true`) or has not voted sees them.
    pub results: fn(&PollUpdate, bool) -> (String, String),
    /// The running total's HTML.
    pub total: fn(&PollUpdate) -> String,
}

/// A poll's state as viewers see it, with its fragments rendered once per update: once
/// for viewers who may see the results and, while the owner's rule withholds them from
/// some, once more for those.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The update it was made from.
    pub update: PollUpdate,
    /// The results as a viewer who voted sees them (`event: results`): the bars, or the
    /// number who voted while the owner withholds results until the close.
    results_html: String,
    /// The same as JSON (`?format=json`).
    json: String,
    /// HTML and JSON for viewers who have not voted, when they see less than voters do.
    withheld: Option<(String, String)>,
    /// The running total (`event: total`).
    pub total_html: String,
}

impl Snapshot {
    /// Renders the fragments and JSON of `update` in `frames`' words.
    pub fn render(update: PollUpdate, frames: &Frames) -> Self {
        let (results_html, json) = (frames.results)(&update, true);
        // A second rendering only where voters and the others see different things.
        let closed = update.is_final();
        let differs = results_visible(update.shown, closed, true) != results_visible(update.shown, closed, false);
        let withheld = differs.then(|| (frames.results)(&update, false));
        Self { results_html, json, withheld, total_html: (frames.total)(&update), update }
    }

    /// The version: the poll's total plus its owner revisions.
    pub fn version(&self) -> i64 {
        self.update.version
    }

    /// The results fragment for a viewer who has (or has not) voted.
    pub fn results_html(&self, voted: bool) -> &str {
        match &self.withheld {
            Some((html, _)) if !voted => html,
            _ => &self.results_html,
        }
    }

    /// The JSON for a viewer who has (or has not) voted.
    pub fn json(&self, voted: bool) -> &str {
        match &self.withheld {
            Some((_, json)) if !voted => json,
            _ => &self.json,
        }
    }

    /// Whether having voted changes what a viewer sees (so it must be looked up).
    pub fn withholds(&self) -> bool {
        self.withheld.is_some()
    }

    /// Whether `update` should replace this snapshot: newer, or the poll just closed, or the
    /// same state with the whole timeline where this one has only part of it.
    fn superseded_by(&self, update: &PollUpdate) -> bool {
        update.version > self.update.version
            || (update.closed && !self.update.closed)
            || (update.version == self.update.version && update.timeline.complete && !self.update.timeline.complete)
    }

    /// `update` with this snapshot's timeline folded in: a vote's read-back carries only
    /// the latest minutes.
    fn folded(&self, update: &PollUpdate) -> PollUpdate {
        let mut update = update.clone();
        update.timeline = self.update.timeline.folded_into(&update.timeline);
        update
    }
}

type Channel = watch::Sender<Arc<Snapshot>>;

/// The watched polls of this replica.
pub struct Hub {
    polls: Mutex<HashMap<i64, Channel>>,
    store: DynStore,
    frames: Frames,
    /// Signals that the set of watched polls changed (the Redis subscriber follows it).
    watched_changed: Notify,
}

impl Hub {
    /// An empty hub that loads first snapshots from `store` and renders them with `frames`.
    pub fn new(store: DynStore, frames: Frames) -> Arc<Self> {
        Arc::new(Self { polls: Mutex::new(HashMap::new()), store, frames, watched_changed: Notify::new() })
    }

    fn polls(&self) -> MutexGuard<'_, HashMap<i64, Channel>> {
        // The map stays consistent even if a holder panicked: every change is one insert/remove.
        self.polls.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts watching a poll: its current snapshot, then every newer one. `None` for an
    /// unknown poll. The database is read only when nobody here watches the poll yet.
    pub async fn watch(self: &Arc<Self>, poll_id: i64) -> StoreResult<Option<Watcher>> {
        if let Some(watcher) = self.subscribe(poll_id) {
            // Started from a list (a theme page's stream), without the timeline: read it once.
            if !watcher.receiver.borrow().update.timeline.complete {
                self.refresh(poll_id).await?;
            }
            return Ok(Some(watcher));
        }
        // From the primary: the live state is never older than a write already answered.
        let Some(poll) = self.store.poll_as_written(poll_id).await? else { return Ok(None) };
        Ok(Some(self.watch_loaded(&poll)))
    }

    /// Starts watching a poll the caller has already loaded (a theme's polls come in one
    /// query), keeping whichever state is newer.
    pub fn watch_loaded(self: &Arc<Self>, poll: &Poll) -> Watcher {
        let update = PollUpdate::of(poll);
        if let Some(watcher) = self.subscribe(poll.id) {
            self.apply(&update);
            return watcher;
        }
        let fresh = Arc::new(Snapshot::render(update, &self.frames));
        let (receiver, started) = {
            let mut polls = self.polls();
            match polls.entry(poll.id) {
                Entry::Occupied(channel) => (channel.get().subscribe(), false),
                Entry::Vacant(slot) => (slot.insert(watch::channel(fresh.clone()).0).subscribe(), true),
            }
        };
        if started {
            self.watched_changed.notify_one();
        } else {
            // Another viewer started the channel meanwhile: keep the newer state.
            self.apply(&fresh.update);
        }
        Watcher { receiver, hub: self.clone(), poll_id: poll.id }
    }

    /// Joins an existing channel.
    fn subscribe(self: &Arc<Self>, poll_id: i64) -> Option<Watcher> {
        let receiver = self.polls().get(&poll_id)?.subscribe();
        Some(Watcher { receiver, hub: self.clone(), poll_id })
    }

    /// Applies an update if someone here watches the poll and it is newer than what they
    /// have. Rendering happens once, outside the lock.
    pub fn apply(&self, update: &PollUpdate) {
        let Some(channel) = self.polls().get(&update.poll_id).cloned() else { return };
        let update = {
            let current = channel.borrow();
            if !current.superseded_by(update) {
                return;
            }
            current.folded(update)
        };
        let snapshot = Arc::new(Snapshot::render(update, &self.frames));
        channel.send_if_modified(|current| {
            let newer = current.superseded_by(&snapshot.update);
            if newer {
                *current = snapshot;
            }
            newer
        });
    }

    /// Reloads a watched poll from the database (after a gap in the bus).
    pub async fn refresh(&self, poll_id: i64) -> StoreResult<()> {
        if !self.polls().contains_key(&poll_id) {
            return Ok(());
        }
        if let Some(poll) = self.store.poll_as_written(poll_id).await? {
            self.apply(&PollUpdate::of(&poll));
        }
        Ok(())
    }

    /// The latest snapshot of a poll watched here, without starting to watch it.
    pub fn current(&self, poll_id: i64) -> Option<Arc<Snapshot>> {
        self.polls().get(&poll_id).map(|channel| channel.borrow().clone())
    }

    /// The polls watched here now.
    pub fn watched(&self) -> Vec<i64> {
        self.polls().keys().copied().collect()
    }

    /// Resolves when the watched set may have changed since the last call.
    pub async fn watched_changed(&self) {
        self.watched_changed.notified().await;
    }

    fn release(&self, poll_id: i64) {
        let mut polls = self.polls();
        // Called while the leaving receiver still exists: one left means it was the last.
        if polls.get(&poll_id).is_some_and(|channel| channel.receiver_count() <= 1) {
            polls.remove(&poll_id);
            drop(polls);
            self.watched_changed.notify_one();
        }
    }
}

/// One viewer's hold on a poll's snapshots. Dropping the last one frees the channel, so
/// the map never grows with polls nobody watches.
pub struct Watcher {
    receiver: watch::Receiver<Arc<Snapshot>>,
    hub: Arc<Hub>,
    poll_id: i64,
}

impl Watcher {
    /// The latest snapshot, marking it seen.
    pub fn latest(&mut self) -> Arc<Snapshot> {
        self.receiver.borrow_and_update().clone()
    }

    /// Waits for a snapshot newer than the last one seen. False if the channel is gone.
    pub async fn changed(&mut self) -> bool {
        self.receiver.changed().await.is_ok()
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.hub.release(self.poll_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ResultsShown;

    /// Words that say only what the hub decided: which viewer, which version.
    const PLAIN: Frames = Frames {
        results: |update, voted| {
            (format!("v{} voted={voted}", update.version), format!("{{\"v\":{}}}", update.version))
        },
        total: |update| format!("total {}", update.total()),
    };

    fn update(version: i64, closed: bool) -> PollUpdate {
        PollUpdate::example(version, ResultsShown::Always, closed)
    }

    #[test]
    fn a_snapshot_gives_way_to_newer_tallies_and_to_closing_only() {
        let open_at_5 = Snapshot::render(update(5, false), &PLAIN);
        let closed_at_5 = Snapshot::render(update(5, true), &PLAIN);
        let cases = [
            ("a newer version", &open_at_5, update(6, false), true),
            ("the same version again", &open_at_5, update(5, false), false),
            ("an older version", &open_at_5, update(4, false), false),
            ("the poll closing at the same version", &open_at_5, update(5, true), true),
            ("an older closing", &open_at_5, update(4, true), true),
            ("a closed poll hearing the same state", &closed_at_5, update(5, true), false),
            ("a closed poll hearing an older open state", &closed_at_5, update(4, false), false),
        ];
        for (description, snapshot, update, expected) in cases {
            assert_eq!(snapshot.superseded_by(&update), expected, "{description}");
        }
    }

    #[test]
    fn a_second_rendering_only_where_having_voted_changes_what_is_seen() {
        let always = Snapshot::render(update(2, false), &PLAIN);
        assert!(!always.withholds());
        assert_eq!((always.results_html(false), always.total_html.as_str()), ("v2 voted=true", "total 2"));

        let mut after_vote = update(3, false);
        after_vote.shown = ResultsShown::AfterVote;
        let split = Snapshot::render(after_vote, &PLAIN);
        assert!(split.withholds(), "after voting: whether one voted decides");
        assert_eq!((split.results_html(false), split.results_html(true)), ("v3 voted=false", "v3 voted=true"));

        let mut after_close = update(3, false);
        after_close.shown = ResultsShown::AfterClose;
        assert!(!Snapshot::render(after_close.clone(), &PLAIN).withholds(), "until the close all see the same");
        after_close.closed = true;
        assert!(!Snapshot::render(after_close, &PLAIN).withholds(), "and after it too");
    }
}
