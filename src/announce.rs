//! After every committed change to a poll: its cached copy is dropped, then every viewer,
//! on every replica, is told its new state. The one place that does both.

use std::sync::Arc;

use crate::cache::DynCache;
use crate::live::{Live, PollUpdate};

/// The cache key of a poll.
pub fn cache_key(poll_id: i64) -> String {
    format!("poll:{poll_id}")
}

/// Tells the cache and the live bus of committed changes.
#[derive(Clone)]
pub struct Announcer {
    cache: DynCache,
    live: Arc<Live>,
}

impl Announcer {
    pub fn new(cache: DynCache, live: Arc<Live>) -> Self {
        Self { cache, live }
    }

    /// A poll changed (and the change is committed): forget its cached copy and publish
    /// its new state, both at once.
    pub async fn announce(&self, update: PollUpdate) {
        let key = cache_key(update.poll_id);
        tokio::join!(self.cache.forget(&key), self.live.publish(update));
    }
}
