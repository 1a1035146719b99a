//! `just bench`: the vote path, the pages and live fan-out at this machine's limit, each
//! against a ceiling measured in the same run, printed as one table.
//!
//! It starts its own cluster with the harness's `Cluster` (`deploy/cluster.sh`: PostgreSQL,
//! Redis, three replicas of the release build, nginx) on free loopback ports, plus a second nginx whose upstream
//! answers 200 doing nothing (the proxy's ceiling), and pgbench for the database's own
//! insert rates. Every load is bounded in time (`BENCH_SECS`, default 10) and in
//! connections; every vote run is checked: acknowledged = stored.

#![allow(clippy::print_stdout, clippy::print_stderr, clippy::cast_precision_loss)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use sqlx::Connection;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use votestream_harness::cluster::{self, Cluster};
use votestream_harness::free_port;

/// Votes cast one by one in the fan-out runs.
const VOTES: u64 = 50;

/// One HTTP request shape, sent over and over on a kept-alive connection.
#[derive(Clone)]
struct Shape {
    port: u16,
    method: hyper::Method,
    path: String,
    body: Option<&'static str>,
}

/// What a timed run saw.
struct Run {
    ok: u64,
    failed: u64,
    seconds: f64,
    latencies_us: Vec<u32>,
    cpu: f64,
}

impl Run {
    fn rate(&self) -> f64 {
        self.ok as f64 / self.seconds
    }

    fn percentile(&self, p: f64) -> f64 {
        if self.latencies_us.is_empty() {
            return f64::NAN;
        }
        let i = ((self.latencies_us.len() as f64 - 1.0) * p).round() as usize;
        f64::from(self.latencies_us[i]) / 1000.0
    }
}

/// CPU seconds this process has used (user + system), from /proc.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks: f64 = fields.get(11).and_then(|u| u.parse().ok()).unwrap_or(0.0)
        + fields.get(12).and_then(|s| s.parse().ok()).unwrap_or(0.0);
    ticks / 100.0
}

