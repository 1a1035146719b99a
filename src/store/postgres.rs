//! PostgreSQL backend: one pool; seeding serialised across replicas by an advisory lock.

use anyhow::Context;
use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};

use super::{SqlBackend, StoreResult};
use crate::config::Storage;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Any number taken as the advisory lock that serialises seeding across replicas.
const SEED_LOCK: i64 = 0x766f_7465_7365_6564;

/// The PostgreSQL store: a connection pool.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Opens a pool to `settings.database_url`.
    pub async fn connect(settings: &Storage) -> anyhow::Result<Self> {
        let url = settings.database_url.expose();
        let options = PgConnectOptions::from_str(url)
            .with_context(|| format!("reading {}", settings.database_url_redacted()))?
            // Every statement here is a short index lookup or write. PostgreSQL compiles a
            // plan it estimates above `jit_above_cost` (a returning voter's ballot on a big
            // `votes` table before its first ANALYZE) to machine code on every run: 5–15 ms
            // of CPU for a lookup that takes 0.1 ms (just bench, the mix: 825 µs of
            // PostgreSQL CPU per request with it, 199 without).
            .options([("jit", "off")]);
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.acquire_timeout)
            .connect_with(options)
            .await
            .with_context(|| format!("connecting to {}", settings.database_url_redacted()))?;
        Ok(Self { pool })
    }
}

impl SqlBackend for PgStore {
    type Db = Postgres;

    fn reader(&self) -> &PgPool {
        &self.pool
    }

    fn writer(&self) -> &PgPool {
        &self.pool
    }

    fn migrator(&self) -> &'static sqlx::migrate::Migrator {
        &MIGRATOR
    }

    /// Replicas starting together seed one after the other.
    const FOR_UPDATE: &'static str = " for update";
    const FOR_NO_KEY_UPDATE: &'static str = " for no key update";

    /// Each ballot's votes looked up by its id: the lateral subquery runs once per ballot
    /// (`offset 0` keeps it from being flattened into a join the planner might hash over
    /// the whole of `votes` while its statistics are young), so it is an index lookup.
    const VOTER_CHOICES: &'static str = "select distinct v.option_id from ballots b cross join lateral \
         (select option_id from votes where ballot_id = b.id offset 0) v \
         where b.poll_id = $1 and b.voter_key = $2 order by v.option_id";

    async fn lock_seeding(tx: &mut Transaction<'_, Postgres>) -> StoreResult<()> {
        sqlx::query("select pg_advisory_xact_lock($1)").bind(SEED_LOCK).execute(&mut **tx).await?;
        Ok(())
    }
}

/// The shared SQL, compiled for this backend.
type SqlStore = PgStore;
#[allow(clippy::duplicate_mod)] // one source file, compiled once per backend on purpose
#[path = "sql.rs"]
mod sql;
