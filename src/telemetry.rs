//! Logging set-up: one subscriber, filtered by `RUST_LOG`, as text or JSON.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;
use tracing_subscriber::EnvFilter;

use crate::config::vars::logs::RUST_LOG;
use crate::config::{LogFormat, Logs};
use crate::error::Cause;
use crate::guard::client::ClientIp;

/// Installs the global subscriber. A second call (tests) is a no-op.
pub fn init(format: &LogFormat) {
    // Unset, `RUST_LOG.default`: our events and the sampled request lines (`requests`);
    // sqlx's migration notices and per-query lines only when something is wrong.
    let filter = EnvFilter::try_from_env(RUST_LOG.name).unwrap_or_else(|_| EnvFilter::new(RUST_LOG.default));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _already_set = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Which requests get a log line: one in `every`, and every server error or slow answer.
/// The rest cost a counter and a clock read, no span and no formatting.
#[derive(Clone)]
pub struct RequestLog {
    every: u64,
    slow: Duration,
    seen: Arc<AtomicU64>,
}

impl RequestLog {
    pub fn new(logs: &Logs) -> Self {
        Self { every: logs.requests_every, slow: logs.slow, seen: Arc::new(AtomicU64::new(0)) }
    }

    fn sampled(&self) -> bool {
        self.every != 0 && self.seen.fetch_add(1, Ordering::Relaxed).is_multiple_of(self.every)
    }
}

/// What a request's log line says about it: method, matched route (not the raw path), request
/// id, client address. Health checks are not routed through this layer.
struct Seen {
    method: Method,
    route: Option<MatchedPath>,
    request_id: Option<HeaderValue>,
    client: Option<IpAddr>,
}

impl Seen {
    fn of(request: &Request) -> Self {
        Self {
            method: request.method().clone(),
            route: request.extensions().get::<MatchedPath>().cloned(),
            request_id: request.headers().get("x-request-id").cloned(),
            client: request.extensions().get::<ClientIp>().map(|ClientIp(ip)| *ip),
        }
    }

    fn span(&self) -> tracing::Span {
        let route = self.route.as_ref().map_or("unmatched", MatchedPath::as_str);
        let request_id = self.request_id.as_ref().and_then(|v| v.to_str().ok()).unwrap_or("-");
        tracing::info_span!("request", method = %self.method, route, request_id, client = ?self.client)
    }
}

/// Logs the requests `log` picks: a sampled one inside its span (so what its handlers log
/// carries its id) with one line when it is answered; any other only if it failed with a
/// server error or took `slow` or longer.
pub async fn requests(State(log): State<RequestLog>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let seen = Seen::of(&request);
    let (span, response) = if log.sampled() {
        let span = seen.span();
        let response = next.run(request).instrument(span.clone()).await;
        (span, response)
    } else {
        let response = next.run(request).await;
        if !response.status().is_server_error() && started.elapsed() < log.slow {
            return response;
        }
        (seen.span(), response)
    };
    let (status, latency_us) = (response.status(), micros(started));
    let cause = response.extensions().get::<Cause>().map(|Cause(cause)| cause.as_str());
    span.in_scope(|| {
        let code = status.as_u16();
        if status.is_server_error() {
            tracing::error!(status = code, latency_us, cause, "answered with a server error");
        } else if started.elapsed() >= log.slow {
            tracing::warn!(status = code, latency_us, "answered slowly");
        } else {
            tracing::info!(status = code, latency_us, "answered");
        }
    });
    response
}

fn micros(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::Mutex;

    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;

    /// What the subscriber wrote, shared with the test.
    #[derive(Clone, Default)]
    struct Written(Arc<Mutex<Vec<u8>>>);

    impl Write for Written {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("the log buffer").extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// The log lines `paths` (requested in order) leave with `requests_every` and `slow`.
    async fn lines(requests_every: u64, slow: Duration, paths: &[&str]) -> Vec<String> {
        let written = Written::default();
        let sink = written.clone();
        let subscriber = tracing_subscriber::fmt().with_writer(move || sink.clone()).with_ansi(false).finish();
        let _installed = tracing::subscriber::set_default(subscriber);
        let logs = Logs { format: LogFormat::Text, requests_every, slow };
        let app = Router::new()
            .route("/ok/{n}", get(|| async { "fine" }))
            .route(
                "/broken",
                get(|| async { crate::error::AppError::Internal(anyhow::anyhow!("the disk is on fire")) }),
            )
            .layer(axum::middleware::from_fn_with_state(RequestLog::new(&logs), requests));
        for path in paths {
            let id = path.replace('/', "-");
            let request = Request::builder().uri(*path).header("x-request-id", id).body(Body::empty());
            app.clone().oneshot(request.expect("a request")).await.expect("an answer");
        }
        let text = String::from_utf8(written.0.lock().expect("the log buffer").clone()).expect("text");
        text.lines().map(str::to_owned).collect()
    }

    #[tokio::test]
    async fn one_request_in_every_is_logged_with_its_route_and_id_and_every_server_error() {
        let slow = Duration::from_secs(60);
        let logged = lines(3, slow, &["/ok/1", "/ok/2", "/ok/3", "/ok/4", "/broken", "/ok/5"]).await;
        assert_eq!(logged.len(), 3, "the 1st and 4th of every three, and the error: {logged:?}");
        assert!(logged[0].contains(r#"route="/ok/{n}""#) && logged[0].contains(r#"request_id="-ok-1""#), "{logged:?}");
        assert!(logged[0].contains("status=200"), "{logged:?}");
        assert!(logged[1].contains(r#"request_id="-ok-4""#), "{logged:?}");
        assert!(logged[2].contains("ERROR") && logged[2].contains("status=500"), "{logged:?}");
        assert!(logged[2].contains(r#"route="/broken""#), "{logged:?}");
        assert!(logged[2].contains(r#"cause="the disk is on fire""#), "the cause, with the request: {logged:?}");
        assert!(logged.iter().all(|line| !line.contains("/ok/1")), "the route's template, never the path: {logged:?}");

        let none = lines(0, slow, &["/ok/1", "/ok/2", "/broken"]).await;
        assert_eq!(none.len(), 1, "0: only the server error: {none:?}");
        let all = lines(1, slow, &["/ok/1", "/ok/2"]).await;
        assert_eq!(all.len(), 2, "1: every request: {all:?}");
    }

    #[tokio::test]
    async fn a_slow_request_is_logged_though_not_sampled() {
        let logged = lines(0, Duration::ZERO, &["/ok/1"]).await;
        assert_eq!(logged.len(), 1, "{logged:?}");
        assert!(logged[0].contains("answered slowly") && logged[0].contains("status=200"), "{logged:?}");
    }
}
