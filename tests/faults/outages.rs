//! PostgreSQL and Redis going away and coming back under a running vote load.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::load::{BREAKERS, Progress, assert_stored_as_told, vote_load};
use crate::support::postgres::OwnPg;
use crate::support::redis::OwnRedis;
use crate::support::sse::SseClient;
use crate::support::{TestApp, eventually, spawn_replica};

const WAIT: Duration = Duration::from_secs(30);

async fn readyz(app: &TestApp) -> (StatusCode, Value) {
    let response = reqwest::get(app.url("/readyz")).await.unwrap();
    (response.status(), response.json().await.unwrap())
}

/// Two replicas on one database and one Redis, a demo poll, where to vote on it on each,
/// and a JSON viewer of it on each.
struct Scene {
    a: TestApp,
    b: TestApp,
    poll: i64,
    vote_urls: Vec<String>,
    viewers: Vec<SseClient>,
}

async fn two_replicas(database_url: &str, redis: &OwnRedis) -> Scene {
    let prefix = format!("fault{:x}", rand::random::<u32>());
    let mut env = vec![
        ("REDIS_URL", redis.url()),
        ("REDIS_PREFIX", prefix),
        ("COOKIE_KEY", crate::support::SHARED_COOKIE_KEY.to_owned()),
    ];
    env.extend(BREAKERS.iter().map(|(k, v)| (*k, (*v).to_owned())));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let a = spawn_replica(database_url, &[&env[..], &[("REPLICA_NAME", "a")]].concat()).await;
    let b = spawn_replica(database_url, &[&env[..], &[("REPLICA_NAME", "b")]].concat()).await;
    let poll = a.first_poll("Sports").await;
    let vote_urls = [&a, &b].map(|app| app.url(&format!("/api/polls/{poll}/vote"))).to_vec();
    let mut viewers = Vec::new();
    for app in [&a, &b] {
        viewers.push(SseClient::connect(&app.url(&format!("/polls/{poll}/events?format=json")), None).await);
    }
    Scene { a, b, poll, vote_urls, viewers }
}

