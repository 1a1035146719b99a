//! The scaled topology (`CLUSTER_TOPOLOGY=scaled`, as `just cluster` starts it): a
//! PostgreSQL primary and its streaming standby behind PgBouncer, a Redis Cluster of three
//! masters with a replica each, replicas and nginx. What it does when whole, and each of its
//! faults under votes and viewers, told voter by voter. One cluster at a time.

#![allow(clippy::unwrap_used)]

use votestream_harness as support;

mod faults;
mod topology;

use std::time::Duration;

use serde_json::Value;
use support::cluster::Cluster;
use support::sse::SseClient;
use tokio::sync::Mutex;

const WAIT: Duration = Duration::from_secs(30);

/// Held by each test for its whole run.
static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

async fn scaled(replicas: usize, env: &[(&str, &str)]) -> Cluster {
    Cluster::start_scaled(env!("CARGO_BIN_EXE_votestream"), replicas, env).await
}

async fn readyz(base: &str) -> Value {
    reqwest::get(format!("{base}/readyz")).await.unwrap().json().await.unwrap()
}

/// The poll's channel, as the replicas name it.
fn channel(poll: i64) -> String {
    format!("votestream:poll:{poll}")
}

/// A JSON viewer of `poll` on every replica, each subscribed (its replica's sharded
/// subscription made on the master owning the channel).
async fn viewers_on_every_replica(cluster: &Cluster, poll: i64) -> Vec<SseClient> {
    let mut viewers = Vec::new();
    for n in 1..=cluster.replicas {
        let mut viewer = SseClient::connect(&format!("{}/api/polls/{poll}/stream", cluster.replica_url(n)), None).await;
        assert!(viewer.next_event(WAIT).await.is_some(), "replica-{n}'s stream opens with the tally");
        viewers.push(viewer);
    }
    let owner = cluster.redis_master_of(&channel(poll)).await;
    let replicas = i64::try_from(cluster.replicas).unwrap();
    support::eventually("every replica subscribed to the poll's shard", WAIT, async || {
        let n = cluster.shard_subscribers(owner, &channel(poll)).await;
        if n == replicas { Ok(()) } else { Err(n) }
    })
    .await;
    viewers
}

/// Waits until every viewer shows `total`; how long that took.
async fn every_viewer_reaches(viewers: &mut [SseClient], total: usize) -> Duration {
    SseClient::all_reach(viewers, i64::try_from(total).unwrap(), WAIT).await
}

/// The total a poll page shows ("12 votes in total").
fn page_total(html: &str) -> i64 {
    let page = scraper::Html::parse_document(html);
    let total = page.select(&scraper::Selector::parse("p.total").unwrap()).next().expect("the page shows its total");
    let text: String = total.text().collect();
    text.split_whitespace().next().and_then(|n| n.replace(',', "").parse().ok()).unwrap_or_else(|| panic!("{text}"))
}
