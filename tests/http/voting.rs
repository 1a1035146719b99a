use futures::future::join_all;
use reqwest::StatusCode;
use rstest::rstest;
use rstest_reuse::apply;

use crate::on_each_backend;
use crate::support::{Backend, TestApp, new_client, spawn_app, spawn_app_with};

#[apply(on_each_backend)]
#[tokio::test]
async fn a_vote_redirects_to_the_poll_which_then_shows_the_results(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let poll = app.first_poll("OnTrend").await;
    let options = app.poll_options(poll).await;

    let vote = app.vote(poll, options[1]).await;
    let page = app.get(&format!("/polls/{poll}")).await;

    assert_eq!(vote.status, StatusCode::SEE_OTHER);
    assert_eq!(vote.header("location"), format!("/polls/{poll}"));
    assert_eq!(page.text(".notice"), "You voted for “A decentralized micro-video platform”.");
    assert_eq!(page.texts(".result .count"), ["0 votes · 0%", "1 vote · 100%", "0 votes · 0%", "0 votes · 0%"]);
    assert_eq!(page.texts(".result .letter"), ["A", "B", "C", "D"]);
    assert_eq!(page.attrs(".results progress", "value"), ["0", "1", "0", "0"]);
    assert!(page.texts(".choice").is_empty(), "no second ballot");
    assert_eq!(page.text(".total"), "1 vote in total");
}

#[apply(on_each_backend)]
#[tokio::test]
async fn percentages_are_shares_of_all_votes(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let poll = app.first_poll("OnTrend").await;
    let options = app.poll_options(poll).await;
    for choice in [0, 0, 1] {
        let voter = new_client();
        app.post_form_with(&voter, &format!("/polls/{poll}/votes"), &[("option", &options[choice].to_string())], &[])
            .await;
    }

    let page = app.get(&format!("/polls/{poll}/results")).await;

    assert_eq!(page.texts(".result .count"), ["2 votes · 67%", "1 vote · 33%", "0 votes · 0%", "0 votes · 0%"]);
}

#[apply(on_each_backend)]
#[tokio::test]
async fn after_voting_the_page_links_to_the_next_poll_and_back_to_the_theme(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let polls = app.api("/api/themes/Sports/polls").await;
    let ids: Vec<i64> = polls.as_array().unwrap().iter().map(|p| p["id"].as_i64().unwrap()).collect();

    app.vote(ids[0], app.poll_options(ids[0]).await[0]).await;
    app.vote(ids[2], app.poll_options(ids[2]).await[0]).await;
    let first = app.get(&format!("/polls/{}", ids[0])).await;
    let last = app.get(&format!("/polls/{}", ids[2])).await;

    assert_eq!(first.attrs(".after-vote .button", "href"), [format!("/polls/{}", ids[1])]);
    assert_eq!(first.text(".after-vote .button"), "Next poll →");
    assert!(last.texts(".after-vote .button").is_empty());
    assert_eq!(last.text(".after-vote .done"), "That was the last poll in Sports.");
    assert_eq!(last.attrs(".after-vote a", "href"), ["/themes/sports"]);
}

#[apply(on_each_backend)]
#[tokio::test]
async fn a_second_vote_from_the_same_voter_is_refused_and_says_what_they_chose(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let poll = app.first_poll("OnTrend").await;
    let options = app.poll_options(poll).await;
    app.vote(poll, options[0]).await;

    let again = app.vote(poll, options[3]).await;

    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.text(".notice"), "You already voted for “A generative AI app”. One vote per poll.");
    assert_eq!(again.texts(".result .count")[0], "1 vote · 100%");
    assert_eq!(app.scalar("select count(*) from votes").await, 1);
    assert_eq!(app.counters_out_of_step().await, 0);
}

#[apply(on_each_backend)]
#[tokio::test]
async fn different_voters_each_get_their_vote(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let poll = app.first_poll("OnTrend").await;
    let options = app.poll_options(poll).await;

    let a = app
        .post_form_with(&new_client(), &format!("/polls/{poll}/votes"), &[("option", &options[0].to_string())], &[])
        .await;
    let b = app
        .post_form_with(&new_client(), &format!("/polls/{poll}/votes"), &[("option", &options[0].to_string())], &[])
        .await;

    assert_eq!((a.status, b.status), (StatusCode::SEE_OTHER, StatusCode::SEE_OTHER));
    assert_eq!(app.api(&format!("/api/polls/{poll}/results")).await["total"], 2);
}

