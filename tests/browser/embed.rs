//! A poll embedded in another site's page with the README's snippet: served from a second
//! origin (same site) and from another site (`localhost` framing `127.0.0.1`).

use std::time::Duration;

use fantoccini::{Client, Locator};
use rstest::rstest;
use serde_json::json;

use crate::harness::{
    Driver, Options, audit, audit_if_scripted, browser_with, click, look, number, text, wait_for_path, wait_for_text,
};
use crate::support::{self, TestApp, spawn_app_with};

/// The README's embed snippet for `poll` of the app at `origin`.
fn readme_snippet(origin: &str, poll: i64) -> String {
    let readme = include_str!("../../README.md");
    let section = readme.split("## Embedding a poll").nth(1).expect("the README's embedding section");
    let snippet = section.split("```html").nth(1).and_then(|s| s.split("```").next()).expect("its snippet");
    assert!(snippet.contains("https://votes.example/embed/polls/7"), "the snippet's example address: {snippet}");
    snippet
        .replace("https://votes.example/embed/polls/7", &format!("{origin}/embed/polls/{poll}"))
        .replace("https://votes.example", origin)
}

/// Serves a blog post holding `snippet` on a port of its own; returns the port.
async fn host_page(snippet: String) -> u16 {
    let page = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" \
         content=\"width=device-width, initial-scale=1\"><title>A blog</title></head><body style=\"margin:8px\">\
         <main><h1>A blog post</h1><p>What do my readers think?</p>{snippet}<p>Thanks for voting.</p></main></body></html>"
    );
    let router = axum::Router::new().route("/", axum::routing::get(move || async move { axum::response::Html(page) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, router).await });
    port
}

#[derive(Clone, Copy)]
enum Host {
    /// `http://127.0.0.1:<other port>`: another origin of the same site.
    SecondOrigin,
    /// `http://localhost:<port>`: another site, to which the frame's cookies are third-party.
    AnotherSite,
}

struct Embedded {
    app: TestApp,
    poll: support::OwnedPoll,
    host_url: String,
    _driver: Driver,
    client: Client,
}

async fn embedded(env: &[(&str, &str)], host: Host, options: Options) -> Embedded {
    let app = spawn_app_with(support::Backend::Sqlite, env).await;
    let poll = app.create_poll(json!({})).await;
    let port = host_page(readme_snippet(&app.url(""), poll.id)).await;
    let host_url = match host {
        Host::SecondOrigin => format!("http://127.0.0.1:{port}/"),
        Host::AnotherSite => format!("http://localhost:{port}/"),
    };
    let (driver, client) = browser_with(options).await;
    client.goto(&host_url).await.unwrap();
    Embedded { app, poll, host_url, _driver: driver, client }
}

async fn frame_height(client: &Client) -> f64 {
    number(client, "return document.querySelector('iframe').getBoundingClientRect().height").await
}

/// Inside the frame: the height its content needs.
async fn content_height(client: &Client) -> f64 {
    number(client, "return Math.ceil(document.documentElement.getBoundingClientRect().height)").await
}

/// From the host page: waits until the frame is as tall as its content (within 24 px).
async fn frame_fits(client: &Client, what: &str) {
    client.enter_frame(0).await.unwrap();
    let wanted = content_height(client).await;
    client.enter_parent_frame().await.unwrap();
    support::eventually(what, Duration::from_secs(10), async || {
        let height = frame_height(client).await;
        if (height - wanted).abs() <= 24.0 { Ok(height) } else { Err((height, wanted)) }
    })
    .await;
}

/// The host page's own look: its heading, one frame, nothing past a phone's width.
async fn host_intact(client: &Client, name: &str) {
    look(client, name).await.is_page("A blog post");
}

#[rstest]
#[case::with_javascript(true)]
#[case::without_javascript(false)]
#[tokio::test]
async fn a_poll_framed_by_a_second_origin_takes_a_vote_and_shows_it_once(#[case] javascript: bool) {
    let js = if javascript { "js" } else { "no-js" };
    let options = Options { no_javascript: !javascript, ..Options::default() };
    let Embedded { app, poll, client, _driver, .. } = embedded(&[], Host::SecondOrigin, options).await;
    if javascript {
        frame_fits(&client, "the frame fitted to the ballot").await;
    }
    let ballot_height = frame_height(&client).await;
    client.enter_frame(0).await.unwrap();
    look(&client, &format!("embed-ballot-{js}"))
        .await
        .is_poll("Tea, coffee or water?")
        .shows(&[".choice", ".open-full"])
        .lacks(&[".site-header", "a.back", ".step"]);

    click(&client, ".choice:nth-child(2)").await;

    wait_for_text(&client, ".notice", "You voted for “Coffee”.").await;
    wait_for_path(&client, &format!("/embed/polls/{}", poll.id)).await;
    look(&client, &format!("embed-voted-{js}"))
        .await
        .is_poll("Tea, coffee or water?")
        .shows(&[".result", ".open-full"])
        .lacks(&[".choice", ".site-header", "a.back", ".after-vote"]);
    audit_if_scripted(&client, &format!("embed-voted-{js}"), javascript).await;
    client.enter_parent_frame().await.unwrap();
    if javascript {
        frame_fits(&client, "the frame fitted to the results").await;
        assert_ne!(frame_height(&client).await, ballot_height, "the frame followed its content");
    } else {
        assert_eq!(frame_height(&client).await, ballot_height, "without scripts the frame keeps its height");
    }
    host_intact(&client, &format!("embed-host-{js}")).await;
    assert_eq!(app.scalar("select count(*) from votes").await, 1, "the vote from the frame counted");
}