#[tokio::test]
async fn postgres_stopped_under_load_pauses_voting_honestly_and_loses_nothing() {
    let pg = OwnPg::start();
    let mut redis = OwnRedis::start(crate::support::free_port()).await;
    let database_url = pg.server().fresh_database().await;
    let Scene { a, b, poll, vote_urls: urls, mut viewers } = two_replicas(&database_url, &redis).await;
    a.get(&format!("/polls/{poll}")).await; // a page read, so its last good copy exists
    let form_option = a.poll_options(poll).await[1].to_string();
    let stop = Arc::new(AtomicBool::new(false));
    let progress = Arc::new(Progress::default());
    let load = tokio::spawn(vote_load(urls, stop.clone(), progress.clone()));
    progress.acknowledges(20).await;

    pg.stop();
    let down = eventually("the database breaker open", WAIT, async || {
        let (status, body) = readyz(&a).await;
        if status == StatusCode::SERVICE_UNAVAILABLE && body["breakers"]["database"] != "closed" {
            Ok(body)
        } else {
            Err(body)
        }
    })
    .await;
    let page = a.get(&format!("/polls/{poll}")).await;
    let vote = a.post_json(&format!("/api/polls/{poll}/vote"), &json!({ "choice": 0 })).await;
    let form_vote = a.post_form(&format!("/polls/{poll}/votes"), &[("option", &form_option)]).await;
    progress.refuses(8).await;
    pg.restart();
    let restarted = Instant::now();
    eventually("the replicas ready again", WAIT, async || {
        readyz(&a).await.0 == StatusCode::OK && readyz(&b).await.0 == StatusCode::OK
    })
    .await;
    let recovered = restarted.elapsed();
    let (_, after) = readyz(&b).await;
    progress.acknowledges(20).await;
    stop.store(true, Ordering::SeqCst);
    let outcome = load.await.unwrap();
    let stored = assert_stored_as_told(&database_url, poll, &outcome).await;
    println!(
        "postgres outage: votes sent {}, acknowledged {}, refused 503 {} and {} more after a timeout, stored {stored}; \
         ready {:.1} s after restart",
        outcome.sent,
        outcome.acknowledged.len(),
        outcome.refused.len(),
        outcome.uncertain.len(),
        recovered.as_secs_f64()
    );

    assert_eq!(down["database"], "down");
    assert_eq!(page.status, StatusCode::OK, "the poll page renders from the last good copy");
    assert!(page.body.contains("voting is paused"), "and says voting is paused");
    assert!(page.texts(".choice").is_empty(), "with no ballot to press");
    assert_eq!(vote.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(vote.header("retry-after").parse::<u64>().unwrap() >= 1);
    assert!(vote.json()["error"].as_str().unwrap().contains("nothing was saved"));
    assert_eq!(form_vote.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(form_vote.is_full_document() && form_vote.body.contains("nothing was saved"));
    assert_eq!(after["breakers"]["database"], "closed", "the breaker closed by itself");
    assert!(outcome.unexpected.is_empty(), "every vote acknowledged or a clear 503: {:?}", outcome.unexpected);
    assert!(!outcome.refused.is_empty() || !outcome.uncertain.is_empty(), "the outage was felt");
    assert!(!outcome.acknowledged.is_empty());
    SseClient::all_reach(&mut viewers, i64::try_from(stored).unwrap(), WAIT).await;
    redis.stop().await;
}

#[tokio::test]
async fn redis_stopped_under_load_keeps_votes_and_live_results_flowing() {
    let mut redis = OwnRedis::start(crate::support::free_port()).await;
    let database_url = crate::support::postgres::server().fresh_database().await;
    let Scene { a, b, poll, vote_urls: urls, mut viewers } = two_replicas(&database_url, &redis).await;
    a.wait_until_subscribed_on(poll, &redis).await;
    b.wait_until_subscribed_on(poll, &redis).await;
    let stop = Arc::new(AtomicBool::new(false));
    let progress = Arc::new(Progress::default());
    let load = tokio::spawn(vote_load(urls.clone(), stop.clone(), progress.clone()));
    progress.acknowledges(20).await;

    redis.stop().await;
    let opened = eventually("the Redis breaker open", WAIT, async || {
        let (status, body) = readyz(&a).await;
        if body["breakers"]["redis"] != "closed" { Ok((status, body)) } else { Err(body) }
    })
    .await;
    // While Redis is away: votes go on; then pause the load, and both viewers still reach
    // the true tally.
    progress.acknowledges(20).await;
    stop.store(true, Ordering::SeqCst);
    let during = load.await.unwrap();
    let stored_during = assert_stored_as_told(&database_url, poll, &during).await;
    SseClient::all_reach(&mut viewers, i64::try_from(stored_during).unwrap(), WAIT).await;
    let port = redis.port;
    redis = OwnRedis::start(port).await;
    let restarted = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let load = tokio::spawn(vote_load(urls, stop.clone(), progress.clone()));
    eventually("the Redis breakers closed again", WAIT, async || {
        readyz(&a).await.1["breakers"]["redis"] == "closed" && readyz(&b).await.1["breakers"]["redis"] == "closed"
    })
    .await;
    let recovered = restarted.elapsed();
    a.wait_until_subscribed_on(poll, &redis).await;
    b.wait_until_subscribed_on(poll, &redis).await;
    progress.acknowledges(20).await;
    stop.store(true, Ordering::SeqCst);
    let mut told = load.await.unwrap();
    told.sent += during.sent;
    told.acknowledged.extend(during.acknowledged);
    told.unexpected.extend(during.unexpected);
    let stored = assert_stored_as_told(&database_url, poll, &told).await;
    println!(
        "redis outage: votes sent {}, acknowledged {}, stored {stored}; breakers closed {:.1} s after restart",
        told.sent,
        told.acknowledged.len(),
        recovered.as_secs_f64()
    );

    assert_eq!(opened.0, StatusCode::OK, "Redis away does not take a replica out");
    assert!(told.unexpected.is_empty(), "{:?}", told.unexpected);
    assert!(
        told.refused.is_empty() && during.refused.is_empty() && told.uncertain.is_empty(),
        "votes commit without Redis"
    );
    assert_eq!(stored, told.acknowledged.len(), "exactly the acknowledged voters are stored");
    SseClient::all_reach(&mut viewers, i64::try_from(stored).unwrap(), WAIT).await;
}
