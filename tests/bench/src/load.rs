//! The load generator: kept-alive HTTP/1 connections, each driven by a [`Client`] that
//! chooses what to send next and judges every answer, for a bounded time.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::{HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::usage::{Processes, Usage};

/// One request to send.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    pub path: String,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Bytes,
}

impl Request {
    pub fn get(path: impl Into<String>) -> Self {
        Self { method: Method::GET, path: path.into(), headers: Vec::new(), body: Bytes::new() }
    }

    pub fn post_json(path: impl Into<String>, body: String) -> Self {
        let json = HeaderValue::from_static("application/json");
        Self {
            method: Method::POST,
            path: path.into(),
            headers: vec![(hyper::header::CONTENT_TYPE, json)],
            body: body.into(),
        }
    }

    /// With one more header (`value` must be a valid header value).
    pub fn with(mut self, name: HeaderName, value: &str) -> Self {
        if let Ok(value) = HeaderValue::from_str(value) {
            self.headers.push((name, value));
        }
        self
    }
}

/// What one connection sends, and whether each answer is the one a user should get.
pub trait Client: Send + 'static {
    fn next(&mut self) -> Request;
    /// The answer to the last request, its body read: true if it is right.
    fn answered(&mut self, status: StatusCode, headers: &HeaderMap, body: &[u8]) -> bool;
    /// The last request got no answer (the connection failed or was cut): whatever it did,
    /// nobody was told.
    fn lost(&mut self) {}
}

/// The same request over and over; any 2xx is right.
pub struct Fixed(pub Request);

impl Client for Fixed {
    fn next(&mut self) -> Request {
        self.0.clone()
    }

    fn answered(&mut self, status: StatusCode, _: &HeaderMap, _: &[u8]) -> bool {
        status.is_success()
    }
}

/// What a timed run saw.
pub struct Run<C> {
    pub ok: u64,
    pub failed: u64,
    pub seconds: f64,
    /// Sorted, in microseconds.
    pub latencies_us: Vec<u32>,
    /// CPU each process spent during the run.
    pub usage: Usage,
    /// The clients, with whatever they recorded.
    pub clients: Vec<C>,
}

impl<C> Run<C> {
    pub fn rate(&self) -> f64 {
        self.ok as f64 / self.seconds
    }

    /// The latency at `p` (0–1), in milliseconds.
    pub fn percentile(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let i = ((self.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        f64::from(self.latencies_us[i]) / 1000.0
    }

    /// p50 and p99 as a cell.
    pub fn latency(&self) -> String {
        format!("p50 {:.1} ms, p99 {:.1} ms", self.percentile(0.5), self.percentile(0.99))
    }
}

/// One connection per client, each to its port and sending what its client says, for
/// `seconds`; the CPU of `processes` is sampled before and after.
pub async fn load<C: Client>(clients: Vec<(u16, C)>, seconds: f64, processes: &Processes) -> Run<C> {
    let stop = Arc::new(AtomicBool::new(false));
    let before = processes.sample();
    let started = Instant::now();
    let workers: Vec<_> = clients
        .into_iter()
        .map(|(port, client)| {
            let stop = stop.clone();
            tokio::spawn(worker(port, client, stop))
        })
        .collect();
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    stop.store(true, Ordering::SeqCst);
    let (mut ok, mut failed, mut latencies_us, mut clients) = (0, 0, Vec::new(), Vec::new());
    for w in workers {
        if let Ok(done) = w.await {
            ok += done.ok;
            failed += done.failed;
            latencies_us.extend(done.latencies);
            clients.push(done.client);
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let usage = processes.sample().since(&before);
    latencies_us.sort_unstable();
    Run { ok, failed, seconds, latencies_us, usage, clients }
}

struct Done<C> {
    ok: u64,
    failed: u64,
    latencies: Vec<u32>,
    client: C,
}

async fn worker<C: Client>(port: u16, mut client: C, stop: Arc<AtomicBool>) -> Done<C> {
    let (mut ok, mut failed, mut latencies) = (0, 0, Vec::new());
    let host = HeaderValue::from_str(&format!("127.0.0.1:{port}")).unwrap_or(HeaderValue::from_static("127.0.0.1"));
    'connect: while !stop.load(Ordering::Relaxed) {
        let Ok(stream) = TcpStream::connect(("127.0.0.1", port)).await else {
            failed += 1;
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let Ok((mut sender, connection)) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await else {
            failed += 1;
            continue;
        };
        tokio::spawn(connection);
        while !stop.load(Ordering::Relaxed) {
            let next = client.next();
            let mut request =
                hyper::Request::builder().method(next.method).uri(&next.path).header("host", host.clone());
            for (name, value) in next.headers {
                request = request.header(name, value);
            }
            let Ok(request) = request.body(Full::new(next.body)) else { break 'connect };
            let sent = Instant::now();
            match sender.send_request(request).await {
                Ok(response) => {
                    let (parts, body) = response.into_parts();
                    let Ok(body) = body.collect().await else {
                        failed += 1;
                        client.lost();
                        continue 'connect;
                    };
                    if client.answered(parts.status, &parts.headers, &body.to_bytes()) {
                        ok += 1;
                        latencies.push(u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX));
                    } else {
                        failed += 1;
                    }
                }
                Err(_) => {
                    failed += 1;
                    client.lost();
                    continue 'connect;
                }
            }
        }
    }
    Done { ok, failed, latencies, client }
}
