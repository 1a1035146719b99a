//! Storage: one trait over the domain types, one SQL implementation, one module per backend.

use std::sync::Arc;

use async_trait::async_trait;

use crate::config::{Backend, Storage};
use crate::domain::{
    Ballot, NewPoll, OwnerChange, Page, Place, Poll, Theme, ThemeContent, ThemeStats, Timeline, Totals, VoteOutcome,
    VoterId,
};

mod backend;
pub mod guarded;
mod pgbouncer;
pub mod postgres;
pub mod sqlite;
pub mod standby;

pub use backend::SqlBackend;
pub use standby::StandbyState;

/// Errors from storage. Their detail goes to the log, never to a client.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or answered with an error.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// A migration failed.
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database was not called: its breaker is open.
    #[error("the database is unavailable: its circuit is open")]
    Unavailable,
    /// The database did not answer in time; the call was abandoned, so whether a write
    /// took effect is unknown.
    #[error("the database did not answer in time")]
    TimedOut,
    /// The connection broke while a commit was under way: whether it took effect is unknown.
    #[error("the connection broke during a commit: {0}")]
    CommitInDoubt(sqlx::Error),
    /// The polls of a batch changed (closed, guarded otherwise, deleted) each time it was
    /// tried: nothing of it was stored. Load on one poll, not an outage.
    #[error("the batch's polls kept changing while it was written")]
    KeptChanging,
    /// The batch this ballot was written in failed, for this reason, for all of its ballots.
    #[error("the batch of ballots failed: {0}")]
    Batch(std::sync::Arc<StoreError>),
}

impl StoreError {
    /// Whether the database itself is failing (unreachable, refusing connections, shutting
    /// down): what a circuit breaker counts. A constraint violation or a bad row is an
    /// answer, not an outage; so is a pool with no free connection (that is load).
    pub fn is_outage(&self) -> bool {
        match self {
            Self::Batch(cause) => cause.is_outage(),
            Self::Unavailable | Self::TimedOut | Self::CommitInDoubt(_) => true,
            Self::Database(error) => match error {
                sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::Protocol(_)
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed => true,
                // Connection exceptions (08…), server shutting down or not yet accepting (57P…),
                // out of resources (53…).
                sqlx::Error::Database(db) => db
                    .code()
                    .is_some_and(|code| code.starts_with("08") || code.starts_with("57P") || code.starts_with("53")),
                _ => false,
            },
            Self::Migrate(_) | Self::KeptChanging => false,
        }
    }

    /// Whether the write may have taken effect although the call failed: it was abandoned
    /// (timed out), or the connection broke during its commit.
    pub fn in_doubt(&self) -> bool {
        match self {
            Self::TimedOut | Self::CommitInDoubt(_) => true,
            Self::Batch(cause) => cause.in_doubt(),
            _ => false,
        }
    }

    /// Whether a client should hear "try again in a moment" (503) rather than "we failed"
    /// (500): the database is away or every connection is busy.
    pub fn is_unavailable(&self) -> bool {
        match self {
            // Whatever sank it, a failed batch stored nothing: try again.
            Self::Batch(_) => true,
            _ => self.is_outage() || matches!(self, Self::Database(sqlx::Error::PoolTimedOut)),
        }
    }
}

/// Shorthand for storage results.
pub type StoreResult<T> = Result<T, StoreError>;

/// What a seeding run added.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeedReport {
    /// Themes that were missing.
    pub themes_added: usize,
    /// Polls that were missing.
    pub polls_added: usize,
}

/// Which polls a list shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct PollFilter {
    /// Only this theme's.
    pub theme_id: Option<i64>,
    /// Only open ones (`Some(true)`) or only closed ones (`Some(false)`).
    pub open: Option<bool>,
}

/// Database connections now, for `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// Serving a query or a transaction.
    pub in_use: u32,
    /// Open and waiting.
    pub idle: u32,
}

