//! What each SQL backend supplies to the shared SQL in `sql.rs`.

use std::future::Future;

use sqlx::{Database, Pool, Transaction};

use super::StoreResult;

/// The four things the shared SQL needs from a backend: its pools, its migrations, and
/// how replicas take turns seeding.
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
    /// Serialises seeding across processes sharing the database, inside `tx`.
    fn lock_seeding(tx: &mut Transaction<'_, Self::Db>) -> impl Future<Output = StoreResult<()>> + Send;
}
