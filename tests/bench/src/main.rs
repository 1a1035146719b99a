//! `just bench`: the vote path, the pages and live fan-out at this machine's limit, each
//! against a ceiling measured in the same run, with the CPU each part of the machine
//! spends per request, printed as one table.
//!
//! It starts its own cluster with the harness's `Cluster` (`deploy/cluster.sh`:
//! PostgreSQL, Redis, three replicas of the release build, nginx) on free loopback ports,
//! with a clean environment whose settings it prints, plus a second nginx whose upstream
//! answers 200 doing nothing (the proxy's ceiling), and pgbench running the vote writer's
//! own statements (the database's ceiling for the same work). Every load is bounded in
//! time (`BENCH_SECS`, default 10) and in connections. Every vote run is checked voter by
//! voter against what is stored, and every fan-out vote must reach every viewer: any
//! difference is printed and the bench exits non-zero.

#![allow(clippy::print_stdout, clippy::print_stderr, clippy::cast_precision_loss)]

mod fanout;
mod load;
mod topology;
mod usage;
mod votes;

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use hyper::header::{ACCEPT_ENCODING, COOKIE};
use sqlx::Connection;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use votestream_harness::cluster::{self, Cluster};
use votestream_harness::free_port;

use fanout::Stream;
use load::{Fixed, Request, Run, load};
use usage::{Processes, Usage};
use votes::{Mix, MixPoll, NewVoters};

/// The machine's cores, for "at most so many requests a second".
const CORES: f64 = 2.0;

/// The settings the bench gives the replicas; every other one is at its default.
///
/// `SSE_FRAMES_PER_SECOND`: three replicas, nginx and the generator share two cores here, where
/// a frame costs the machine about 40 µs; each replica's share of what it can deliver is
/// about 10,000 frames/s, not the default's 20,000 for a replica with a core of its own.
/// Above what the machine delivers, viewers fall behind instead of getting slower bars.
const SETTINGS: &[(&str, &str)] = &[("RATE_LIMIT", "off"), ("SEED_DEMO", "true"), ("SSE_FRAMES_PER_SECOND", "10000")];

/// The cluster this run started (stopped when dropped), the rows measured so far, and
/// what went wrong.
struct Bench {
    cluster: Cluster,
    /// Where the bench's own files go (the null nginx, pgbench's script).
    dir: PathBuf,
    seconds: f64,
    rows: Vec<[String; 5]>,
    problems: Vec<String>,
    /// Viewers opened so far: each viewer of the bench has its own source address and port.
    viewers: usize,
}

impl Bench {
    fn base(&self) -> u16 {
        self.cluster.port()
    }

    fn row(&mut self, what: &str, measured: String, compared: String, cpu: String, note: String) {
        println!("  {what}: {measured} ({compared}) {note}\n    CPU per request: {cpu}");
        self.rows.push([what.to_owned(), measured, compared, cpu, note]);
    }

    /// A load's row: rate, latency, CPU per request, failures.
    fn load_row<C>(&mut self, what: &str, run: &Run<C>, note: &str) {
        let failed = if run.failed > 0 { format!("{} failed; ", run.failed) } else { String::new() };
        self.row(
            what,
            format!("{:.0}/s", run.rate()),
            run.latency(),
            run.usage.cell(run.ok, CORES),
            format!("{failed}{note}"),
        );
    }

    fn replica_pids(&self) -> Vec<u32> {
        (1..=3).filter_map(|n| self.cluster.pid(&format!("replica-{n}"))).collect()
    }

    /// The cluster's processes by part, as they are now (replicas restart). On the scaled
    /// topology `postgres` is the primary, and the standby, PgBouncer and the Redis
    /// Cluster's nodes are parts too.
    fn processes(&self) -> Processes {
        let one = |name: &str| self.cluster.pid(name).into_iter().collect::<Vec<_>>();
        let mut parts = vec![
            ("nginx".into(), one("nginx")),
            ("replicas".into(), self.replica_pids()),
            ("postgres".into(), one("postgres")),
        ];
        if self.cluster.topology() == "scaled" {
            parts.push(("standby".into(), one("standby")));
            parts.push(("pgbouncer".into(), one("pgbouncer")));
            let nodes =
                self.cluster.redis_nodes().iter().filter_map(|p| self.cluster.pid(&format!("redis-{p}"))).collect();
            parts.push(("redis".into(), nodes));
        } else {
            parts.push(("redis".into(), one("redis")));
        }
        Processes::new(parts)
    }

