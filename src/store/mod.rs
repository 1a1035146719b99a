//! Storage: one trait, one module per backend.

use std::sync::Arc;

use async_trait::async_trait;

use crate::config::{Backend, Settings};
use crate::domain::{NewPoll, VoterId};
use crate::seed::{SeedData, SeedReport};

pub mod postgres;
mod sql;
pub mod sqlite;

/// Errors from storage. Their detail goes to the log, never to a client.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or answered with an error.
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    /// A migration failed.
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Shorthand for storage results.
pub type StoreResult<T> = Result<T, StoreError>;

/// A theme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Theme {
    /// Database id.
    pub id: i64,
    /// Short stable name used by the API (`OnTrend`).
    pub key: String,
    /// URL slug (`on-trend`).
    pub slug: String,
    /// Display name (`#OnTrend`).
    pub name: String,
    /// One emoji.
    pub icon: String,
    /// `#rrggbb`.
    pub color: String,
    /// A sentence or two.
    pub description: String,
}

/// A theme with its totals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThemeStats {
    /// The theme.
    pub theme: Theme,
    /// Its number of polls.
    pub poll_count: i64,
    /// Votes over all its polls.
    pub vote_count: i64,
}

/// An option with its stored counter.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PollOption {
    /// Database id.
    pub id: i64,
    /// Text.
    pub text: String,
    /// Votes for it.
    pub votes: i64,
}

/// A poll with its options in order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Poll {
    /// Database id.
    pub id: i64,
    /// Its theme.
    pub theme_id: i64,
    /// The question.
    pub question: String,
    /// Voting has ended.
    pub closed: bool,
    /// Options in order.
    pub options: Vec<PollOption>,
}

impl Poll {
    /// Votes over all options.
    pub fn total(&self) -> i64 {
        self.options.iter().map(|o| o.votes).sum()
    }
}

/// Totals over everything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    /// Themes.
    pub themes: i64,
    /// Polls.
    pub polls: i64,
    /// Options.
    pub options: i64,
    /// Vote rows.
    pub votes: i64,
}

/// What became of a vote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VoteOutcome {
    /// Committed; the poll's options with their counts as read after the commit (so the
    /// last commit's read includes every earlier vote).
    Accepted(Vec<PollOption>),
    /// This voter had voted in this poll already, for `option_id`.
    AlreadyVoted {
        /// Their earlier choice.
        option_id: i64,
    },
    /// The poll no longer takes votes.
    Closed,
    /// No such poll.
    UnknownPoll,
    /// The option does not belong to the poll.
    UnknownOption,
}

/// Everything the app keeps, behind one interface for every backend.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Applies pending migrations.
    async fn migrate(&self) -> StoreResult<()>;
    /// Answers when the database does.
    async fn ping(&self) -> StoreResult<()>;
    /// Adds the themes and polls of `seed` that are missing, in one transaction.
    async fn seed(&self, seed: &SeedData) -> StoreResult<SeedReport>;
    /// Every theme in display order.
    async fn themes(&self) -> StoreResult<Vec<Theme>>;
    /// Every theme with its poll and vote counts.
    async fn theme_stats(&self) -> StoreResult<Vec<ThemeStats>>;
    /// The theme with this slug or key.
    async fn theme(&self, slug_or_key: &str) -> StoreResult<Option<Theme>>;
    /// The theme with this id.
    async fn theme_by_id(&self, id: i64) -> StoreResult<Option<Theme>>;
    /// A theme's polls, oldest first.
    async fn polls_of_theme(&self, theme_id: i64) -> StoreResult<Vec<Poll>>;
    /// The ids of a theme's polls, oldest first.
    async fn poll_ids_of_theme(&self, theme_id: i64) -> StoreResult<Vec<i64>>;
    /// Every poll, oldest first.
    async fn polls(&self) -> StoreResult<Vec<Poll>>;
    /// One poll.
    async fn poll(&self, id: i64) -> StoreResult<Option<Poll>>;
    /// The option this voter chose in this poll, if they voted.
    async fn choice(&self, poll_id: i64, voter: &VoterId) -> StoreResult<Option<i64>>;
    /// Stores a checked poll and returns its id.
    async fn create_poll(&self, poll: &NewPoll) -> StoreResult<i64>;
    /// Records one vote: the row and the counter change together or not at all.
    async fn cast_vote(&self, poll_id: i64, option_id: i64, voter: &VoterId) -> StoreResult<VoteOutcome>;
    /// Ends voting on a poll.
    async fn close_poll(&self, poll_id: i64) -> StoreResult<bool>;
    /// Totals for `/stats`.
    async fn totals(&self) -> StoreResult<Totals>;
}

/// The store the settings ask for.
pub type DynStore = Arc<dyn Store>;

/// Connects to the backend `settings.database_url` names.
pub async fn connect(settings: &Settings) -> anyhow::Result<DynStore> {
    match settings.backend() {
        Backend::Postgres => Ok(Arc::new(postgres::PgStore::connect(settings).await?)),
        Backend::Sqlite => Ok(Arc::new(sqlite::SqliteStore::connect(settings).await?)),
    }
}
