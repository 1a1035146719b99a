//! Cluster tests: the real nginx (`deploy/nginx.conf`) in front of three replicas on a
//! PostgreSQL and a Redis of their own, started by `deploy/cluster.sh` as `just cluster`
//! does. One cluster at a time (they are heavy for a small machine).

#![allow(clippy::unwrap_used)]

use votestream_harness as support;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use futures::future::join_all;
use reqwest::StatusCode;
use support::ballots::Answer;
use support::cluster::Cluster;
use support::sse::SseClient;
use tokio::sync::Mutex;

const WAIT: Duration = Duration::from_secs(20);

/// Held by each test for its whole run.
static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// A client with no cookies: each request is a new voter.
fn voter() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(15)).build().unwrap()
}

/// One vote by a new voter through `base`: the voter id and the replica when acknowledged,
/// what came back otherwise.
async fn vote(base: &str, poll: i64, option: i64) -> Result<(String, String), String> {
    let url = format!("{base}/api/polls/{poll}/vote");
    match support::ballots::cast(&voter(), &url, &serde_json::json!({ "option_id": option })).await {
        Answer::Acknowledged { voter, replica } => Ok((voter, replica)),
        other => Err(format!("{other:?}")),
    }
}

/// Every acknowledged voter has exactly one ballot; any other stored voter is one whose
/// answer was lost in `unanswered` (a killed replica, a closed connection: neither yes nor
/// no); every counter equals its vote rows.
async fn assert_each_stored_once(cluster: &Cluster, poll: i64, acknowledged: &[String], unanswered: usize) {
    let url = cluster.database_url();
    let stored = support::ballots_by_voter(&url, poll).await;
    for voter in acknowledged {
        assert_eq!(stored.get(voter), Some(&1), "acknowledged voter {voter} stored exactly once");
    }
    assert!(stored.values().all(|n| *n == 1), "no voter twice");
    let acknowledged: HashSet<&String> = acknowledged.iter().collect();
    let unacknowledged = stored.keys().filter(|voter| !acknowledged.contains(voter)).count();
    assert!(
        unacknowledged <= unanswered,
        "{unacknowledged} stored voters were never acknowledged, more than the {unanswered} votes left unanswered"
    );
    assert_eq!(support::counters_out_of_step(&url, poll).await, 0, "every counter equals its vote rows");
}

#[tokio::test]
async fn votes_spread_over_every_replica_and_viewers_see_votes_from_all_of_them() {
    let _one = ONE_AT_A_TIME.lock().await;
    let cluster = Cluster::start(env!("CARGO_BIN_EXE_votestream"), 3, &[]).await;
    let (poll, options) = cluster.new_poll().await;
    let mut viewer = SseClient::connect(&format!("{}/api/polls/{poll}/stream", cluster.url), None).await;
    assert_eq!(viewer.status, StatusCode::OK);
    assert_eq!(viewer.next_event(WAIT).await.unwrap().json()["total"], 0);

    let votes = (0..60).map(|i| {
        let url = cluster.url.clone();
        let option = options[i % 3];
        async move { vote(&url, poll, option).await }
    });
    let results = join_all(votes).await;

    let acknowledged: Vec<(String, String)> = results.into_iter().map(|r| r.unwrap()).collect();
    let replicas: HashSet<&str> = acknowledged.iter().map(|(_, replica)| replica.as_str()).collect();
    assert_eq!(replicas, HashSet::from(["replica-1", "replica-2", "replica-3"]), "nginx spread the votes");
    let event = viewer.until(WAIT, "all 60 votes, from every replica", |e| e.json()["total"] == 60).await;
    assert_eq!(event.json()["options"][0]["votes"], 20);
    let voters: Vec<String> = acknowledged.into_iter().map(|(v, _)| v).collect();
    assert_each_stored_once(&cluster, poll, &voters, 0).await;

    // Votes straight to each replica reach the viewer on nginx too.
    for n in 1..=3 {
        vote(&cluster.replica_url(n), poll, options[0]).await.unwrap();
    }
    viewer.until(WAIT, "the three direct votes", |e| e.json()["total"] == 63).await;
}

