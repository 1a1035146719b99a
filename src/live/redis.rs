//! Redis Pub/Sub: one subscriber connection per replica (RESP3 push messages), following
//! the set of polls this replica's viewers watch; and a publisher. On one Redis node the
//! channels are ordinary ones (`SUBSCRIBE`/`PUBLISH`); on a Redis Cluster they are sharded
//! (`SSUBSCRIBE`/`SPUBLISH`): a poll's updates travel only inside the shard that owns its
//! channel's slot, and the cluster connection follows failovers and resubscribes.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClientBuilder, ClusterConfig};
use redis::cluster_async::ClusterConnection;
use redis::{
    AsyncCommands, Cmd, IntoConnectionInfo, Pipeline, ProtocolVersion, PushInfo, PushKind, RedisFuture, Value,
};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::{Hub, PollUpdate};
use crate::breaker::{Breaker, Failure};
use crate::metrics::{Metrics, SharedMetrics};

/// How often the subscriber retries subscriptions that failed (Redis down), and polls the
/// database for the watched polls meanwhile.
const RETRY: Duration = Duration::from_secs(2);

/// Channel names: `{prefix}:poll:{id}`.
#[derive(Debug, Clone)]
struct Channels {
    prefix: String,
}

impl Channels {
    fn of(&self, poll_id: i64) -> String {
        format!("{}:poll:{poll_id}", self.prefix)
    }

    fn poll(&self, name: &[u8]) -> Option<i64> {
        std::str::from_utf8(name).ok()?.strip_prefix(&self.prefix)?.strip_prefix(":poll:")?.parse().ok()
    }
}

/// Where the bus and the cache live.
pub enum Target {
    /// One Redis node: a client speaking RESP3 (needed for push messages on a multiplexed
    /// connection).
    Node(redis::Client),
    /// A Redis Cluster, by some of its nodes (`redis://` URLs).
    Cluster(Vec<String>),
}

impl Target {
    /// The Redis `url` names (`redis://…`), or the cluster `cluster_nodes` name.
    pub fn new(url: &str, cluster_nodes: Option<Vec<String>>) -> anyhow::Result<Self> {
        if let Some(nodes) = cluster_nodes {
            anyhow::ensure!(!nodes.is_empty(), "REDIS_URL names a Redis Cluster without any node");
            for node in &nodes {
                node.as_str().into_connection_info().context("REDIS_URL names a cluster node that is not host:port")?;
            }
            return Ok(Self::Cluster(nodes));
        }
        let info = url.into_connection_info().context("REDIS_URL is not a valid redis:// URL")?;
        let settings = info.redis_settings().clone().set_protocol(ProtocolVersion::RESP3);
        Ok(Self::Node(redis::Client::open(info.set_redis_settings(settings)).context("opening the Redis client")?))
    }

    /// A cluster client for `nodes`, with RESP3 and these time limits.
    fn cluster(nodes: &[String], connect: Duration, respond: Duration) -> ClusterClientBuilder {
        ClusterClientBuilder::new(nodes.to_vec())
            .use_protocol(ProtocolVersion::RESP3)
            .connection_timeout(connect)
            .response_timeout(respond)
    }
}

/// A connection to one node or across a cluster, connecting lazily and reconnecting by
/// itself: for commands (publish, cache), or, made with a push sender, for subscriptions.
#[derive(Clone)]
pub enum Connection {
    Node(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Node(connection) => connection.req_packed_command(cmd),
            Self::Cluster(connection) => connection.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Node(connection) => connection.req_packed_commands(pipeline, offset, count),
            Self::Cluster(connection) => connection.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Node(connection) => connection.get_db(),
            Self::Cluster(connection) => connection.get_db(),
        }
    }
}

impl Connection {
    /// Publishes `payload` on a poll's channel: inside its shard on a cluster.
    async fn publish(&mut self, channel: &str, payload: &str) -> redis::RedisResult<()> {
        match self {
            Self::Node(connection) => connection.publish(channel, payload).await,
            Self::Cluster(connection) => connection.spublish(channel, payload).await,
        }
    }