#[apply(on_each_backend)]
#[tokio::test]
async fn bad_votes_get_a_clear_message_and_store_nothing(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let poll = app.first_poll("OnTrend").await;
    let other_poll_option = app.poll_options(app.first_poll("Sports").await).await[0];
    let cases = [
        (
            "no option chosen",
            format!("/polls/{poll}/votes"),
            String::new(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "Choose one of the options before voting.".to_owned(),
        ),
        (
            "not a number",
            format!("/polls/{poll}/votes"),
            "abc".into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "“abc” is not an option of this poll.".into(),
        ),
        (
            "an option of another poll",
            format!("/polls/{poll}/votes"),
            other_poll_option.to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("Option {other_poll_option} is not part of poll {poll}."),
        ),
        (
            "an unknown poll",
            "/polls/999999/votes".into(),
            "1".into(),
            StatusCode::NOT_FOUND,
            "There is no poll 999999".into(),
        ),
    ];
    for (description, path, option, status, message) in cases {
        let page = app.post_form(&path, &[("option", &option)]).await;
        assert_eq!(page.status, status, "{description}");
        assert!(page.is_full_document(), "{description}: an error page in the layout");
        assert!(page.text(".error-page .message").contains(&message), "{description}: {}", page.body);
    }
    assert_eq!(app.scalar("select count(*) from votes").await, 0);
}

#[apply(on_each_backend)]
#[tokio::test]
async fn a_closed_poll_takes_no_votes_and_says_so(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let owned = app.create_poll(serde_json::json!({ "theme": "OnTrend" })).await;
    let (poll, options) = (owned.id, owned.options);
    let closing = app.patch_poll(poll, &owned.key, &serde_json::json!({ "closed": true })).await;
    assert_eq!(closing.status, StatusCode::OK, "{}", closing.body);

    let vote = app.vote(poll, options[0]).await;
    let page = app.get(&format!("/polls/{poll}")).await;
    let theme = app.get("/themes/on-trend").await;

    assert_eq!(vote.status, StatusCode::CONFLICT);
    assert_eq!(vote.text(".notice"), "This poll is closed: voting has ended.");
    assert!(page.texts(".choice").is_empty(), "no ballot on a closed poll");
    assert_eq!(page.texts(".result").len(), 3, "results instead");
    assert_eq!(theme.texts(".poll-card .button").last().unwrap(), "See results");
    assert_eq!(app.scalar("select count(*) from votes").await, 0);
}

#[apply(on_each_backend)]
#[tokio::test]
async fn an_htmx_vote_follows_the_redirect_to_the_results_fragment(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let poll = app.first_poll("OnTrend").await;
    let options = app.poll_options(poll).await;
    let follower = reqwest::Client::builder().cookie_store(true).build().unwrap();

    let response = follower
        .post(app.url(&format!("/polls/{poll}/votes")))
        .header("HX-Request", "true")
        .header("Sec-Fetch-Site", "same-origin")
        .form(&[("option", options[0].to_string())])
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.url().path(), format!("/polls/{poll}"));
    let body = response.text().await.unwrap();
    assert!(!body.contains("<html"), "a fragment");
    assert!(body.contains("You voted for “A generative AI app”."));
}

#[apply(on_each_backend)]
#[tokio::test]
async fn two_hundred_concurrent_voters_give_exactly_two_hundred_votes(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let poll = app.first_poll("MoralDilemmas").await;
    let options = app.poll_options(poll).await;

    let votes =
        (0..200).map(|i| {
            let voter = new_client();
            let option = options[i % options.len()].to_string();
            let app = &app;
            async move {
                app.post_form_with(&voter, &format!("/polls/{poll}/votes"), &[("option", &option)], &[]).await.status
            }
        });
    let statuses = join_all(votes).await;

    assert!(statuses.iter().all(|s| *s == StatusCode::SEE_OTHER), "{statuses:?}");
    let results = app.api(&format!("/api/polls/{poll}/results")).await;
    assert_eq!(results["total"], 200);
    for option in results["options"].as_array().unwrap() {
        assert_eq!(option["votes"], 50, "{option}");
    }
    assert_eq!(app.scalar("select count(*) from votes").await, 200);
    assert_eq!(app.counters_out_of_step().await, 0);
}

#[apply(on_each_backend)]
#[tokio::test]
async fn one_voter_racing_with_itself_still_counts_once(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let poll = app.first_poll("MoralDilemmas").await;
    let options = app.poll_options(poll).await;
    app.get("/").await; // get the voter cookie first, as a browser would

    let attempts = (0..20).map(|i| app.vote(poll, options[i % 2]));
    let statuses: Vec<StatusCode> = join_all(attempts).await.into_iter().map(|p| p.status).collect();

    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::SEE_OTHER).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CONFLICT).count(), 19, "{statuses:?}");
    assert_eq!(app.scalar("select count(*) from votes").await, 1);
    assert_eq!(app.counters_out_of_step().await, 0);
}

#[apply(on_each_backend)]
#[tokio::test]
async fn cached_results_are_refreshed_by_every_vote(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let poll = app.first_poll("Sports").await;
    let options = app.poll_options(poll).await;
    let path = format!("/polls/{poll}/results");
    assert_eq!(app.get_hx(&path).await.text(".total"), "0 votes in total");
    assert_eq!(app.api(&format!("/api/polls/{poll}/results")).await["total"], 0);

    app.post_form_with(&new_client(), &format!("/polls/{poll}/votes"), &[("option", &options[0].to_string())], &[])
        .await;

    assert_eq!(app.get_hx(&path).await.text(".total"), "1 vote in total");
    assert_eq!(app.api(&format!("/api/polls/{poll}/results")).await["total"], 1);
    assert_eq!(app.api(&format!("/api/polls/{poll}")).await["total"], 1);
}

/// `CACHE_TTL_SECS=0` and `READ_FRESH_MS=0` (what `just bench` uses to measure the database
/// path): no copy anywhere, so a change made in the database behind the app's back shows
/// on the very next read. With the defaults the cached copy is still shown.
#[tokio::test]
async fn with_no_cache_every_read_asks_the_database() {
    let read = async |app: &TestApp, poll: i64| app.get(&format!("/polls/{poll}")).await.text("h1");
    let uncached = spawn_app_with(Backend::Postgres, &[("CACHE_TTL_SECS", "0"), ("READ_FRESH_MS", "0")]).await;
    let cached = spawn_app_with(Backend::Postgres, &[]).await;
    for (app, fresh) in [(&uncached, true), (&cached, false)] {
        let poll = app.create_poll(serde_json::json!({ "question": "Before?" })).await;
        assert_eq!(read(app, poll.id).await, "Before?");
        app.execute("update polls set question = 'After?' where question = 'Before?'").await;
        let expected = if fresh { "After?" } else { "Before?" };
        assert_eq!(read(app, poll.id).await, expected, "no cache: {fresh}");
    }
}
