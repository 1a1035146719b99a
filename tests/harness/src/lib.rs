//! The test harness, once: the servers the tests and the bench start for themselves on
//! free loopback ports (PostgreSQL, Redis, the production topology through
//! `deploy/cluster.sh`), an SSE reader, the identity checks on stored votes, and (feature
//! `app`) the server itself in-process with a client per test.

// `unused_macros`: the `on_each_backend` template is used by the test binaries, not here.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc, unused_macros)]

#[cfg(feature = "app")]
mod app;
pub mod ballots;
pub mod cluster;
pub mod load;
pub mod postgres;
pub mod redis;
pub mod sse;

#[cfg(feature = "app")]
pub use app::*;
pub use ballots::{ballots_by_voter, counters_out_of_step, voter_of};
/// For the exported `on_each_backend` template's expansion.
#[cfg(feature = "app")]
pub use rstest_reuse;

use std::fmt::Debug;

// The template names `#[rstest]` bare (so `#[export]` is seen): files applying it import it too.
#[cfg(feature = "app")]
#[allow(unused_imports)]
use rstest::rstest;
use std::time::Duration;

/// Runs a test once per storage backend: `…::case_1_postgres` and `…::case_2_sqlite`.
/// Apply with `#[apply(on_each_backend)]`; the test takes `#[case] backend: Backend`.
#[cfg(feature = "app")]
#[rstest_reuse::template]
#[export]
#[rstest]
#[case::postgres(Backend::Postgres)]
#[case::sqlite(Backend::Sqlite)]
pub fn on_each_backend(#[case] backend: Backend) {}

/// A loopback port nobody listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Fails the test because `server` is missing, saying how to get it, or (outside CI) how to
/// run only the tests that need no server.
pub fn missing_server(server: &str, install: &str) -> ! {
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("CI needs {server} for this test: .ci/run must install it ({install}).");
    }
    panic!(
        "This test needs {server}, which is not installed here ({install}): `tests/run` installs \
         what the tests need, then runs them. Tests ending in `postgres`, the `replicas` tests and the \
         two-replica browser test need PostgreSQL and Redis; `just test-embedded` runs every test \
         that needs neither."
    );
}

/// What a check in [`eventually`] answers: reached (with a value), or the state seen so far.
pub trait Reached {
    type Value;
    type Seen: Debug;
    fn reached(self) -> Result<Self::Value, Self::Seen>;
}

impl Reached for bool {
    type Value = ();
    type Seen = &'static str;
    fn reached(self) -> Result<(), &'static str> {
        if self { Ok(()) } else { Err("not yet") }
    }
}

impl<T, E: Debug> Reached for Result<T, E> {
    type Value = T;
    type Seen = E;
    fn reached(self) -> Self {
        self
    }
}

/// Runs `check` every 20 ms until it says the state is reached, and returns its value;
/// after `timeout`, fails the test naming `what` and the last state seen. The one way tests
/// wait for something asynchronous: never a bare sleep.
pub async fn eventually<C, F>(what: &str, timeout: Duration, mut check: F) -> C::Value
where
    C: Reached,
    F: AsyncFnMut() -> C,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let seen = match check().await.reached() {
            Ok(value) => return value,
            Err(seen) => seen,
        };
        assert!(tokio::time::Instant::now() < deadline, "{what}: not within {timeout:?}; last seen {seen:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
