//! PostgreSQL backend: a pool on the primary, one on each read standby; seeding
//! serialised across replicas by an advisory lock. Two stores share it: [`PgStore`] talks
//! to PostgreSQL itself, [`PooledPgStore`] through a transaction-pooling PgBouncer.

use anyhow::Context;
use std::str::FromStr;
use std::sync::Arc;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};

use super::standby::{Standby, Standbys};
use super::{SqlBackend, StandbyState, StoreResult};
use crate::config::{Secret, Storage};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Any number taken as the advisory lock that serialises seeding across replicas.
const SEED_LOCK: i64 = 0x766f_7465_7365_6564;

/// The pools: the primary's, and the standbys' with their watch.
#[derive(Clone)]
pub struct Pg {
    pool: PgPool,
    standbys: Option<Arc<Standbys>>,
}

impl std::fmt::Debug for Pg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pg").field("standbys", &self.standbys.as_ref().map(|s| s.states())).finish_non_exhaustive()
    }
}

/// PostgreSQL itself.
#[derive(Debug, Clone)]
pub struct PgStore(pub Pg);

/// PostgreSQL through PgBouncer in `pool_mode = transaction` (`DB_TRANSACTION_POOLING`).
#[derive(Debug, Clone)]
pub struct PooledPgStore(pub Pg);

impl Pg {
    /// Opens a pool to `settings.database_url`, and one to each `DATABASE_READ_URL`
    /// (lazily: a standby down at start is only skipped).
    pub async fn connect(settings: &Storage) -> anyhow::Result<Self> {
        let options = Self::options(settings, &settings.database_url)?;
        let pool = Self::pool_options(settings)
            .connect_with(options)
            .await
            .with_context(|| format!("connecting to {}", settings.database_url_redacted()))?;
        let standbys = if settings.read_urls.is_empty() {
            None
        } else {
            let mut pools = Vec::new();
            for url in &settings.read_urls {
                let options = Self::options(settings, url)?;
                let name = format!(
                    "{}:{}/{}",
                    options.get_host(),
                    options.get_port(),
                    options.get_database().unwrap_or_default()
                );
                pools.push((name, Self::pool_options(settings).connect_lazy_with(options)));
            }
            // A page read gives a standby a quarter of a database call's time, then asks the
            // primary: a stalled standby never makes a read slow enough to count against the
            // database's breaker.
            Some(Standbys::watch(pool.clone(), pools, settings.read_max_lag, settings.breaker.timeout / 4))
        };
        Ok(Self { pool, standbys })
    }

    fn pool_options(settings: &Storage) -> PgPoolOptions {
        PgPoolOptions::new().max_connections(settings.max_connections).acquire_timeout(settings.acquire_timeout)
    }

    fn options(settings: &Storage, url: &Secret<String>) -> anyhow::Result<PgConnectOptions> {
        let options = PgConnectOptions::from_str(url.expose())
            .with_context(|| format!("reading {}", crate::config::redact(url.expose())))?;
        Ok(if settings.transaction_pooling {
            // PgBouncer refuses startup parameters it does not know, and keeps no session:
            // `jit = off` belongs to the database then (`ALTER DATABASE … SET jit = off`).
            options.statement_cache_capacity(0)
        } else {
            // Every statement here is a short index lookup or write. PostgreSQL compiles a
            // plan it estimates above `jit_above_cost` (a returning voter's ballot on a big
            // `votes` table before its first ANALYZE) to machine code on every run: 5–15 ms
            // of CPU for a lookup that takes 0.1 ms (just bench, the mix: 825 µs of
            // PostgreSQL CPU per request with it, 199 without).
            options.options([("jit", "off")])
        })
    }

    fn standby(&self) -> Option<(&PgPool, &Standby)> {
        self.standbys.as_ref()?.pick()
    }

    fn standby_states(&self) -> Vec<StandbyState> {
        self.standbys.as_ref().map(|s| s.states()).unwrap_or_default()
    }
}

/// The backend's parts, the same for both stores but whether a pooler sits between.
macro_rules! pg_backend {
    ($store:ty, pooled = $pooled:literal) => {
        impl SqlBackend for $store {
            type Db = Postgres;

            fn reader(&self) -> &PgPool {
                &self.0.pool
            }

            fn writer(&self) -> &PgPool {
                &self.0.pool
            }

            fn migrator(&self) -> &'static sqlx::migrate::Migrator {
                &MIGRATOR
            }

            /// Replicas starting together seed one after the other.
            const FOR_UPDATE: &'static str = " for update";
            const FOR_NO_KEY_UPDATE: &'static str = " for no key update";
            const TRANSACTION_POOLED: bool = $pooled;

            /// Each ballot's votes looked up by its id: the lateral subquery runs once per ballot
            /// (`offset 0` keeps it from being flattened into a join the planner might hash over
            /// the whole of `votes` while its statistics are young), so it is an index lookup.
            const VOTER_CHOICES: &'static str = "select distinct v.option_id from ballots b cross join lateral \
                 (select option_id from votes where ballot_id = b.id offset 0) v \
                 where b.poll_id = $1 and b.voter_key = $2 order by v.option_id";

            fn standby(&self) -> Option<(&PgPool, &Standby)> {
                self.0.standby()
            }

            fn standby_states(&self) -> Vec<StandbyState> {
                self.0.standby_states()
            }

            async fn lock_seeding(tx: &mut Transaction<'_, Postgres>) -> StoreResult<()> {
                // Unnamed: also runs through a transaction pooler.
                sqlx::query("select pg_advisory_xact_lock($1)")
                    .persistent(false)
                    .bind(SEED_LOCK)
                    .execute(&mut **tx)
                    .await?;
                Ok(())
            }
        }
    };
}

pg_backend!(PgStore, pooled = false);
pg_backend!(PooledPgStore, pooled = true);

/// The shared SQL, compiled for PostgreSQL itself (behind PgBouncer: `pgbouncer.rs`).
type SqlStore = PgStore;
#[allow(clippy::duplicate_mod)] // one source file, compiled once per backend on purpose
#[path = "sql.rs"]
mod sql;
