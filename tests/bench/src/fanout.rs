//! Live fan-out as browsers see it: viewers through nginx on a poll's stream (the HTML
//! one, or the JSON one), each from a loopback address of its own kind (127.0.0.2…),
//! counted subscribed when their first frame arrives; then votes at a steady rate, each
//! timed from its *send* to the moment the last viewer holds a tally that includes it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::net::TcpSocket;

use crate::usage::{Processes, Usage};

/// Which stream the viewers read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// `/polls/{id}/events`: what the page's htmx reads.
    Html,
    /// `/polls/{id}/events?format=json`.
    Json,
}

/// What a run saw.
pub struct Seen {
    /// Per vote, milliseconds from its send to its last viewer, sorted.
    pub delays_ms: Vec<f64>,
    /// Votes that reached every viewer.
    pub delivered: usize,
    pub votes: usize,
    /// Frames (events carrying a running total) the viewers received while the votes ran.
    pub frames: u64,
    /// CPU by process while the votes ran.
    pub usage: Usage,
}

impl Seen {
    pub fn percentile(&self, p: f64) -> f64 {
        if self.delays_ms.is_empty() {
            return f64::NAN;
        }
        self.delays_ms[((self.delays_ms.len() as f64 - 1.0) * p).round() as usize]
    }
}

/// The running total in a chunk of stream text, for each frame in it: `"total":N` in
/// JSON, `data: N votes so far` after `event: total` in HTML.
fn totals(text: &str, stream: Stream) -> Vec<u64> {
    let digits = |s: &str| -> Option<u64> {
        let number: String = s.chars().take_while(|c| c.is_ascii_digit() || *c == ',').filter(|c| *c != ',').collect();
        number.parse().ok()
    };
    match stream {
        Stream::Json => text.match_indices("\"total\":").filter_map(|(at, _)| digits(&text[at + 8..])).collect(),
        Stream::Html => text
            .split("\n\n")
            .filter(|frame| frame.lines().any(|l| l == "event: total"))
            .filter_map(|frame| frame.lines().find_map(|l| l.strip_prefix("data: ")).and_then(digits))
            .collect(),
    }
}

/// One viewer: connects from `source`, asks for `path`, and records for each vote `k` the
/// first time it holds a tally of at least `k`.
async fn viewer(
    source: std::net::Ipv4Addr,
    port: u16,
    path: String,
    stream: Stream,
    (subscribed, frames_seen): (Arc<AtomicUsize>, Arc<AtomicU64>),
    (arrived, last_arrival): (Arc<Vec<AtomicU64>>, Arc<Vec<AtomicU64>>),
    epoch: Instant,
) -> Result<()> {
    let socket = TcpSocket::new_v4()?;
    socket.bind((source, 0).into())?;
    let connection = socket.connect(([127, 0, 0, 1], port).into()).await?;
    let (mut sender, driver) = hyper::client::conn::http1::handshake(TokioIo::new(connection)).await?;
    tokio::spawn(driver);
    let request = hyper::Request::get(&path)
        .header("host", format!("127.0.0.1:{port}"))
        .header("accept", "text/event-stream")
        .body(Empty::<Bytes>::new())?;
    let response = sender.send_request(request).await?;
    anyhow::ensure!(response.status() == 200, "stream refused: {}", response.status());
    let mut body = response.into_body();
    let votes = arrived.len() as u64 - 1;
    let (mut seen, mut first, mut pending) = (0u64, true, String::new());
    loop {
        let Some(frame) = body.frame().await else { anyhow::bail!("the stream ended") };
        let Ok(data) = frame?.into_data() else { continue };
        pending.push_str(&String::from_utf8_lossy(&data));
        // Whole frames only; the rest waits for the next read.
        let Some(end) = pending.rfind("\n\n") else { continue };
        let frames: String = pending.drain(..end + 2).collect();
        let now = u64::try_from(epoch.elapsed().as_micros()).unwrap_or(u64::MAX);
        if first && frames.contains("data:") {
            first = false;
            subscribed.fetch_add(1, Ordering::SeqCst);
        }
        let totals = totals(&frames, stream);
        frames_seen.fetch_add(totals.len() as u64, Ordering::Relaxed);
        for total in totals {
            while seen < total.min(votes) {
                seen += 1;
                arrived[seen as usize].fetch_add(1, Ordering::SeqCst);
                last_arrival[seen as usize].fetch_max(now, Ordering::SeqCst);
            }
        }
        if seen >= votes {
            return Ok(());
        }
    }
}

