//! Voting on a poll page, with JavaScript on (htmx swaps) and off (plain forms).

use fantoccini::{Client, Locator};
use rstest::rstest;

use crate::harness::{
    audit_if_scripted, browser, click, document_kept, htmx_loaded, look, mark_document, text, wait_for_path,
    wait_for_text,
};
use crate::support::{self, TestApp, spawn_app};

const FIRST_QUESTION: &str = "What will be the next 'big social network' to dominate the market?";

fn suffix(javascript: bool) -> &'static str {
    if javascript { "js" } else { "no-js" }
}

/// Home → #OnTrend → its first poll, checking each page on the way.
async fn open_the_first_poll(app: &TestApp, client: &Client, javascript: bool) {
    client.goto(&app.url("/")).await.unwrap();
    assert_eq!(htmx_loaded(client).await, javascript, "htmx runs exactly when JavaScript is on");
    if javascript {
        mark_document(client).await;
    }
    look(client, &format!("home-{}", suffix(javascript)))
        .await
        .is_page("What does everyone think?")
        .shows(&[".theme-card"]);
    click(client, "a.theme-card[href='/themes/on-trend']").await;
    wait_for_text(client, ".theme-header h1", "#OnTrend").await;
    look(client, &format!("theme-{}", suffix(javascript))).await.is_page("#OnTrend");
    click(client, ".poll-card .button").await;
    wait_for_text(client, ".step", "Step 1 of 3").await;
    look(client, &format!("ballot-{}", suffix(javascript)))
        .await
        .is_poll(FIRST_QUESTION)
        .shows(&[".choice", ".ballot", "form.vote-form"])
        .lacks(&[".results .result"]);
}

#[rstest]
#[case::with_javascript(true)]
#[case::without_javascript(false)]
#[tokio::test]
async fn a_vote_shows_the_poll_once_with_its_results(#[case] javascript: bool) {
    let app = spawn_app(support::Backend::Sqlite).await;
    let (_driver, client) = browser(javascript).await;
    open_the_first_poll(&app, &client, javascript).await;

    client.find(Locator::Css(".choice:nth-child(2)")).await.unwrap().click().await.unwrap();

    wait_for_text(&client, ".notice", "You voted for “A decentralized micro-video platform”.").await;
    let name = format!("voted-{}", suffix(javascript));
    look(&client, &name)
        .await
        .is_poll(FIRST_QUESTION)
        .shows(&[".live .results", ".after-vote a.button", ".downloads", "a.back", ".step"])
        .lacks(&[".choice", ".ballot", "form.vote-form"]);
    assert_eq!(text(&client, ".result:nth-child(2) .count").await, "1 vote · 100%");
    assert!(client.current_url().await.unwrap().path().starts_with("/polls/"));
    assert_eq!(document_kept(&client).await, javascript, "htmx swaps with JavaScript, whole pages without");
    assert_eq!(client.title().await.unwrap(), format!("{FIRST_QUESTION} · VoteStream"), "the poll's title");
    audit_if_scripted(&client, &name, javascript).await;
    assert_eq!(app.scalar("select count(*) from votes").await, 1);
}

#[rstest]
#[case::with_javascript(true)]
#[case::without_javascript(false)]
#[tokio::test]
async fn a_second_vote_from_an_older_tab_is_refused(#[case] javascript: bool) {
    let app = spawn_app(support::Backend::Sqlite).await;
    let poll = app.first_poll("OnTrend").await;
    let (_driver, client) = browser(javascript).await;
    client.goto(&app.url(&format!("/polls/{poll}"))).await.unwrap();
    let first_tab = client.window().await.unwrap();
    // A second tab on the same poll votes first.
    let second_tab = client.new_window(true).await.unwrap();
    client.switch_to_window(second_tab.handle).await.unwrap();
    client.goto(&app.url(&format!("/polls/{poll}"))).await.unwrap();
    click(&client, ".choice:nth-child(1)").await;
    wait_for_text(&client, ".notice", "You voted for").await;
    client.close_window().await.unwrap();
    client.switch_to_window(first_tab).await.unwrap();

    // The first tab still shows the ballot; its vote is refused, and says what counted.
    click(&client, ".choice:nth-child(3)").await;

    wait_for_text(&client, ".notice", "You already voted for “A generative AI app”").await;
    let name = format!("second-vote-refused-{}", suffix(javascript));
    look(&client, &name)
        .await
        .is_poll(FIRST_QUESTION)
        .shows(&[".live .results", ".after-vote"])
        .lacks(&[".choice", ".ballot"]);
    assert_eq!(text(&client, ".result:nth-child(1) .count").await, "1 vote · 100%", "the first vote stands");
    audit_if_scripted(&client, &name, javascript).await;
    assert_eq!(app.scalar("select count(*) from votes").await, 1);
}

