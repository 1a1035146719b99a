use std::time::Duration;

use futures::future::join_all;
use reqwest::StatusCode;

use crate::support::redis::{OwnRedis, server, subscribers};
use crate::support::sse::SseClient;
use crate::support::{eventually, new_client, spawn_replicas};

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test]
async fn a_vote_on_one_replica_reaches_a_viewer_on_the_other() {
    let replicas = spawn_replicas(2, &[]).await;
    let (a, b) = (&replicas[0], &replicas[1]);
    let poll = a.first_poll("OnTrend").await;
    let options = a.poll_options(poll).await;
    let mut viewer = SseClient::connect(&b.url(&format!("/polls/{poll}/events?format=json")), None).await;
    assert_eq!(viewer.next_event(WAIT).await.unwrap().json()["total"], 0);
    // B subscribes to the poll's channel shortly after its first viewer arrives.
    b.wait_until_subscribed(poll).await;

    let vote = a.vote(poll, options[2]).await;

    assert_eq!(vote.header("x-replica"), "replica-1");
    assert_eq!(vote.status, StatusCode::SEE_OTHER);
    let event = viewer.until(WAIT, "the vote from replica-1", |e| e.json()["total"] == 1).await;
    assert_eq!(event.json()["options"][2]["votes"], 1);
}

fn redis_client() -> redis::Client {
    redis::Client::open(crate::support::redis::server().url()).unwrap()
}

#[tokio::test]
async fn five_hundred_viewers_on_two_replicas_all_end_on_the_exact_final_tally() {
    let replicas = spawn_replicas(2, &[]).await;
    let poll = replicas[0].first_poll("MoralDilemmas").await;
    let options = replicas[0].poll_options(poll).await;
    let mut viewers = Vec::new();
    for i in 0..500 {
        let replica = &replicas[i % 2];
        viewers.push(SseClient::connect(&replica.url(&format!("/polls/{poll}/events?format=json")), None).await);
    }
    for viewer in &mut viewers {
        assert_eq!(viewer.next_event(WAIT).await.unwrap().json()["total"], 0);
    }
    for replica in &replicas {
        replica.wait_until_subscribed(poll).await;
    }

    let votes = (0..120).map(|i| {
        let replica = &replicas[i % 2];
        let option = options[i % options.len()].to_string();
        async move {
            replica
                .post_form_with(&new_client(), &format!("/polls/{poll}/votes"), &[("option", &option)], &[])
                .await
                .status
        }
    });
    let statuses = join_all(votes).await;
    assert!(statuses.iter().all(|s| *s == StatusCode::SEE_OTHER), "{statuses:?}");

    let finals =
        join_all(viewers.iter_mut().map(|viewer| async move {
            viewer.until(WAIT, "the final tally", |e| e.json()["total"] == 120).await.json()
        }))
        .await;
    // What every viewer ends on is what is stored, option by option.
    let mut stored = Vec::new();
    for option in &options {
        stored.push(
            replicas[0].scalar_text(&format!("select cast(votes as text) from options where id = {option}")).await,
        );
    }
    let stored: Vec<i64> = stored.iter().map(|v| v.parse().unwrap()).collect();
    assert_eq!(stored, [30, 30, 30, 30], "the counters hold every vote");
    for (i, tally) in finals.iter().enumerate() {
        let votes: Vec<i64> =
            tally["options"].as_array().unwrap().iter().map(|o| o["votes"].as_i64().unwrap()).collect();
        assert_eq!(votes, stored, "viewer {i} on replica {} sees the stored tally", i % 2 + 1);
    }
    assert_eq!(replicas[0].counters_out_of_step().await, 0, "every counter equals its vote rows");
}

#[tokio::test]
async fn each_replica_holds_one_redis_subscriber_connection_however_many_viewers() {
    let replicas = spawn_replicas(2, &[]).await;
    let polls = replicas[0].api("/api/polls").await;
    let ids: Vec<i64> = polls.as_array().unwrap().iter().take(4).map(|p| p["id"].as_i64().unwrap()).collect();
    let mut viewers = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        for replica in &replicas {
            for _ in 0..=i {
                let mut viewer =
                    SseClient::connect(&replica.url(&format!("/polls/{id}/events?format=json")), None).await;
                viewer.next_event(WAIT).await.unwrap();
                viewers.push(viewer);
            }
        }
    }
    for replica in &replicas {
        for id in &ids {
            replica.wait_until_subscribed(*id).await;
        }
    }

    for id in &ids {
        let channel = format!("{}:poll:{id}", replicas[0].redis_prefix);
        assert_eq!(
            subscribers(&server().url(), &channel).await,
            2,
            "poll {id}: one subscription per replica, not per viewer"
        );
    }
}

