//! The scaled topology whole: reads on the standby, every connection through PgBouncer,
//! updates inside their shard, the cache spread over the Redis Cluster.

use std::collections::HashSet;

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::json;
use votestream_harness as support;

use crate::{ONE_AT_A_TIME, channel, every_viewer_reaches, scaled, viewers_on_every_replica};

#[tokio::test]
async fn pages_read_the_standby_votes_reach_every_replica_by_their_shard_and_the_cache_spreads() {
    let _one = ONE_AT_A_TIME.lock().await;
    let cluster = scaled(3, &[("DB_READ_MAX_LAG_MS", "600000")]).await;
    cluster.wait_standbys("reading").await;
    let ready = crate::readyz(&cluster.replica_url(1)).await;
    assert_eq!(ready["status"], "ready");
    assert!(ready["standbys"][0]["standby"].as_str().unwrap().ends_with("/votestream_standby"), "{ready}");
    let config = cluster.bouncer_show("config").await;
    let mode = config.iter().find(|row| row["key"] == "pool_mode").expect("PgBouncer's pool_mode");
    assert_eq!(mode["value"], "transaction");

    // Lists come from the standby: with its replay paused (and a lag it may have of ten
    // minutes), a poll created now is not listed in its theme until the standby replays
    // it; the poll's own page, though, is there at once (what a standby lacks, the primary has).
    cluster.run("pause-standby", "").await;
    let client = reqwest::Client::new();
    let question = format!("Listed once the standby has it {:x}?", rand::random::<u32>());
    let body = json!({ "question": question, "theme": "Sports", "options": [{ "text": "Yes" }, { "text": "No" }] });
    let created = client.post(format!("{}/api/polls", cluster.url)).json(&body).send().await.unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let id = created.json::<serde_json::Value>().await.unwrap()["id"].as_i64().unwrap();
    let listed = async |n: usize| {
        let page =
            client.get(format!("{}/themes/sports?after={}", cluster.replica_url(n), id - 1)).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        page.text().await.unwrap().contains(&question)
    };
    for n in 1..=cluster.replicas {
        assert!(!listed(n).await, "replica-{n} lists the theme from the standby, which has not replayed the poll");
        let page = client.get(format!("{}/polls/{id}", cluster.replica_url(n))).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK, "the poll's own page asks the primary what the standby lacks");
    }
    cluster.run("resume-standby", "").await;
    for n in 1..=cluster.replicas {
        support::eventually(&format!("replica-{n} lists the poll once replayed"), crate::WAIT, async || {
            listed(n).await
        })
        .await;
    }

    // Every demo poll's page through nginx, each cached once.
    let polls: Vec<i64> = {
        let list: serde_json::Value =
            client.get(format!("{}/api/polls", cluster.url)).send().await.unwrap().json().await.unwrap();
        list.as_array().unwrap().iter().map(|p| p["id"].as_i64().unwrap()).collect()
    };
    for poll in &polls {
        let page = client.get(format!("{}/polls/{poll}", cluster.url)).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
    }

    // The cached polls spread over the cluster's masters (one key per command, any slot).
    let mut masters_with_keys = HashSet::new();
    for port in cluster.redis_nodes() {
        let client = ::redis::Client::open(format!("redis://127.0.0.1:{port}")).unwrap();
        let mut connection = client.get_multiplexed_async_connection().await.unwrap();
        let role: Vec<::redis::Value> = ::redis::cmd("ROLE").query_async(&mut connection).await.unwrap();
        let is_master = matches!(role.first(), Some(::redis::Value::BulkString(r)) if r == b"master");
        let keys: i64 = ::redis::cmd("DBSIZE").query_async(&mut connection).await.unwrap();
        if is_master && keys > 0 {
            masters_with_keys.insert(port);
        }
    }
    assert!(masters_with_keys.len() >= 2, "cached polls on several masters: {masters_with_keys:?}");

    // Votes from every replica reach viewers on every replica, by the poll's shard only.
    let (poll, options) = cluster.new_poll().await;
    let mut viewers = viewers_on_every_replica(&cluster, poll).await;
    let owner = cluster.redis_master_of(&channel(poll)).await;
    for port in cluster.redis_nodes().into_iter().filter(|p| *p != owner) {
        assert_eq!(cluster.shard_subscribers(port, &channel(poll)).await, 0, "no subscription off the shard ({port})");
    }
    for port in cluster.redis_nodes() {
        assert_eq!(cluster.subscribers(port, &channel(poll)).await, 0, "no ordinary (cluster-wide) subscription");
    }
    let votes = (0..30).map(|i| {
        let url = format!("{}/api/polls/{poll}/vote", cluster.url);
        let option = options[i % 3];
        async move {
            let client = reqwest::Client::new();
            client.post(url).json(&serde_json::json!({ "option_id": option })).send().await.unwrap().status()
        }
    });
    assert!(join_all(votes).await.iter().all(|s| *s == StatusCode::OK));
    every_viewer_reaches(&mut viewers, 30).await;
}

#[tokio::test]
async fn twenty_replicas_of_ten_connections_each_share_a_postgres_of_fifty_through_pgbouncer() {
    let _one = ONE_AT_A_TIME.lock().await;
    // Every page read goes to the database: no page memory, no cache.
    let env = [("DB_MAX_CONNECTIONS", "10"), ("READ_FRESH_MS", "0"), ("CACHE_TTL_SECS", "0")];
    let cluster = scaled(20, &env).await;
    let max_connections =
        cluster.scalar("select cast(setting as bigint) from pg_settings where name = 'max_connections'").await;
    assert_eq!(max_connections, 50);

    // Each replica at once: 12 page reads at a time, three rounds.
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let reads = (1..=cluster.replicas).flat_map(|n| {
            (0..12).map({
                let client = client.clone();
                let base = cluster.replica_url(n);
                move |poll| {
                    let (client, base) = (client.clone(), base.clone());
                    // The demo's ten polls.
                    async move { client.get(format!("{base}/polls/{}", poll % 10 + 1)).send().await.map(|r| r.status()) }
                }
            })
        });
        statuses.extend(join_all(reads).await);
    }
    let connections = cluster.connections().await;
    let (app_clients, servers, open) = (connections.clients, connections.servers, connections.primary);
    println!(
        "20 replicas × DB_MAX_CONNECTIONS=10: {} page reads, {app_clients} client connections to PgBouncer, \
         {servers} server connections from it, {open} on the primary (max_connections {max_connections})",
        statuses.len()
    );
    let failed: Vec<String> = statuses
        .iter()
        .filter(|s| !matches!(s, Ok(StatusCode::OK)))
        .map(|s| match s {
            Ok(status) => status.to_string(),
            Err(error) => format!("{error:?}"),
        })
        .collect();
    assert!(failed.is_empty(), "every page read answered: {} failed, e.g. {:?}", failed.len(), failed.first());
    assert!(
        app_clients > usize::try_from(max_connections).unwrap(),
        "more client connections ({app_clients}) than PostgreSQL would take itself"
    );
}