    /// Subscribes to a poll's channel: ordinary on a node, sharded on a cluster.
    async fn subscribe(&mut self, channel: String) -> redis::RedisResult<()> {
        match self {
            Self::Node(connection) => connection.subscribe(channel).await,
            Self::Cluster(connection) => connection.ssubscribe(channel).await,
        }
    }

    async fn unsubscribe(&mut self, channel: String) -> redis::RedisResult<()> {
        match self {
            Self::Node(connection) => connection.unsubscribe(channel).await,
            Self::Cluster(connection) => connection.sunsubscribe(channel).await,
        }
    }

    /// Whether Redis answers: on a cluster, every master.
    async fn ping(&mut self) -> bool {
        redis::cmd("PING").query_async::<()>(self).await.is_ok()
    }
}

/// A connection for commands. One quick retry per command: callers give up fast and fall
/// back, they never queue.
pub fn command_connection(target: &Target) -> anyhow::Result<Connection> {
    match target {
        Target::Node(client) => {
            let config = ConnectionManagerConfig::new()
                .set_number_of_retries(1)
                .set_connection_timeout(Some(Duration::from_millis(500)))
                .set_response_timeout(Some(Duration::from_secs(1)));
            Ok(Connection::Node(client.get_connection_manager_lazy(config).context("creating the Redis connection")?))
        }
        Target::Cluster(nodes) => {
            let client = Target::cluster(nodes, Duration::from_millis(500), Duration::from_secs(1))
                .retries(1)
                .build()
                .context("creating the Redis Cluster client")?;
            Ok(Connection::Cluster(client.get_pending_async_connection_with_config(ClusterConfig::new())))
        }
    }
}

/// Updates that could not be published yet, the latest per poll.
type Pending = std::sync::Mutex<std::collections::HashMap<i64, PollUpdate>>;

/// Publishes updates to every replica: the bus of the scaled mode. An update that cannot be
/// sent (Redis away, or its circuit open) is kept, the latest per poll, and sent again every
/// [`RETRY`] until Redis takes it: replicas whose own subscription never broke would
/// otherwise not hear of it until the next vote.
#[derive(Clone)]
pub struct Publisher {
    connection: Connection,
    channels: Channels,
    breaker: Arc<Breaker>,
    pending: Arc<Pending>,
}

impl Publisher {
    /// Publishes on `connection`, on channels named `{prefix}:poll:{id}`, through `breaker`
    /// (its timeout bounds a publish; while it is open nothing is sent now, and the update
    /// waits for the next retry).
    pub fn new(connection: Connection, prefix: &str, breaker: Arc<Breaker>) -> Self {
        let publisher = Self {
            connection,
            channels: Channels { prefix: prefix.to_owned() },
            breaker,
            pending: Arc::new(Pending::default()),
        };
        tokio::spawn(retry_pending(publisher.clone_without_pending(), Arc::downgrade(&publisher.pending)));
        publisher
    }