#[tokio::test]
async fn a_stale_or_repeated_update_on_the_bus_never_moves_a_viewer_backwards() {
    let replicas = spawn_replicas(2, &[]).await;
    let (a, b) = (&replicas[0], &replicas[1]);
    let poll = a.first_poll("Sports").await;
    let options = a.poll_options(poll).await;
    let mut viewer = SseClient::connect(&b.url(&format!("/polls/{poll}/events?format=json")), None).await;
    viewer.next_event(WAIT).await.unwrap();
    b.wait_until_subscribed(poll).await;
    for option in [options[0], options[0]] {
        a.post_form_with(&new_client(), &format!("/polls/{poll}/votes"), &[("option", &option.to_string())], &[]).await;
    }
    viewer.until(WAIT, "version 2", |e| e.id.as_deref() == Some("2")).await;

    // An old message arriving late (version 1), then the same state again (version 2).
    let stale = serde_json::json!({ "poll_id": poll, "version": 1, "closed": false,
        "options": [{ "id": options[0], "text": "Yes", "votes": 1 }, { "id": options[1], "text": "No", "votes": 0 }] });
    let mut connection = redis_client().get_multiplexed_async_connection().await.unwrap();
    let channel = format!("{}:poll:{poll}", b.redis_prefix);
    let _: i64 = redis::cmd("PUBLISH").arg(&channel).arg(stale.to_string()).query_async(&mut connection).await.unwrap();
    a.post_form_with(&new_client(), &format!("/polls/{poll}/votes"), &[("option", &options[1].to_string())], &[]).await;

    let next = viewer.next_event(WAIT).await.unwrap();
    assert_eq!(next.id.as_deref(), Some("3"), "the stale update was ignored: {next:?}");
    assert_eq!(next.json()["options"][1]["votes"], 1);
}

#[tokio::test]
async fn with_redis_unreachable_votes_still_commit_and_local_viewers_still_update() {
    let dead = format!("redis://127.0.0.1:{}", crate::support::free_port());
    let app = crate::support::spawn_app_with(crate::support::Backend::Postgres, &[("REDIS_URL", dead.as_str())]).await;
    let poll = app.first_poll("Sports").await;
    let options = app.poll_options(poll).await;
    let mut viewer = SseClient::connect(&app.url(&format!("/polls/{poll}/events?format=json")), None).await;
    viewer.next_event(WAIT).await.unwrap();

    let vote = app.vote(poll, options[1]).await;

    assert_eq!(vote.status, StatusCode::SEE_OTHER, "acknowledged: the vote committed without Redis");
    assert_eq!(app.scalar("select count(*) from votes").await, 1);
    assert_eq!(viewer.until(WAIT, "the vote", |e| e.json()["total"] == 1).await.json()["options"][1]["votes"], 1);
    let page = app.get(&format!("/polls/{poll}")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.texts(".result .count"), ["0 votes · 0%", "1 vote · 100%"]);
}

