//! `/metrics`: what a replica is doing, in the Prometheus (OpenMetrics) text format, through
//! `prometheus-client`. One registry per server (no globals, so several servers in one
//! process, as in the tests, keep their own counts).

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::breaker::{Breaker, Breakers, State as BreakerState};
use crate::domain::VoteOutcome;
use crate::store::DynStore;

/// The content type of the OpenMetrics text format, which Prometheus reads.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

/// What became of a vote.
#[derive(Debug, Clone, Copy, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
enum Outcome {
    accepted,
    duplicate,
    refused,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: Outcome,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DependencyLabels {
    dependency: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StandbyLabels {
    standby: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    state: &'static str,
}

/// Every series this replica exposes.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    votes: Family<OutcomeLabels, Counter>,
    streams: Gauge,
    published: Counter,
    received: Counter,
    lag: Histogram,
    breakers: Family<DependencyLabels, Gauge>,
    pool: Family<PoolLabels, Gauge>,
    standby_reading: Family<StandbyLabels, Gauge>,
    standby_lag: Family<StandbyLabels, Gauge>,
    batches: Histogram,
    waiting: Gauge,
}

/// Shared handle.
pub type SharedMetrics = Arc<Metrics>;

fn latency_histogram() -> Histogram {
    // 0.5 ms … about 16 s.
    Histogram::new(exponential_buckets(0.0005, 2.0, 16))
}

impl Metrics {
    /// A registry with every series registered, at zero.
    pub fn new() -> SharedMetrics {
        let mut registry = Registry::with_prefix("votestream");
        let requests = Family::default();
        registry.register("http_requests", "HTTP requests answered, by route template and status", requests.clone());
        let latency = Family::new_with_constructor(latency_histogram as fn() -> Histogram);
        registry.register(
            "http_request_duration_seconds",
            "Time to answer (to the headers, for streams)",
            latency.clone(),
        );
        let votes = Family::default();
        registry.register(
            "votes",
            "Ballots by outcome: accepted, duplicate (already voted), refused (closed, bad option)",
            votes.clone(),
        );
        let streams = Gauge::default();
        registry.register("sse_streams_open", "Live event streams open now", streams.clone());
        let published = Counter::default();
        registry.register("bus_published", "Poll updates this replica sent to the others", published.clone());
        let received = Counter::default();
        registry.register("bus_received", "Poll updates this replica received from the others", received.clone());
        let lag = Histogram::new(exponential_buckets(0.0005, 2.0, 14));
        registry.register("bus_lag_seconds", "From an update's publication elsewhere to its arrival here", lag.clone());
        let breakers = Family::default();
        registry.register("breaker_state", "Circuit breakers: 0 closed, 1 half-open, 2 open", breakers.clone());
        let pool = Family::default();
        registry.register("db_pool_connections", "Database connections, in use and idle", pool.clone());
        let standby_reading = Family::default();
        registry.register(
            "db_standby_reading",
            "Read standbys: 1 taking page reads, 0 skipped (down, or further behind than DB_READ_MAX_LAG_MS)",
            standby_reading.clone(),
        );
        let standby_lag = Family::default();
        registry.register(
            "db_standby_lag_milliseconds",
            "How far each read standby's replay is behind, as last checked (-1: down)",
            standby_lag.clone(),
        );
        let batches = Histogram::new(exponential_buckets(1.0, 2.0, 11));
        registry.register("vote_batch_size", "Ballots per transaction of the vote writer", batches.clone());
        let waiting = Gauge::default();
        registry.register("votes_waiting", "Ballots the vote writer holds for its next transaction", waiting.clone());
        Arc::new(Self {
            registry,
            requests,
            latency,
            votes,
            streams,
            published,
            received,
            lag,
            breakers,
            pool,
            standby_reading,
            standby_lag,
            batches,
            waiting,
        })
    }

    /// Counts a ballot's outcome (errors are counted as requests, by status).
    pub fn vote(&self, outcome: &VoteOutcome) {
        use crate::domain::Refusal;
        let outcome = match outcome {
            VoteOutcome::Accepted { .. } => Outcome::accepted,
            VoteOutcome::Refused(Refusal::AlreadyVoted { .. } | Refusal::SameAddress) => Outcome::duplicate,
            VoteOutcome::Refused(_) => Outcome::refused,
        };
        self.votes.get_or_create(&OutcomeLabels { outcome }).inc();
    }

