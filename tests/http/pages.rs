use reqwest::StatusCode;
use rstest::rstest;
use rstest_reuse::apply;

use crate::on_each_backend;
use crate::support::{Backend, spawn_app};

#[apply(on_each_backend)]
#[tokio::test]
async fn the_home_page_shows_each_demo_theme_with_its_counts(#[case] backend: Backend) {
    let app = spawn_app(backend).await;

    let page = app.get("/").await;

    assert_eq!(page.status, StatusCode::OK);
    assert!(page.is_full_document());
    assert_eq!(page.texts(".theme-card h2"), ["#OnTrend", "Moral Dilemmas", "Sports"]);
    assert_eq!(page.texts(".theme-card .polls"), ["3 polls", "4 polls", "3 polls"]);
    assert_eq!(page.texts(".theme-card .votes"), ["0 votes", "0 votes", "0 votes"]);
    assert_eq!(page.attrs(".theme-card", "href"), ["/themes/on-trend", "/themes/moral-dilemmas", "/themes/sports"]);
    assert!(page.text(".theme-card").contains("🔥"));
    assert!(page.text(".theme-card p").starts_with("The hottest topics of the moment."));
}

#[apply(on_each_backend)]
#[tokio::test]
async fn the_vote_count_on_the_home_page_follows_the_votes(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let poll = app.first_poll("OnTrend").await;
    let options = app.poll_options(poll).await;

    app.vote(poll, options[0]).await;

    assert_eq!(app.get("/").await.texts(".theme-card .votes")[0], "1 vote");
}

#[apply(on_each_backend)]
#[tokio::test]
async fn a_theme_page_numbers_its_polls_and_lists_their_options(#[case] backend: Backend) {
    let app = spawn_app(backend).await;

    let page = app.get("/themes/on-trend").await;

    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.text(".theme-header h1"), "#OnTrend");
    assert_eq!(page.texts(".poll-number"), ["#1", "#2", "#3"]);
    assert_eq!(page.texts(".poll-card h2")[0], "What will be the next 'big social network' to dominate the market?");
    assert_eq!(
        page.texts(".poll-card:first-child .option-list li"),
        [
            "A generative AI app",
            "A decentralized micro-video platform",
            "The resurgence of niche forums",
            "None, the market is saturated"
        ]
    );
    assert_eq!(page.texts(".poll-card .button"), ["Vote now", "Vote now", "Vote now"]);
    let first = app.first_poll("OnTrend").await;
    assert_eq!(page.attrs(".poll-card .button", "href")[0], format!("/polls/{first}"));
    assert_eq!(page.text(".back"), "← Back to themes");
}

#[apply(on_each_backend)]
#[tokio::test]
async fn an_unknown_theme_is_a_404_page_in_the_layout(#[case] backend: Backend) {
    let app = spawn_app(backend).await;

    let page = app.get("/themes/no-such-theme").await;

    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.is_full_document());
    assert_eq!(page.text(".error-page h1"), "Not found");
    assert!(page.text(".error-page .message").contains("There is no theme “no-such-theme”"));
}

#[apply(on_each_backend)]
#[tokio::test]
async fn the_vote_page_shows_its_step_and_lettered_options(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let polls = app.api("/api/themes/MoralDilemmas/polls").await;
    let second = polls[1]["id"].as_i64().unwrap();

    let page = app.get(&format!("/polls/{second}")).await;

    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.text(".step"), "Step 2 of 4 · Moral Dilemmas");
    assert_eq!(page.attrs("progress.steps", "value"), ["2"]);
    assert_eq!(page.attrs("progress.steps", "max"), ["4"]);
    assert_eq!(page.text("h1.question"), polls[1]["question"].as_str().unwrap());
    assert_eq!(page.text("#prompt"), "Select your answer:");
    assert_eq!(page.texts(".choice .letter"), ["A", "B", "C", "D"]);
    assert_eq!(page.texts(".choice .text")[0], "Yes, security is a priority");
    assert_eq!(page.text(".back"), "← Back to polls");
    assert_eq!(page.attrs(".back", "href"), ["/themes/moral-dilemmas"]);
    assert!(page.texts(".results").is_empty(), "no results before voting");
}

