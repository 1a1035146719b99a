//! Each fault of the scaled topology under votes and viewers: who was told what against what
//! is stored, voter by voter, and how long until every viewer shows the stored tally.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use reqwest::StatusCode;
use serde_json::json;

use crate::support::cluster::Cluster;
use crate::support::load::{BREAKERS, Outcome, Progress, assert_stored_as_told, vote_load};
use crate::support::sse::SseClient;
use crate::{ONE_AT_A_TIME, WAIT, channel, every_viewer_reaches, page_total, scaled, viewers_on_every_replica};

/// A poll of the test's with a viewer on every replica, and votes running through nginx.
struct Scene {
    cluster: Cluster,
    poll: i64,
    viewers: Vec<SseClient>,
    stop: Arc<AtomicBool>,
    progress: Arc<Progress>,
    load: Option<tokio::task::JoinHandle<Outcome>>,
    /// Voters the test itself had acknowledged on the poll, beside the load's.
    also_acknowledged: Vec<String>,
}

async fn under_load() -> Scene {
    let cluster = scaled(3, BREAKERS).await;
    cluster.wait_standbys("reading").await;
    let (poll, _) = cluster.new_poll().await;
    let viewers = viewers_on_every_replica(&cluster, poll).await;
    let stop = Arc::new(AtomicBool::new(false));
    let progress = Arc::new(Progress::default());
    let urls = vec![format!("{}/api/polls/{poll}/vote", cluster.url)];
    let load = tokio::spawn(vote_load(urls, stop.clone(), progress.clone()));
    progress.acknowledges(20).await;
    Scene { cluster, poll, viewers, stop, progress, load: Some(load), also_acknowledged: Vec::new() }
}

impl Scene {
    /// Stops the votes, checks what is stored in `database_url` against what each voter was
    /// told, waits for every viewer to show it, and prints the run's figures.
    async fn settle(&mut self, fault: &str, database_url: &str, fault_at: Instant) -> Outcome {
        self.stop.store(true, Ordering::SeqCst);
        let mut outcome = self.load.take().expect("settled once").await.unwrap();
        outcome.sent += self.also_acknowledged.len();
        outcome.acknowledged.extend(self.also_acknowledged.drain(..));
        let stored = assert_stored_as_told(database_url, self.poll, &outcome).await;
        let settled = every_viewer_reaches(&mut self.viewers, stored).await;
        println!(
            "{fault}: votes sent {}, acknowledged {}, refused 503 \"nothing was saved\" {}, 503 \"may or may not\" {}, \
             stored {stored}; every viewer on the stored tally {:.1} s after the votes stopped ({:.1} s after the fault)",
            outcome.sent,
            outcome.acknowledged.len(),
            outcome.refused.len(),
            outcome.uncertain.len(),
            settled.as_secs_f64(),
            fault_at.elapsed().as_secs_f64(),
        );
        assert!(outcome.unexpected.is_empty(), "every vote acknowledged or a clear 503: {:?}", outcome.unexpected);
        outcome
    }
}

#[tokio::test]
async fn a_redis_cluster_master_killed_under_votes_hands_its_shard_to_its_replica_and_viewers_follow() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mut scene = under_load().await;
    let (cluster, poll) = (&scene.cluster, scene.poll);
    let master = cluster.redis_master_of(&channel(poll)).await;

    let killed = Instant::now();
    cluster.run("kill-redis-node", &master.to_string()).await;
    // Votes while the shard has no master, then none: no later vote's update may carry the
    // tally to the viewers; each replica's database polling must.
    scene.progress.acknowledges(20).await;
    let database_url = cluster.database_url();
    let outcome =
        scene.settle("redis cluster master killed, votes stopped during the gap", &database_url, killed).await;
    assert!(outcome.refused.is_empty() && outcome.uncertain.is_empty(), "votes never wait for Redis");

    let promoted = crate::support::eventually("the master's replica promoted", WAIT, async || {
        let owner = scene.cluster.redis_master_of(&channel(poll)).await;
        if owner == master { Err(owner) } else { Ok(owner) }
    })
    .await;
    let replicas = i64::try_from(scene.cluster.replicas).unwrap();
    crate::support::eventually("every replica subscribed again, on the promoted master", WAIT, async || {
        let n = scene.cluster.shard_subscribers(promoted, &channel(poll)).await;
        if n == replicas { Ok(()) } else { Err(n) }
    })
    .await;
    println!(
        "redis master {master} killed: its replica {promoted} took over and every replica subscribed there {:.1} s later",
        killed.elapsed().as_secs_f64()
    );
    // Through the promoted master now: one more vote reaches the viewer on every replica.
    let vote = reqwest::Client::new()
        .post(format!("{}/api/polls/{poll}/vote", scene.cluster.url))
        .json(&json!({ "choice": 1 }))
        .send()
        .await
        .unwrap();
    assert_eq!(vote.status(), StatusCode::OK);
    let total = vote.json::<serde_json::Value>().await.unwrap()["results"]["total"].as_i64().unwrap();
    every_viewer_reaches(&mut scene.viewers, usize::try_from(total).unwrap()).await;
}

