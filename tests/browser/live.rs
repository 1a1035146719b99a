//! Live results: one browser sees the bars move as others vote, on the same replica, on
//! another replica, and through nginx from another replica.

use fantoccini::{Client, Locator};

use crate::harness::{audit, browser, click, document_kept, look, mark_document, text, wait_for_text};
use crate::support::{self, cluster::Cluster, spawn_app};

/// The viewer's poll page after the bars moved: still one poll, updated in place.
async fn moved_in_place(client: &Client, name: &str, question: &str) {
    look(client, name).await.is_poll(question).shows(&[".live .results"]).lacks(&[".choice"]);
    assert!(document_kept(client).await, "{name}: updated in place, not reloaded");
}

#[tokio::test]
async fn a_viewer_sees_the_bars_move_when_others_vote_on_the_same_replica() {
    let app = spawn_app(support::Backend::Sqlite).await;
    let poll = app.create_poll(serde_json::json!({})).await;
    let (_driver, viewer) = browser(true).await;
    viewer.goto(&app.url(&format!("/polls/{}", poll.id))).await.unwrap();
    mark_document(&viewer).await;
    app.wait_until_watched(poll.id).await;
    // Before voting, the ballot counts the votes so far.
    app.vote(poll.id, poll.options[1]).await;
    wait_for_text(&viewer, ".so-far", "1 vote so far").await;
    look(&viewer, "live-ballot-counts").await.is_poll("Tea, coffee or water?").shows(&[".choice"]);

    click(&viewer, ".choice:nth-child(1)").await;
    wait_for_text(&viewer, ".total", "2 votes in total").await;
    for (option, voters) in [(poll.options[2], 3), (poll.options[0], 2)] {
        for _ in 0..voters {
            let other = support::new_client();
            app.post_form_with(&other, &format!("/polls/{}/votes", poll.id), &[("option", &option.to_string())], &[])
                .await;
        }
    }

    wait_for_text(&viewer, ".total", "7 votes in total").await;
    assert_eq!(text(&viewer, ".result:nth-child(1) .count").await, "3 votes · 43%");
    assert_eq!(text(&viewer, ".result:nth-child(3) .count").await, "3 votes · 43%");
    moved_in_place(&viewer, "live-same-replica", "Tea, coffee or water?").await;
    audit(&viewer, "live-same-replica").await;
}

#[tokio::test]
async fn a_vote_in_one_browser_shows_up_in_another_on_another_replica_without_reload() {
    let replicas = support::spawn_replicas(2, &[]).await;
    let poll = replicas[0].first_poll("OnTrend").await;
    let question = "What will be the next 'big social network' to dominate the market?";
    let (_first_driver, first) = browser(true).await;
    let (_second_driver, second) = browser(true).await;
    second.goto(&replicas[1].url(&format!("/polls/{poll}"))).await.unwrap();
    wait_for_text(&second, ".so-far", "0 votes so far").await;
    mark_document(&second).await;
    replicas[1].wait_until_subscribed(poll).await;

    first.goto(&replicas[0].url(&format!("/polls/{poll}"))).await.unwrap();
    first.find(Locator::Css(".choice:nth-child(1)")).await.unwrap().click().await.unwrap();
    wait_for_text(&first, ".total", "1 vote in total").await;
    replicas[0].wait_until_subscribed(poll).await;

    wait_for_text(&second, ".so-far", "1 vote so far").await;
    mark_document(&first).await;
    second.find(Locator::Css(".choice:nth-child(3)")).await.unwrap().click().await.unwrap();
    wait_for_text(&second, ".total", "2 votes in total").await;

    wait_for_text(&first, ".total", "2 votes in total").await;
    wait_for_text(&first, ".result:nth-child(3) .count", "1 vote · 50%").await;
    moved_in_place(&first, "live-other-replica", question).await;
    first.close().await.unwrap();
    second.close().await.unwrap();
}

/// The first demo poll of Sports on `cluster`: its id and question.
async fn first_sports_poll(cluster: &Cluster) -> (i64, String) {
    let polls: serde_json::Value =
        reqwest::get(format!("{}/api/themes/Sports/polls", cluster.url)).await.unwrap().json().await.unwrap();
    (polls[0]["id"].as_i64().unwrap(), polls[0]["question"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn a_viewer_through_nginx_sees_votes_cast_on_every_replica() {
    let cluster = Cluster::start(env!("CARGO_BIN_EXE_votestream"), 3, &[("RATE_LIMIT", "off")]).await;
    let (poll, question) = first_sports_poll(&cluster).await;
    let options: serde_json::Value =
        reqwest::get(format!("{}/api/polls/{poll}", cluster.url)).await.unwrap().json().await.unwrap();
    let first_option = options["options"][0]["id"].as_i64().unwrap();
    let (_driver, viewer) = browser(true).await;
    viewer.goto(&format!("{}/polls/{poll}", cluster.url)).await.unwrap();
    click(&viewer, ".choice:nth-child(2)").await;
    wait_for_text(&viewer, ".total", "1 vote in total").await;
    mark_document(&viewer).await;

    // One vote straight to each replica: whichever one holds the viewer's stream, the
    // others' votes reach it through Redis.
    for n in 1..=cluster.replicas {
        let client = support::new_client();
        let sent = client
            .post(format!("{}/polls/{poll}/votes", cluster.replica_url(n)))
            .header("Sec-Fetch-Site", "same-origin")
            .form(&[("option", first_option.to_string())])
            .send()
            .await
            .unwrap();
        assert!(sent.status().is_success() || sent.status().is_redirection(), "replica {n}: {}", sent.status());
    }

    wait_for_text(&viewer, ".total", &format!("{} votes in total", cluster.replicas + 1)).await;
    assert_eq!(text(&viewer, ".result:nth-child(1) .count").await, format!("{} votes · 75%", cluster.replicas));
    moved_in_place(&viewer, "live-through-nginx", &question).await;
}

#[tokio::test]
async fn a_voter_sees_their_own_vote_on_every_replica_of_the_scaled_topology_while_its_standby_lags() {
    let cluster = Cluster::start_scaled(env!("CARGO_BIN_EXE_votestream"), 3, &[("RATE_LIMIT", "off")]).await;
    let (poll, question) = first_sports_poll(&cluster).await;
    // The standby stops replaying; someone else's vote puts it behind the primary.
    cluster.run("pause-standby", "").await;
    let other = support::new_client()
        .post(format!("{}/api/polls/{poll}/vote", cluster.url))
        .json(&serde_json::json!({ "choice": 0 }))
        .send()
        .await
        .unwrap();
    assert!(other.status().is_success());
    cluster.wait_standbys("lagging").await;

    // A plain form vote, then the poll on every replica: each shows the voter's ballot and
    // a tally that counts it, though the standby has replayed neither vote.
    let (_driver, voter) = browser(false).await;
    voter.goto(&format!("{}/polls/{poll}", cluster.url)).await.unwrap();
    click(&voter, ".choice:nth-child(2)").await;
    wait_for_text(&voter, ".total", "2 votes in total").await;
    for n in 1..=cluster.replicas {
        voter.goto(&format!("{}/polls/{poll}", cluster.replica_url(n))).await.unwrap();
        look(&voter, &format!("scaled-own-vote-replica-{n}"))
            .await
            .is_poll(&question)
            .shows(&[".results", ".notice"])
            .lacks(&[".choice"])
            .says("You voted for")
            .says("2 votes in total");
    }
    cluster.run("resume-standby", "").await;
}
