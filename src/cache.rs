//! Cache-aside for read paths: Redis when configured, else in-process (moka).
//! A cache failure is a miss, never an error: the database stays the source of truth.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use redis::AsyncCommands;

use crate::breaker::Breaker;
use crate::live::redis::Connection;

/// A string cache with a fixed time-to-live.
#[async_trait]
pub trait Cache: Send + Sync + 'static {
    /// The value, if cached and reachable.
    async fn get(&self, key: &str) -> Option<String>;
    /// Stores a value for the TTL.
    async fn put(&self, key: &str, value: String);
    /// Stores a value for at most `ttl` (shorter than the TTL): a copy that may be a moment
    /// old (read from a standby) must not outlive its moment by much. A cache that cannot
    /// keep one entry shorter than the others keeps none.
    async fn put_briefly(&self, _key: &str, _value: String, _ttl: Duration) {}
    /// Drops a value (after a write made it stale).
    async fn forget(&self, key: &str);
}

/// The cache the settings ask for.
pub type DynCache = Arc<dyn Cache>;

/// No cache (`CACHE_TTL_SECS=0`): every read goes to the database.
pub struct NoCache;

#[async_trait]
impl Cache for NoCache {
    async fn get(&self, _key: &str) -> Option<String> {
        None
    }

    async fn put(&self, _key: &str, _value: String) {}

    async fn forget(&self, _key: &str) {}
}

/// In-process cache, bounded in entries.
pub struct LocalCache(moka::future::Cache<String, String>);

impl LocalCache {
    /// At most `capacity` entries, each kept for `ttl`.
    pub fn new(capacity: u64, ttl: Duration) -> Self {
        Self(moka::future::Cache::builder().max_capacity(capacity).time_to_live(ttl).build())
    }
}

#[async_trait]
impl Cache for LocalCache {
    async fn get(&self, key: &str) -> Option<String> {
        self.0.get(key).await
    }

    async fn put(&self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value).await;
    }

    async fn forget(&self, key: &str) {
        self.0.invalidate(key).await;
    }
}

/// Redis cache: keys `{prefix}:cache:{key}`, values with `SET … EX`; one key per command,
/// so on a Redis Cluster the keys spread over every slot and no command spans two. Every call goes
/// through Redis's breaker, whose timeout keeps a slow or unreachable Redis to a moment's
/// cost; an open breaker is a miss without a call.
pub struct RedisCache {
    connection: Connection,
    prefix: String,
    ttl_secs: u64,
    breaker: Arc<Breaker>,
}

impl RedisCache {
    /// Uses `connection` with `ttl` per entry, through `breaker`.
    pub fn new(connection: Connection, prefix: &str, ttl: Duration, breaker: Arc<Breaker>) -> Self {
        Self { connection, prefix: prefix.to_owned(), ttl_secs: ttl.as_secs().max(1), breaker }
    }

    fn key(&self, key: &str) -> String {
        format!("{}:cache:{key}", self.prefix)
    }
}

#[async_trait]
impl Cache for RedisCache {
    async fn get(&self, key: &str) -> Option<String> {
        let mut connection = self.connection.clone();
        match self.breaker.call(|_| true, connection.get::<_, Option<String>>(self.key(key))).await {
            Ok(value) => value,
            Err(failure) => {
                tracing::debug!(?failure, key, "cache read failed; reading the database");
                None
            }
        }
    }

    async fn put(&self, key: &str, value: String) {
        self.put_briefly(key, value, Duration::from_secs(self.ttl_secs)).await;
    }

    async fn put_briefly(&self, key: &str, value: String, ttl: Duration) {
        let mut connection = self.connection.clone();
        let secs = ttl.as_secs().clamp(1, self.ttl_secs);
        let write = connection.set_ex::<_, _, ()>(self.key(key), value, secs);
        if let Err(failure) = self.breaker.call(|_| true, write).await {
            tracing::debug!(?failure, key, "cache write failed");
        }
    }

    async fn forget(&self, key: &str) {
        let mut connection = self.connection.clone();
        let delete = connection.del::<_, ()>(self.key(key));
        if let Err(failure) = self.breaker.call(|_| true, delete).await {
            tracing::warn!(?failure, key, "cache invalidation failed; the entry expires with its TTL");
        }
    }
}
