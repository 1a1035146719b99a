//! Rate limits per client address, with tower_governor, and caps on open live streams.
//! Over a limit the answer is a 429 with `Retry-After` and words; the refusal layer puts
//! them in the caller's format.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use governor::middleware::NoOpMiddleware;
use tokio_util::sync::CancellationToken;
use tower::layer::util::Identity;
use tower::util::Either;
use tower_governor::GovernorError;
use tower_governor::GovernorLayer;
use tower_governor::governor::{GovernorConfig, GovernorConfigBuilder};
use tower_governor::key_extractor::KeyExtractor;

use super::client::ClientIp;
use crate::config::{self, Quota};

/// How often idle addresses are dropped from the limiters, so a flood of distinct
/// addresses costs memory for a minute at most.
const FORGET_IDLE_EVERY: Duration = Duration::from_secs(60);

/// The limiter's key: the client address [`super::client::identify`] decided.
#[derive(Debug, Clone, Copy)]
pub struct ClientKey;

impl KeyExtractor for ClientKey {
    type Key = IpAddr;

    fn extract<T>(&self, request: &Request<T>) -> Result<IpAddr, GovernorError> {
        Ok(request.extensions().get::<ClientIp>().map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |ClientIp(ip)| *ip))
    }
}

type Config = GovernorConfig<ClientKey, NoOpMiddleware>;

/// A quota's layer, or nothing when limits are off.
pub type QuotaLayer = Either<GovernorLayer<ClientKey, NoOpMiddleware, Body>, Identity>;

/// The quotas of one replica and its stream caps.
#[derive(Clone)]
pub struct Limits {
    read: Option<Arc<Config>>,
    vote: Option<Arc<Config>>,
    create: Option<Arc<Config>>,
    /// Open live streams.
    pub streams: StreamSlots,
}

fn config(quota: Quota, methods: Option<Vec<Method>>) -> Arc<Config> {
    let mut builder = GovernorConfigBuilder::default().key_extractor(ClientKey);
    builder.period(Duration::from_secs(60) / quota.per_minute).burst_size(quota.burst);
    if let Some(methods) = methods {
        builder.methods(methods);
    }
    // Both numbers are checked to be more than 0 when the settings are read.
    Arc::new(builder.finish().unwrap_or_else(|| unreachable!("quota {quota:?} has zeros")))
}

impl Limits {
    /// The limits the settings ask for; none at all with `RATE_LIMIT=off`.
    pub fn new(settings: &config::Limits) -> Self {
        let on = settings.enabled;
        let quotas = settings.quotas;
        Self {
            read: on.then(|| config(quotas.read, Some(vec![Method::GET, Method::HEAD]))),
            vote: on.then(|| config(quotas.vote, None)),
            create: on.then(|| config(quotas.create, None)),
            streams: StreamSlots::new(on, settings.sse_max_per_client, settings.sse_max_per_replica),
        }
    }

    fn layer(config: Option<&Arc<Config>>) -> QuotaLayer {
        match config {
            Some(config) => Either::Left(GovernorLayer::new(config.clone()).error_handler(too_many)),
            None => Either::Right(Identity::new()),
        }
    }

    /// Reading pages, fragments, the API and streams (GET and HEAD only).
    pub fn read(&self) -> QuotaLayer {
        Self::layer(self.read.as_ref())
    }

    /// Voting.
    pub fn vote(&self) -> QuotaLayer {
        Self::layer(self.vote.as_ref())
    }

    /// Posting the poll form and creating polls.
    pub fn create(&self) -> QuotaLayer {
        Self::layer(self.create.as_ref())
    }

    /// Drops idle addresses from every limiter now and then, until `token` is cancelled.
    pub fn forget_idle_clients(&self, token: CancellationToken) {
        let limiters: Vec<Arc<Config>> =
            [&self.read, &self.vote, &self.create].into_iter().flatten().cloned().collect();
        if limiters.is_empty() {
            return;
        }
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(FORGET_IDLE_EVERY);
            loop {
                tokio::select! {
                    () = token.cancelled() => return,
                    _ = tick.tick() => {}
                }
                for config in &limiters {
                    config.limiter().retain_recent();
                    config.limiter().shrink_to_fit();
                }
            }
        });
    }
}