    /// Resident memory of the replicas and of nginx (master and workers), in KiB.
    fn memory(&self) -> (u64, u64) {
        let replicas = self.replica_pids().into_iter().map(rss_kib).sum();
        let nginx = self.cluster.pid("nginx").map_or(0, |master| usage::tree(master).into_iter().map(rss_kib).sum());
        (replicas, nginx)
    }

    /// A poll of its own for a run: its id and option ids.
    async fn poll(&self) -> Result<MixPoll> {
        let body = r#"{"question":"Bench?","theme":"Sports","options":[{"text":"A"},{"text":"B"},{"text":"C"}]}"#;
        let response = http(self.base(), "POST", "/api/polls", Some(body), None).await?;
        let body = response.split_once("\r\n\r\n").map(|(_, b)| b).context("a body")?;
        let json: serde_json::Value =
            serde_json::from_str(body).with_context(|| format!("a created poll: {response}"))?;
        let id = json["id"].as_i64().context("the poll's id")?;
        let options =
            json["options"].as_array().context("its options")?.iter().filter_map(|o| o["id"].as_i64()).collect();
        Ok(MixPoll { id, options })
    }

    /// nginx reloaded with `workers` worker processes: each may hold only as many sockets as
    /// the open-file limit, two per viewer it serves.
    async fn nginx_workers(&self, workers: usize) -> Result<()> {
        let conf = self.cluster.logs_dir().join("nginx/nginx.conf");
        let text = std::fs::read_to_string(&conf)?;
        let text: Vec<String> = text
            .lines()
            .map(|l| if l.starts_with("worker_processes") { format!("worker_processes {workers};") } else { l.into() })
            .collect();
        std::fs::write(&conf, text.join("\n"))?;
        let errors = self.cluster.logs_dir().join("nginx-error.log");
        let reload = std::process::Command::new("nginx")
            .arg("-c")
            .arg(&conf)
            .arg("-e")
            .arg(errors)
            .args(["-s", "reload"])
            .output()?;
        anyhow::ensure!(reload.status.success(), "nginx reload: {}", String::from_utf8_lossy(&reload.stderr));
        let master = self.cluster.pid("nginx").context("nginx's pid")?;
        for _ in 0..100 {
            if usage::tree(master).len() == workers + 1 {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        anyhow::bail!("nginx did not come back with {workers} workers")
    }

    /// Restarts every replica (SIGTERM, drain, start): fresh processes for memory figures.
    async fn fresh_replicas(&self) {
        for n in 1..=3 {
            self.cluster.run("stop-replica", &n.to_string()).await;
            self.cluster.run("start-replica", &n.to_string()).await;
        }
    }

    /// The writer's batches so far over all replicas: (ballots, transactions).
    async fn batches(&self) -> (f64, f64) {
        let [ballots, transactions] =
            self.metrics(["votestream_vote_batch_size_sum", "votestream_vote_batch_size_count"]).await;
        (ballots, transactions)
    }

    /// The series `names` of every replica's `/metrics`, each summed over the replicas.
    async fn metrics<const N: usize>(&self, names: [&str; N]) -> [f64; N] {
        let mut total = [0.0; N];
        for n in 1..=3 {
            let Ok(text) = http(self.cluster.replica_port(n), "GET", "/metrics", None, None).await else { continue };
            for line in text.lines() {
                let mut parts = line.split_whitespace();
                let (Some(name), Some(value)) = (parts.next(), parts.next().and_then(|v| v.parse::<f64>().ok())) else {
                    continue;
                };
                if let Some(i) = names.iter().position(|wanted| *wanted == name) {
                    total[i] += value;
                }
            }
        }
        total
    }
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

/// One request on a fresh connection; the whole response.
async fn http(port: u16, method: &str, path: &str, body: Option<&str>, cookie: Option<&str>) -> Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
    let body = body.unwrap_or("");
    let cookie = cookie.map_or(String::new(), |c| format!("Cookie: {c}\r\n"));
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{cookie}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
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

fn stop_null_nginx(dir: &std::path::Path) {
    if let Ok(pid) = std::fs::read_to_string(dir.join("nginx.pid")) {
        let _ = Command::new("kill").arg(pid.trim()).status();
    }
}

/// pgbench: transactions per second of `script`, `clients` at a time.
fn pgbench(bench: &Bench, script: &str, clients: usize) -> Result<(f64, Usage)> {
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
    let processes = bench.processes();
    let before = processes.sample();
    let out = run(command, "pgbench")?;
    let usage = processes.sample().since(&before);
    let tps = out.lines().find(|l| l.starts_with("tps")).and_then(|l| l.split_whitespace().nth(2)).context("tps")?;
    Ok((tps.parse()?, usage))
}

/// New voters on one poll, `connections` at a time on `ports` in turn; checked voter by
/// voter. The rate.
async fn single_poll_votes(bench: &mut Bench, ports: &[u16], through: &str, connections: usize) -> Result<f64> {
    let poll = bench.poll().await?;
    let clients = (0..connections).map(|i| (ports[i % ports.len()], NewVoters::on(poll.id))).collect();
    let run = load(clients, bench.seconds, &bench.processes()).await;
    let told_yes: HashSet<(i64, String)> =
        run.clients.iter().flat_map(|c| c.told_yes.iter().map(|v| (poll.id, v.clone()))).collect();
    let unanswered = run.clients.iter().map(|c| c.unanswered).sum();
    let problems = votes::differences(&bench.cluster.database_url(), &[poll.id], (&told_yes, &[]), unanswered).await?;
    let check =
        if problems.is_empty() { "acknowledged = stored, voter by voter".to_owned() } else { problems.join("; ") };
    bench.problems.extend(problems.into_iter().map(|p| format!("votes {through} c{connections}: {p}")));
    bench.load_row(&format!("votes/s, one poll, {through}, c{connections}"), &run, &check);
    Ok(run.rate())
}

/// The mix over `polls` through nginx, checked voter by voter. The rate of requests.
async fn mixed_votes(bench: &mut Bench, polls: Arc<Vec<MixPoll>>, connections: usize) -> Result<f64> {
    let clients = (0..connections).map(|i| (bench.base(), Mix::new(polls.clone(), i as u64))).collect();
    let run = load(clients, bench.seconds, &bench.processes()).await;
    let mut told_yes = HashSet::new();
    let mut told_already = Vec::new();
    let mut wrong = Vec::new();
    let mut unanswered = 0;
    for client in &run.clients {
        told_yes.extend(client.told_yes.iter().cloned());
        told_already.extend(client.told_already.iter().cloned());
        wrong.extend(client.wrong.iter().cloned());
        unanswered += client.unanswered;
    }
    let ids: Vec<i64> = polls.iter().map(|p| p.id).collect();
    let mut problems =
        votes::differences(&bench.cluster.database_url(), &ids, (&told_yes, &told_already), unanswered).await?;
    // A repeat told yes, a second yes for one ballot, a refusal nobody earned: each is wrong.
    if !wrong.is_empty() {
        let first: Vec<&String> = wrong.iter().take(5).collect();
        problems.push(format!("{} answers a user should not get, such as {first:?}", wrong.len()));
    }
    let check = if problems.is_empty() {
        format!("{} votes and {} refused repeats, stored as told, voter by voter", told_yes.len(), told_already.len())
    } else {
        problems.join("; ")
    };
    bench.problems.extend(problems.into_iter().map(|p| format!("mixed votes: {p}")));
    bench.load_row(&format!("mixed requests/s, {} polls, nginx, c{connections}", polls.len()), &run, &check);
    Ok(run.rate())
}

/// `request` from `connections` connections on `ports` in turn. The rate.
async fn reads(bench: &mut Bench, what: &str, request: &Request, ports: &[u16], through: &str) -> f64 {
    let clients = (0..64).map(|i| (ports[i % ports.len()], Fixed(request.clone()))).collect();
    let run = load(clients, bench.seconds, &bench.processes()).await;
    bench.load_row(&format!("{what}, {through}, c64"), &run, "");
    run.rate()
}

/// Fresh replicas, then `viewers` on the stream through nginx and `votes` (count, interval
/// between sends): latency from send, memory per viewer. Returns the memory added
/// (replicas, nginx).
async fn fan_out(
    bench: &mut Bench,
    viewers: usize,
    stream: Stream,
    votes: (usize, Duration),
    target: &str,
) -> Result<(f64, f64)> {
    bench.fresh_replicas().await;
    let poll = bench.poll().await?;
    let before = bench.memory();
    let mut after = before;
    let every = votes.1.as_millis();
    let processes = bench.processes();
    let seen = fanout::run(bench.base(), poll.id, stream, (viewers, bench.viewers), votes, &processes, async || {
        after = bench.memory()
    })
    .await?;
    bench.viewers += viewers;
    let replicas = after.0.saturating_sub(before.0) as f64;
    let nginx = after.1.saturating_sub(before.1) as f64;
    if seen.delivered < seen.votes {
        bench
            .problems
            .push(format!("fan-out to {viewers}: {} of {} votes reached every viewer", seen.delivered, seen.votes));
    }
    bench.row(
        &format!("vote (from send) → last of {viewers} viewers, {stream:?} stream through nginx"),
        format!("p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms", seen.percentile(0.5), seen.percentile(0.99), seen.percentile(1.0)),
        target.into(),
        format!("per frame delivered ({} frames): {}", seen.frames, seen.usage.cell(seen.frames, CORES)),
        format!(
            "{}/{} votes reached all {viewers}, a vote every {every} ms (each viewer's pause: the 100 ms throttle, or its share of SSE_FRAMES_PER_SECOND per replica); fresh replicas {:.1} KiB/viewer, nginx {:.1} KiB/viewer (kernel socket buffers not counted)",
            seen.delivered,
            seen.votes,
            replicas / viewers as f64,
            nginx / viewers as f64
        ),
    );
    Ok((replicas, nginx))
}

/// The vote writer's statements for one batch of `:batch` new voters on poll `:poll`
/// (option `:option`, theme `:theme`), as pgbench runs them: the database's ceiling for
/// the same work.
const WRITER_BATCH: &str = "
begin;
select id, closed_at is null and (closes_at is null or closes_at > 0), max_choices, protection, theme_id from polls where id in (:poll) order by id;
select id, poll_id, text from options where id in (:option);
with b as (insert into ballots (poll_id, voter_key, guard_key)
             select :poll, v, v from (select md5(random()::text || clock_timestamp()::text || g::text) v from generate_series(1, :batch) g) s
             on conflict do nothing returning id)
insert into votes (ballot_id, poll_id, option_id) select id, :poll, :option from b;
select id, closed_at is null and (closes_at is null or closes_at > 0), max_choices, protection, theme_id from polls where id in (:poll) order by id for no key update;
update options set votes = votes + :batch where id = :option;
update polls set voters = voters + :batch where id = :poll;
update themes set vote_count = vote_count + :batch where id = :theme;
insert into poll_minutes (poll_id, minute, votes) values (:poll, floor(extract(epoch from now()) / 60)::bigint, :batch)
    on conflict (poll_id, minute) do update set votes = poll_minutes.votes + excluded.votes returning poll_id, minute, votes;
select p.id, o.id, o.votes from polls p join options o on o.poll_id = p.id where p.id in (:poll) order by p.id, o.position;
commit;
";

/// Whether `BENCH_ONLY` (comma-separated parts; unset: all) asks for `part`.
fn wanted(part: &str) -> bool {
    std::env::var("BENCH_ONLY").map_or(true, |only| only.split(',').any(|p| p.trim() == part))
}

/// A row comparing two rates measured in this run (none when either part was not run).
fn ratio(bench: &mut Bench, what: &str, value: f64, target: &str) {
    if value.is_finite() {
        bench.row(what, format!("{value:.3}"), target.into(), String::new(), String::new());
    }
}

/// nginx proxying to a do-nothing upstream, c64 and c256: the c64 rate.
async fn ceilings(bench: &mut Bench) -> Result<f64> {
    println!("ceilings");
    let (null, null_port) = null_nginx(bench)?;
    let null_processes = Processes::new(vec![(
        "nginx".into(),
        std::fs::read_to_string(null.join("nginx.pid"))?.trim().parse().into_iter().collect(),
    )]);
    let mut ceiling = f64::NAN;
    for c in [64, 256] {
        let clients = (0..c).map(|_| (null_port, Fixed(Request::get("/")))).collect();
        let run = load(clients, bench.seconds, &null_processes).await;
        if c == 64 {
            ceiling = run.rate();
        }
        bench.load_row(&format!("nginx → upstream doing nothing, c{c}"), &run, "the proxy's ceiling");
    }
    stop_null_nginx(&null);
    Ok(ceiling)
}

/// New voters on one poll, direct and through nginx, c64 and c256; then pgbench running
/// the writer's batch at the size the nginx c64 run formed.
async fn vote_rows(bench: &mut Bench, ceiling: f64) -> Result<()> {
    println!("votes");
    let replicas: Vec<u16> = (1..=3).map(|n| bench.cluster.replica_port(n)).collect();
    let nginx = [bench.base()];
    let d64 = single_poll_votes(bench, &replicas, "three replicas direct", 64).await?;
    let (ballots_before, batches_before) = bench.batches().await;
    let n64 = single_poll_votes(bench, &nginx, "nginx, three replicas", 64).await?;
    let (ballots_after, batches_after) = bench.batches().await;
    let mean_batch = ((ballots_after - ballots_before) / (batches_after - batches_before).max(1.0)).max(1.0);
    let d256 = single_poll_votes(bench, &replicas, "three replicas direct", 256).await?;
    let n256 = single_poll_votes(bench, &nginx, "nginx, three replicas", 256).await?;

    println!("the database's ceiling for the same work");
    let target = bench.poll().await?;
    let mut connection = sqlx::PgConnection::connect(&bench.cluster.database_url()).await?;
    let (theme,): (i64,) =
        sqlx::query_as("select theme_id from polls where id = $1").bind(target.id).fetch_one(&mut connection).await?;
    let batch = mean_batch.round() as u64;
    let script = WRITER_BATCH
        .replace(":poll", &target.id.to_string())
        .replace(":option", &target.options[0].to_string())
        .replace(":theme", &theme.to_string())
        .replace(":batch", &batch.to_string());
    let (tps, usage) = pgbench(bench, &script, 3)?;
    let rows = tps * batch as f64;
    bench.row(
        &format!("PostgreSQL, the writer's batch of {batch} ballots (pgbench, 3 clients: one writer per replica)"),
        format!("{rows:.0} ballots/s"),
        format!("{tps:.0} transactions/s"),
        usage.cell(rows as u64 * bench.seconds as u64, CORES),
        format!("{batch} = the mean batch of the nginx c64 run"),
    );
    ratio(bench, "votes through nginx / proxy ceiling, one poll, c64", n64 / ceiling, "target ≥ 0.2 (aim 0.3)");
    ratio(bench, "votes through nginx / the database's ceiling for the same work", n64 / rows, "target ≥ 0.5");
    ratio(bench, "votes c256 / c64, direct", d256 / d64, "target ≥ 1");
    ratio(bench, "votes c256 / c64, through nginx", n256 / n64, "target ≥ 1");
    Ok(())
}

/// The realistic mix over 1,000 new polls through nginx.
async fn mix_rows(bench: &mut Bench, ceiling: f64) -> Result<()> {
    println!("a realistic mix of votes");
    let mut polls = Vec::new();
    for _ in 0..1000 {
        polls.push(bench.poll().await?);
    }
    let mixed = mixed_votes(bench, Arc::new(polls), 64).await?;
    ratio(bench, "mixed requests through nginx / proxy ceiling, c64", mixed / ceiling, "target ≥ 0.15");
    Ok(())
}

/// Pages: a poll's for a new visitor and a returning voter (also gzipped), a theme's,
/// the results fragment; direct over the three replicas and through nginx. The poll read.
async fn read_rows(bench: &mut Bench, ceiling: f64) -> Result<i64> {
    println!("reads");
    let replicas: Vec<u16> = (1..=3).map(|n| bench.cluster.replica_port(n)).collect();
    let nginx = [bench.base()];
    let poll = bench.poll().await?;
    // A returning voter: one who has voted on this poll (the page then looks up the ballot).
    let voted =
        http(bench.base(), "POST", &format!("/api/polls/{}/vote", poll.id), Some(r#"{"choice": 0}"#), None).await?;
    let cookie = voted
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: ").or_else(|| l.strip_prefix("Set-Cookie: ")))
        .and_then(|c| c.split(';').next())
        .context("the voter cookie")?
        .to_owned();
    let page = Request::get(format!("/polls/{}", poll.id));
    let returning = page.clone().with(COOKIE, &cookie);
    let gzip = returning.clone().with(ACCEPT_ENCODING, "gzip");
    reads(bench, "poll page, new visitor", &page, &replicas, "three replicas direct").await;
    reads(bench, "poll page, new visitor", &page, &nginx, "nginx").await;
    reads(bench, "poll page, returning voter", &returning, &replicas, "three replicas direct").await;
    let returning_nginx = reads(bench, "poll page, returning voter", &returning, &nginx, "nginx").await;
    reads(bench, "poll page, returning voter, gzip", &gzip, &nginx, "nginx").await;
    let theme = Request::get("/themes/sports");
    reads(bench, "theme page", &theme, &replicas, "three replicas direct").await;
    reads(bench, "theme page", &theme, &nginx, "nginx").await;
    let fragment = Request::get(format!("/polls/{}/results", poll.id));
    reads(bench, "results fragment", &fragment, &replicas, "three replicas direct").await;
    reads(bench, "results fragment", &fragment, &nginx, "nginx").await;
    ratio(bench, "poll page through nginx, returning voter / proxy ceiling", returning_nginx / ceiling, "target ≥ 0.3");
    Ok(poll.id)
}

/// Fan-out to 1,000 and 10,000 viewers on the HTML stream and 1,000 on the JSON one, and
/// the memory slope between the two HTML runs.
async fn fanout_rows(bench: &mut Bench) -> Result<()> {
    println!("live fan-out");
    let throttled = (200, Duration::from_millis(50));
    let small = fan_out(bench, 1_000, Stream::Html, throttled, "").await?;
    let large = fan_out(bench, 10_000, Stream::Html, throttled, "target p99 ≤ 150 ms").await?;
    fan_out(bench, 1_000, Stream::Json, throttled, "").await?;
    // A minute at one vote a second to 50,000 viewers, or as many as three replicas may hold
    // sockets for (one per viewer). nginx holds two per viewer: enough workers for them
    // under the open-file limit, spread by reuseport.
    let limit = open_files_limit();
    let most = 50_000.min(3 * limit.saturating_sub(2_000) / 1_000 * 1_000);
    if most >= 10_000 {
        bench.nginx_workers((2 * most).div_ceil(limit * 7 / 10).max(2)).await?;
        let target = "target: 50,000 held, every vote delivered";
        fan_out(bench, most, Stream::Html, (60, Duration::from_secs(1)), target).await?;
    } else {
        bench.problems.push(format!("the open-file limit ({limit}) allows no large audience: run `ulimit -n` higher"));
    }
    idle_connections(bench).await?;
    bench.row(
        "memory per idle viewer, slope from 1,000 to 10,000",
        format!("{:.1} KiB replicas", (large.0 - small.0) / 9_000.0),
        "target ≤ 10 KiB".into(),
        String::new(),
        format!("nginx {:.1} KiB beside it", (large.1 - small.1) / 9_000.0),
    );
    Ok(())
}

/// What a replica keeps for any kept-alive connection that has answered one request and
/// waits (hyper's read and write buffers, its task), stream or not: the floor under a
/// viewer's memory. Slope from 1,000 to 5,000 connections on a fresh replica, direct.
async fn idle_connections(bench: &mut Bench) -> Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    bench.fresh_replicas().await;
    let (port, pid) = (bench.cluster.replica_port(1), bench.replica_pids()[0]);
    let mut held = Vec::new();
    let mut rss = Vec::new();
    for count in [1_000, 5_000] {
        while held.len() < count {
            let mut connection = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
            connection.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await?;
            let mut answer = [0u8; 1024];
            let read = connection.read(&mut answer).await?;
            anyhow::ensure!(answer[..read].starts_with(b"HTTP/1.1 200"), "healthz refused");
            held.push(connection);
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        rss.push(rss_kib(pid));
    }
    let slope = rss[1].saturating_sub(rss[0]) as f64 / 4_000.0;
    bench.row(
        "memory per idle kept-alive connection, slope from 1,000 to 5,000",
        format!("{slope:.1} KiB in the replica"),
        "the floor under a viewer's memory".into(),
        String::new(),
        "one request (GET /healthz) answered, then idle: what hyper keeps for any open connection; one replica direct"
            .into(),
    );
    Ok(())
}

/// This process's open-file limit (soft), from `/proc/self/limits`; 1,024 if unreadable.
fn open_files_limit() -> usize {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let line = limits.lines().find(|l| l.starts_with("Max open files")).unwrap_or_default();
    line.split_whitespace().nth(3).and_then(|n| n.parse().ok()).unwrap_or(1_024)
}

/// Every part `BENCH_ONLY` asks for (all when unset): ceilings, votes, mix, reads, large,
/// fanout; `topology` only when asked for.
async fn measure(bench: &mut Bench) -> Result<()> {
    if std::env::var("BENCH_ONLY").is_ok_and(|only| only.split(',').any(|p| p.trim() == "topology")) {
        topology::rows(bench).await?;
    }
    let ceiling = if wanted("ceilings") { ceilings(bench).await? } else { f64::NAN };
    if wanted("votes") {
        vote_rows(bench, ceiling).await?;
    }
    if wanted("mix") {
        mix_rows(bench, ceiling).await?;
    }
    if wanted("reads") || wanted("large") {
        let poll = read_rows(bench, ceiling).await?;
        if wanted("large") && std::env::var("BENCH_LARGE").map_or(true, |v| v != "0") {
            large_data(bench, poll).await?;
        }
    }
    if wanted("fanout") {
        fanout_rows(bench).await?;
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("viewers") {
        return fanout::group(&args[1..]).await;
    }
    let root = cluster::root().canonicalize()?;
    let seconds: f64 = std::env::var("BENCH_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(10.0);
    let dir = root.join("target/bench");
    println!("starting the cluster (logs in {})", dir.display());
    // `BENCH_TOPOLOGY=scaled`: the standby, PgBouncer and the Redis Cluster too.
    let topology = if std::env::var("BENCH_TOPOLOGY").is_ok_and(|t| t == "scaled") { "scaled" } else { "single" };
    let cluster =
        Cluster::start_topology_in(dir.clone(), false, topology, root.join("target/release/votestream"), 3, SETTINGS)
            .await;
    let mut bench =
        Bench { cluster, dir: dir.join("bench"), seconds, rows: Vec::new(), problems: Vec::new(), viewers: 0 };
    std::fs::create_dir_all(&bench.dir)?;
    let settings: Vec<String> = SETTINGS.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let header = format!(
        "Replicas: {}, with DATABASE_URL, REDIS_URL, BIND_ADDR, REPLICA_NAME, TRUSTED_PROXIES=127.0.0.1/32 and a shared COOKIE_KEY from deploy/cluster.sh; every other setting at its default (README, Configuration), nothing from the caller's environment or .env. {CORES} cores; loads of {seconds} s.",
        settings.join(" ")
    );
    println!("{header}\ncluster on 127.0.0.1:{}", bench.base());
    // The cluster stops when `bench` is dropped, whatever happened.
    let measured = measure(&mut bench).await;
    println!();
    println!("{header}\n");
    println!("| measure | result | compared | CPU µs per request, by process | note |");
    println!("|---|---|---|---|---|");
    for [what, result, compared, cpu, note] in &bench.rows {
        println!("| {what} | {result} | {compared} | {cpu} | {note} |");
    }
    measured?;
    if !bench.problems.is_empty() {
        eprintln!("\nWRONG: what was stored or delivered differs from what was acknowledged:");
        for problem in &bench.problems {
            eprintln!("  {problem}");
        }
        std::process::exit(1);
    }
    Ok(())
}
/// 100,000 polls and 10,000,000 votes loaded straight into the database (bulk SQL, foreign
/// keys checked once by construction), then the same pages again, p50 and p99.
async fn large_data(bench: &mut Bench, poll: i64) -> Result<()> {
    println!("large data: the pages on the demo data first, with and without the page memory");
    let before = page_latencies(bench, poll).await;
    let before_uncached = without_page_memory(bench, async |bench| page_latencies(bench, poll).await).await;
    println!("large data: loading 100,000 polls and 10,000,000 votes");
    let started = Instant::now();
    let mut connection = sqlx::PgConnection::connect(&bench.cluster.database_url()).await?;
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
        -- Every bench poll's 100 votes over 10 minutes; and one poll voted on every minute of
        -- a day, 1,000 votes a minute: the longest timeline a page draws.
        insert into poll_minutes (poll_id, minute, votes)
             select bp.id, 29000000 + m, 10 from bench_polls bp cross join generate_series(0, 9) m;
        insert into polls (theme_id, question, voters)
             select id, 'Bench day-long timeline', 1440000 from themes where slug = 'sports';
        insert into options (poll_id, position, text, votes)
             select p.id, k, 'Option ' || k, case k when 0 then 720000 when 1 then 432000 else 288000 end
               from polls p cross join generate_series(0, 2) k where p.question = 'Bench day-long timeline';
        insert into poll_minutes (poll_id, minute, votes)
             select p.id, 29000000 + m, 1000 from polls p cross join generate_series(0, 1439) m
              where p.question = 'Bench day-long timeline';
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
    let data = format!("{} polls, {} votes", polls.0, votes.0);
    compare_pages(bench, &before, &after, &data, "page memory and Redis on");
    // Page 50 of a theme: never kept in the page memory (only first pages are), so the
    // database path; no demo theme has 50 pages, so against the demo's first page read
    // the same way, without the page memory.
    let (after_id,): (i64,) = sqlx::query_as(
        "select id from polls where theme_id = (select id from themes where slug = 'sports') order by id limit 1 offset 979",
    )
    .fetch_one(&mut connection)
    .await?;
    let deep = page_run(bench, &format!("/themes/sports?after={after_id}")).await;
    let first = before_uncached.iter().find(|(name, _, _)| *name == "theme page").map_or((f64::NAN, f64::NAN), |p| p.2);
    bench.row(
        &format!("theme page 50 with {data}"),
        format!("p50 {:.1} ms, p99 {:.1} ms", deep.0, deep.1),
        format!(
            "{:.2}× / {:.2}× the demo data's first page p50 / p99 without the page memory (target p99 ≤ 2×)",
            deep.0 / first.0,
            deep.1 / first.1
        ),
        String::new(),
        format!("/themes/sports?after={after_id}, one replica, c64"),
    );
    // The database path itself, against the demo data's: without the page memory.
    let uncached = without_page_memory(bench, async |bench| page_latencies(bench, poll).await).await;
    compare_pages(
        bench,
        &before_uncached,
        &uncached,
        &data,
        "page memory and cache off (READ_FRESH_MS=0, CACHE_TTL_SECS=0) on both",
    );
    timeline_pages(bench, &mut connection, &data).await?;
    println!("large data: the vote path again");
    single_poll_votes(bench, &[bench.base()], "nginx, on the large data", 64).await?;
    Ok(())
}

/// The timeline's cost: a poll page drawing a day of minutes (1,440 rows read, 60 bars)
/// against a bench poll's page drawing 10 minutes, both on the database path.
async fn timeline_pages(bench: &mut Bench, connection: &mut sqlx::PgConnection, data: &str) -> Result<()> {
    let (long,): (i64,) = sqlx::query_as("select id from polls where question = 'Bench day-long timeline'")
        .fetch_one(&mut *connection)
        .await?;
    let (short,): (i64,) =
        sqlx::query_as("select id from polls where question = 'Bench poll 5000'").fetch_one(&mut *connection).await?;
    let mut sizes = Vec::new();
    for id in [long, short] {
        let path = format!("/polls/{id}/results");
        let response = http(bench.cluster.replica_port(1), "GET", &path, None, None).await?;
        sizes.push(response.split_once("\r\n\r\n").map_or(0, |(_, body)| body.len()));
    }
    let (day, ten) = without_page_memory(bench, async |bench| {
        (page_run(bench, &format!("/polls/{long}")).await, page_run(bench, &format!("/polls/{short}")).await)
    })
    .await;
    bench.row(
        &format!("poll page with a day-long timeline (1,440 minutes) with {data}"),
        format!("p50 {:.1} ms, p99 {:.1} ms", day.0, day.1),
        format!(
            "{:.2}× / {:.2}× the p50 / p99 of a poll page with 10 minutes of timeline (p50 {:.1} ms)",
            day.0 / ten.0,
            day.1 / ten.1,
            ten.0
        ),
        String::new(),
        format!(
            "database path (page memory and cache off), one replica, c64; results fragment {} bytes against {}",
            sizes[0], sizes[1]
        ),
    );
    Ok(())
}

/// `measure` on replicas restarted without their page memory (`READ_FRESH_MS=0`), then
/// the replicas restarted as they were. Polls are not cached in Redis either
/// (`CACHE_TTL_SECS=0`): the database path itself.
async fn without_page_memory<T>(bench: &mut Bench, measure: impl AsyncFnOnce(&Bench) -> T) -> T {
    bench.cluster.set_env("READ_FRESH_MS", Some("0"));
    bench.cluster.set_env("CACHE_TTL_SECS", Some("0"));
    bench.fresh_replicas().await;
    let measured = measure(bench).await;
    bench.cluster.set_env("READ_FRESH_MS", None);
    bench.cluster.set_env("CACHE_TTL_SECS", None);
    bench.fresh_replicas().await;
    measured
}

/// One row per page: its p50 and p99 on the large data against the demo data's.
fn compare_pages(bench: &mut Bench, demo: &[PageTimes], large: &[PageTimes], data: &str, caches: &str) {
    for ((name, path, demo), (_, _, large)) in demo.iter().zip(large) {
        bench.row(
            &format!("{name} with {data}, {caches}"),
            format!("p50 {:.1} ms, p99 {:.1} ms", large.0, large.1),
            format!("{:.2}× / {:.2}× the demo data's p50 / p99 (target p99 ≤ 2×)", large.0 / demo.0, large.1 / demo.1),
            String::new(),
            format!("{path}, one replica, c64"),
        );
    }
}

/// A page's name, path and (p50, p99) in milliseconds.
type PageTimes = (&'static str, String, (f64, f64));

/// `path` at c64 on one replica: (p50, p99) in milliseconds.
async fn page_run(bench: &Bench, path: &str) -> (f64, f64) {
    let port = bench.cluster.replica_port(1);
    let clients = (0..64).map(|_| (port, Fixed(Request::get(path)))).collect();
    let run = load(clients, (bench.seconds / 2.0).max(2.0), &bench.processes()).await;
    (run.percentile(0.5), run.percentile(0.99))
}

/// The pages a visitor reads, at c64 on one replica.
async fn page_latencies(bench: &Bench, poll: i64) -> Vec<PageTimes> {
    let pages = [
        ("home page", "/".to_owned()),
        ("theme page", "/themes/sports".to_owned()),
        ("poll page", format!("/polls/{poll}")),
        ("results fragment", format!("/polls/{poll}/results")),
        ("API poll list", "/api/polls?theme=Sports&active=true".to_owned()),
    ];
    let mut measured = Vec::new();
    for (name, path) in pages {
        let times = page_run(bench, &path).await;
        measured.push((name, path, times));
    }
    measured
}
