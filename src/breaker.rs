//! A circuit breaker: one per outside dependency (PostgreSQL, Redis), around every call.
//!
//! Closed: calls go through; failures (errors the caller classes as outages, and calls
//! slower than `slow`) are counted over a sliding `window`. `failures` of them open the
//! breaker. Open: calls fail at once, without touching the dependency, for `cooldown`.
//! Then half-open: one call goes through as a probe while the others still fail fast; its
//! success closes the breaker, its failure opens it for another cooldown. Every call is
//! bounded by `timeout`, which counts as a failure. State changes are logged once.

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// The breakers of one replica.
#[derive(Debug, Clone)]
pub struct Breakers {
    /// Around every database call.
    pub database: Arc<Breaker>,
    /// Around every Redis cache and publish call; none without `REDIS_URL`.
    pub redis: Option<Arc<Breaker>>,
}

/// Where the breaker reads the time; tests pass a clock they move by hand.
pub trait Clock: Send + Sync + 'static {
    /// Now.
    fn now(&self) -> Instant;
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// How a breaker judges its dependency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Failures within `window` that open the breaker.
    pub failures: u32,
    /// How far back failures count.
    pub window: Duration,
    /// A call slower than this counts as a failure (its result is still used).
    pub slow: Duration,
    /// Longest a call may take; past it the call is abandoned and counts as a failure.
    pub timeout: Duration,
    /// How long the breaker stays open before a probe.
    pub cooldown: Duration,
}

/// A breaker's state, as `/readyz` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Calls go through.
    Closed,
    /// Calls fail fast.
    Open,
    /// One probe call is allowed through.
    HalfOpen,
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Closed => "closed",
            Self::Open => "open",
            Self::HalfOpen => "half-open",
        })
    }
}

/// Why a guarded call did not give a result.
#[derive(Debug)]
pub enum Failure<E> {
    /// The breaker is open (or half-open with its probe out): the dependency was not called.
    Open,
    /// The call took longer than the timeout.
    TimedOut,
    /// The call failed.
    Call(E),
}

#[derive(Debug)]
enum Phase {
    Closed,
    Open { until: Instant },
    HalfOpen { probing: bool },
}

#[derive(Debug)]
struct Inner {
    phase: Phase,
    failures: VecDeque<Instant>,
}

/// A circuit breaker. Cheap to share: clone the `Arc`.
pub struct Breaker {
    name: &'static str,
    config: BreakerConfig,
    clock: Arc<dyn Clock>,
    inner: Mutex<Inner>,
}

impl fmt::Debug for Breaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Breaker").field("name", &self.name).field("state", &self.state()).finish()
    }
}

/// What [`Breaker::admit`] hands out: whether this call is the half-open probe.
#[derive(Debug, Clone, Copy)]
struct Ticket {
    probe: bool,
}

