//! The store behind its circuit breaker. Every call goes through the breaker; each page
//! read also keeps its last good answer, so while the database is away the pages still
//! render (with a notice) instead of failing. Page reads other than a poll's own are
//! answered from memory for `READ_FRESH_MS` (a second by default) after the database
//! answered them: a theme list or the home counts may lag that long behind another
//! replica's writes; this replica's own writes drop them at once.

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;

use super::{DynStore, PollFilter, SeedReport, Store, StoreError, StoreResult};
use crate::breaker::{Breaker, Failure};
use crate::domain::{
    Ballot, NewPoll, OwnerChange, Page, Place, Poll, Theme, ThemeContent, ThemeStats, Timeline, Totals, VoteOutcome,
    VoterId,
};

/// Page reads whose last good answer is kept (bounded in number: see `LAST_GOOD_ENTRIES`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Read {
    Themes,
    ThemeStats,
    Theme(String),
    ThemeById(i64),
    /// A theme's first page, of this size.
    PollsOfTheme(i64, u32),
    PollsOfThemeUpTo(i64, i64),
    PlaceInTheme(i64, i64),
    /// The first page of the polls a filter lets through, of this size.
    Polls(u32, PollFilter),
    Poll(i64),
}

/// Last good answers kept at most.
const LAST_GOOD_ENTRIES: u64 = 10_000;

/// A page read's answer as kept: one variant per kind of answer a read gives.
#[derive(Debug, Clone)]
enum Answer {
    Themes(Arc<Vec<Theme>>),
    Stats(Arc<Vec<ThemeStats>>),
    Theme(Arc<Option<Theme>>),
    Polls(Arc<Vec<Poll>>),
    Place(Arc<Place>),
    Count(Arc<i64>),
    Poll(Arc<Option<Poll>>),
}

/// An answer a page read gives, and the variant it is kept as.
trait Keep: Clone + Sized {
    fn keep(&self) -> Answer;
    /// The answer, if `kept` is of this kind (a key always holds one kind).
    fn kept(kept: &Answer) -> Option<Self>;
}

macro_rules! keep {
    ($($answer:ty => $variant:ident),+ $(,)?) => {$(
        impl Keep for $answer {
            fn keep(&self) -> Answer {
                Answer::$variant(Arc::new(self.clone()))
            }
            fn kept(kept: &Answer) -> Option<Self> {
                match kept {
                    Answer::$variant(value) => Some(value.as_ref().clone()),
                    _ => None,
                }
            }
        }
    )+};
}

keep! {
    Vec<Theme> => Themes,
    Vec<ThemeStats> => Stats,
    Option<Theme> => Theme,
    Vec<Poll> => Polls,
    Option<Poll> => Poll,
    Place => Place,
    i64 => Count,
}

type Kept = moka::future::Cache<Read, Answer>;

/// A [`Store`] whose calls all pass through `breaker`.
pub struct GuardedStore {
    inner: DynStore,
    breaker: Arc<Breaker>,
    last_good: Kept,
    /// Answers young enough to give again without asking the database.
    fresh: Option<Kept>,
}

impl GuardedStore {
    /// Guards `inner` with `breaker`; page reads are fresh for `fresh_for` (zero: never).
    pub fn new(inner: DynStore, breaker: Arc<Breaker>, fresh_for: std::time::Duration) -> Self {
        let fresh = (!fresh_for.is_zero())
            .then(|| moka::future::Cache::builder().max_capacity(LAST_GOOD_ENTRIES).time_to_live(fresh_for).build());
        Self { inner, breaker, last_good: moka::future::Cache::new(LAST_GOOD_ENTRIES), fresh }
    }

    /// After a write here: what was fresh may not be.
    fn written(&self) {
        if let Some(fresh) = &self.fresh {
            fresh.invalidate_all();
        }
    }

    async fn guard<T>(&self, call: impl Future<Output = StoreResult<T>>) -> StoreResult<T> {
        self.breaker.call(StoreError::is_outage, call).await.map_err(|failure| match failure {
            Failure::Open => StoreError::Unavailable,
            Failure::TimedOut => StoreError::TimedOut,
            Failure::Call(error) => error,
        })
    }

    /// A page read: the answer, kept; or, when the database is away, the last one kept.
    async fn read<T: Keep>(&self, key: Read, call: impl Future<Output = StoreResult<T>>) -> StoreResult<T> {
        // A poll's own state is always read: votes and closing depend on it.
        let fresh = self.fresh.as_ref().filter(|_| !matches!(key, Read::Poll(_)));
        if let Some(cache) = fresh
            && let Some(kept) = cache.get(&key).await.as_ref().and_then(T::kept)
        {
            return Ok(kept);
        }
        match self.guard(call).await {
            Ok(value) => {
                let kept = value.keep();
                if let Some(fresh) = fresh {
                    fresh.insert(key.clone(), kept.clone()).await;
                }
                self.last_good.insert(key, kept).await;
                Ok(value)
            }
            Err(error) if error.is_unavailable() => match self.last_good.get(&key).await.as_ref().and_then(T::kept) {
                Some(kept) => {
                    tracing::debug!(?key, "database unavailable: answering from the last good copy");
                    Ok(kept)
                }
                None => Err(error),
            },
            Err(error) => Err(error),
        }
    }
}