#[tokio::test]
async fn the_read_standby_stopped_then_lagging_sends_pages_to_the_primary_and_a_voter_sees_their_vote() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mut scene = under_load().await;
    let (cluster, poll) = (&scene.cluster, scene.poll);

    let stopped = Instant::now();
    cluster.run("stop-standby", "").await;
    // Pages at once, before any replica has noticed: each read the standby cannot answer
    // is answered by the primary, and the database's breaker stays closed.
    let reads = (0..30).map(|i| {
        let url = format!("{}/themes/sports?after={}", cluster.replica_url(i % 3 + 1), i);
        async move { reqwest::get(url).await.map(|r| r.status()) }
    });
    for status in futures::future::join_all(reads).await {
        assert!(matches!(status, Ok(StatusCode::OK)), "a page while the standby stops: {status:?}");
    }
    cluster.wait_standbys("down").await;
    for n in 1..=cluster.replicas {
        assert_eq!(crate::readyz(&cluster.replica_url(n)).await["breakers"]["database"], "closed");
    }
    let theme = reqwest::get(format!("{}/themes/sports", cluster.url)).await.unwrap();
    assert_eq!(theme.status(), StatusCode::OK, "lists read the primary while the standby is down");
    let voter = voter_sees_their_vote(cluster, poll).await;
    scene.also_acknowledged.push(voter);

    cluster.run("start-standby", "").await;
    cluster.wait_standbys("reading").await;
    cluster.run("pause-standby", "").await;
    // The votes go on: the standby receives them but replays none.
    cluster.wait_standbys("lagging").await;
    let voter = voter_sees_their_vote(cluster, poll).await;
    scene.also_acknowledged.push(voter);
    // Lists read the primary too while the standby lags: a poll created now shows in its
    // theme (after the page memory's second), which the standby has not replayed.
    let question = format!("Created while the standby lags {:x}?", rand::random::<u32>());
    let body = json!({ "question": question, "theme": "Sports", "options": [{ "text": "Yes" }, { "text": "No" }] });
    let created = reqwest::Client::new().post(format!("{}/api/polls", cluster.url)).json(&body).send().await.unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let id = created.json::<serde_json::Value>().await.unwrap()["id"].as_i64().unwrap();
    crate::support::eventually("the new poll listed in its theme on every replica", WAIT, async || {
        let mut listed = 0;
        for n in 1..=cluster.replicas {
            let page =
                reqwest::get(format!("{}/themes/sports?after={}", cluster.replica_url(n), id - 1)).await.unwrap();
            listed += usize::from(page.text().await.unwrap().contains(&question));
        }
        if listed == cluster.replicas { Ok(()) } else { Err(listed) }
    })
    .await;
    cluster.run("resume-standby", "").await;
    cluster.wait_standbys("reading").await;

    let database_url = cluster.database_url();
    let outcome = scene.settle("read standby stopped, then replay paused", &database_url, stopped).await;
    assert!(outcome.refused.is_empty() && outcome.uncertain.is_empty(), "votes never wait for the standby");
}

/// A new voter votes, then opens the poll on every replica: each page shows a tally that
/// counts their vote. The voter.
async fn voter_sees_their_vote(cluster: &Cluster, poll: i64) -> String {
    let voter = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let answer = voter
        .post(format!("{}/api/polls/{poll}/vote", cluster.url))
        .json(&json!({ "choice": 0 }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let voter_id = crate::support::voter_of(answer.headers()).expect("a voter cookie");
    let acknowledged = answer.json::<serde_json::Value>().await.unwrap()["results"]["total"].as_i64().unwrap();
    for n in 1..=cluster.replicas {
        let page = voter.get(format!("{}/polls/{poll}", cluster.replica_url(n))).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.unwrap();
        assert!(html.contains("You voted"), "replica-{n} shows the voter their ballot");
        let shown = page_total(&html);
        assert!(shown >= acknowledged, "replica-{n} shows {shown}, older than the voter's own vote ({acknowledged})");
    }
    voter_id
}

#[tokio::test]
async fn the_primary_lost_and_its_standby_promoted_behind_pgbouncer_loses_no_acknowledged_vote() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mut scene = under_load().await;
    let lost = Instant::now();
    let cluster = &scene.cluster;
    cluster.run("fail-over", "").await;
    let before = scene.progress.acknowledged.load(Ordering::SeqCst);
    // Voting resumes on the promoted standby, with no replica restarted.
    scene.progress.acknowledges(20).await;
    println!(
        "fail-over: primary stopped, standby promoted and PgBouncer reloaded; 20 more votes acknowledged {:.1} s after \
         the primary went ({before} before)",
        lost.elapsed().as_secs_f64()
    );
    let pids: Vec<u32> = (1..=cluster.replicas).map(|n| cluster.replica_pid(n)).collect();
    let database_url = cluster.standby_url();
    scene.settle("primary lost, standby promoted", &database_url, lost).await;
    let still: Vec<u32> = (1..=scene.cluster.replicas).map(|n| scene.cluster.replica_pid(n)).collect();
    assert_eq!(pids, still, "no replica was restarted");
}

#[tokio::test]
async fn pgbouncer_restarted_under_votes_loses_no_acknowledged_vote() {
    let _one = ONE_AT_A_TIME.lock().await;
    let mut scene = under_load().await;
    let cluster = &scene.cluster;

    let restarted = Instant::now();
    cluster.run("restart-pgbouncer", "").await;
    scene.progress.acknowledges(20).await;
    let database_url = cluster.database_url();
    scene.settle("pgbouncer restarted", &database_url, restarted).await;
}