#[rstest]
#[case::with_javascript(true)]
#[case::without_javascript(false)]
#[tokio::test]
async fn a_voter_ticks_two_options_and_presses_one_button(#[case] javascript: bool) {
    let app = spawn_app(support::Backend::Sqlite).await;
    let poll = app.create_poll(serde_json::json!({ "max_choices": 2 })).await;
    let (_driver, client) = browser(javascript).await;
    let path = format!("/polls/{}", poll.id);
    client.goto(&app.url(&path)).await.unwrap();
    look(&client, &format!("several-ballot-{}", suffix(javascript)))
        .await
        .is_poll("Tea, coffee or water?")
        .shows(&[".submit-choices"]);
    assert_eq!(text(&client, "legend").await, "Select up to 2 answers:");

    click(&client, "label.choice:nth-of-type(1) input").await;
    click(&client, "label.choice:nth-of-type(3) input").await;
    click(&client, ".submit-choices").await;

    wait_for_text(&client, ".notice", "You voted for “Tea” and “Water”.").await;
    wait_for_path(&client, &path).await;
    let name = format!("several-voted-{}", suffix(javascript));
    look(&client, &name)
        .await
        .is_poll("Tea, coffee or water?")
        .lacks(&["input[type=checkbox]", ".submit-choices"])
        .says("2 votes in total from 1 voter");
    assert_eq!(text(&client, ".result:nth-child(1) .count").await, "1 vote · 50%");
    assert_eq!(text(&client, ".result:nth-child(2) .count").await, "0 votes · 0%");
    assert_eq!(text(&client, ".result:nth-child(3) .count").await, "1 vote · 50%");
    audit_if_scripted(&client, &name, javascript).await;
}

#[rstest]
#[case::with_javascript(true)]
#[case::without_javascript(false)]
#[tokio::test]
async fn a_voter_steps_through_a_theme_to_its_last_poll(#[case] javascript: bool) {
    let app = spawn_app(support::Backend::Sqlite).await;
    let polls = app.api("/api/themes/OnTrend/polls").await;
    let questions: Vec<String> =
        polls.as_array().unwrap().iter().map(|p| p["question"].as_str().unwrap().to_owned()).collect();
    let (_driver, client) = browser(javascript).await;
    client.goto(&app.url(&format!("/polls/{}", polls[0]["id"]))).await.unwrap();
    if javascript {
        mark_document(&client).await;
    }

    for (i, question) in questions.iter().enumerate() {
        let step = format!("Step {} of {}", i + 1, questions.len());
        wait_for_text(&client, ".step", &step).await;
        look(&client, &format!("step-{}-{}", i + 1, suffix(javascript))).await.is_poll(question).shows(&[".choice"]);
        click(&client, ".choice:nth-child(1)").await;
        wait_for_text(&client, ".notice", "You voted for").await;
        let name = format!("step-{}-voted-{}", i + 1, suffix(javascript));
        let seen = look(&client, &name).await;
        seen.is_poll(question).lacks(&[".choice"]);
        if i + 1 < questions.len() {
            seen.shows(&[".after-vote a.button"]).lacks(&[".after-vote .done"]);
            click(&client, ".after-vote a.button").await;
        } else {
            seen.lacks(&[".after-vote a.button"]).says("That was the last poll in #OnTrend.");
            audit_if_scripted(&client, &name, javascript).await;
        }
    }
    assert_eq!(document_kept(&client).await, javascript, "htmx swapped each step in");
    assert_eq!(app.scalar("select count(*) from ballots").await, questions.len() as i64);
}