/// Everything the app keeps, behind one interface for every backend.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Applies pending migrations.
    async fn migrate(&self) -> StoreResult<()>;
    /// Answers when the database does.
    async fn ping(&self) -> StoreResult<()>;
    /// Adds the themes, and the polls of each, that are missing, in one transaction.
    async fn seed(&self, themes: &[ThemeContent]) -> StoreResult<SeedReport>;
    /// Every theme in display order.
    async fn themes(&self) -> StoreResult<Vec<Theme>>;
    /// Every theme with its poll and vote counts.
    async fn theme_stats(&self) -> StoreResult<Vec<ThemeStats>>;
    /// The theme with this slug or key.
    async fn theme(&self, slug_or_key: &str) -> StoreResult<Option<Theme>>;
    /// The theme with this id.
    async fn theme_by_id(&self, id: i64) -> StoreResult<Option<Theme>>;
    /// One page of a theme's polls, oldest first.
    async fn polls_of_theme(&self, theme_id: i64, page: Page) -> StoreResult<Vec<Poll>>;
    /// How many of a theme's polls come before (or are) `poll_id`: where a page starts.
    async fn polls_of_theme_up_to(&self, theme_id: i64, poll_id: i64) -> StoreResult<i64>;
    /// Where `poll_id` stands among its theme's polls, oldest first: read from the
    /// theme's poll counter and the polls after it, not from the whole list.
    async fn place_in_theme(&self, theme_id: i64, poll_id: i64) -> StoreResult<Place>;
    /// One page of the polls `filter` lets through, oldest first.
    async fn polls(&self, page: Page, filter: PollFilter) -> StoreResult<Vec<Poll>>;
    /// One poll, from a standby when one is fit (then up to `DB_READ_MAX_LAG_MS` old).
    async fn poll(&self, id: i64) -> StoreResult<Option<Poll>>;
    /// One poll as the primary has it: for whoever must see a write already made (the
    /// voter's own page, the owner's, the tally announced after a change).
    async fn poll_as_written(&self, id: i64) -> StoreResult<Option<Poll>>;
    /// Every minute of the poll's timeline (the pages draw the latest day of it).
    async fn timeline(&self, poll_id: i64) -> StoreResult<Timeline>;
    /// The database's key for join codes (made once by the migration).
    async fn join_key(&self) -> StoreResult<i64>;
    /// The options this browser chose in this poll (empty if it has not voted).
    async fn choices(&self, poll_id: i64, voter: &VoterId) -> StoreResult<Vec<i64>>;
    /// Stores a checked poll, owned by whoever holds the key with this digest; its id.
    async fn create_poll(&self, poll: &NewPoll, manage_digest: &str) -> StoreResult<i64>;
    /// Records a batch of ballots in one transaction: every valid ballot's rows and the
    /// counters change together, once, at the commit; a ballot refused by a check is
    /// refused alone. One outcome per ballot, in order; accepted ones carry their poll as
    /// read back just before the commit.
    async fn cast_ballots(&self, ballots: &[Ballot]) -> StoreResult<Vec<VoteOutcome>>;
    /// The poll, if `manage_digest` is its owner's (`None`: no such poll, or not its key).
    async fn owned_poll(&self, poll_id: i64, manage_digest: &str) -> StoreResult<Option<Poll>>;
    /// Applies an owner's change; the poll afterwards (`None`: no such poll, or not its key).
    async fn change_poll(&self, poll_id: i64, manage_digest: &str, change: OwnerChange) -> StoreResult<Option<Poll>>;
    /// Deletes a poll with its votes; false for no such poll or not its key.
    async fn delete_poll(&self, poll_id: i64, manage_digest: &str) -> StoreResult<bool>;
    /// Closes every open poll whose closing time has come; their ids.
    async fn close_due(&self) -> StoreResult<Vec<i64>>;
    /// The read standbys as last checked (none configured: empty).
    fn standbys(&self) -> Vec<StandbyState> {
        Vec::new()
    }
    /// The connection pools' state, when there are pools.
    fn pool(&self) -> Option<PoolStats> {
        None
    }
    /// Totals for `/stats`.
    async fn totals(&self) -> StoreResult<Totals>;
}

/// The store the settings ask for.
pub type DynStore = Arc<dyn Store>;

/// Connects to the backend `settings.database_url` names.
pub async fn connect(settings: &Storage) -> anyhow::Result<DynStore> {
    match settings.backend() {
        Backend::Postgres if settings.transaction_pooling => {
            Ok(Arc::new(postgres::PooledPgStore(postgres::Pg::connect(settings).await?)))
        }
        Backend::Postgres => Ok(Arc::new(postgres::PgStore(postgres::Pg::connect(settings).await?))),
        Backend::Sqlite => Ok(Arc::new(sqlite::SqliteStore::connect(settings).await?)),
    }
}