#[tokio::test]
async fn after_a_redis_restart_replicas_resubscribe_and_catch_up() {
    let port = crate::support::free_port();
    let mut redis_server = OwnRedis::start(port).await;
    let url = format!("redis://127.0.0.1:{port}");
    let database_url = crate::support::fresh_database(crate::support::Backend::Postgres).await;
    let a = crate::support::spawn_replica(&database_url, &[("REDIS_URL", url.as_str())]).await;
    let b = crate::support::spawn_replica(&database_url, &[("REDIS_URL", url.as_str())]).await;
    let poll = a.first_poll("Sports").await;
    let options = a.poll_options(poll).await;
    let channel = format!("votestream:poll:{poll}");
    let mut viewer = SseClient::connect(&b.url(&format!("/polls/{poll}/events?format=json")), None).await;
    viewer.next_event(WAIT).await.unwrap();
    eventually("replica b subscribed", WAIT, async || redis_server.subscribers(&channel).await > 0).await;

    redis_server.stop().await;
    // While Redis is away: the vote commits; b cannot hear of it yet.
    let during = a
        .post_form_with(&new_client(), &format!("/polls/{poll}/votes"), &[("option", &options[0].to_string())], &[])
        .await;
    assert_eq!(during.status, StatusCode::SEE_OTHER);
    let redis_server = OwnRedis::start(port).await;

    let caught_up = viewer.until(WAIT, "the vote cast while Redis was down", |e| e.json()["total"] == 1).await;
    assert_eq!(caught_up.json()["options"][0]["votes"], 1);
    eventually("replica b resubscribed", WAIT, async || redis_server.subscribers(&channel).await > 0).await;
    a.post_form_with(&new_client(), &format!("/polls/{poll}/votes"), &[("option", &options[1].to_string())], &[]).await;
    let live_again = viewer.until(WAIT, "a vote after the restart", |e| e.json()["total"] == 2).await;
    assert_eq!(live_again.json()["options"][1]["votes"], 1);
}

#[tokio::test]
async fn the_owner_closing_on_one_replica_stops_votes_and_shows_viewers_on_the_other_the_final_results() {
    let replicas = spawn_replicas(2, &[]).await;
    let (a, b) = (&replicas[0], &replicas[1]);
    let poll = a.create_poll(serde_json::json!({ "results": "after_close" })).await;
    let votes = format!("/polls/{}/votes", poll.id);
    let mut viewer = SseClient::connect(&b.url(&format!("/polls/{}/events", poll.id)), None).await;
    let first = viewer.until(WAIT, "the first results", |e| e.event == "results").await;
    assert!(first.data.contains("0 have voted") && first.data.contains("when the poll closes"), "{}", first.data);
    b.wait_until_subscribed(poll.id).await;
    let option = poll.options[1].to_string();
    assert_eq!(
        b.post_form_with(&new_client(), &votes, &[("option", &option)], &[]).await.status,
        StatusCode::SEE_OTHER
    );
    let counted = viewer.until(WAIT, "the vote, still withheld", |e| e.data.contains("1 has voted")).await;
    assert!(!counted.data.contains("votes in total"), "{}", counted.data);

    let closing = a.patch_poll(poll.id, &poll.key, &serde_json::json!({ "closed": true })).await;
    assert_eq!(closing.status, StatusCode::OK);

    // The database refuses at once on every replica; no waiting for the bus.
    let late = b.post_form_with(&new_client(), &votes, &[("option", &option)], &[]).await;
    assert_eq!(late.status, StatusCode::CONFLICT);
    let closed = viewer.until(WAIT, "the close", |e| e.event == "closed").await;
    assert!(closed.data.contains("1 vote in total · final results"), "revealed at the close: {}", closed.data);
    assert_eq!(viewer.next_event(WAIT).await, None);
    assert!(viewer.ended(), "the stream ends with the poll");
}

#[tokio::test]
async fn a_reveal_on_one_replica_shows_the_results_to_viewers_on_the_other() {
    let replicas = spawn_replicas(2, &[]).await;
    let (a, b) = (&replicas[0], &replicas[1]);
    let poll = a.create_poll(serde_json::json!({ "results": "after_vote" })).await;
    a.vote(poll.id, poll.options[0]).await;
    let mut viewer = SseClient::connect(&b.url(&format!("/api/polls/{}/stream", poll.id)), None).await;
    let first = viewer.next_event(WAIT).await.unwrap().json();
    assert_eq!(
        (first["withheld"].clone(), first["total"].clone(), first["voters"].clone()),
        (true.into(), serde_json::Value::Null, 1.into())
    );
    b.wait_until_subscribed(poll.id).await;

    a.patch_poll(poll.id, &poll.key, &serde_json::json!({ "results": "always" })).await;

    let revealed = viewer.until(WAIT, "the reveal", |e| e.json()["withheld"] == false).await.json();
    assert_eq!(revealed["options"][0]["votes"], 1);
    assert_eq!(revealed["results_shown"], "always");
}
