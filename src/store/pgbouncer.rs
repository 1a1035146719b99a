//! PostgreSQL behind a transaction-pooling PgBouncer: the shared SQL compiled once more,
//! for [`PooledPgStore`](super::postgres::PooledPgStore), whose statements are unnamed and
//! each run in a transaction.

/// The shared SQL, compiled for PostgreSQL behind a transaction pooler.
type SqlStore = super::postgres::PooledPgStore;
#[allow(clippy::duplicate_mod)] // one source file, compiled once per backend on purpose
#[path = "sql.rs"]
mod sql;