    fn clone_without_pending(&self) -> (Connection, Channels, Arc<Breaker>) {
        (self.connection.clone(), self.channels.clone(), self.breaker.clone())
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<i64, PollUpdate>> {
        self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// `PUBLISH {prefix}:poll:{id} {json}` through the breaker; whether Redis took it.
async fn publish(connection: &Connection, channels: &Channels, breaker: &Breaker, update: &PollUpdate) -> bool {
    let payload = match serde_json::to_string(update) {
        Ok(payload) => payload,
        Err(error) => {
            tracing::error!(%error, "cannot encode a poll update");
            return true;
        }
    };
    let channel = channels.of(update.poll_id);
    let mut connection = connection.clone();
    // The first command after a lost connection fails while the manager reconnects:
    // one more try, within the same time budget.
    let attempt = async {
        match connection.publish(&channel, &payload).await {
            Ok(()) => Ok(()),
            Err(_) => connection.publish(&channel, &payload).await,
        }
    };
    match breaker.call(|_| true, attempt).await {
        Ok(()) => true,
        Err(Failure::Open) => {
            tracing::debug!(poll_id = update.poll_id, "Redis circuit open: publishing later");
            false
        }
        Err(failure) => {
            tracing::warn!(?failure, poll_id = update.poll_id, "publishing to Redis failed; trying again shortly");
            false
        }
    }
}

/// Sends the kept updates again every [`RETRY`], until the publisher is gone.
async fn retry_pending(
    (connection, channels, breaker): (Connection, Channels, Arc<Breaker>),
    pending: std::sync::Weak<Pending>,
) {
    loop {
        tokio::time::sleep(RETRY).await;
        let Some(pending) = pending.upgrade() else { return };
        let waiting: Vec<PollUpdate> =
            pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner).values().cloned().collect();
        for update in waiting {
            if publish(&connection, &channels, &breaker, &update).await {
                let mut kept = pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                // A newer update for the poll may have arrived meanwhile: it stays.
                if kept.get(&update.poll_id).is_some_and(|k| k.version <= update.version) {
                    kept.remove(&update.poll_id);
                }
            }
        }
    }
}

#[async_trait::async_trait]
impl super::Bus for Publisher {
    /// Publishes `update`, or keeps it for the next retry; never fails the caller.
    async fn broadcast(&self, update: &PollUpdate) {
        let (connection, channels, breaker) = (&self.connection, &self.channels, &self.breaker);
        if publish(connection, channels, breaker, update).await {
            let mut kept = self.pending();
            if kept.get(&update.poll_id).is_some_and(|k| k.version <= update.version) {
                kept.remove(&update.poll_id);
            }
        } else {
            let mut kept = self.pending();
            let newer = kept.get(&update.poll_id).is_none_or(|k| k.version < update.version);
            if newer {
                kept.insert(update.poll_id, update.clone());
            }
        }
    }
}

/// Starts this replica's one subscriber. It applies messages to `hub` as they arrive and
/// follows `hub`'s watched set until `token` is cancelled.
pub fn start_subscriber(
    target: &Target,
    prefix: &str,
    hub: Arc<Hub>,
    metrics: SharedMetrics,
    token: CancellationToken,
) -> anyhow::Result<()> {
    let channels = Channels { prefix: prefix.to_owned() };
    let gap = Arc::new(Gap::default());
    let on_push = {
        let hub = hub.clone();
        let gap = gap.clone();
        let channels = channels.clone();
        move |push: PushInfo| {
            handle_push(&hub, &channels, &gap, &metrics, push);
            Ok::<(), redis::aio::SendError>(())
        }
    };
    let connection = match target {
        Target::Node(client) => {
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(Duration::from_secs(2)))
                .set_response_timeout(Some(Duration::from_secs(2)))
                .set_push_sender(on_push)
                .set_automatic_resubscription();
            Connection::Node(client.get_connection_manager_lazy(config).context("creating the Redis subscriber")?)
        }
        // The cluster connection resubscribes by itself, on whichever node owns each
        // channel's slot after a failover.
        Target::Cluster(nodes) => Connection::Cluster(
            Target::cluster(nodes, Duration::from_secs(2), Duration::from_secs(2))
                .push_sender(on_push)
                .build()
                .context("creating the Redis Cluster subscriber")?
                .get_pending_async_connection_with_config(ClusterConfig::new()),
        ),
    };
    tokio::spawn(follow_watched(connection, channels, hub, gap, token));
    Ok(())
}

/// Set when the subscriber lost its connection, until the watched polls are reloaded.
#[derive(Default)]
struct Gap {
    flag: AtomicBool,
    wake: Notify,
}

fn handle_push(hub: &Hub, channels: &Channels, gap: &Gap, metrics: &Metrics, push: PushInfo) {
    match push.kind {
        PushKind::Message | PushKind::SMessage => {
            let [Value::BulkString(name), Value::BulkString(payload)] = push.data.as_slice() else { return };
            let Some(poll_id) = channels.poll(name) else { return };
            match serde_json::from_slice::<PollUpdate>(payload) {
                Ok(update) if update.poll_id == poll_id => {
                    metrics.received(update.sent_at_ms);
                    hub.apply(&update);
                }
                Ok(_) => tracing::warn!(poll_id, "ignoring an update published on another poll's channel"),
                Err(error) => tracing::warn!(%error, poll_id, "ignoring an unreadable poll update"),
            }
        }
        // Messages sent while we were away are gone: reload the watched polls once back.
        PushKind::Disconnection if !gap.flag.swap(true, Ordering::SeqCst) => {
            tracing::warn!("Redis subscriber disconnected; reconnecting");
            gap.wake.notify_one();
        }
        // A cluster ends a sharded subscription itself when the channel's slot moves (a
        // resharding, a master demoted): subscribe again, where the slot lives now, if the
        // poll is still watched (our own unsubscriptions are of polls nobody watches).
        PushKind::SUnsubscribe => {
            let Some(Value::BulkString(name)) = push.data.first() else { return };
            if let Some(poll_id) = channels.poll(name)
                && hub.watched().contains(&poll_id)
                && !gap.flag.swap(true, Ordering::SeqCst)
            {
                tracing::warn!(poll_id, "Redis Cluster ended a subscription; subscribing again");
                gap.wake.notify_one();
            }
        }
        _ => {}
    }
}

/// Keeps the subscriptions equal to the watched set, one command at a time so they never
/// reorder, and reloads polls whose updates may have been missed.
async fn follow_watched(
    mut connection: Connection,
    channels: Channels,
    hub: Arc<Hub>,
    gap: Arc<Gap>,
    token: CancellationToken,
) {
    let mut subscribed: HashSet<i64> = HashSet::new();
    let mut healthy = true;
    loop {
        let wanted: HashSet<i64> = hub.watched().into_iter().collect();
        let mut failed = false;
        // After a broken connection (or a subscription the server ended) every channel is
        // subscribed again, until one round of it succeeds: on a cluster whose master died,
        // a channel's subscription lives again only once it is made on the replica promoted
        // in its place (an answering PING says nothing of that). Taken now, so a break
        // during this round is not lost; put back if the round fails.
        let in_gap = gap.flag.swap(false, Ordering::SeqCst);
        let to_add: Vec<i64> =
            if in_gap { wanted.iter().copied().collect() } else { wanted.difference(&subscribed).copied().collect() };
        let to_remove: Vec<i64> = subscribed.difference(&wanted).copied().collect();
        for poll_id in to_add {
            match connection.subscribe(channels.of(poll_id)).await {
                Ok(()) => {
                    subscribed.insert(poll_id);
                    // Updates between the first snapshot and the subscription were missed.
                    if let Err(error) = hub.refresh(poll_id).await {
                        tracing::warn!(%error, poll_id, "cannot refresh a newly watched poll");
                    }
                }
                Err(error) => {
                    failed = true;
                    if healthy {
                        tracing::warn!(%error, "Redis subscribe failed; live updates from other replicas wait for Redis");
                    }
                }
            }
        }
        for poll_id in to_remove {
            if connection.unsubscribe(channels.of(poll_id)).await.is_ok() {
                subscribed.remove(&poll_id);
            } else {
                failed = true;
            }
        }
        let back = in_gap && !failed && connection.ping().await;
        if back {
            tracing::info!(polls = wanted.len(), "Redis subscriber back; reloading watched polls");
        } else if in_gap {
            gap.flag.store(true, Ordering::SeqCst);
        }
        // While Redis is away, updates from other replicas arrive by polling the database
        // for the watched polls, every RETRY; once it is back, one last reload covers the gap.
        if back || failed || gap.flag.load(Ordering::SeqCst) {
            for &poll_id in &wanted {
                if let Err(error) = hub.refresh(poll_id).await {
                    tracing::debug!(%error, poll_id, "cannot reload a watched poll");
                }
            }
        }
        if failed == healthy {
            healthy = !failed;
            if healthy {
                tracing::info!("Redis subscriptions restored");
            }
        }
        tokio::select! {
            () = token.cancelled() => return,
            () = hub.watched_changed() => {}
            () = gap.wake.notified() => {}
            () = tokio::time::sleep(RETRY), if failed || gap.flag.load(Ordering::SeqCst) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names_round_trip_and_foreign_ones_are_ignored() {
        let channels = Channels { prefix: "vs".into() };

        assert_eq!(channels.of(42), "vs:poll:42");
        assert_eq!(channels.poll(channels.of(42).as_bytes()), Some(42));
        for foreign in [&b"other:poll:42"[..], b"vs:poll:", b"vs:poll:x", b"vs:theme:42", b"vsx:poll:42", b"\xff"] {
            assert_eq!(channels.poll(foreign), None, "{}", String::from_utf8_lossy(foreign));
        }
    }
}
