//! Real-browser smoke tests: headless Chromium driven through chromedriver.

#![allow(clippy::unwrap_used)]

#[path = "../support/mod.rs"]
mod support;

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use support::{TestApp, spawn_app, spawn_app_with};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// chromedriver on a free loopback port, stopped when dropped.
struct Driver {
    child: Child,
    port: u16,
    profile: PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        // chromedriver leads its own process group: the browsers it started go with it,
        // even when a test failed before closing its session.
        let group = format!("kill -KILL -- -{} 2>/dev/null", self.child.id());
        let _ = Command::new("bash").arg("-c").arg(group).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// A headless Chromium session; `javascript: false` browses as a reader without scripts.
async fn browser(javascript: bool) -> (Driver, Client) {
    browser_with(javascript, false).await
}

/// The same, optionally blocking third-party cookies as privacy-minded browsers do.
async fn browser_with(javascript: bool, block_third_party_cookies: bool) -> (Driver, Client) {
    for binary in [CHROMIUM, CHROMEDRIVER] {
        if !std::path::Path::new(binary).exists() {
            support::missing_server(binary, "apt-get install chromium chromium-driver");
        }
    }
    let port = support::postgres::free_port();
    let child = Command::new(CHROMEDRIVER)
        .process_group(0)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let profile = std::env::temp_dir().join(format!("votestream-chromium-{:x}", rand::random::<u64>()));
    let driver = Driver { child, port, profile };
    let status = format!("http://127.0.0.1:{port}/status");
    support::eventually(&format!("chromedriver ready on port {port}"), Duration::from_secs(20), async || {
        reqwest::get(&status).await.ok().is_some_and(|r| r.status().is_success())
    })
    .await;
    let mut args = vec![
        "--headless=new".to_owned(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-dev-shm-usage".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--no-first-run".into(),
        "--window-size=1200,1000".into(),
        format!("--user-data-dir={}", driver.profile.display()),
    ];
    if !javascript {
        args.push("--blink-settings=scriptEnabled=false".into());
    }
    let mut capabilities = serde_json::Map::new();
    // cookie_controls_mode 1: block third-party cookies (Chromium's setting of that name).
    let prefs = json!({ "profile.cookie_controls_mode": if block_third_party_cookies { 1 } else { 0 } });
    capabilities.insert("goog:chromeOptions".into(), json!({ "binary": CHROMIUM, "args": args, "prefs": prefs }));
    let client = ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("start a Chromium session");
    (driver, client)
}

fn screenshot_path(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

async fn text(client: &Client, css: &str) -> String {
    client.wait().for_element(Locator::Css(css)).await.unwrap().text().await.unwrap()
}

/// Waits until the element's text contains `expected` (htmx swaps land asynchronously).
async fn wait_for_text(client: &Client, css: &str, expected: &str) {
    support::eventually(&format!("{css} saying {expected:?}"), Duration::from_secs(10), async || {
        let found = match client.find(Locator::Css(css)).await {
            Ok(element) => element.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if found.contains(expected) { Ok(()) } else { Err(found) }
    })
    .await;
}

/// Whether htmx is running on the page (false with JavaScript off).
async fn htmx_loaded(client: &Client) -> bool {
    client.execute("return typeof htmx === 'object'", vec![]).await.map(|v| v == json!(true)).unwrap_or(false)
}

/// Marks the current document; the mark survives htmx swaps but not a full page load.
async fn mark_document(client: &Client) {
    client.execute("window.votestreamMark = 'still here'", vec![]).await.unwrap();
}

async fn document_kept(client: &Client) -> bool {
    client
        .execute("return window.votestreamMark === 'still here'", vec![])
        .await
        .map(|v| v == json!(true))
        .unwrap_or(false)
}

async fn vote_through_the_pages(app: &TestApp, client: &Client, javascript: bool) {
    let suffix = if javascript { "" } else { "-no-js" };
    client.goto(&app.url("/")).await.unwrap();
    assert_eq!(htmx_loaded(client).await, javascript, "htmx runs exactly when JavaScript is on");
    if javascript {
        mark_document(client).await;
    }
    assert_eq!(text(client, ".theme-card h2").await, "#OnTrend");
    client.find(Locator::Css("a.theme-card[href='/themes/on-trend']")).await.unwrap().click().await.unwrap();
    wait_for_text(client, ".theme-header h1", "#OnTrend").await;
    client.find(Locator::Css(".poll-card .button")).await.unwrap().click().await.unwrap();
    wait_for_text(client, ".step", "Step 1 of 3").await;
    assert_eq!(text(client, "#prompt").await, "Select your answer:");
    std::fs::write(screenshot_path(&format!("vote-page{suffix}.png")), client.screenshot().await.unwrap()).unwrap();

    client.find(Locator::Css(".choice:nth-child(2)")).await.unwrap().click().await.unwrap();

    wait_for_text(client, ".notice", "You voted for “A decentralized micro-video platform”.").await;
    assert_eq!(text(client, ".result:nth-child(2) .count").await, "1 vote · 100%");
    assert!(client.current_url().await.unwrap().path().starts_with("/polls/"));
    client.find(Locator::Css(".results")).await.unwrap();
    std::fs::write(screenshot_path(&format!("results{suffix}.png")), client.screenshot().await.unwrap()).unwrap();
    if javascript {
        assert!(document_kept(client).await, "htmx swapped the pages in instead of loading them");
        assert_eq!(
            client.title().await.unwrap(),
            "What will be the next 'big social network' to dominate the market? · VoteStream",
            "the swapped fragment's title replaces the document's"
        );
    }
}

#[tokio::test]
async fn a_visitor_browses_to_a_theme_votes_and_sees_the_results() {
    let app = spawn_app(support::Backend::Sqlite).await;
    let (_driver, client) = browser(true).await;

    vote_through_the_pages(&app, &client, true).await;

    assert_eq!(app.scalar("select count(*) from votes").await, 1);
    client.close().await.unwrap();
}

#[tokio::test]
async fn voting_works_with_javascript_off() {
    let app = spawn_app(support::Backend::Sqlite).await;
    let (_driver, client) = browser(false).await;

    vote_through_the_pages(&app, &client, false).await;

    assert_eq!(app.scalar("select count(*) from votes").await, 1);
    client.close().await.unwrap();
}

async fn create_a_poll(app: &TestApp, client: &Client, javascript: bool) {
    client.goto(&app.url("/")).await.unwrap();
    if javascript {
        mark_document(client).await;
    }
    client.find(Locator::LinkText("Create a poll")).await.unwrap().click().await.unwrap();
    wait_for_text(client, "main h1", "Create a poll").await;
    client.find(Locator::Css("#question")).await.unwrap().send_keys("Best time to vote?").await.unwrap();
    client.find(Locator::Css("#theme")).await.unwrap().select_by_value("sports").await.unwrap();
    client.find(Locator::Css("#option-0")).await.unwrap().send_keys("Morning").await.unwrap();
    client.find(Locator::Css("#option-1")).await.unwrap().send_keys("Evening").await.unwrap();

    client.find(Locator::Css("button.add")).await.unwrap().click().await.unwrap();
    client.wait().for_element(Locator::Css("#option-2")).await.unwrap().send_keys("Midnight").await.unwrap();
    client.find(Locator::Css("button.primary")).await.unwrap().click().await.unwrap();

    // The owner lands on the manage page, with the manage link shown this once.
    wait_for_text(client, ".manage-link h2", "Your poll is live. Keep this manage link").await;
    let manage_url = client.find(Locator::Css("#manage-url")).await.unwrap().prop("value").await.unwrap().unwrap();
    assert!(manage_url.starts_with(&app.url("/polls/")) && manage_url.contains("/manage/"), "{manage_url}");
    client.find(Locator::LinkText("View the poll")).await.unwrap().click().await.unwrap();
    wait_for_text(client, "h1.question", "Best time to vote?").await;
    let choices = client.find_all(Locator::Css(".choice .text")).await.unwrap();
    let mut texts = Vec::new();
    for choice in choices {
        texts.push(choice.text().await.unwrap());
    }
    assert_eq!(texts, ["Morning", "Evening", "Midnight"]);
    assert!(text(client, ".step").await.starts_with("Step 4 of 4"));
    assert_eq!(document_kept(client).await, javascript, "htmx swaps with JavaScript, full pages without");
}

#[tokio::test]
async fn a_visitor_creates_a_poll_through_the_form() {
    let app = spawn_app(support::Backend::Sqlite).await;
    let (_driver, client) = browser(true).await;

    create_a_poll(&app, &client, true).await;

    client.close().await.unwrap();
}

#[tokio::test]
async fn the_poll_form_works_with_javascript_off() {
    let app = spawn_app(support::Backend::Sqlite).await;
    let (_driver, client) = browser(false).await;

    create_a_poll(&app, &client, false).await;

    client.close().await.unwrap();
}

#[tokio::test]
async fn a_vote_in_one_browser_shows_up_in_another_on_another_replica_without_reload() {
    let replicas = support::spawn_replicas(2, &[]).await;
    let poll = replicas[0].first_poll("OnTrend").await;
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
    assert!(document_kept(&first).await, "the first browser was updated in place, not reloaded");
    std::fs::write(screenshot_path("live-results.png"), first.screenshot().await.unwrap()).unwrap();
    first.close().await.unwrap();
    second.close().await.unwrap();
}

/// A page of another site that embeds `embed_url` with the documented snippet, served on
/// `http://localhost:<port>/` (localhost and 127.0.0.1 are different sites to a browser).
async fn host_page(embed_url: String, app_origin: String) -> u16 {
    let page = format!(
        "<!DOCTYPE html><html><head><title>A blog</title></head><body><h1>A blog post</h1>\
         <iframe id=\"poll\" src=\"{embed_url}\" title=\"VoteStream poll\" style=\"width:100%;border:0;height:40px\"></iframe>\
         <script src=\"{app_origin}/assets/embed-host.js\" async></script></body></html>"
    );
    let router = axum::Router::new().route("/", axum::routing::get(move || async move { axum::response::Html(page) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, router).await });
    port
}

/// A number the page computes.
async fn number(client: &Client, script: &str) -> f64 {
    client.execute(script, vec![]).await.unwrap().as_f64().unwrap()
}

async fn iframe_height(client: &Client) -> f64 {
    number(client, "return document.getElementById('poll').getBoundingClientRect().height").await
}

/// An app started with `env`, one of its polls embedded in a page of another site, and a
/// browser (blocking third-party cookies or not) showing that page.
async fn embedded_on_another_site(
    env: &[(&str, &str)],
    block_third_party_cookies: bool,
) -> (TestApp, i64, Driver, Client) {
    let app = spawn_app_with(support::Backend::Sqlite, env).await;
    let poll = app.first_poll("Sports").await;
    let port = host_page(app.url(&format!("/embed/polls/{poll}")), app.url("")).await;
    let (driver, client) = browser_with(true, block_third_party_cookies).await;
    client.goto(&format!("http://localhost:{port}/")).await.unwrap();
    (app, poll, driver, client)
}

#[tokio::test]
async fn a_poll_embedded_on_another_site_takes_a_vote_and_fits_its_frame() {
    // Browsers treat 127.0.0.1 as a secure context, so Secure cookies work there without TLS.
    let (app, poll, _driver, client) = embedded_on_another_site(&[("COOKIE_SECURE", "always")], true).await;
    support::eventually("the frame fitted to the ballot", Duration::from_secs(10), async || {
        iframe_height(&client).await > 100.0
    })
    .await;
    let ballot_height = iframe_height(&client).await;
    client.enter_frame(0).await.unwrap();
    client.wait().for_element(Locator::Css(".choice")).await.unwrap().click().await.unwrap();
    wait_for_text(&client, ".notice", "You voted for").await;
    let content_height =
        number(&client, "return Math.ceil(document.documentElement.getBoundingClientRect().height)").await;
    let frame_path = client.execute("return location.pathname", vec![]).await.unwrap();
    assert_eq!(frame_path, json!(format!("/embed/polls/{poll}")), "the answer stayed inside the frame");
    client.find(Locator::Css(".open-full a")).await.unwrap();
    client.enter_parent_frame().await.unwrap();
    support::eventually("the frame fitted to the results", Duration::from_secs(10), async || {
        let height = iframe_height(&client).await;
        if (height - content_height).abs() <= 2.0 { Ok(height) } else { Err(height) }
    })
    .await;
    std::fs::write(screenshot_path("embedded-poll.png"), client.screenshot().await.unwrap()).unwrap();

    assert_ne!(iframe_height(&client).await, ballot_height, "the frame followed its content");
    assert_eq!(app.scalar("select count(*) from votes").await, 1, "the vote from the frame counted");

    // Third-party cookies are blocked, yet the frame keeps its (partitioned) voter: after a
    // reload of the host page the frame shows this voter's result, not a fresh ballot.
    client.refresh().await.unwrap();
    client.enter_frame(0).await.unwrap();
    wait_for_text(&client, ".notice", "You voted for").await;
    assert!(client.find(Locator::Css(".choice")).await.is_err(), "no second ballot for the same voter");
}

#[tokio::test]
async fn a_site_not_on_the_list_cannot_frame_the_poll() {
    let (_app, _poll, _driver, client) =
        embedded_on_another_site(&[("EMBED_ALLOWED_ORIGINS", "https://elsewhere.example")], false).await;
    client.enter_frame(0).await.unwrap();

    support::eventually("the frame refused", Duration::from_secs(10), async || {
        let href = client.execute("return location.href", vec![]).await.unwrap();
        let refused = href.as_str().is_some_and(|h| h.starts_with("chrome-error://"));
        if refused { Ok(()) } else { Err(href) }
    })
    .await;
    assert!(client.find(Locator::Css(".vote-form")).await.is_err(), "no ballot shows in a refused frame");
}

/// axe-core's findings of serious or critical impact on the current page, one line each.
async fn accessibility_findings(client: &Client) -> Vec<String> {
    const AXE: &str = include_str!("axe/axe.min.js");
    client.execute(AXE, vec![]).await.expect("inject axe-core");
    let findings = client
        .execute(
            "return axe.run(document, { resultTypes: ['violations'] }).then(r => r.violations
                .filter(v => v.impact === 'serious' || v.impact === 'critical')
                .map(v => v.impact + ' ' + v.id + ': ' + v.help + ' — ' + v.nodes.map(n => n.target.join(' ')).join(', ')))",
            vec![],
        )
        .await
        .expect("run axe-core");
    findings.as_array().unwrap().iter().map(|f| f.as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn a_viewer_sees_the_owner_close_the_poll_without_reloading() {
    let app = spawn_app(support::Backend::Sqlite).await;
    let poll = app.create_poll(serde_json::json!({})).await;
    app.vote(poll.id, poll.options[2]).await;
    let (_owner_driver, owner) = browser(true).await;
    let (_viewer_driver, viewer) = browser(true).await;
    viewer.goto(&app.url(&format!("/polls/{}", poll.id))).await.unwrap();
    wait_for_text(&viewer, ".so-far", "1 vote so far").await;
    mark_document(&viewer).await;
    support::eventually("the viewer's stream open", std::time::Duration::from_secs(10), async || {
        app.state.live.hub().watched().contains(&poll.id)
    })
    .await;

    owner.goto(&poll.manage_url).await.unwrap();
    owner.find(Locator::Css(".manage-actions button")).await.unwrap().click().await.unwrap();
    wait_for_text(&owner, ".manage-actions button", "Reopen voting").await;

    // The open ballot gives way to the final results, in place.
    wait_for_text(&viewer, ".ballot .total", "1 vote in total · final results").await;
    assert!(viewer.find_all(Locator::Css(".choice")).await.unwrap().is_empty(), "no ballot left to press");
    assert!(document_kept(&viewer).await, "updated in place, not reloaded");
    owner.close().await.unwrap();
    viewer.close().await.unwrap();
}

#[tokio::test]
async fn every_page_passes_an_accessibility_audit() {
    let app = spawn_app(support::Backend::Sqlite).await;
    let poll = app.first_poll("OnTrend").await;
    let owned = app.create_poll(serde_json::json!({ "max_choices": 2, "results": "after_vote" })).await;
    let (_driver, client) = browser(true).await;
    let pages = [
        "/".to_owned(),
        format!("/polls/{}/manage/{}?created", owned.id, owned.key),
        format!("/polls/{}", owned.id),
        "/themes/on-trend".into(),
        format!("/polls/{poll}"),
        "/polls/new".into(),
        "/stats".into(),
        "/nowhere".into(),
        format!("/embed/polls/{poll}"),
    ];
    let mut findings = Vec::new();
    for path in &pages {
        client.goto(&app.url(path)).await.unwrap();
        findings.extend(accessibility_findings(&client).await.into_iter().map(|f| format!("{path}: {f}")));
    }
    // The results view, and the form with its messages.
    client.goto(&app.url(&format!("/polls/{poll}"))).await.unwrap();
    client.find(Locator::Css(".choice")).await.unwrap().click().await.unwrap();
    wait_for_text(&client, ".notice", "You voted for").await;
    findings.extend(accessibility_findings(&client).await.into_iter().map(|f| format!("results: {f}")));
    client.goto(&app.url("/polls/new")).await.unwrap();
    client.find(Locator::Css(".poll-form .primary")).await.unwrap().click().await.unwrap();
    wait_for_text(&client, ".form-summary", "Please fix").await;
    findings.extend(accessibility_findings(&client).await.into_iter().map(|f| format!("form errors: {f}")));

    assert!(findings.is_empty(), "serious or critical accessibility findings:\n{}", findings.join("\n"));
}

#[tokio::test]
async fn a_keyboard_alone_can_vote() {
    let app = spawn_app(support::Backend::Sqlite).await;
    let poll = app.first_poll("OnTrend").await;
    let (_driver, client) = browser(true).await;
    client.goto(&app.url(&format!("/polls/{poll}"))).await.unwrap();

    // Tab from the top of the page until the first choice has the focus, then press Enter.
    let body = client.find(Locator::Css("body")).await.unwrap();
    let mut focused = String::new();
    for _ in 0..20 {
        body.send_keys("\u{E004}").await.unwrap(); // Tab
        focused = client
            .execute("return document.activeElement.className", vec![])
            .await
            .unwrap()
            .as_str()
            .unwrap_or("")
            .to_owned();
        if focused == "choice" {
            break;
        }
    }
    assert_eq!(focused, "choice", "the choices are reachable by Tab");
    client.active_element().await.unwrap().send_keys("\u{E007}").await.unwrap(); // Enter

    wait_for_text(&client, ".notice", "You voted for").await;
    assert_eq!(app.scalar("select count(*) from votes").await, 1);
}