/// A 429 that says how long to wait (at least a second: `Retry-After: 0` invites a retry storm).
pub fn too_many_requests(wait_secs: u64, what: &str) -> Response {
    let wait = wait_secs.max(1);
    let unit = if wait == 1 { "second" } else { "seconds" };
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(header::RETRY_AFTER, wait.to_string())],
        format!("{what} Please wait {wait} {unit} and try again."),
    )
        .into_response()
}

fn too_many(error: GovernorError) -> Response {
    match error {
        GovernorError::TooManyRequests { wait_time, .. } => {
            too_many_requests(wait_time, "Too many requests from your address.")
        }
        other => Response::from(other),
    }
}

/// Counts open live streams per client address and per replica.
#[derive(Clone)]
pub struct StreamSlots {
    inner: Option<Arc<SlotCounts>>,
}

#[derive(Debug)]
struct SlotCounts {
    per_client: usize,
    per_replica: usize,
    open: Mutex<(usize, HashMap<IpAddr, usize>)>,
}

/// One open stream; dropping it frees the slot.
#[derive(Debug)]
pub struct StreamSlot {
    counts: Option<Arc<SlotCounts>>,
    client: IpAddr,
}

impl StreamSlots {
    fn new(on: bool, per_client: usize, per_replica: usize) -> Self {
        let counts = SlotCounts { per_client, per_replica, open: Mutex::new((0, HashMap::new())) };
        Self { inner: on.then(|| Arc::new(counts)) }
    }

    /// A slot for one more stream of `client`, or why there is none.
    pub fn acquire(&self, client: IpAddr) -> Result<StreamSlot, StreamsFull> {
        let Some(counts) = &self.inner else { return Ok(StreamSlot { counts: None, client }) };
        let mut open = counts.open.lock().unwrap_or_else(PoisonError::into_inner);
        let (total, by_client) = &mut *open;
        if *total >= counts.per_replica {
            return Err(StreamsFull::Replica);
        }
        let mine = by_client.entry(client).or_insert(0);
        if *mine >= counts.per_client {
            return Err(StreamsFull::Client(counts.per_client));
        }
        *mine += 1;
        *total += 1;
        Ok(StreamSlot { counts: Some(counts.clone()), client })
    }
}

/// Why a stream was refused before it started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamsFull {
    /// The replica holds as many streams as it may.
    Replica,
    /// The client's address holds this many already.
    Client(usize),
}

impl IntoResponse for StreamsFull {
    fn into_response(self) -> Response {
        match self {
            Self::Replica => too_many_requests(5, "This server is following as many live streams as it can."),
            Self::Client(open) => {
                too_many_requests(5, &format!("Your address already has {open} live streams open; close some tabs."))
            }
        }
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let Some(counts) = &self.counts else { return };
        let mut open = counts.open.lock().unwrap_or_else(PoisonError::into_inner);
        let (total, by_client) = &mut *open;
        *total -= 1;
        if let Some(mine) = by_client.get_mut(&self.client) {
            *mine -= 1;
            if *mine == 0 {
                by_client.remove(&self.client);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
    }

    #[test]
    fn streams_are_capped_per_client_and_per_replica_and_freed_on_drop() {
        let slots = StreamSlots::new(true, 2, 3);

        let a1 = slots.acquire(ip(1)).expect("first");
        let _a2 = slots.acquire(ip(1)).expect("second");
        let refused = slots.acquire(ip(1)).expect_err("a third for the same client");
        let _b1 = slots.acquire(ip(2)).expect("another client");
        let full = slots.acquire(ip(3)).expect_err("the replica is full");
        drop(a1);
        let _c1 = slots.acquire(ip(3)).expect("a freed slot");

        assert_eq!(refused, StreamsFull::Client(2));
        assert_eq!(full, StreamsFull::Replica);
        let response = refused.into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "5");
    }

    #[test]
    fn with_limits_off_nothing_is_capped() {
        let slots = StreamSlots::new(false, 1, 1);
        let held: Vec<StreamSlot> = (0..10).map(|_| slots.acquire(ip(1)).expect("no cap")).collect();
        assert_eq!(held.len(), 10);
    }

    #[test]
    fn a_refusal_never_says_retry_after_zero() {
        let response = too_many_requests(0, "Slow down.");
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
    }
}
