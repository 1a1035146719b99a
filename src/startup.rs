//! Building and running the server.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use std::time::Duration;

use anyhow::Context;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::Service;

use crate::announce::Announcer;
use crate::app::Polls;
use crate::breaker::{Breaker, Breakers, SystemClock};
use crate::cache::{DynCache, LocalCache, NoCache, RedisCache};
use crate::config::{Backend, HostRule, Settings};
use crate::domain::JoinCodes;
use crate::guard::head;
use crate::guard::limits::Limits;
use crate::guard::voter::VoterCookies;
use crate::live::{Hub, Live, LocalBus, redis};
use crate::metrics::Metrics;
use crate::state::{AppState, Shared};
use crate::store::DynStore;
use crate::store::guarded::GuardedStore;
use crate::web::PublicUrl;
use crate::writer::{Outlets, VoteWriter};
use crate::{routes, seed, store};

/// Entries the in-process cache keeps at most.
const LOCAL_CACHE_ENTRIES: u64 = 10_000;

/// How long shutdown waits for connections to finish what they are doing.
const DRAIN: Duration = Duration::from_secs(30);

/// A bound, ready server.
pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    state: AppState,
    header_read_timeout: Duration,
}

impl Application {
    /// Connects storage, migrates, seeds (if `SEED_DEMO`), sets up the live bus and cache
    /// (Redis when `REDIS_URL` is set), then binds `BIND_ADDR`.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let (router, state) = assemble(&settings).await?;
        let listener = TcpListener::bind(settings.http.bind_addr)
            .await
            .with_context(|| format!("binding {}", settings.http.bind_addr))?;
        let bound = listener.local_addr()?;
        if matches!(settings.http.allowed_hosts, HostRule::Default(_)) && !bound.ip().is_loopback() {
            tracing::warn!(
                address = %bound,
                "listening beyond loopback with neither PUBLIC_URL nor ALLOWED_HOSTS: only requests naming a \
                 loopback host or this address are answered; set PUBLIC_URL to the address people use"
            );
        }
        tracing::info!(
            database = %settings.storage.database_url_redacted(),
            address = %listener.local_addr()?,
            replica = %settings.http.replica_name,
            "VoteStream ready"
        );
        Ok(Self { listener, router, state, header_read_timeout: settings.http.header_read_timeout })
    }

    /// The address actually bound (port 0 becomes a real port).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The shared state, for tests and tools that start the server in-process.
    pub fn state(&self) -> AppState {
        self.state.clone()
    }

    /// Serves until `shutdown` resolves: then it stops accepting, live streams end (clients
    /// reconnect elsewhere after their `retry:` hint), background tasks stop, and requests
    /// in flight, votes among them, finish and are answered (for up to [`DRAIN`]).
    ///
    /// The accept loop is hyper's, rather than `axum::serve`, to bound how long a
    /// connection may take to send its headers.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let token = self.state.shutdown.clone();
        let trigger = token.clone();
        tokio::spawn(async move {
            shutdown.await;
            trigger.cancel();
        });
        let mut make_service = self.router.into_make_service_with_connect_info::<SocketAddr>();
        // HTTP/1.1 only (nginx and browsers speak it to us; TLS and HTTP/2 end at the proxy),
        // served by hyper's own HTTP/1 builder: the auto-detecting one reads the first 24
        // bytes ahead to look for HTTP/2, and the read after that doubled every connection's
        // buffer to 16 KiB (each open live stream keeps one to notice its client leaving).
        // The buffer may grow past our own limits, so that our check (guard::head) sees an
        // over-long head and answers it with a body; only heads past it get hyper's bare 431.
        let mut builder = http1::Builder::new();
        builder.timer(TokioTimer::new()).header_read_timeout(self.header_read_timeout).max_buf_size(head::READ_BUFFER);
        let graceful = GracefulShutdown::new();
        loop {
            let (stream, peer) = tokio::select! {
                () = token.cancelled() => break,
                accepted = self.listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of file descriptors, say: wait a moment rather than spin.
                        tracing::warn!(%error, "accepting a connection failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let Ok(service) = make_service.call(peer).await;
            let connection = builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
            let connection = graceful.watch(connection);
            tokio::spawn(async move {
                if let Err(error) = connection.await {
                    tracing::debug!(%error, %peer, "connection ended with an error");
                }
            });
        }
        drop(self.listener);
        if tokio::time::timeout(DRAIN, graceful.shutdown()).await.is_err() {
            tracing::warn!("shutdown: connections still open after {DRAIN:?}, closing them");
        }
        Ok(())
    }
}