impl Breaker {
    /// A closed breaker named `name` (for logs and `/readyz`).
    pub fn new(name: &'static str, config: BreakerConfig, clock: Arc<dyn Clock>) -> Arc<Self> {
        Arc::new(Self {
            name,
            config,
            clock,
            inner: Mutex::new(Inner { phase: Phase::Closed, failures: VecDeque::new() }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every change is a small assignment: the state stays consistent after a panic.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The state now (an open breaker past its cooldown shows as half-open).
    pub fn state(&self) -> State {
        match self.lock().phase {
            Phase::Closed => State::Closed,
            Phase::Open { until } if self.clock.now() < until => State::Open,
            Phase::Open { .. } | Phase::HalfOpen { .. } => State::HalfOpen,
        }
    }

    /// Whether calls go through right now without waiting for a probe.
    pub fn is_closed(&self) -> bool {
        self.state() == State::Closed
    }

    fn admit(&self) -> Option<Ticket> {
        let now = self.clock.now();
        let mut inner = self.lock();
        match inner.phase {
            Phase::Closed => Some(Ticket { probe: false }),
            Phase::Open { until } if now < until => None,
            Phase::Open { .. } | Phase::HalfOpen { probing: false } => {
                inner.phase = Phase::HalfOpen { probing: true };
                tracing::info!(breaker = self.name, "circuit half-open: probing");
                Some(Ticket { probe: true })
            }
            Phase::HalfOpen { probing: true } => None,
        }
    }

    fn record(&self, ticket: Ticket, failed: bool) {
        let now = self.clock.now();
        let mut inner = self.lock();
        if ticket.probe {
            if failed {
                inner.phase = Phase::Open { until: now + self.config.cooldown };
                tracing::warn!(breaker = self.name, "circuit stays open: the probe failed");
            } else {
                inner.phase = Phase::Closed;
                inner.failures.clear();
                tracing::info!(breaker = self.name, "circuit closed: the dependency answers again");
            }
            return;
        }
        if !failed || !matches!(inner.phase, Phase::Closed) {
            return;
        }
        inner.failures.push_back(now);
        while inner.failures.front().is_some_and(|t| now.duration_since(*t) > self.config.window) {
            inner.failures.pop_front();
        }
        if inner.failures.len() >= self.config.failures as usize {
            inner.phase = Phase::Open { until: now + self.config.cooldown };
            inner.failures.clear();
            tracing::warn!(
                breaker = self.name,
                cooldown_ms = self.config.cooldown.as_millis(),
                "circuit open: calls fail fast until a probe succeeds"
            );
        }
    }

    /// Runs `call` through the breaker. `is_outage` says which errors count against the
    /// dependency (a unique-key violation is an answer, not an outage).
    pub async fn call<T, E>(
        &self,
        is_outage: impl FnOnce(&E) -> bool,
        call: impl Future<Output = Result<T, E>>,
    ) -> Result<T, Failure<E>> {
        let Some(ticket) = self.admit() else { return Err(Failure::Open) };
        let started = self.clock.now();
        let result = tokio::time::timeout(self.config.timeout, call).await;
        let slow = self.clock.now().duration_since(started) > self.config.slow;
        match result {
            Ok(Ok(value)) => {
                self.record(ticket, slow);
                Ok(value)
            }
            Ok(Err(error)) => {
                self.record(ticket, slow || is_outage(&error));
                Err(Failure::Call(error))
            }
            Err(_) => {
                self.record(ticket, true);
                Err(Failure::TimedOut)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A clock that moves only when told.
    struct FakeClock(Mutex<Instant>);

    impl FakeClock {
        fn advance(&self, by: Duration) {
            *self.0.lock().expect("clock") += by;
        }
    }

    impl Clock for FakeClock {
        fn now(&self) -> Instant {
            *self.0.lock().expect("clock")
        }
    }

    const CONFIG: BreakerConfig = BreakerConfig {
        failures: 3,
        window: Duration::from_secs(10),
        slow: Duration::from_secs(1),
        timeout: Duration::from_secs(60),
        cooldown: Duration::from_secs(5),
    };

    fn breaker() -> (Arc<Breaker>, Arc<FakeClock>) {
        let clock = Arc::new(FakeClock(Mutex::new(Instant::now())));
        (Breaker::new("test", CONFIG, clock.clone()), clock)
    }

    async fn ok(breaker: &Breaker) -> Result<u32, Failure<&'static str>> {
        breaker.call(|_| true, async { Ok(1) }).await
    }

    async fn fail(breaker: &Breaker) -> Result<u32, Failure<&'static str>> {
        breaker.call(|_| true, async { Err("down") }).await
    }

    /// Opens the breaker with as many failures as it takes.
    async fn trip(breaker: &Breaker) {
        for _ in 0..CONFIG.failures {
            fail(breaker).await.ok();
        }
    }

    #[tokio::test]
    async fn repeated_failures_open_it_and_open_calls_never_reach_the_dependency() {
        let (breaker, _clock) = breaker();
        for _ in 0..2 {
            assert!(matches!(fail(&breaker).await, Err(Failure::Call("down"))));
        }
        assert_eq!(breaker.state(), State::Closed, "two failures are not enough");
        assert!(matches!(fail(&breaker).await, Err(Failure::Call("down"))));
        assert_eq!(breaker.state(), State::Open);

        let mut reached = false;
        let refused = breaker
            .call(|_: &&str| true, async {
                reached = true;
                Ok::<_, &str>(1)
            })
            .await;

        assert!(matches!(refused, Err(Failure::Open)));
        assert!(!reached, "an open breaker does not call");
    }

    #[tokio::test]
    async fn failures_outside_the_window_are_forgotten() {
        let (breaker, clock) = breaker();
        fail(&breaker).await.ok();
        fail(&breaker).await.ok();
        clock.advance(Duration::from_secs(11));
        fail(&breaker).await.ok();
        assert_eq!(breaker.state(), State::Closed);
    }

    #[tokio::test]
    async fn answers_that_are_not_outages_do_not_count() {
        let (breaker, _clock) = breaker();
        for _ in 0..5 {
            breaker.call(|_: &&str| false, async { Err::<u32, _>("duplicate key") }).await.ok();
        }
        assert_eq!(breaker.state(), State::Closed);
    }

    #[tokio::test]
    async fn slow_calls_count_as_failures_but_keep_their_result() {
        let (breaker, clock) = breaker();
        for _ in 0..3 {
            let slow = breaker
                .call(|_: &&str| true, async {
                    clock.advance(Duration::from_secs(2));
                    Ok(7)
                })
                .await;
            assert!(matches!(slow, Ok(7)));
        }
        assert_eq!(breaker.state(), State::Open);
    }

    #[tokio::test]
    async fn after_the_cooldown_one_probe_goes_through_and_its_success_closes_it() {
        let (breaker, clock) = breaker();
        trip(&breaker).await;
        clock.advance(Duration::from_secs(6));
        assert_eq!(breaker.state(), State::HalfOpen);

        let probe = breaker.call(|_: &&str| true, async {
            // While the probe is out, everyone else still fails fast.
            assert!(matches!(ok(&breaker).await, Err(Failure::Open)));
            Ok(1)
        });

        assert!(matches!(probe.await, Ok(1)));
        assert_eq!(breaker.state(), State::Closed);
        assert!(matches!(ok(&breaker).await, Ok(1)));
    }

    #[tokio::test]
    async fn a_failed_probe_opens_it_for_another_cooldown() {
        let (breaker, clock) = breaker();
        trip(&breaker).await;
        clock.advance(Duration::from_secs(6));
        fail(&breaker).await.ok();
        assert_eq!(breaker.state(), State::Open);
        clock.advance(Duration::from_secs(4));
        assert!(matches!(ok(&breaker).await, Err(Failure::Open)), "still cooling down");
        clock.advance(Duration::from_secs(2));
        assert!(matches!(ok(&breaker).await, Ok(1)));
        assert_eq!(breaker.state(), State::Closed);
    }

    #[tokio::test]
    async fn a_call_past_the_timeout_is_abandoned_and_counts() {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let config = BreakerConfig { failures: 1, timeout: Duration::from_millis(50), ..CONFIG };
        let breaker = Breaker::new("test", config, clock);

        let hung = breaker.call(|_: &&str| true, std::future::pending::<Result<u32, &str>>()).await;

        assert!(matches!(hung, Err(Failure::TimedOut)));
        assert_eq!(breaker.state(), State::Open);
    }
}