#[tokio::test]
async fn nginx_passes_the_request_id_compresses_pages_not_streams_and_keeps_fingerprinted_assets() {
    let _one = ONE_AT_A_TIME.lock().await;
    // Every request logged, not one in a hundred: this one must be.
    let cluster = Cluster::start(env!("CARGO_BIN_EXE_votestream"), 2, &[("LOG_REQUESTS_EVERY", "1")]).await;
    let client = reqwest::Client::new();

    let home = client.get(&cluster.url).header("accept-encoding", "gzip").send().await.unwrap();
    assert_eq!(home.headers()["content-encoding"], "gzip");
    let request_id = home.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(request_id.len(), 32, "nginx's $request_id, passed to the app and back: {request_id}");
    // Both write their line once the response has gone out: wait for it.
    let read = |name: &str| std::fs::read_to_string(cluster.logs_dir().join(name)).unwrap_or_default();
    support::eventually("nginx logs the request id", WAIT, async || {
        read("nginx-access.log").contains(&format!("rid={request_id}"))
    })
    .await;
    support::eventually("the replica that answered logs it too", WAIT, async || {
        (1..=2).any(|n| read(&format!("replica-{n}.log")).contains(&request_id))
    })
    .await;

    let (poll, _) = cluster.new_poll().await;
    let stream = client
        .get(format!("{}/polls/{poll}/events", cluster.url))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    assert!(stream.headers().get("content-encoding").is_none(), "event streams are never compressed");
    drop(stream);

    let page = client.get(&cluster.url).send().await.unwrap().text().await.unwrap();
    let css = page.split("href=\"").find(|s| s.starts_with("/assets/app.css?v=")).unwrap().split('"').next().unwrap();
    let asset = client.get(format!("{}{css}", cluster.url)).header("accept-encoding", "gzip").send().await.unwrap();
    assert_eq!(asset.headers()["cache-control"], "public, max-age=31536000, immutable");
    assert_eq!(asset.headers()["content-encoding"], "gzip");

    let manage = client.get(format!("{}/polls/{poll}/manage/{}", cluster.url, "a".repeat(64))).send().await.unwrap();
    assert_eq!(manage.status(), StatusCode::FORBIDDEN);
    support::eventually("the manage request logged", WAIT, async || {
        read("nginx-access.log").contains("/manage/REDACTED")
    })
    .await;
    assert!(!read("nginx-access.log").contains(&"a".repeat(64)), "manage keys stay out of the log");
}

#[tokio::test]
async fn killing_a_replica_under_load_loses_no_acknowledged_vote_and_viewers_catch_up() {
    let _one = ONE_AT_A_TIME.lock().await;
    let cluster = Cluster::start(env!("CARGO_BIN_EXE_votestream"), 3, &[]).await;
    let (poll, options) = cluster.new_poll().await;
    let stop = Arc::new(AtomicBool::new(false));
    let total = Arc::new(std::sync::atomic::AtomicI64::new(-1));
    let stream_url = format!("{}/api/polls/{poll}/stream", cluster.url);

    let sent = Arc::new(AtomicUsize::new(0));
    let workers = (0..8).map(|w| {
        let (url, sent, options) = (cluster.url.clone(), sent.clone(), options.clone());
        tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            let mut failed = 0;
            for i in 0..50 {
                sent.fetch_add(1, Ordering::SeqCst);
                match vote(&url, poll, options[(w + i) % 3]).await {
                    Ok((voter, _)) => acknowledged.push(voter),
                    Err(_) => failed += 1,
                }
            }
            (acknowledged, failed)
        })
    });
    let workers: Vec<_> = workers.collect();
    let viewers: Vec<_> =
        (0..6).map(|_| tokio::spawn(follow_until(stream_url.clone(), total.clone(), stop.clone()))).collect();
    support::eventually("a third of the load sent", WAIT, async || sent.load(Ordering::SeqCst) >= 130).await;

    cluster.kill_replica(2);

    let mut acknowledged = Vec::new();
    let mut failed = 0;
    for worker in workers {
        let (a, f) = worker.await.unwrap();
        acknowledged.extend(a);
        failed += f;
    }
    eprintln!("kill -9 under load: sent 400, acknowledged {}, failed {failed}", acknowledged.len());
    assert!(acknowledged.len() >= 300, "nginx routed around the dead replica: {} of 400", acknowledged.len());
    assert_each_stored_once(&cluster, poll, &acknowledged, failed).await;
    let stored = cluster.scalar(&format!("select count(*) from ballots where poll_id = {poll}")).await;
    total.store(stored, Ordering::SeqCst);
    stop.store(true, Ordering::SeqCst);
    for viewer in viewers {
        let seen = tokio::time::timeout(Duration::from_secs(30), viewer).await.expect("viewer caught up").unwrap();
        assert_eq!(seen, stored, "every viewer ends on the true tally");
    }
}