#[tokio::test]
async fn the_bars_move_live_in_the_frame_and_it_keeps_fitting() {
    let Embedded { app, poll, client, _driver, .. } = embedded(&[], Host::SecondOrigin, Options::default()).await;
    client.enter_frame(0).await.unwrap();
    click(&client, ".choice:nth-child(1)").await;
    wait_for_text(&client, ".total", "1 vote in total").await;
    app.wait_until_watched(poll.id).await;

    for option in [poll.options[2], poll.options[2], poll.options[1]] {
        let other = support::new_client();
        app.post_form_with(&other, &format!("/polls/{}/votes", poll.id), &[("option", &option.to_string())], &[]).await;
    }

    wait_for_text(&client, ".total", "4 votes in total").await;
    assert_eq!(text(&client, ".result:nth-child(3) .count").await, "2 votes · 50%");
    look(&client, "embed-live").await.is_poll("Tea, coffee or water?").shows(&[".result"]);
    client.enter_parent_frame().await.unwrap();
    frame_fits(&client, "the frame fitted after the bars moved").await;
}

#[tokio::test]
async fn a_closed_poll_in_the_frame_shows_its_final_results() {
    let app = spawn_app_with(support::Backend::Sqlite, &[]).await;
    let poll = app.create_poll(json!({})).await;
    app.vote(poll.id, poll.options[0]).await;
    let closed = app.patch_poll(poll.id, &poll.key, &json!({ "closed": true })).await;
    assert!(closed.status.is_success(), "{}", closed.body);
    let port = host_page(readme_snippet(&app.url(""), poll.id)).await;
    let (_driver, client) = browser_with(Options::default()).await;
    client.goto(&format!("http://127.0.0.1:{port}/")).await.unwrap();
    frame_fits(&client, "the frame fitted to the final results").await;

    client.enter_frame(0).await.unwrap();
    wait_for_text(&client, ".notice", "This poll is closed: voting has ended.").await;
    look(&client, "embed-closed")
        .await
        .is_poll("Tea, coffee or water?")
        .shows(&[".result", ".open-full"])
        .lacks(&[".choice"])
        .says("1 vote in total · final results");
    audit(&client, "embed-closed").await;
}

/// What the README promises on another site over plain HTTP, third-party cookies blocked:
/// the vote counts, and the frame, keeping no voter, shows the ballot again after a reload.
#[tokio::test]
async fn on_another_site_without_cookies_each_visit_to_the_frame_is_a_new_voter() {
    let options = Options { block_third_party_cookies: true, ..Options::default() };
    let Embedded { app, client, _driver, .. } = embedded(&[], Host::AnotherSite, options).await;
    client.enter_frame(0).await.unwrap();
    click(&client, ".choice:nth-child(1)").await;
    wait_for_text(&client, ".notice", "You voted for “Tea”.").await;
    look(&client, "embed-other-site-voted").await.is_poll("Tea, coffee or water?").lacks(&[".choice"]);
    client.enter_parent_frame().await.unwrap();

    client.refresh().await.unwrap();
    client.enter_frame(0).await.unwrap();
    client.wait().for_element(Locator::Css(".choice")).await.unwrap();
    look(&client, "embed-other-site-reloaded")
        .await
        .is_poll("Tea, coffee or water?")
        .shows(&[".choice"])
        .lacks(&[".notice"]);
    assert_eq!(app.scalar("select count(*) from votes").await, 1, "the vote from the frame counted");
}

/// Over HTTPS (here `COOKIE_SECURE=always`; browsers treat 127.0.0.1 as secure), the
/// partitioned cookie keeps the frame's voter even with third-party cookies blocked.
#[tokio::test]
async fn on_another_site_over_https_the_frame_keeps_its_voter() {
    let options = Options { block_third_party_cookies: true, ..Options::default() };
    let Embedded { app, client, host_url, _driver, .. } =
        embedded(&[("COOKIE_SECURE", "always")], Host::AnotherSite, options).await;
    frame_fits(&client, "the frame fitted to the ballot").await;
    client.enter_frame(0).await.unwrap();
    click(&client, ".choice:nth-child(1)").await;
    wait_for_text(&client, ".notice", "You voted for “Tea”.").await;
    client.enter_parent_frame().await.unwrap();
    frame_fits(&client, "the frame fitted to the results").await;
    host_intact(&client, "embed-other-site-https").await;

    client.goto(&host_url).await.unwrap();
    client.enter_frame(0).await.unwrap();
    wait_for_text(&client, ".notice", "You voted for “Tea”.").await;
    look(&client, "embed-other-site-https-reloaded").await.is_poll("Tea, coffee or water?").lacks(&[".choice"]);
    assert_eq!(app.scalar("select count(*) from votes").await, 1);
}

#[tokio::test]
async fn a_site_not_on_the_list_cannot_frame_the_poll() {
    let options = Options::default();
    let Embedded { client, _driver, .. } =
        embedded(&[("EMBED_ALLOWED_ORIGINS", "https://elsewhere.example")], Host::AnotherSite, options).await;
    client.enter_frame(0).await.unwrap();

    support::eventually("the frame refused", Duration::from_secs(10), async || {
        let href = client.execute("return location.href", vec![]).await.unwrap();
        let refused = href.as_str().is_some_and(|h| h.starts_with("chrome-error://"));
        if refused { Ok(()) } else { Err(href) }
    })
    .await;
    assert!(client.find(Locator::Css(".vote-form")).await.is_err(), "no ballot shows in a refused frame");
}
