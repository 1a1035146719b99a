//! What each SQL backend supplies to the shared SQL in `sql.rs`.

use std::future::Future;

use sqlx::{Database, Pool, Transaction};

use super::StoreResult;

/// What the shared SQL needs from a backend: its pools (and standbys), its migrations, its
/// dialect's few differences, and how replicas take turns seeding.
pub trait SqlBackend {
    /// The sqlx database.
    type Db: Database;
    /// The pool for reads.
    fn reader(&self) -> &Pool<Self::Db>;
    /// The pool for writes.
    fn writer(&self) -> &Pool<Self::Db>;
    /// This backend's migrations.
    fn migrator(&self) -> &'static sqlx::migrate::Migrator;
    /// What a `select … order by id` appends to lock the rows it reads until the
    /// transaction ends (` for update`), or nothing where a writer is alone anyway (SQLite).
    const FOR_UPDATE: &'static str;
    /// The same for a lock that lets others reference the rows (insert ballots naming a
    /// poll) and only keeps them from changing or going (` for no key update`).
    const FOR_NO_KEY_UPDATE: &'static str;
    /// The options a voter's ballots on a poll name (`$1` the poll, `$2` the voter's key),
    /// in one statement: a returning voter's page looks this up on every view.
    const VOTER_CHOICES: &'static str;
    /// Whether the connections go through a transaction pooler (PgBouncer,
    /// `pool_mode = transaction`): statements are then unnamed and each runs in a transaction.
    const TRANSACTION_POOLED: bool;
    /// A standby fit for a page read now, with its pool; `None`: read the primary.
    fn standby(&self) -> Option<(&Pool<Self::Db>, &super::standby::Standby)> {
        None
    }
    /// Every standby as last checked.
    fn standby_states(&self) -> Vec<super::StandbyState> {
        Vec::new()
    }
    /// Serialises seeding across processes sharing the database, inside `tx`.
    fn lock_seeding(tx: &mut Transaction<'_, Self::Db>) -> impl Future<Output = StoreResult<()>> + Send;
}