#[apply(on_each_backend)]
#[tokio::test]
async fn unknown_or_malformed_poll_ids_are_404_pages(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    for (path, expected) in [
        ("/polls/999999", "There is no poll 999999"),
        ("/polls/abc", "There is no poll “abc”"),
        ("/polls/-3", "There is no poll “-3”"),
        ("/polls/999999/results", "There is no poll 999999"),
    ] {
        let page = app.get(path).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{path}");
        assert!(page.text(".error-page .message").contains(expected), "{path}: {}", page.body);
    }
}

#[apply(on_each_backend)]
#[tokio::test]
async fn an_unknown_address_is_a_404_page(#[case] backend: Backend) {
    let app = spawn_app(backend).await;

    let page = app.get("/no/such/page").await;

    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert!(page.is_full_document());
    assert!(page.text(".error-page .message").contains("There is no page at this address"));
    assert_eq!(page.attrs(".error-page a", "href"), ["/"]);
}

#[apply(on_each_backend)]
#[tokio::test]
async fn htmx_requests_get_the_fragment_and_others_the_whole_page(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let poll = app.first_poll("Sports").await;
    for path in [
        "/".to_owned(),
        "/themes/sports".into(),
        format!("/polls/{poll}"),
        "/polls/new".into(),
        "/stats".into(),
        "/nowhere".into(),
    ] {
        let full = app.get(&path).await;
        let fragment = app.get_hx(&path).await;

        assert!(full.is_full_document(), "{path}: the page");
        assert!(!fragment.is_full_document(), "{path}: the fragment");
        assert!(!fragment.body.contains("<html"), "{path}: no document in the fragment");
        assert_eq!(full.status, fragment.status, "{path}");
        assert!(fragment.body.contains("<title>"), "{path}: the fragment carries its title");
        for page in [&full, &fragment] {
            // Header names in Vary are case-insensitive, and may come in one list or several headers.
            let vary: Vec<String> = page
                .headers
                .get_all("vary")
                .iter()
                .flat_map(|v| v.to_str().unwrap().split(',').map(|n| n.trim().to_ascii_lowercase()))
                .collect();
            assert!(vary.contains(&"hx-request".to_owned()), "{path}: varies by HX-Request, got {vary:?}");
        }
    }
}

#[apply(on_each_backend)]
#[tokio::test]
async fn a_history_restore_gets_the_whole_page(#[case] backend: Backend) {
    let app = spawn_app(backend).await;

    let response = app
        .client
        .get(app.url("/themes/sports"))
        .header("HX-Request", "true")
        .header("HX-History-Restore-Request", "true")
        .send()
        .await
        .unwrap();

    assert!(response.text().await.unwrap().starts_with("<!DOCTYPE html>"));
}

#[tokio::test]
async fn only_hx_request_true_asks_for_a_fragment() {
    let app = spawn_app(Backend::Sqlite).await;
    for (value, fragment) in [("true", true), ("false", false), ("", false), ("1", false), ("yes", false)] {
        let response = app.client.get(app.url("/themes/sports")).header("HX-Request", value).send().await.unwrap();
        let body = response.text().await.unwrap();
        assert_eq!(!body.starts_with("<!DOCTYPE html>"), fragment, "HX-Request: {value:?}");
    }
}

#[apply(on_each_backend)]
#[tokio::test]
async fn the_results_fragment_shows_bars_for_every_option(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let poll = app.first_poll("Sports").await;
    let options = app.poll_options(poll).await;
    app.vote(poll, options[1]).await;

    let page = app.get_hx(&format!("/polls/{poll}/results")).await;

    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.is_full_document());
    assert_eq!(page.attrs(".results progress", "value"), ["0", "1"]);
    assert_eq!(page.texts(".result .count"), ["0 votes · 0%", "1 vote · 100%"]);
    assert_eq!(page.text(".total"), "1 vote in total");
}

