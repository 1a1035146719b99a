//! Streaming standbys for page reads (`DATABASE_READ_URL`): each is watched for how far
//! its replay is behind, and page reads go to one that is up and close enough behind, in
//! turn; when none is, to the primary.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use sqlx::Row;
use sqlx::postgres::PgPool;

use super::StoreError;

/// How often each standby's replay lag is read.
pub const LAG_CHECK: Duration = Duration::from_millis(500);

/// How far behind a standby's replay is, in milliseconds: none while it has replayed all it
/// received; else the age of the last transaction it replayed, which is at least how old
/// what it shows is. `null` when it is not a standby (promoted, or a primary by mistake).
const LAG_SQL: &str = "select case when not pg_is_in_recovery() then null \
     when pg_last_wal_receive_lsn() is null or pg_last_wal_replay_lsn() >= pg_last_wal_receive_lsn() then 0 \
     else cast(coalesce(1000 * extract(epoch from now() - pg_last_xact_replay_timestamp()), 0) as bigint) end";

/// What `/readyz` and `/metrics` show of one standby.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StandbyState {
    /// `host:port/database` of its URL (never the credentials).
    pub name: String,
    /// Answering, and still a standby.
    pub up: bool,
    /// How far its replay is behind (as of the last check), when up.
    pub lag_ms: Option<i64>,
    /// Taking page reads now: up and no further behind than allowed.
    pub reading: bool,
}

/// One standby: its pool and what the last check found.
pub struct Standby {
    name: String,
    pool: PgPool,
    up: AtomicBool,
    /// Milliseconds behind; `i64::MAX` until first measured.
    lag_ms: AtomicI64,
}

impl Standby {
    /// Reads failed here: it takes none until a check finds it answering again.
    pub fn failed(&self, error: &StoreError) {
        if self.up.swap(false, Ordering::SeqCst) {
            tracing::warn!(standby = %self.name, %error, "a read standby failed; page reads go to the primary");
        }
    }

    async fn check(&self) {
        // The simple protocol: one exchange, so it passes a transaction pooler as it is.
        let read = tokio::time::timeout(LAG_CHECK * 2, sqlx::raw_sql(LAG_SQL).fetch_one(&self.pool)).await;
        let lag = match read {
            Ok(Ok(row)) => row.try_get::<Option<i64>, _>(0).ok().flatten(),
            _ => None,
        };
        let (up, lag) = match lag {
            Some(lag) => (true, lag.max(0)),
            None => (false, i64::MAX),
        };
        self.lag_ms.store(lag, Ordering::SeqCst);
        if self.up.swap(up, Ordering::SeqCst) != up {
            if up {
                tracing::info!(standby = %self.name, lag_ms = lag, "a read standby answers again");
            } else {
                tracing::warn!(standby = %self.name, "a read standby is down or no longer a standby; page reads go to the primary");
            }
        }
    }
}

/// The standbys, and how far behind one may be and still take reads.
pub struct Standbys {
    list: Vec<Standby>,
    max_lag_ms: i64,
    next: AtomicUsize,
}

impl Standbys {
    /// Watches `pools` (with their names) from now on, every [`LAG_CHECK`], for as long as
    /// the returned handle lives. None is used before its first check.
    pub fn watch(pools: Vec<(String, PgPool)>, max_lag: Duration) -> Arc<Self> {
        let list = pools
            .into_iter()
            .map(|(name, pool)| Standby { name, pool, up: AtomicBool::new(false), lag_ms: AtomicI64::new(i64::MAX) })
            .collect();
        let max_lag_ms = i64::try_from(max_lag.as_millis()).unwrap_or(i64::MAX);
        let standbys = Arc::new(Self { list, max_lag_ms, next: AtomicUsize::new(0) });
        tokio::spawn(keep_checking(Arc::downgrade(&standbys)));
        standbys
    }

    fn fit(&self, standby: &Standby) -> bool {
        standby.up.load(Ordering::SeqCst) && standby.lag_ms.load(Ordering::SeqCst) <= self.max_lag_ms
    }

    /// The next standby fit for a page read, with its pool.
    pub fn pick(&self) -> Option<(&PgPool, &Standby)> {
        let count = self.list.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        (0..count).map(|i| &self.list[(start + i) % count]).find(|s| self.fit(s)).map(|s| (&s.pool, s))
    }

    /// Each standby as the last check found it.
    pub fn states(&self) -> Vec<StandbyState> {
        self.list
            .iter()
            .map(|s| {
                let up = s.up.load(Ordering::SeqCst);
                StandbyState {
                    name: s.name.clone(),
                    up,
                    lag_ms: up.then(|| s.lag_ms.load(Ordering::SeqCst)),
                    reading: self.fit(s),
                }
            })
            .collect()
    }

    /// Every pool, for the connection counts in `/metrics`.
    pub fn pools(&self) -> impl Iterator<Item = &PgPool> {
        self.list.iter().map(|s| &s.pool)
    }
}

async fn keep_checking(standbys: Weak<Standbys>) {
    loop {
        let Some(standbys) = standbys.upgrade() else { return };
        futures::future::join_all(standbys.list.iter().map(Standby::check)).await;
        drop(standbys);
        tokio::time::sleep(LAG_CHECK).await;
    }
}