/// A viewer through nginx that reconnects (with `Last-Event-ID`) whenever its stream ends,
/// as EventSource does, until it holds the total stored (known only at the end).
async fn follow_until(url: String, total: Arc<std::sync::atomic::AtomicI64>, stop: Arc<AtomicBool>) -> i64 {
    let mut last: Option<String> = None;
    let mut seen = -1;
    loop {
        let mut stream = SseClient::connect(&url, last.as_deref()).await;
        if stream.status == StatusCode::OK {
            while let Some(event) = stream.next_event(Duration::from_secs(2)).await {
                last = event.id.clone();
                seen = event.json()["total"].as_i64().unwrap();
                if stop.load(Ordering::SeqCst) && seen == total.load(Ordering::SeqCst) {
                    return seen;
                }
            }
        } else {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        if stop.load(Ordering::SeqCst) && seen == total.load(Ordering::SeqCst) {
            return seen;
        }
    }
}

/// Waits until 50 more votes have been acknowledged than when called.
async fn load_moves_on(so_far: &AtomicUsize) {
    let from = so_far.load(Ordering::SeqCst);
    support::eventually("50 more votes acknowledged", WAIT, async || {
        let now = so_far.load(Ordering::SeqCst);
        if now >= from + 50 { Ok(()) } else { Err(now - from) }
    })
    .await;
}

/// Waits until nginx sends a request to replica `n` again (it names itself in `X-Replica`).
async fn nginx_routes_to(cluster: &Cluster, n: usize) {
    let wanted = format!("replica-{n}");
    let client = voter();
    support::eventually(&format!("nginx routing to {wanted} again"), WAIT, async || {
        let answered = client.get(format!("{}/stats", cluster.url)).send().await;
        let by = answered.ok().and_then(|r| r.headers().get("x-replica").map(|v| v.to_str().unwrap_or("").to_owned()));
        if by.as_deref() == Some(wanted.as_str()) { Ok(()) } else { Err(by) }
    })
    .await;
}

#[tokio::test]
async fn a_rolling_restart_under_load_fails_no_read_and_loses_no_vote() {
    let _one = ONE_AT_A_TIME.lock().await;
    let cluster = Cluster::start(env!("CARGO_BIN_EXE_votestream"), 3, &[]).await;
    let (poll, options) = cluster.new_poll().await;
    let done = Arc::new(AtomicBool::new(false));
    let votes_so_far = Arc::new(AtomicUsize::new(0));

    let readers: Vec<_> = (0..4)
        .map(|_| {
            let (url, done) = (format!("{}/polls/{poll}", cluster.url), done.clone());
            tokio::spawn(async move {
                let client = voter();
                let (mut ok, mut failed) = (0, Vec::new());
                while !done.load(Ordering::SeqCst) && ok < 20_000 {
                    match client.get(&url).send().await {
                        Ok(r) if r.status() == StatusCode::OK => ok += 1,
                        Ok(r) => failed.push(r.status().to_string()),
                        Err(e) => failed.push(e.to_string()),
                    }
                }
                (ok, failed)
            })
        })
        .collect();
    let voters: Vec<_> = (0..4)
        .map(|w| {
            let (url, done, options, so_far) =
                (cluster.url.clone(), done.clone(), options.clone(), votes_so_far.clone());
            tokio::spawn(async move {
                let (mut acknowledged, mut failed) = (Vec::new(), Vec::new());
                let mut i = 0;
                while !done.load(Ordering::SeqCst) && i < 5_000 {
                    match vote(&url, poll, options[(w + i) % 3]).await {
                        Ok((voter, _)) => {
                            acknowledged.push(voter);
                            so_far.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(e) => failed.push(e),
                    }
                    i += 1;
                }
                (acknowledged, failed)
            })
        })
        .collect();

    // One replica at a time, under load (votes acknowledged since the last step), each back
    // and answering through nginx again before the next goes.
    for n in 1..=3 {
        load_moves_on(&votes_so_far).await;
        cluster.run("stop-replica", &n.to_string()).await;
        cluster.run("start-replica", &n.to_string()).await;
        nginx_routes_to(&cluster, n).await;
    }
    load_moves_on(&votes_so_far).await;
    done.store(true, Ordering::SeqCst);

    let (mut reads, mut failed_reads) = (0, Vec::new());
    for reader in readers {
        let (ok, failed) = reader.await.unwrap();
        reads += ok;
        failed_reads.extend(failed);
    }
    let (mut acknowledged, mut failed_votes) = (Vec::new(), Vec::new());
    for voter in voters {
        let (a, f) = voter.await.unwrap();
        acknowledged.extend(a);
        failed_votes.extend(f);
    }
    eprintln!(
        "rolling restart: {reads} reads, {} failed; {} votes acknowledged, {} failed ({:?})",
        failed_reads.len(),
        acknowledged.len(),
        failed_votes.len(),
        failed_votes.iter().take(3).collect::<Vec<_>>()
    );
    assert!(failed_reads.is_empty(), "no failed read: {:?}", &failed_reads[..failed_reads.len().min(5)]);
    assert!(reads > 100 && acknowledged.len() > 100, "the load ran throughout");
    assert_each_stored_once(&cluster, poll, &acknowledged, failed_votes.len()).await;
    cluster.wait_all_ready().await;
}

#[tokio::test]
async fn twice_up_says_so_and_down_stops_exactly_what_up_started() {
    let _one = ONE_AT_A_TIME.lock().await;
    let cluster = Cluster::start(env!("CARGO_BIN_EXE_votestream"), 2, &[]).await;
    let pids: Vec<u32> = (1..=2).map(|n| cluster.replica_pid(n)).collect();

    let again = cluster.up_again().await;
    assert!(again.contains("already up"), "{again}");
    assert_eq!((1..=2).map(|n| cluster.replica_pid(n)).collect::<Vec<_>>(), pids, "nothing restarted");

    cluster.run("down", "").await;
    for pid in pids {
        assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists(), "replica {pid} stopped");
    }
    assert!(reqwest::get(&cluster.url).await.is_err(), "nginx stopped");
}
