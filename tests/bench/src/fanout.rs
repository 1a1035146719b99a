//! Live fan-out as browsers see it: viewers through nginx on a poll's stream (the HTML
//! one, or the JSON one), each from a loopback address of its own kind (127.0.0.2…),
//! counted subscribed when their first frame arrives; then votes at a steady rate, each
//! timed from its *send* to the moment the last viewer holds a tally that includes it.
//! The viewers live in groups of at most `PER_GROUP`, each a process of its own (this
//! bench's binary, `viewers …`): a process may hold only so many sockets. Times are read
//! from the wall clock, which the processes share.

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
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

/// Viewers per process, under the open-file limit (each holds one socket).
const PER_GROUP: usize = 15_000;

/// Microseconds on the wall clock: the same in every process.
fn now_us() -> u64 {
    let since = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since.as_micros()).unwrap_or(u64::MAX)
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
    source: (std::net::Ipv4Addr, u16),
    port: u16,
    path: String,
    stream: Stream,
    (subscribed, frames_seen): (Arc<AtomicUsize>, Arc<AtomicU64>),
    (arrived, last_arrival): (Arc<Vec<AtomicU64>>, Arc<Vec<AtomicU64>>),
) -> Result<()> {
    let socket = TcpSocket::new_v4()?;
    // A port of its own below the ephemeral range: a port picked by the kernel for a bound
    // socket is one nginx can no longer pick for its connections to the replicas (at 50,000
    // viewers it ran out). Reusable while an earlier run's connection waits out TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket.bind(source.into())?;
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
        let now = now_us();
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

/// `votestream-bench viewers PORT POLL html|json COUNT VOTES FIRST`: `COUNT` viewers (the
/// `FIRST`th on, counted over the whole bench) of `POLL`'s stream through nginx on `PORT`. Says `subscribed FRAMES` once
/// each has its first frame; told `report` (on stdin), waits (at most 30 s) until each holds
/// all `VOTES` votes, says `arrived K VIEWERS LAST_US` for each vote and `end`, and exits
/// when stdin closes.
pub async fn group(args: &[String]) -> Result<()> {
    let arg = |i: usize| args.get(i).with_context(|| format!("viewers: argument {i} missing"));
    let port: u16 = arg(0)?.parse()?;
    let poll: i64 = arg(1)?.parse()?;
    let stream = if arg(2)? == "json" { Stream::Json } else { Stream::Html };
    let (count, votes, first): (usize, usize, usize) = (arg(3)?.parse()?, arg(4)?.parse()?, arg(5)?.parse()?);
    let arrived: Arc<Vec<AtomicU64>> = Arc::new((0..=votes).map(|_| AtomicU64::new(0)).collect());
    let last_arrival: Arc<Vec<AtomicU64>> = Arc::new((0..=votes).map(|_| AtomicU64::new(0)).collect());
    let subscribed = Arc::new(AtomicUsize::new(0));
    let frames_seen = Arc::new(AtomicU64::new(0));
    let path = match stream {
        Stream::Html => format!("/polls/{poll}/events"),
        Stream::Json => format!("/polls/{poll}/events?format=json"),
    };
    let mut tasks = Vec::new();
    for i in first..first + count {
        // 127.0.0.2 … 127.0.0.251: many clients, as nginx and the replicas would see them;
        // from port 10,000 up, each viewer of the bench its own address and port.
        let source = (std::net::Ipv4Addr::new(127, 0, 0, 2 + (i % 250) as u8), 10_000 + (i / 250) as u16);
        let counters = (subscribed.clone(), frames_seen.clone());
        let task = viewer(source, port, path.clone(), stream, counters, (arrived.clone(), last_arrival.clone()));
        tasks.push(tokio::spawn(task));
        if i % 100 == 99 {
            // Audiences arrive over seconds, not in one burst: 1,000 viewers a second per
            // group. A burst of 50,000 overflowed the replicas' accept queues while the
            // machine was busy, and nginx counted the timed-out connects as replicas down.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(150);
    while subscribed.load(Ordering::SeqCst) < count {
        if Instant::now() > deadline || tasks.iter().any(tokio::task::JoinHandle::is_finished) {
            let failed = tasks.iter().filter(|t| t.is_finished()).count();
            let first = match tasks.iter().position(tokio::task::JoinHandle::is_finished) {
                Some(at) => format!("{:?}", tasks.swap_remove(at).await),
                None => "none".into(),
            };
            let subscribed = subscribed.load(Ordering::SeqCst);
            anyhow::bail!("{subscribed} of {count} viewers subscribed; {failed} streams ended, the first: {first}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut out = tokio::io::stdout();
    out.write_all(format!("subscribed {}\n", frames_seen.load(Ordering::SeqCst)).as_bytes()).await?;
    out.flush().await?;
    let mut input = BufReader::new(tokio::io::stdin()).lines();
    anyhow::ensure!(input.next_line().await?.as_deref() == Some("report"), "viewers: expected `report`");
    let deadline = Instant::now() + Duration::from_secs(30);
    while (1..=votes).any(|k| arrived[k].load(Ordering::SeqCst) < count as u64) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut report = String::new();
    for k in 1..=votes {
        let (n, last) = (arrived[k].load(Ordering::SeqCst), last_arrival[k].load(Ordering::SeqCst));
        report.push_str(&format!("arrived {k} {n} {last}\n"));
    }
    report.push_str(&format!("frames {}\nend\n", frames_seen.load(Ordering::SeqCst)));
    out.write_all(report.as_bytes()).await?;
    out.flush().await?;
    while input.next_line().await?.is_some() {}
    for task in &tasks {
        task.abort();
    }
    Ok(())
}

/// A group of viewers in its own process, and its lines.
struct Group {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    lines: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
}

impl Group {
    /// The next line, within `wait`.
    async fn line(&mut self, wait: Duration) -> Result<String> {
        let line = tokio::time::timeout(wait, self.lines.next_line()).await.context("a viewer group is silent")??;
        line.context("a viewer group ended (its error is above)")
    }
}

/// Opens `viewers` streams of `poll` through nginx on `port` (in groups), waits until each
/// has its first frame, calls `connected` (to measure memory then), then sends `votes` votes
/// `interval` apart through nginx, and waits (at most 30 s after the last) for every viewer
/// to hold every vote.
pub async fn run(
    port: u16,
    poll: i64,
    stream: Stream,
    (viewers, before): (usize, usize),
    (votes, interval): (usize, Duration),
    processes: &Processes,
    connected: impl AsyncFnOnce(),
) -> Result<Seen> {
    let groups = viewers.div_ceil(PER_GROUP);
    let exe = std::env::current_exe()?;
    let kind = if stream == Stream::Json { "json" } else { "html" };
    let mut started = Vec::with_capacity(groups);
    for g in 0..groups {
        let (first, count) = (before + viewers * g / groups, viewers * (g + 1) / groups - viewers * g / groups);
        let numbers =
            [port.to_string(), poll.to_string(), kind.into(), count.to_string(), votes.to_string(), first.to_string()];
        let mut child = tokio::process::Command::new(&exe)
            .arg("viewers")
            .args(numbers)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let stdin = child.stdin.take().context("its stdin")?;
        let lines = BufReader::new(child.stdout.take().context("its stdout")?).lines();
        started.push(Group { child, stdin, lines });
    }
    let mut frames_before = 0;
    for group in &mut started {
        let line = group.line(Duration::from_secs(180)).await?;
        let frames = line.strip_prefix("subscribed ").with_context(|| format!("a viewer group said {line:?}"))?;
        frames_before += frames.parse::<u64>()?;
    }
    connected().await;
    let processes = processes.with_helpers(started.iter().filter_map(|g| g.child.id()).collect());
    let cpu_before = processes.sample();
    let mut sent = Vec::with_capacity(votes);
    let mut senders = Vec::with_capacity(votes);
    let start = Instant::now();
    for k in 0..votes {
        tokio::time::sleep_until((start + interval * k as u32).into()).await;
        sent.push(now_us());
        senders.push(tokio::spawn(vote(port, poll)));
    }
    for sender in senders {
        sender.await.context("a vote task")?.context("a vote")?;
    }
    for group in &mut started {
        group.stdin.write_all(b"report\n").await?;
        group.stdin.flush().await?;
    }
    let (mut arrived, mut last_arrival, mut frames) = (vec![0u64; votes + 1], vec![0u64; votes + 1], 0);
    for group in &mut started {
        loop {
            let line = group.line(Duration::from_secs(60)).await?;
            let words: Vec<&str> = line.split(' ').collect();
            match words.as_slice() {
                ["arrived", k, n, last] => {
                    let k: usize = k.parse()?;
                    arrived[k] += n.parse::<u64>()?;
                    last_arrival[k] = last_arrival[k].max(last.parse()?);
                }
                ["frames", n] => frames += n.parse::<u64>()?,
                ["end"] => break,
                _ => anyhow::bail!("a viewer group said {line:?}"),
            }
        }
    }
    let usage = processes.sample().since(&cpu_before);
    for group in started {
        drop(group.stdin);
        let mut child = group.child;
        let _ = tokio::time::timeout(Duration::from_secs(30), child.wait()).await;
    }
    let frames = frames - frames_before;
    let everyone = viewers as u64;
    let delivered = (1..=votes).filter(|&k| arrived[k] >= everyone).count();
    let mut delays_ms: Vec<f64> = (1..=votes)
        .filter(|&k| arrived[k] >= everyone)
        .map(|k| last_arrival[k].saturating_sub(sent[k - 1]) as f64 / 1000.0)
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