    /// Ballots gathered for the writer's next transaction (0 once it is written).
    pub fn waiting(&self, ballots: usize) {
        self.waiting.set(i64::try_from(ballots).unwrap_or(i64::MAX));
    }

    /// A batch of ballots about to be written.
    pub fn batch(&self, ballots: usize) {
        #[allow(clippy::cast_precision_loss)]
        self.batches.observe(ballots as f64);
    }

    /// An update sent on the bus.
    pub fn published(&self) {
        self.published.inc();
    }

    /// An update received from the bus, sent at `sent_at_ms` (unix milliseconds; 0 unknown).
    pub fn received(&self, sent_at_ms: u64) {
        self.received.inc();
        if sent_at_ms > 0 {
            let lag = unix_millis().saturating_sub(sent_at_ms);
            #[allow(clippy::cast_precision_loss)]
            self.lag.observe(lag as f64 / 1000.0);
        }
    }

    /// A live stream opened; it counts until the returned guard is dropped.
    pub fn stream_opened(self: &Arc<Self>) -> OpenStream {
        self.streams.inc();
        OpenStream(self.clone())
    }

    fn request(&self, method: &Method, route: &str, status: u16, took: Duration) {
        let method = match *method {
            Method::GET | Method::HEAD | Method::POST | Method::PATCH | Method::DELETE | Method::PUT => {
                method.to_string()
            }
            _ => "other".to_owned(),
        };
        let route = route.to_owned();
        self.latency
            .get_or_create(&RouteLabels { method: method.clone(), route: route.clone() })
            .observe(took.as_secs_f64());
        self.requests.get_or_create(&RequestLabels { method, route, status }).inc();
    }

    fn breaker(&self, dependency: &'static str, breaker: &Breaker) {
        let value = match breaker.state() {
            BreakerState::Closed => 0,
            BreakerState::HalfOpen => 1,
            BreakerState::Open => 2,
        };
        self.breakers.get_or_create(&DependencyLabels { dependency }).set(value);
    }

    /// The text exposition, with the gauges read now.
    fn render(&self, breakers: &Breakers, store: &DynStore) -> String {
        self.breaker("database", &breakers.database);
        if let Some(redis) = &breakers.redis {
            self.breaker("redis", redis);
        }
        if let Some(pool) = store.pool() {
            self.pool.get_or_create(&PoolLabels { state: "in_use" }).set(i64::from(pool.in_use));
            self.pool.get_or_create(&PoolLabels { state: "idle" }).set(i64::from(pool.idle));
        }
        for standby in store.standbys() {
            let labels = StandbyLabels { standby: standby.name };
            self.standby_reading.get_or_create(&labels).set(i64::from(standby.reading));
            self.standby_lag.get_or_create(&labels).set(standby.lag_ms.unwrap_or(-1));
        }
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

/// Unix time in milliseconds: when an update was published.
pub fn unix_millis() -> u64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}

/// Holds one open stream in the gauge.
pub struct OpenStream(SharedMetrics);

impl OpenStream {
    /// A reader of how many streams are open here, for the stream to pace itself by.
    pub fn crowd(&self) -> Crowd {
        Crowd(self.0.clone())
    }
}

/// How many live streams this replica holds open now, read without holding one.
#[derive(Clone)]
pub struct Crowd(SharedMetrics);

impl Crowd {
    pub fn now(&self) -> usize {
        usize::try_from(self.0.streams.get()).unwrap_or(0)
    }
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        self.0.streams.dec();
    }
}

/// Counts and times every routed request by its route template (never the raw path: ids
/// and keys stay out of the labels).
pub async fn record(State(metrics): State<SharedMetrics>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str).to_owned();
    let response = next.run(request).await;
    metrics.request(&method, &route, response.status().as_u16(), started.elapsed());
    response
}

/// `GET /metrics`, outside the rate limits.
pub async fn expose(
    State(metrics): State<SharedMetrics>,
    State(breakers): State<Breakers>,
    State(store): State<DynStore>,
) -> Response {
    let text = metrics.render(&breakers, &store);
    ([(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))], text).into_response()
}