/// A process's resident memory, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// `connections` kept-alive connections sending `shape` for `seconds`.
async fn load(shape: &Shape, connections: usize, seconds: f64) -> Run {
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let cpu = cpu_seconds();
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let (shape, stop) = (shape.clone(), stop.clone());
            tokio::spawn(async move { worker(shape, stop).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
    stop.store(true, Ordering::SeqCst);
    let (mut ok, mut failed, mut latencies_us) = (0, 0, Vec::new());
    for w in workers {
        if let Ok((o, f, l)) = w.await {
            ok += o;
            failed += f;
            latencies_us.extend(l);
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies_us.sort_unstable();
    Run { ok, failed, seconds, latencies_us, cpu: (cpu_seconds() - cpu) / seconds }
}

async fn worker(shape: Shape, stop: Arc<AtomicBool>) -> (u64, u64, Vec<u32>) {
    let (mut ok, mut failed, mut latencies) = (0, 0, Vec::new());
    'connect: while !stop.load(Ordering::Relaxed) {
        let Ok(stream) = TcpStream::connect(("127.0.0.1", shape.port)).await else {
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
            let mut request =
                hyper::Request::builder().method(shape.method.clone()).uri(&shape.path).header("host", "127.0.0.1");
            if shape.body.is_some() {
                request = request.header("content-type", "application/json");
            }
            let body = Full::new(Bytes::from_static(shape.body.unwrap_or("").as_bytes()));
            let Ok(request) = request.body(body) else { break 'connect };
            let sent = Instant::now();
            match sender.send_request(request).await {
                Ok(response) => {
                    let success = response.status().is_success();
                    let drained = response.into_body().collect().await.is_ok();
                    if success && drained {
                        ok += 1;
                        latencies.push(u32::try_from(sent.elapsed().as_micros()).unwrap_or(u32::MAX));
                    } else {
                        failed += 1;
                    }
                }
                Err(_) => {
                    failed += 1;
                    continue 'connect;
                }
            }
        }
    }
    (ok, failed, latencies)
}

/// The cluster this run started (stopped when dropped), and the rows measured so far.
struct Bench {
    cluster: Cluster,
    /// nginx's port.
    base: u16,
    /// Where the bench's own files go (the null nginx, pgbench's script).
    dir: PathBuf,
    seconds: f64,
    rows: Vec<[String; 4]>,
}

impl Bench {
    fn replica_port(&self, n: u16) -> u16 {
        self.cluster.replica_port(usize::from(n))
    }

    fn row(&mut self, what: &str, measured: String, compared: String, note: String) {
        println!("  {what}: {measured} ({compared}) {note}");
        self.rows.push([what.to_owned(), measured, compared, note]);
    }

    fn database_url(&self) -> String {
        self.cluster.database_url()
    }

    fn replica_pids(&self) -> Vec<u32> {
        (1..=3).filter_map(|n| self.cluster.pid(&format!("replica-{n}"))).collect()
    }

    fn rss(&self) -> String {
        let sizes: Vec<String> =
            self.replica_pids().into_iter().map(|p| format!("{:.0}", rss_kib(p) as f64 / 1024.0)).collect();
        format!("{} MiB", sizes.join(" / "))
    }

    /// A poll of its own for a run: its id.
    async fn poll(&self) -> Result<i64> {
        let body = r#"{"question":"Bench?","theme":"Sports","options":[{"text":"A"},{"text":"B"},{"text":"C"}]}"#;
        let response = http(self.base, "POST", "/api/polls", Some(body)).await?;
        let id = response.split("\"id\":").nth(1).and_then(|s| s.split([',', '}']).next()).context("poll id")?;
        Ok(id.trim().parse()?)
    }

    async fn stored(&self, poll: i64) -> Result<i64> {
        let mut connection = sqlx::PgConnection::connect(&self.database_url()).await?;
        let (n,): (i64,) = sqlx::query_as("select count(*) from ballots where poll_id = $1")
            .bind(poll)
            .fetch_one(&mut connection)
            .await?;
        Ok(n)
    }
}

/// One request on a fresh connection; the body.
async fn http(port: u16, method: &str, path: &str, body: Option<&str>) -> Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
    let body = body.unwrap_or("");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    Ok(response)
}

fn run(mut command: Command, what: &str) -> Result<String> {
    let output = command.output().with_context(|| format!("running {what}"))?;
    if !output.status.success() {
        bail!("{what} failed: {}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// nginx proxying to an upstream that answers 200 doing nothing, with the proxy settings
/// of deploy/nginx.conf: its ceiling on this machine.
fn null_nginx(bench: &Bench) -> Result<(PathBuf, u16)> {
    let dir = bench.dir.join("null-nginx");
    std::fs::create_dir_all(dir.join("temp"))?;
    let (front, back) = (free_port(), free_port());
    let conf = format!(
        "worker_processes auto; pid {d}/nginx.pid; error_log {d}/error.log warn;
events {{ worker_connections 8192; }}
http {{
  access_log off; client_body_temp_path {d}/temp/body; proxy_temp_path {d}/temp/proxy;
  fastcgi_temp_path {d}/temp/fastcgi; uwsgi_temp_path {d}/temp/uwsgi; scgi_temp_path {d}/temp/scgi;
  keepalive_requests 100000;
  upstream nothing {{ server 127.0.0.1:{back}; keepalive 64; }}
  server {{ listen 127.0.0.1:{front}; location / {{ proxy_pass http://nothing; proxy_http_version 1.1; proxy_set_header Connection \"\"; }} }}
  server {{ listen 127.0.0.1:{back}; location / {{ return 200 \"ok\"; }} }}
}}",
        d = dir.display()
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf)?;
    let mut command = Command::new("nginx");
    command.arg("-c").arg(&path).arg("-e").arg(dir.join("error.log"));
    run(command, "nginx (null upstream)")?;
    Ok((dir, front))
}

fn stop_null_nginx(dir: &Path) {
    if let Ok(pid) = std::fs::read_to_string(dir.join("nginx.pid")) {
        let _ = Command::new("kill").arg(pid.trim()).status();
    }
}

/// pgbench: transactions per second of `script`, `clients` at a time.
fn pgbench(bench: &Bench, script: &str, clients: usize) -> Result<f64> {
    let path = bench.dir.join("pgbench.sql");
    std::fs::write(&path, script)?;
    let bin = std::fs::read_dir("/usr/lib/postgresql")?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("bin/pgbench"))
        .find(|p| p.exists())
        .context("pgbench (apt-get install postgresql)")?;
    let mut command = Command::new(bin);
    command
        .args(["-h", "127.0.0.1", "-p", &bench.cluster.database_port().to_string(), "-U", "postgres", "-n", "-j", "2"])
        .args(["-c", &clients.to_string(), "-T", &format!("{}", bench.seconds as u64), "-f"])
        .arg(&path)
        .arg("votestream");
    let out = run(command, "pgbench")?;
    let tps = out.lines().find(|l| l.starts_with("tps")).and_then(|l| l.split_whitespace().nth(2)).context("tps")?;
    Ok(tps.parse()?)
}

/// Live fan-out: `viewers` JSON streams spread over the replicas; then votes one at a
/// time; for each, the time from its response to the last viewer holding its tally.
async fn fan_out(
    bench: &Bench,
    idle_kib: u64,
    viewers: usize,
    votes: u64,
) -> Result<(f64, f64, f64, usize, String, f64)> {
    let poll = bench.poll().await?;
    let arrived: Arc<Vec<AtomicU64>> = Arc::new((0..=votes).map(|_| AtomicU64::new(0)).collect());
    let last_arrival: Arc<Vec<AtomicU64>> = Arc::new((0..=votes).map(|_| AtomicU64::new(0)).collect());
    let epoch = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..viewers {
        let port = bench.replica_port(1 + (i % 3) as u16);
        let (arrived, last_arrival) = (arrived.clone(), last_arrival.clone());
        let path = format!("/api/polls/{poll}/stream");
        let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
        stream
            .write_all(
                format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/event-stream\r\n\r\n")
                    .as_bytes(),
            )
            .await?;
        tasks.push(tokio::spawn(async move {
            let mut seen = 0u64;
            let mut buffer = vec![0u8; 4096];
            let mut text = String::new();
            while let Ok(n) = stream.read(&mut buffer).await {
                if n == 0 {
                    break;
                }
                text.push_str(&String::from_utf8_lossy(&buffer[..n]));
                while let Some(at) = text.find("\"total\":") {
                    let rest = &text[at + 8..];
                    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                    if digits.len() == rest.len() {
                        break; // the number continues in the next read
                    }
                    let total: u64 = digits.parse().unwrap_or(0);
                    let now = u64::try_from(epoch.elapsed().as_micros()).unwrap_or(u64::MAX);
                    while seen < total.min(votes) {
                        seen += 1;
                        arrived[seen as usize].fetch_add(1, Ordering::SeqCst);
                        last_arrival[seen as usize].fetch_max(now, Ordering::SeqCst);
                    }
                    text = text[at + 8 + digits.len()..].to_owned();
                }
                if seen >= votes {
                    break;
                }
            }
        }));
    }
    // Every viewer connected and subscribed before the first vote.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss = bench.rss();
    let with: u64 = bench.replica_pids().into_iter().map(rss_kib).sum();
    let per_viewer = with.saturating_sub(idle_kib) as f64 / viewers as f64;
    let mut responded = Vec::new();
    for _ in 1..=votes {
        let body = r#"{"choice": 0}"#;
        http(bench.base, "POST", &format!("/api/polls/{poll}/vote"), Some(body)).await?;
        responded.push(u64::try_from(epoch.elapsed().as_micros()).unwrap_or(0));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while (1..=votes).any(|k| arrived[k as usize].load(Ordering::SeqCst) < viewers as u64) && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let complete = (1..=votes).filter(|&k| arrived[k as usize].load(Ordering::SeqCst) >= viewers as u64).count();
    let mut delays: Vec<f64> = (1..=votes)
        .map(|k| {
            (last_arrival[k as usize].load(Ordering::SeqCst).saturating_sub(responded[k as usize - 1])) as f64 / 1000.0
        })
        .collect();
    delays.sort_by(f64::total_cmp);
    for task in tasks {
        task.abort();
    }
    let pick = |p: f64| delays[((delays.len() as f64 - 1.0) * p).round() as usize];
    Ok((pick(0.5), pick(0.99), pick(1.0), complete, rss, per_viewer))
}

async fn votes(bench: &mut Bench, port: u16, through: &str, connections: usize) -> Result<f64> {
    let poll = bench.poll().await?;
    let shape = Shape {
        port,
        method: hyper::Method::POST,
        path: format!("/api/polls/{poll}/vote"),
        body: Some(r#"{"choice": 1}"#),
    };
    let run = load(&shape, connections, bench.seconds).await;
    let stored = bench.stored(poll).await?;
    let check = if i64::try_from(run.ok)? == stored {
        "acknowledged = stored".to_owned()
    } else {
        format!("MISMATCH: {} acknowledged, {stored} stored", run.ok)
    };
    bench.row(
        &format!("votes/s, {through}, c{connections}"),
        format!("{:.0}/s", run.rate()),
        format!("p50 {:.1} ms, p99 {:.1} ms", run.percentile(0.5), run.percentile(0.99)),
        format!("{check}; {} failed; generator CPU {:.0} %", run.failed, run.cpu * 100.0),
    );
    Ok(run.rate())
}

async fn reads(bench: &mut Bench, what: &str, path: &str, port: u16, through: &str) -> f64 {
    let shape = Shape { port, method: hyper::Method::GET, path: path.to_owned(), body: None };
    let run = load(&shape, 64, bench.seconds).await;
    bench.row(
        &format!("{what}, {through}, c64"),
        format!("{:.0}/s", run.rate()),
        format!("p99 {:.1} ms", run.percentile(0.99)),
        format!("{} failed; generator CPU {:.0} %", run.failed, run.cpu * 100.0),
    );
    run.rate()
}

/// The pages a visitor reads, at c64: (name, path, p50 latency in ms).
async fn page_latencies(bench: &Bench, poll: i64) -> Vec<(&'static str, String, f64)> {
    let pages = [
        ("home page", "/".to_owned()),
        ("theme page", "/themes/sports".to_owned()),
        ("poll page", format!("/polls/{poll}")),
        ("results fragment", format!("/polls/{poll}/results")),
        ("API poll list", "/api/polls?theme=Sports&active=true".to_owned()),
    ];
    let mut measured = Vec::new();
    for (name, path) in pages {
        let shape = Shape { port: bench.replica_port(1), method: hyper::Method::GET, path: path.clone(), body: None };
        let run = load(&shape, 64, (bench.seconds / 2.0).max(2.0)).await;
        measured.push((name, path, run.percentile(0.5)));
    }
    measured
}

/// 100,000 polls and 10,000,000 votes loaded straight into the database (bulk SQL, foreign
/// keys checked once by construction), then the same pages again.
async fn large_data(bench: &mut Bench, poll: i64) -> Result<()> {
    println!("large data: the pages on the demo data first");
    let before = page_latencies(bench, poll).await;
    println!("large data: loading 100,000 polls and 10,000,000 votes");
    let started = Instant::now();
    let mut connection = sqlx::PgConnection::connect(&bench.database_url()).await?;
    let load = "
        set session_replication_role = replica;
        insert into polls (theme_id, question, voters)
             select (select id from themes order by id offset (g % (select count(*) from themes)) limit 1),
                    'Bench poll ' || g, 100
               from generate_series(1, 100000) g;
        insert into options (poll_id, position, text, votes)
             select p.id, k, 'Option ' || k, case k when 0 then 50 when 1 then 30 else 20 end
               from polls p cross join generate_series(0, 2) k where p.question like 'Bench poll %';
        create temporary table bench_polls as
             select id, row_number() over (order by id) - 1 as n from polls where question like 'Bench poll %';
        insert into ballots (poll_id, voter_key, guard_key)
             select bp.id, 'v' || g, 'v' || g from generate_series(0, 9999999) g join bench_polls bp on bp.n = g / 100;
        insert into votes (ballot_id, poll_id, option_id)
             select b.id, b.poll_id, o.id from ballots b
               join options o on o.poll_id = b.poll_id
                and o.position = case when (b.id % 100) < 50 then 0 when (b.id % 100) < 80 then 1 else 2 end
              where b.guard_key like 'v%';
        update themes t set poll_count = (select count(*) from polls p where p.theme_id = t.id),
                            vote_count = (select coalesce(sum(o.votes), 0) from polls p join options o on o.poll_id = p.id where p.theme_id = t.id);
        set session_replication_role = origin;
        analyze;
    ";
    sqlx::raw_sql(load).execute(&mut connection).await?;
    let votes: (i64,) = sqlx::query_as("select count(*) from votes").fetch_one(&mut connection).await?;
    let polls: (i64,) = sqlx::query_as("select count(*) from polls").fetch_one(&mut connection).await?;
    println!("  loaded {} polls, {} votes in {:.0} s", polls.0, votes.0, started.elapsed().as_secs_f64());
    // Settle the database as it would be in service, so the measurement is not of the
    // load's aftermath (autovacuum and the checkpoint would share the two cores).
    sqlx::raw_sql("vacuum analyze").execute(&mut connection).await?;
    sqlx::raw_sql("checkpoint").execute(&mut connection).await?;
    println!("  vacuumed and checkpointed after {:.0} s", started.elapsed().as_secs_f64());
    // Let the replicas' one-second page memory lapse.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = page_latencies(bench, poll).await;
    for ((name, path, demo), (_, _, large)) in before.into_iter().zip(after) {
        bench.row(
            &format!("{name} p50 with {} polls, {} votes", polls.0, votes.0),
            format!("{large:.1} ms"),
            format!("{:.2}× the demo data's {demo:.1} ms (target ≤ 1.5×)", large / demo),
            format!("{path}, one replica, c64"),
        );
    }
    Ok(())
}

async fn measure(bench: &mut Bench) -> Result<()> {
    println!("ceilings");
    let (null, null_port) = null_nginx(bench)?;
    let nothing = Shape { port: null_port, method: hyper::Method::GET, path: "/".into(), body: None };
    let mut ceiling = [0.0; 2];
    for (i, c) in [64, 256].into_iter().enumerate() {
        let run = load(&nothing, c, bench.seconds).await;
        ceiling[i] = run.rate();
        bench.row(
            &format!("nginx → upstream doing nothing, c{c}"),
            format!("{:.0}/s", run.rate()),
            format!("p99 {:.1} ms", run.percentile(0.99)),
            format!("generator CPU {:.0} %", run.cpu * 100.0),
        );
    }
    stop_null_nginx(&null);
    let setup = "create table if not exists bench_votes (id bigserial primary key, poll_id bigint not null, voter text not null, unique (poll_id, voter));\n";
    let mut connection = sqlx::PgConnection::connect(&bench.database_url()).await?;
    sqlx::raw_sql(setup).execute(&mut connection).await?;
    let single = pgbench(
        bench,
        "insert into bench_votes (poll_id, voter) values (1, md5(random()::text || clock_timestamp()::text));\n",
        64,
    )?;
    bench.row(
        "PostgreSQL single-row inserts (pgbench, c64)",
        format!("{single:.0}/s"),
        String::new(),
        "one insert per transaction".into(),
    );
    let hundred = pgbench(
        bench,
        "insert into bench_votes (poll_id, voter) select 2, md5(random()::text || g::text || clock_timestamp()::text) from generate_series(1, 100) g;\n",
        64,
    )?;
    bench.row(
        "PostgreSQL 100-row inserts (pgbench, c64)",
        format!("{:.0} rows/s", hundred * 100.0),
        format!("{hundred:.0} transactions/s"),
        String::new(),
    );

    println!("votes");
    let idle = bench.rss();
    let direct = bench.replica_port(1);
    let d64 = votes(bench, direct, "one replica direct", 64).await?;
    let d256 = votes(bench, direct, "one replica direct", 256).await?;
    let n64 = votes(bench, bench.base, "nginx, three replicas", 64).await?;
    let n256 = votes(bench, bench.base, "nginx, three replicas", 256).await?;
    let loaded_rss = bench.rss();
    bench.row(
        "votes through nginx / proxy ceiling, c64",
        format!("{:.3}", n64 / ceiling[0]),
        "target ≥ 0.3".into(),
        String::new(),
    );
    bench.row(
        "votes direct / PostgreSQL single-row inserts",
        format!("{:.2}", d64 / single),
        "target > 1".into(),
        String::new(),
    );
    bench.row(
        "votes c256 / c64, direct and through nginx",
        format!("{:.2} / {:.2}", d256 / d64, n256 / n64),
        "target ≥ 1".into(),
        String::new(),
    );

    println!("reads");
    let poll = bench.poll().await?;
    let page = reads(bench, "poll page HTML", &format!("/polls/{poll}"), direct, "direct").await;
    let page_nginx = reads(bench, "poll page HTML", &format!("/polls/{poll}"), bench.base, "nginx").await;
    reads(bench, "theme page HTML", "/themes/sports", direct, "direct").await;
    reads(bench, "theme page HTML", "/themes/sports", bench.base, "nginx").await;
    reads(bench, "results fragment", &format!("/polls/{poll}/results"), direct, "direct").await;
    reads(bench, "results fragment", &format!("/polls/{poll}/results"), bench.base, "nginx").await;
    bench.row(
        "poll page through nginx / proxy ceiling",
        format!("{:.3}", page_nginx / ceiling[0]),
        "target ≥ 0.3".into(),
        format!("direct {page:.0}/s"),
    );

    if std::env::var("BENCH_LARGE").map_or(true, |v| v != "0") {
        large_data(bench, poll).await?;
    }

    println!("live fan-out");
    let idle_kib: u64 = bench.replica_pids().into_iter().map(rss_kib).sum();
    for viewers in [1_000, 10_000] {
        let (p50, p99, max, complete, rss, per_viewer) = fan_out(bench, idle_kib, viewers, VOTES).await?;
        bench.row(
            &format!("vote → last of {viewers} viewers"),
            format!("p50 {p50:.0} ms, p99 {p99:.0} ms, max {max:.0} ms"),
            "target p99 ≤ 250 ms at 10,000".into(),
            format!("{complete}/{VOTES} votes reached every viewer; replicas {rss}; {per_viewer:.1} KiB RSS per viewer (target ≤ 12)"),
        );
    }
    bench.row("replica RSS at start / under vote load", format!("{idle} / {loaded_rss}"), String::new(), String::new());
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let root = cluster::root().canonicalize()?;
    let seconds: f64 = std::env::var("BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(10.0);
    let dir = root.join("target/bench");
    println!("starting the cluster (logs in {})", dir.display());
    let env = [("RATE_LIMIT", "off"), ("SEED_DEMO", "true")];
    let cluster = Cluster::start_in(dir.clone(), false, root.join("target/release/votestream"), 3, &env).await;
    let mut bench = Bench { base: cluster.port(), cluster, dir: dir.join("bench"), seconds, rows: Vec::new() };
    std::fs::create_dir_all(&bench.dir)?;
    println!("cluster on 127.0.0.1:{}", bench.base);
    // The cluster stops when `bench` is dropped, whatever happened.
    measure(&mut bench).await?;
    println!();
    println!("| measure | result | compared | note |");
    println!("|---|---|---|---|");
    for [what, measured, compared, note] in &bench.rows {
        println!("| {what} | {measured} | {compared} | {note} |");
    }
    Ok(())
}
