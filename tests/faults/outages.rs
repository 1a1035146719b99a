//! PostgreSQL and Redis going away and coming back under a running vote load.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::postgres::OwnPg;
use crate::support::redis::OwnRedis;
use crate::support::sse::SseClient;
use crate::support::{TestApp, eventually, spawn_replica};

const WAIT: Duration = Duration::from_secs(30);
/// The load stops by itself after this many votes or this long, whichever comes first.
const MAX_VOTES: usize = 3_000;
const MAX_LOAD: Duration = Duration::from_secs(90);

/// Quick breakers, so a test sees them open and close in seconds.
const BREAKERS: &[(&str, &str)] = &[
    ("DB_TIMEOUT_MS", "1000"),
    ("DB_ACQUIRE_TIMEOUT_MS", "1000"),
    ("DB_BREAKER_COOLDOWN_MS", "500"),
    ("REDIS_TIMEOUT_MS", "300"),
    ("REDIS_BREAKER_COOLDOWN_MS", "500"),
];

/// What the load saw.
#[derive(Debug, Default)]
struct Outcome {
    sent: usize,
    acknowledged: usize,
    refused_503: usize,
    /// Of those, answered after a call timed out: "may or may not have been saved".
    uncertain: usize,
    /// Anything else: a wrong status, a 503 without its JSON and Retry-After, a lost connection.
    unexpected: Vec<String>,
}