#[apply(on_each_backend)]
#[tokio::test]
async fn stats_count_everything_as_a_page_and_as_json(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let poll = app.first_poll("OnTrend").await;
    app.vote(poll, app.poll_options(poll).await[1]).await;

    let page = app.get("/stats").await;
    let json = app.client.get(app.url("/stats")).header("Accept", "application/json").send().await.unwrap();

    assert_eq!(page.texts(".stats dt"), ["Themes", "Polls", "Options", "Votes"]);
    assert_eq!(page.texts(".stats dd"), ["3", "10", "36", "1"]);
    let json: serde_json::Value = json.json().await.unwrap();
    assert_eq!(json, serde_json::json!({ "themes": 3, "polls": 10, "options": 36, "votes": 1 }));
}

#[apply(on_each_backend)]
#[tokio::test]
async fn health_checks_answer(#[case] backend: Backend) {
    let app = spawn_app(backend).await;

    let health = app.get("/healthz").await;
    let ready = app.get("/readyz").await;

    assert_eq!((health.status, health.body.as_str()), (StatusCode::OK, "ok"));
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(ready.json()["database"], "up");
}

#[apply(on_each_backend)]
#[tokio::test]
async fn the_app_serves_its_own_htmx_stylesheet_and_theme_colours(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let home = app.get("/").await;
    assert_eq!(
        home.script_paths(),
        ["/assets/vendor/htmx.min.js", "/assets/vendor/htmx-ext-sse.min.js", "/assets/app.js"]
    );
    let fingerprinted = app.get(&home.attrs("link[rel=stylesheet]", "href")[0]).await;
    assert_eq!(
        fingerprinted.header("cache-control"),
        "public, max-age=31536000, immutable",
        "kept a year: a change gets a new address"
    );

    let htmx = app.get("/assets/vendor/htmx.min.js").await;
    let sse = app.get("/assets/vendor/htmx-ext-sse.min.js").await;
    let css = app.get("/assets/app.css").await;
    let themes = app.get("/themes.css").await;
    let missing = app.get("/assets/nope.js").await;

    assert_eq!(htmx.status, StatusCode::OK);
    assert!(htmx.header("content-type").starts_with("text/javascript"));
    assert!(htmx.body.contains("htmx"), "the real library");
    assert!(sse.body.contains("EventSource"), "the real SSE extension");
    assert!(css.header("content-type").starts_with("text/css"));
    assert_eq!(css.header("cache-control"), "public, max-age=3600", "without its fingerprint, an hour");
    assert_eq!(app.get("/assets/app.css?v=0123456789abcdef").await.header("cache-control"), "public, max-age=3600");
    assert!(themes.body.contains(".theme-on-trend { --theme: #ff6b6b; }"), "{}", themes.body);
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[apply(on_each_backend)]
#[tokio::test]
async fn seeding_again_adds_nothing(#[case] backend: Backend) {
    let app = spawn_app(backend).await;

    let report = votestream::seed::load_demo(app.store.as_ref()).await.unwrap();

    assert_eq!((report.themes_added, report.polls_added), (0, 0));
    assert_eq!(app.scalar("select count(*) from polls").await, 10);
}

#[apply(on_each_backend)]
#[tokio::test]
async fn every_response_names_the_replica_that_served_it(#[case] backend: Backend) {
    let app = crate::support::spawn_app_with(backend, &[("REPLICA_NAME", "replica-7")]).await;

    for path in ["/", "/healthz", "/api/themes", "/assets/app.css", "/nowhere"] {
        assert_eq!(app.get(path).await.header("x-replica"), "replica-7", "{path}");
    }
}
