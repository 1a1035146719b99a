//! `BENCH_ONLY=topology`: what `deploy/SCALING.md` compares between the two topologies
//! (`BENCH_TOPOLOGY=single`, the default, or `scaled`), one run each: votes/s, page reads
//! on the database path and the primary's CPU per read (on the scaled topology with the
//! standby taking the reads, then with it stopped), the database connections the replicas
//! open and the server connections behind them, and Redis's CPU per published update.

use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result};

use votestream_harness::cluster::{Cluster, Connections};
use votestream_harness::sse::SseClient;

use crate::load::{Fixed, Request, load};
use crate::{Bench, CORES, single_poll_votes, without_page_memory};

/// Updates a replica has published so far.
const PUBLISHED: &str = "votestream_bus_published_total";

/// Reads the primary's part of a load's CPU, in µs per request.
fn primary_us(usage: &crate::usage::Usage, requests: u64) -> f64 {
    let (each, _) = usage.per_request(requests);
    each.iter().find(|(name, _)| name == "postgres").map_or(f64::NAN, |(_, us)| *us)
}

/// Samples the connections every 200 ms until `stop`; the peak of each.
async fn sample_connections(cluster: &Cluster, stop: &std::sync::atomic::AtomicBool) -> Connections {
    let mut peak = Connections::default();
    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
        let now = cluster.connections().await;
        peak.primary = peak.primary.max(now.primary);
        peak.clients = peak.clients.max(now.clients);
        peak.servers = peak.servers.max(now.servers);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    peak
}

/// Page reads on the database path (no page memory, no cache), through nginx at c64:
/// a poll page for a new visitor and a theme page. Rows, the primary's µs per read, and
/// the connections at their peak.
async fn database_reads(bench: &mut Bench, poll: i64, standby: &str) -> (f64, Connections) {
    let (runs, peak) = without_page_memory(bench, async |bench: &Bench| {
        let stop = std::sync::atomic::AtomicBool::new(false);
        let sampling = sample_connections(&bench.cluster, &stop);
        let loads = async {
            let mut runs = Vec::new();
            for (what, path) in [("poll page", format!("/polls/{poll}")), ("theme page", "/themes/sports".to_owned())] {
                let clients = (0..64).map(|_| (bench.base(), Fixed(Request::get(path.clone())))).collect();
                runs.push((what, load(clients, bench.seconds, &bench.processes()).await));
            }
            stop.store(true, std::sync::atomic::Ordering::SeqCst);
            runs
        };
        tokio::join!(loads, sampling)
    })
    .await;
    let (mut requests, mut primary) = (0, 0.0);
    for (what, run) in &runs {
        bench.load_row(
            &format!("{what}, database path, nginx, c64, {standby}"),
            run,
            "READ_FRESH_MS=0, CACHE_TTL_SECS=0",
        );
        requests += run.ok;
        primary += primary_us(&run.usage, run.ok) * run.ok as f64;
    }
    (primary / requests.max(1) as f64, peak)
}

/// CPU seconds every Redis node has used so far (`INFO cpu`, user and system).
fn redis_cpu(ports: &[u16]) -> Result<f64> {
    let mut total = 0.0;
    for port in ports {
        let output = Command::new("redis-cli").args(["-p", &port.to_string(), "info", "cpu"]).output()?;
        let text = String::from_utf8_lossy(&output.stdout);
        for line in text.lines() {
            if let Some((name, value)) = line.trim().split_once(':')
                && (name == "used_cpu_user" || name == "used_cpu_sys")
            {
                total += value.parse::<f64>().context("INFO cpu")?;
            }
        }
    }
    Ok(total)
}

/// A JSON viewer of `poll` on replica `n`, reading until aborted.
fn viewer(bench: &Bench, n: usize, poll: i64) -> tokio::task::JoinHandle<()> {
    let url = format!("{}/api/polls/{poll}/stream", bench.cluster.replica_url(n));
    tokio::spawn(async move {
        let mut viewer = SseClient::connect(&url, None).await;
        while viewer.next_event(Duration::from_secs(3600)).await.is_some() {}
    })
}

/// The rows for this run's topology.
pub async fn rows(bench: &mut Bench) -> Result<()> {
    let scaled = bench.cluster.topology() == "scaled";
    println!("topology: {}", bench.cluster.topology());
    let nginx = [bench.base()];
    single_poll_votes(bench, &nginx, "nginx, three replicas", 64).await?;

    let poll = bench.poll().await?;
    let (with, peak) =
        database_reads(bench, poll.id, if scaled { "the standby taking reads" } else { "one PostgreSQL" }).await;
    if scaled {
        bench.cluster.run("stop-standby", "").await;
        bench.cluster.wait_standbys("down").await;
        let (without, _) = database_reads(bench, poll.id, "standby stopped: the primary takes reads").await;
        bench.cluster.run("start-standby", "").await;
        bench.cluster.wait_standbys("reading").await;
        bench.row(
            "the primary's CPU per page read, database path",
            format!("{with:.0} µs with the standby taking reads"),
            format!("{without:.0} µs with the standby stopped"),
            String::new(),
            "poll and theme pages, nginx c64".into(),
        );
    } else {
        bench.row(
            "the primary's CPU per page read, database path",
            format!("{with:.0} µs"),
            "one PostgreSQL takes every read".into(),
            String::new(),
            "poll and theme pages, nginx c64".into(),
        );
    }

    // Connections at their peak during the reads: the replicas' pools, and what PostgreSQL
    // sees behind them.
    if scaled {
        bench.row(
            "database connections at their peak, page reads at c64",
            format!("{} from the replicas to PgBouncer", peak.clients),
            format!(
                "{} from PgBouncer to PostgreSQL (primary and standby); {} on the primary",
                peak.servers, peak.primary
            ),
            String::new(),
            "DB_MAX_CONNECTIONS=10 per pool: the primary's and the standby's on each replica".into(),
        );
    } else {
        bench.row(
            "database connections at their peak, page reads at c64",
            format!("{} on PostgreSQL", peak.primary),
            "each replica's pool, straight to it".into(),
            String::new(),
            "DB_MAX_CONNECTIONS=10 per replica".into(),
        );
    }

    // Redis: CPU per published update, with a viewer of the poll on every replica.
    let redis_ports: Vec<u16> = if scaled { bench.cluster.redis_nodes() } else { vec![bench.cluster.port() + 2] };
    let target = bench.poll().await?;
    let viewers: Vec<_> = (1..=3).map(|n| viewer(bench, n, target.id)).collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (cpu_before, [published_before]) = (redis_cpu(&redis_ports)?, bench.metrics([PUBLISHED]).await);
    let clients = (0..16).map(|_| (bench.base(), crate::votes::NewVoters::on(target.id))).collect();
    let run = load(clients, bench.seconds, &bench.processes()).await;
    let (cpu_after, [published_after]) = (redis_cpu(&redis_ports)?, bench.metrics([PUBLISHED]).await);
    for viewer in viewers {
        viewer.abort();
    }
    let updates = (published_after - published_before).max(1.0);
    let per_update = (cpu_after - cpu_before) * 1e6 / updates;
    bench.row(
        "Redis CPU per published update",
        format!("{per_update:.1} µs"),
        format!("{updates:.0} updates from {} votes (nginx c16, a viewer on each replica)", run.ok),
        run.usage.cell(run.ok, CORES),
        if scaled {
            "every Redis node's INFO cpu, summed: three masters and their replicas".into()
        } else {
            "INFO cpu of the one Redis".into()
        },
    );
    Ok(())
}
