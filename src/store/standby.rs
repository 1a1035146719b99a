//! Streaming standbys for page reads (`DATABASE_READ_URL`): each is watched for how far
//! its replay is behind, and page reads go to one that is up and close enough behind, in
//! turn; when none is, to the primary.
//!
//! How far behind is measured against the primary itself: every check notes where the
//! primary's WAL ends, with the time; a standby's lag is the age of the oldest note its
//! replay has not reached. A standby whose WAL receiver stalled, or that replays nothing,
//! falls behind by that measure however idle it looks.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use sqlx::Row;
use sqlx::postgres::PgPool;

/// How often each standby's replay lag is read.
pub const LAG_CHECK: Duration = Duration::from_millis(500);

/// Where the primary's WAL ends, as a byte position.
const PRIMARY_SQL: &str = "select cast(pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0') as bigint)";

/// Where a standby's replay has reached, as a byte position; `null` when it is not a
/// standby (promoted, or a primary by mistake).
const REPLAY_SQL: &str = "select case when pg_is_in_recovery() \
     then cast(pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0') as bigint) end";

/// Notes of the primary's WAL end kept at most (a minute of checks).
const NOTES_KEPT: usize = 120;

/// One number from `sql` on `pool`, by the simple protocol (one exchange: it passes a
/// transaction pooler as it is), within a check's time.
async fn position(pool: &PgPool, sql: &'static str) -> Option<i64> {
    let read = tokio::time::timeout(LAG_CHECK * 2, sqlx::raw_sql(sql).fetch_one(pool)).await;
    match read {
        Ok(Ok(row)) => row.try_get::<Option<i64>, _>(0).ok().flatten(),
        _ => None,
    }
}

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
    /// Longest a page read waits on it before it asks the primary instead.
    patience: Duration,
}

impl Standby {
    /// Longest a page read waits on it before it asks the primary instead.
    pub fn patience(&self) -> Duration {
        self.patience
    }

    /// A read failed here (`why`): it takes none until a check finds it answering again.
    pub fn failed(&self, why: &dyn std::fmt::Display) {
        if self.up.swap(false, Ordering::SeqCst) {
            tracing::warn!(standby = %self.name, error = %why, "a read standby failed; page reads go to the primary");
        }
    }

    /// Reads where the standby's replay is; its lag is the age of the oldest of `notes`
    /// (the primary's WAL end over time) it has not reached.
    async fn check(&self, notes: &VecDeque<(Instant, i64)>) {
        let replayed = position(&self.pool, REPLAY_SQL).await;
        let (up, lag) = match replayed {
            Some(replayed) => {
                let behind = notes.iter().find(|(_, end)| *end > replayed);
                let lag = behind.map_or(0, |(at, _)| i64::try_from(at.elapsed().as_millis()).unwrap_or(i64::MAX));
                (true, lag)
            }
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
    /// Watches `pools` (with their names) against `primary` from now on, every
    /// [`LAG_CHECK`], for as long as the returned handle lives. None is used before its
    /// first check; a read waits on one at most `patience`.
    pub fn watch(primary: PgPool, pools: Vec<(String, PgPool)>, max_lag: Duration, patience: Duration) -> Arc<Self> {
        let list = pools
            .into_iter()
            .map(|(name, pool)| Standby {
                name,
                pool,
                up: AtomicBool::new(false),
                lag_ms: AtomicI64::new(i64::MAX),
                patience,
            })
            .collect();
        let max_lag_ms = i64::try_from(max_lag.as_millis()).unwrap_or(i64::MAX);
        let standbys = Arc::new(Self { list, max_lag_ms, next: AtomicUsize::new(0) });
        tokio::spawn(keep_checking(primary, Arc::downgrade(&standbys)));
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

async fn keep_checking(primary: PgPool, standbys: Weak<Standbys>) {
    let mut notes = VecDeque::with_capacity(NOTES_KEPT + 1);
    loop {
        let Some(standbys) = standbys.upgrade() else { return };
        // The primary away: the notes so far still tell how far each standby is behind.
        if let Some(end) = position(&primary, PRIMARY_SQL).await {
            notes.push_back((Instant::now(), end));
            if notes.len() > NOTES_KEPT {
                notes.pop_front();
            }
        }
        futures::future::join_all(standbys.list.iter().map(|standby| standby.check(&notes))).await;
        drop(standbys);
        tokio::time::sleep(LAG_CHECK).await;
    }
}