#[async_trait]
impl Store for GuardedStore {
    async fn migrate(&self) -> StoreResult<()> {
        // Migrations may take long on a big database: not bounded by the call timeout.
        self.inner.migrate().await
    }

    async fn ping(&self) -> StoreResult<()> {
        self.guard(self.inner.ping()).await
    }

    async fn seed(&self, themes: &[ThemeContent]) -> StoreResult<SeedReport> {
        self.guard(self.inner.seed(themes)).await
    }

    async fn themes(&self) -> StoreResult<Vec<Theme>> {
        self.read(Read::Themes, self.inner.themes()).await
    }

    async fn theme_stats(&self) -> StoreResult<Vec<ThemeStats>> {
        self.read(Read::ThemeStats, self.inner.theme_stats()).await
    }

    async fn theme(&self, slug_or_key: &str) -> StoreResult<Option<Theme>> {
        self.read(Read::Theme(slug_or_key.to_owned()), self.inner.theme(slug_or_key)).await
    }

    async fn theme_by_id(&self, id: i64) -> StoreResult<Option<Theme>> {
        self.read(Read::ThemeById(id), self.inner.theme_by_id(id)).await
    }

    async fn polls_of_theme(&self, theme_id: i64, page: Page) -> StoreResult<Vec<Poll>> {
        // Only first pages are kept: any cursor can be asked for, and copies of every page
        // would let a client fill the memory.
        if page.after.is_some() {
            return self.guard(self.inner.polls_of_theme(theme_id, page)).await;
        }
        self.read(Read::PollsOfTheme(theme_id, page.size), self.inner.polls_of_theme(theme_id, page)).await
    }

    async fn polls_of_theme_up_to(&self, theme_id: i64, poll_id: i64) -> StoreResult<i64> {
        self.read(Read::PollsOfThemeUpTo(theme_id, poll_id), self.inner.polls_of_theme_up_to(theme_id, poll_id)).await
    }

    async fn place_in_theme(&self, theme_id: i64, poll_id: i64) -> StoreResult<Place> {
        self.read(Read::PlaceInTheme(theme_id, poll_id), self.inner.place_in_theme(theme_id, poll_id)).await
    }

    async fn polls(&self, page: Page, filter: PollFilter) -> StoreResult<Vec<Poll>> {
        if page.after.is_some() {
            return self.guard(self.inner.polls(page, filter)).await;
        }
        self.read(Read::Polls(page.size, filter), self.inner.polls(page, filter)).await
    }

    async fn poll(&self, id: i64) -> StoreResult<Option<Poll>> {
        self.read(Read::Poll(id), self.inner.poll(id)).await
    }

    async fn poll_as_written(&self, id: i64) -> StoreResult<Option<Poll>> {
        self.read(Read::Poll(id), self.inner.poll_as_written(id)).await
    }

    async fn timeline(&self, poll_id: i64) -> StoreResult<Timeline> {
        self.guard(self.inner.timeline(poll_id)).await
    }

    async fn join_key(&self) -> StoreResult<i64> {
        self.guard(self.inner.join_key()).await
    }

    async fn choices(&self, poll_id: i64, voter: &VoterId) -> StoreResult<Vec<i64>> {
        self.guard(self.inner.choices(poll_id, voter)).await
    }

    async fn create_poll(&self, poll: &NewPoll, manage_digest: &str) -> StoreResult<i64> {
        let created = self.guard(self.inner.create_poll(poll, manage_digest)).await;
        self.written();
        created
    }

    async fn cast_ballots(&self, ballots: &[Ballot]) -> StoreResult<Vec<VoteOutcome>> {
        let outcomes = self.guard(self.inner.cast_ballots(ballots)).await;
        self.written();
        outcomes
    }

    async fn owned_poll(&self, poll_id: i64, manage_digest: &str) -> StoreResult<Option<Poll>> {
        self.guard(self.inner.owned_poll(poll_id, manage_digest)).await
    }

    async fn change_poll(&self, poll_id: i64, manage_digest: &str, change: OwnerChange) -> StoreResult<Option<Poll>> {
        let changed = self.guard(self.inner.change_poll(poll_id, manage_digest, change)).await;
        self.written();
        changed
    }

    async fn delete_poll(&self, poll_id: i64, manage_digest: &str) -> StoreResult<bool> {
        let deleted = self.guard(self.inner.delete_poll(poll_id, manage_digest)).await?;
        self.written();
        // A deleted poll must not come back from the last good copy during an outage.
        self.last_good.invalidate(&Read::Poll(poll_id)).await;
        Ok(deleted)
    }

    async fn close_due(&self) -> StoreResult<Vec<i64>> {
        let closed = self.guard(self.inner.close_due()).await?;
        if !closed.is_empty() {
            self.written();
        }
        Ok(closed)
    }

    fn standbys(&self) -> Vec<super::StandbyState> {
        self.inner.standbys()
    }

    fn pool(&self) -> Option<super::PoolStats> {
        self.inner.pool()
    }

    async fn totals(&self) -> StoreResult<Totals> {
        self.guard(self.inner.totals()).await
    }
}