/// Everything but the listener: storage (migrated, seeded if asked), the live bus and
/// cache, the vote writer, the core, and the router with every guard. Tests drive the
/// router itself (`tower::ServiceExt::oneshot`), without a socket.
pub async fn assemble(settings: &Settings) -> anyhow::Result<(axum::Router, AppState)> {
    let breakers = Breakers {
        database: Breaker::new("database", settings.storage.breaker.config(), Arc::new(SystemClock)),
        redis: settings
            .redis
            .url
            .as_ref()
            .map(|_| Breaker::new("redis", settings.redis.breaker.config(), Arc::new(SystemClock))),
    };
    let store: DynStore = Arc::new(GuardedStore::new(
        store::connect(&settings.storage).await?,
        breakers.database.clone(),
        settings.storage.read_fresh,
    ));
    store.migrate().await.context("applying migrations")?;
    if settings.storage.seed_demo {
        let report = seed::load_demo(store.as_ref()).await?;
        tracing::info!(themes = report.themes_added, polls = report.polls_added, "demo content checked");
    }
    let codes = JoinCodes::new(store.join_key().await.context("reading the join codes' key")?);
    let shutdown = CancellationToken::new();
    let hub = Hub::new(store.clone(), routes::stream::FRAMES);
    let metrics = Metrics::new();
    let (live, cache): (Live, DynCache) = match &settings.redis.url {
        Some(url) => {
            let target = redis::Target::new(url.expose(), settings.redis.cluster_nodes())?;
            let commands = redis::command_connection(&target)?;
            redis::start_subscriber(&target, &settings.redis.prefix, hub.clone(), metrics.clone(), shutdown.clone())?;
            tracing::info!(redis = settings.redis.url_redacted().unwrap_or_default(), "live bus and cache on Redis");
            let breaker = breakers.redis.clone().context("a Redis breaker with REDIS_URL")?;
            (
                Live::new(
                    hub,
                    redis::Publisher::new(commands.clone(), &settings.redis.prefix, breaker.clone()),
                    metrics.clone(),
                ),
                cache_unless_off(settings.redis.cache_ttl, || {
                    Arc::new(RedisCache::new(commands, &settings.redis.prefix, settings.redis.cache_ttl, breaker))
                }),
            )
        }
        None => {
            if settings.storage.backend() == Backend::Postgres {
                tracing::warn!(
                    "no REDIS_URL: live updates and the cache stay inside this replica; run one replica only"
                );
            }
            (
                Live::new(hub, LocalBus, metrics.clone()),
                cache_unless_off(settings.redis.cache_ttl, || {
                    Arc::new(LocalCache::new(LOCAL_CACHE_ENTRIES, settings.redis.cache_ttl))
                }),
            )
        }
    };
    let limits = Limits::new(&settings.limits);
    if settings.limits.enabled {
        limits.forget_idle_clients(shutdown.clone());
    } else {
        tracing::warn!("RATE_LIMIT=off: no quotas and no caps on live streams (for load tests only)");
    }
    let live = Arc::new(live);
    let announcer = Announcer::new(cache.clone(), live.clone());
    let votes = VoteWriter::start(
        store.clone(),
        settings.storage.vote_batch,
        Outlets { announcer: announcer.clone(), metrics: metrics.clone() },
    );
    let mut polls = Polls::new(store, cache, live, votes, announcer);
    if !settings.storage.read_urls.is_empty() {
        polls = polls.with_standbys(settings.storage.read_max_lag);
    }
    tokio::spawn(polls.clone().close_at_deadlines(shutdown.clone()));
    let state = AppState::new(Shared {
        polls,
        streams: settings.live,
        shutdown,
        limits,
        breakers,
        metrics,
        public_url: PublicUrl(settings.http.public_url.clone()),
        codes,
    });
    let router = routes::router(state.clone(), settings, VoterCookies::new(&settings.cookies, &settings.storage)?);
    Ok((router, state))
}

/// The cache `make` builds, or none at all with `CACHE_TTL_SECS=0`: the database read
/// every time.
fn cache_unless_off(ttl: std::time::Duration, make: impl FnOnce() -> DynCache) -> DynCache {
    if ttl.is_zero() { Arc::new(NoCache) } else { make() }
}