/// Votes without cookies (each one a new voter), alternating between the replicas, four at
/// a time, until `stop` is set (or the bounds are reached).
async fn vote_load(urls: Vec<String>, stop: Arc<AtomicBool>) -> Outcome {
    let started = Instant::now();
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let mut outcome = Outcome::default();
    let mut n = 0;
    while !stop.load(Ordering::SeqCst) && outcome.sent < MAX_VOTES && started.elapsed() < MAX_LOAD {
        let batch: Vec<_> = (0..4)
            .map(|i| {
                let url = urls[(n + i) % urls.len()].clone();
                let client = client.clone();
                async move { client.post(url).json(&json!({ "choice": (n + i) % 2 })).send().await }
            })
            .collect();
        n += 4;
        for result in futures::future::join_all(batch).await {
            outcome.sent += 1;
            match result {
                Ok(response) if response.status() == StatusCode::OK => outcome.acknowledged += 1,
                Ok(response) if response.status() == StatusCode::SERVICE_UNAVAILABLE => {
                    let retry = response.headers().contains_key("retry-after");
                    let body: Value = response.json().await.unwrap_or_default();
                    // "nothing was saved", or after a timed-out call "may or may not have been
                    // saved": either way a 503 is no acknowledgement.
                    let said = body["error"].as_str().unwrap_or_default();
                    if retry && said.contains("nothing was saved") {
                        outcome.refused_503 += 1;
                    } else if retry && said.contains("may or may not") {
                        outcome.refused_503 += 1;
                        outcome.uncertain += 1;
                    } else {
                        outcome.unexpected.push(format!("503 without its words or Retry-After: {body}"));
                    }
                }
                Ok(response) => outcome.unexpected.push(format!("{}: {:?}", response.status(), response.text().await)),
                Err(error) => outcome.unexpected.push(format!("transport: {error}")),
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    outcome
}

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

/// Both viewers end on `total`.
async fn viewers_reach(viewers: &mut [SseClient], total: i64) {
    for viewer in viewers {
        viewer.until(WAIT, &format!("the true tally {total}"), |e| e.json()["total"] == total).await;
    }
}

#[tokio::test]
async fn postgres_stopped_under_load_pauses_voting_honestly_and_loses_nothing() {
    let pg = OwnPg::start();
    let mut redis = OwnRedis::start(crate::support::postgres::free_port()).await;
    let database_url = pg.server().fresh_database().await;
    let Scene { a, b, poll, vote_urls: urls, mut viewers } = two_replicas(&database_url, &redis).await;
    a.get(&format!("/polls/{poll}")).await; // a page read, so its last good copy exists
    let form_option = a.poll_options(poll).await[1].to_string();
    let stop = Arc::new(AtomicBool::new(false));
    let load = tokio::spawn(vote_load(urls, stop.clone()));
    tokio::time::sleep(Duration::from_secs(1)).await;

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
    tokio::time::sleep(Duration::from_secs(1)).await;
    pg.restart();
    let restarted = Instant::now();
    eventually("the replicas ready again", WAIT, async || {
        readyz(&a).await.0 == StatusCode::OK && readyz(&b).await.0 == StatusCode::OK
    })
    .await;
    let recovered = restarted.elapsed();
    let (_, after) = readyz(&b).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::SeqCst);
    let outcome = load.await.unwrap();
    let stored = a.scalar("select count(*) from votes").await;
    println!(
        "postgres outage: votes sent {}, acknowledged {}, refused 503 {} ({} after a timeout), stored {stored}; \
         ready {:.1} s after restart",
        outcome.sent,
        outcome.acknowledged,
        outcome.refused_503,
        outcome.uncertain,
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
    assert!(outcome.refused_503 > 0, "the outage was felt");
    assert!(outcome.acknowledged > 0);
    let extra = (stored as usize).saturating_sub(outcome.acknowledged);
    assert!(stored as usize >= outcome.acknowledged, "every acknowledged vote stored");
    assert!(extra <= outcome.uncertain, "no vote refused with 'nothing was saved' was stored");
    assert_eq!(a.counters_out_of_step().await, 0);
    viewers_reach(&mut viewers, stored).await;
    redis.stop().await;
}

#[tokio::test]
async fn redis_stopped_under_load_keeps_votes_and_live_results_flowing() {
    let mut redis = OwnRedis::start(crate::support::postgres::free_port()).await;
    let database_url = crate::support::postgres::server().fresh_database().await;
    let Scene { a, b, poll, vote_urls: urls, mut viewers } = two_replicas(&database_url, &redis).await;
    a.wait_until_subscribed_on(poll, &redis).await;
    b.wait_until_subscribed_on(poll, &redis).await;
    let stop = Arc::new(AtomicBool::new(false));
    let load = tokio::spawn(vote_load(urls.clone(), stop.clone()));
    tokio::time::sleep(Duration::from_secs(1)).await;

    redis.stop().await;
    let opened = eventually("the Redis breaker open", WAIT, async || {
        let (status, body) = readyz(&a).await;
        if body["breakers"]["redis"] != "closed" { Ok((status, body)) } else { Err(body) }
    })
    .await;
    // While Redis is away: pause the load, and both viewers still reach the true tally.
    stop.store(true, Ordering::SeqCst);
    let during = load.await.unwrap();
    let stored_during = a.scalar("select count(*) from votes").await;
    viewers_reach(&mut viewers, stored_during).await;
    let port = redis.port;
    redis = OwnRedis::start(port).await;
    let restarted = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let load = tokio::spawn(vote_load(urls, stop.clone()));
    eventually("the Redis breakers closed again", WAIT, async || {
        readyz(&a).await.1["breakers"]["redis"] == "closed" && readyz(&b).await.1["breakers"]["redis"] == "closed"
    })
    .await;
    let recovered = restarted.elapsed();
    a.wait_until_subscribed_on(poll, &redis).await;
    b.wait_until_subscribed_on(poll, &redis).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::SeqCst);
    let after = load.await.unwrap();
    let stored = a.scalar("select count(*) from votes").await;
    println!(
        "redis outage: votes sent {}, acknowledged {}, stored {stored}; breakers closed {:.1} s after restart",
        during.sent + after.sent,
        during.acknowledged + after.acknowledged,
        recovered.as_secs_f64()
    );

    assert_eq!(opened.0, StatusCode::OK, "Redis away does not take a replica out");
    assert!(
        during.unexpected.is_empty() && after.unexpected.is_empty(),
        "{:?} {:?}",
        during.unexpected,
        after.unexpected
    );
    assert_eq!(during.refused_503 + after.refused_503, 0, "votes commit without Redis");
    assert_eq!(stored as usize, during.acknowledged + after.acknowledged);
    viewers_reach(&mut viewers, stored).await;
}