/// Opens `viewers` streams of `poll` through nginx on `port`, waits until each has its
/// first frame, calls `connected` (to measure memory then), then sends `votes` votes
/// `interval` apart through nginx, and waits (at most 30 s after the last) for every
/// viewer to hold every vote.
pub async fn run(
    port: u16,
    poll: i64,
    stream: Stream,
    viewers: usize,
    (votes, interval): (usize, Duration),
    processes: &Processes,
    connected: impl AsyncFnOnce(),
) -> Result<Seen> {
    let arrived: Arc<Vec<AtomicU64>> = Arc::new((0..=votes).map(|_| AtomicU64::new(0)).collect());
    let last_arrival: Arc<Vec<AtomicU64>> = Arc::new((0..=votes).map(|_| AtomicU64::new(0)).collect());
    let subscribed = Arc::new(AtomicUsize::new(0));
    let frames_seen = Arc::new(AtomicU64::new(0));
    let epoch = Instant::now();
    let path = match stream {
        Stream::Html => format!("/polls/{poll}/events"),
        Stream::Json => format!("/polls/{poll}/events?format=json"),
    };
    let mut tasks = Vec::new();
    for i in 0..viewers {
        // 127.0.0.2 … 127.0.0.251: many clients, as nginx and the replicas would see them.
        let source = std::net::Ipv4Addr::new(127, 0, 0, 2 + (i % 250) as u8);
        let task = viewer(
            source,
            port,
            path.clone(),
            stream,
            (subscribed.clone(), frames_seen.clone()),
            (arrived.clone(), last_arrival.clone()),
            epoch,
        );
        tasks.push(tokio::spawn(task));
        if i % 500 == 499 {
            // Let the accept queues drain between bursts of connections.
            tokio::task::yield_now().await;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while subscribed.load(Ordering::SeqCst) < viewers {
        if Instant::now() > deadline || tasks.iter().any(tokio::task::JoinHandle::is_finished) {
            let failed = tasks.iter().filter(|t| t.is_finished()).count();
            anyhow::bail!(
                "{} of {viewers} viewers subscribed; {failed} streams ended",
                subscribed.load(Ordering::SeqCst)
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    connected().await;
    let (frames_before, cpu_before) = (frames_seen.load(Ordering::SeqCst), processes.sample());
    let mut sent = Vec::with_capacity(votes);
    let mut senders = Vec::with_capacity(votes);
    let start = Instant::now();
    for k in 0..votes {
        tokio::time::sleep_until((start + interval * k as u32).into()).await;
        sent.push(u64::try_from(epoch.elapsed().as_micros()).unwrap_or(0));
        senders.push(tokio::spawn(vote(port, poll)));
    }
    for sender in senders {
        sender.await.context("a vote task")?.context("a vote")?;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while (1..=votes).any(|k| arrived[k].load(Ordering::SeqCst) < viewers as u64) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let frames = frames_seen.load(Ordering::SeqCst) - frames_before;
    let usage = processes.sample().since(&cpu_before);
    for task in &tasks {
        task.abort();
    }
    let delivered = (1..=votes).filter(|&k| arrived[k].load(Ordering::SeqCst) >= viewers as u64).count();
    let mut delays_ms: Vec<f64> = (1..=votes)
        .filter(|&k| arrived[k].load(Ordering::SeqCst) >= viewers as u64)
        .map(|k| last_arrival[k].load(Ordering::SeqCst).saturating_sub(sent[k - 1]) as f64 / 1000.0)
        .collect();
    delays_ms.sort_by(f64::total_cmp);
    Ok(Seen { delays_ms, delivered, votes, frames, usage })
}

/// One vote by a new voter through nginx; an error unless it is acknowledged.
async fn vote(port: u16, poll: i64) -> Result<()> {
    let response =
        crate::http(port, "POST", &format!("/api/polls/{poll}/vote"), Some(r#"{"choice": 0}"#), None).await?;
    anyhow::ensure!(response.starts_with("HTTP/1.1 200"), "vote refused: {}", response.lines().next().unwrap_or(""));
    Ok(())
}
