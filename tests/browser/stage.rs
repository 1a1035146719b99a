//! On stage: the presenter view on a 1920×1080 wall, phones joining by code at 390 px and
//! following the presenter, C then R, the keyboard alone, and JavaScript off.

use fantoccini::{Client, Locator};
use serde_json::json;

use crate::harness::{
    Options, WALL, audit, browser, browser_with, click, document_kept, look, look_at, mark_document, number, text,
    wait_for_path, wait_for_text,
};
use crate::keyboard::{ENTER, press, tab_to};
use crate::support::{OwnedPoll, TestApp, spawn_app};

const RIGHT: &str = "\u{E014}";

async fn wall(javascript: bool) -> (crate::harness::Driver, Client) {
    browser_with(Options { no_javascript: !javascript, screen: Some(WALL), ..Options::default() }).await
}

fn owner_wall(app: &TestApp, poll: &OwnedPoll) -> String {
    app.url(&format!("/polls/{}/manage/{}/present", poll.id, poll.key))
}

/// The wall as the back of the room sees it: one heading, large; the code large; the QR
/// code drawn; nothing past the screen's edge; axe finds nothing serious (contrast
/// included, at these sizes).
async fn check_wall(client: &Client, name: &str, question: &str) {
    look_at(client, name, WALL.0).await.is_page(question).shows(&[".stage-code", ".stage-qr", ".live .results"]);
    let heading = number(client, "return parseFloat(getComputedStyle(document.querySelector('h1')).fontSize)").await;
    let code =
        number(client, "return parseFloat(getComputedStyle(document.querySelector('.stage-code')).fontSize)").await;
    let bars = number(client, "return document.querySelector('.stage progress').getBoundingClientRect().height").await;
    assert!(heading >= 72.0 && code >= 64.0, "{name}: readable from the back: h1 {heading} px, code {code} px");
    assert!(bars >= 36.0, "{name}: bars {bars} px high");
    let drawn = number(client, "return document.querySelector('.stage-qr').naturalWidth").await;
    assert!(drawn > 0.0, "{name}: the QR code loaded");
    let below = number(client, "return document.documentElement.scrollHeight - window.innerHeight").await;
    assert!(below <= 0.0, "{name}: the wall fits the screen, {below} px below it");
}

/// A phone types the code into the home page's box and presses Enter.
async fn join_by_code(app: &TestApp, phone: &Client, code: &str, start: i64) {
    phone.goto(&app.url("/")).await.unwrap();
    phone.find(Locator::Css("#join-code")).await.unwrap().send_keys(&code.to_lowercase()).await.unwrap();
    press(phone, ENTER).await;
    wait_for_path(phone, &format!("/polls/{start}/join")).await;
}

#[tokio::test]
async fn the_wall_at_1920_by_1080_and_a_phone_joining_by_its_code_at_390_px() {
    let app = spawn_app(crate::support::Backend::Sqlite).await;
    let poll = app.create_poll(json!({ "question": "Which talk next?" })).await;
    let (_wall_driver, screen) = wall(true).await;
    screen.goto(&owner_wall(&app, &poll)).await.unwrap();
    wait_for_text(&screen, ".stage .total", "0 votes in total").await;
    check_wall(&screen, "stage-wall-1920", "Which talk next?").await;
    let hidden = screen.execute("return document.querySelector('[data-fullscreen]').hidden", vec![]).await.unwrap();
    assert_eq!(hidden, json!(false), "F has its button once scripts run");
    audit(&screen, "stage-wall-1920").await;
    let code = text(&screen, ".stage-code").await;

    let (_phone_driver, phone) = browser(true).await;
    join_by_code(&app, &phone, &code, poll.id).await;
    look(&phone, "stage-phone-joined-390").await.is_poll("Which talk next?").shows(&[".choice", ".follow"]);
    audit(&phone, "stage-phone-joined-390").await;
    click(&phone, ".choice:nth-child(2)").await;
    wait_for_text(&phone, ".total", "1 vote in total").await;
    look(&phone, "stage-phone-voted-390")
        .await
        .is_poll("Which talk next?")
        .lacks(&[".choice"])
        .shows(&["figure.timeline"]);
    // The wall moves with the vote, without a reload.
    mark_document(&screen).await;
    wait_for_text(&screen, ".stage .total", "1 vote in total").await;
    assert!(document_kept(&screen).await, "the wall updated in place");
    check_wall(&screen, "stage-wall-1920-voted", "Which talk next?").await;
    look_at(&screen, "stage-wall-1920-voted", WALL.0).await.shows(&["figure.timeline svg path.bars"]);

    // A code that leads nowhere: the box again, saying why.
    phone.goto(&app.url("/j?code=AB0")).await.unwrap();
    look(&phone, "stage-join-wrong-code-390")
        .await
        .is_page("Join a poll")
        .shows(&["#join-problem", "#join-code[aria-invalid='true']"]);
    audit(&phone, "stage-join-wrong-code-390").await;
}

#[tokio::test]
async fn pressing_right_on_the_wall_moves_every_joined_phone_to_the_next_poll() {
    let app = spawn_app(crate::support::Backend::Sqlite).await;
    let first = app.create_poll(json!({ "question": "Warm-up question?" })).await;
    app.create_poll(json!({ "question": "The real question?" })).await;
    let (_wall_driver, screen) = wall(true).await;
    screen.goto(&owner_wall(&app, &first)).await.unwrap();
    let code = text(&screen, ".stage-code").await;
    let (_one_driver, one) = browser(true).await;
    let (_two_driver, two) = browser(true).await;
    for phone in [&one, &two] {
        join_by_code(&app, phone, &code, first.id).await;
        wait_for_text(phone, "h1", "Warm-up question?").await;
        mark_document(phone).await;
    }
    app.wait_until_watched(first.id).await;

    press(&screen, RIGHT).await;
    wait_for_text(&screen, "h1", "The real question?").await;
    check_wall(&screen, "stage-wall-next", "The real question?").await;
    for (phone, name) in [(&one, "stage-phone-one-followed"), (&two, "stage-phone-two-followed")] {
        wait_for_text(phone, "h1", "The real question?").await;
        assert!(document_kept(phone).await, "{name}: moved without a reload");
        look(phone, name).await.is_poll("The real question?").shows(&[".choice", ".follow"]);
    }
    // A phone that voted on the new poll still follows: back to the first.
    click(&one, ".choice:nth-child(1)").await;
    wait_for_text(&one, ".total", "1 vote in total").await;
    press(&screen, "\u{E012}").await; // ←
    wait_for_text(&screen, "h1", "Warm-up question?").await;
    wait_for_text(&one, "h1", "Warm-up question?").await;
    look(&one, "stage-phone-one-back").await.is_poll("Warm-up question?");
}

#[tokio::test]
async fn c_then_r_on_an_after_close_poll_reveals_the_results_on_the_wall_the_phones_and_the_embed() {
    let app = spawn_app(crate::support::Backend::Sqlite).await;
    let poll = app.create_poll(json!({ "question": "Guess the answer?", "results": "after_close" })).await;
    let (_wall_driver, screen) = wall(true).await;
    screen.goto(&owner_wall(&app, &poll)).await.unwrap();
    let code = text(&screen, ".stage-code").await;
    let (_phone_driver, phone) = browser(true).await;
    join_by_code(&app, &phone, &code, poll.id).await;
    click(&phone, ".choice:nth-child(3)").await;
    wait_for_text(&phone, ".results .total", "1 has voted").await;
    let (_embed_driver, frame) = browser(true).await;
    frame.goto(&app.url(&format!("/embed/polls/{}", poll.id))).await.unwrap();
    wait_for_text(&screen, ".stage .total", "1 has voted").await;
    look_at(&screen, "stage-wall-withheld", WALL.0).await.is_page("Guess the answer?").lacks(&[".result-list"]);

    press(&screen, "c").await;
    let held = "The results are shown when the presenter reveals them.";
    wait_for_text(&screen, ".stage .reveal", held).await;
    wait_for_text(&phone, ".reveal", held).await;
    wait_for_text(&frame, ".reveal", held).await;
    look_at(&screen, "stage-wall-closed-held", WALL.0).await.lacks(&[".result-list"]);
    let count =
        number(&screen, "return parseFloat(getComputedStyle(document.querySelector('.stage .total')).fontSize)").await;
    assert!(count >= 40.0, "the number who voted, readable from the back: {count} px");
    look(&phone, "stage-phone-closed-held").await.is_poll("Guess the answer?").lacks(&[".result-list", ".choice"]);

    mark_document(&phone).await;
    press(&screen, "r").await;
    wait_for_text(&screen, ".stage .total", "1 vote in total · final results").await;
    wait_for_text(&phone, ".total", "1 vote in total · final results").await;
    wait_for_text(&frame, ".total", "1 vote in total · final results").await;
    assert!(document_kept(&phone).await, "revealed on the phone without a reload");
    check_wall(&screen, "stage-wall-revealed", "Guess the answer?").await;
    look(&phone, "stage-phone-revealed").await.is_poll("Guess the answer?").shows(&[".result-list", "figure.timeline"]);
    audit(&screen, "stage-wall-revealed").await;
}

#[tokio::test]
async fn the_presenter_works_from_the_keyboard_alone() {
    let app = spawn_app(crate::support::Backend::Sqlite).await;
    let first = app.create_poll(json!({ "question": "Keyboard one?" })).await;
    app.create_poll(json!({ "question": "Keyboard two?" })).await;
    let (_wall_driver, screen) = wall(true).await;
    // From the manage page: Tab to "Present on a screen", Enter, and the wall is a document
    // of its own (its layout, its keys), not a swap into the manage page.
    screen.goto(&app.url(&format!("/polls/{}/manage/{}", first.id, first.key))).await.unwrap();
    tab_to(&screen, "a[href$='/present']").await;
    press(&screen, ENTER).await;
    wait_for_path(&screen, &format!("/polls/{}/manage/{}/present", first.id, first.key)).await;
    let presenting = screen.execute("return document.body.classList.contains('presenting')", vec![]).await.unwrap();
    assert_eq!(presenting, json!(true), "the presenter's own document");
    // Tab reaches the buttons in order (Previous is disabled at the first poll), the focus drawn.
    tab_to(&screen, "button[value='next']").await;
    press(&screen, ENTER).await;
    wait_for_text(&screen, "h1", "Keyboard two?").await;
    tab_to(&screen, "button[value='previous']").await;
    press(&screen, ENTER).await;
    wait_for_text(&screen, "h1", "Keyboard one?").await;
    press(&screen, "c").await;
    wait_for_text(&screen, ".stage .total", "final results").await;
    look_at(&screen, "stage-wall-keyboard-closed", WALL.0).await.is_page("Keyboard one?");
    let close =
        screen.execute("return document.querySelector(\"button[value='close']\").disabled", vec![]).await.unwrap();
    assert_eq!(close, json!(true), "closed: C has nothing left to do");

    // The theme's wall, read-only: → and ← browse its polls.
    screen.goto(&app.url("/themes/sports/present")).await.unwrap();
    let first_question = text(&screen, "h1").await;
    press(&screen, RIGHT).await;
    support_wait_for_query(&screen).await;
    let second_question = text(&screen, "h1").await;
    assert_ne!(first_question, second_question, "→ showed the theme's next poll");
    check_wall(&screen, "stage-theme-wall", &second_question).await;
    audit(&screen, "stage-theme-wall").await;
    // On the phone, the join box by keyboard: Tab to it, type, Enter.
    let (_phone_driver, phone) = browser(true).await;
    phone.goto(&app.url("/")).await.unwrap();
    tab_to(&phone, "#join-code").await;
    let code = app.get(&format!("/polls/{}", first.id)).await.text(".join-code-line .code");
    press(&phone, &code.to_lowercase()).await;
    press(&phone, ENTER).await;
    wait_for_path(&phone, &format!("/polls/{}/join", first.id)).await;
}

/// Waits until the address carries `?poll=`.
async fn support_wait_for_query(client: &Client) {
    crate::support::eventually("?poll= in the address", std::time::Duration::from_secs(10), async || {
        let search = client.execute("return location.search", vec![]).await.unwrap();
        if search.as_str().is_some_and(|s| s.starts_with("?poll=")) { Ok(()) } else { Err(search) }
    })
    .await;
}

#[tokio::test]
async fn without_javascript_the_presenter_and_the_phone_are_links_and_buttons() {
    let app = spawn_app(crate::support::Backend::Sqlite).await;
    let first = app.create_poll(json!({ "question": "Scriptless one?" })).await;
    app.create_poll(json!({ "question": "Scriptless two?" })).await;
    let (_wall_driver, screen) = wall(false).await;
    screen.goto(&owner_wall(&app, &first)).await.unwrap();
    look_at(&screen, "stage-wall-no-js", WALL.0)
        .await
        .is_page("Scriptless one?")
        .shows(&["button[value='next']", "button[value='close']"]);
    let full_screen = screen.find(Locator::Css("[data-fullscreen]")).await.unwrap();
    assert!(!full_screen.is_displayed().await.unwrap(), "full screen needs a script: its button stays hidden");
    click(&screen, "button[value='next']").await;
    wait_for_text(&screen, "h1", "Scriptless two?").await;
    look_at(&screen, "stage-wall-no-js-next", WALL.0).await.is_page("Scriptless two?");

    let (_phone_driver, phone) = browser(false).await;
    phone.goto(&app.url("/")).await.unwrap();
    let code = app.get(&format!("/polls/{}", first.id)).await.text(".join-code-line .code");
    phone.find(Locator::Css("#join-code")).await.unwrap().send_keys(&code).await.unwrap();
    click(&phone, ".join-box button").await;
    wait_for_path(&phone, &format!("/polls/{}/join", first.id)).await;
    look(&phone, "stage-phone-no-js").await.is_poll("Scriptless two?").shows(&[".choice"]);
    click(&phone, ".choice:nth-child(1)").await;
    wait_for_text(&phone, ".total", "1 vote in total").await;
    look(&phone, "stage-phone-no-js-voted").await.is_poll("Scriptless two?").lacks(&[".choice"]);
}

#[tokio::test]
async fn the_next_question_of_a_talk_is_made_from_the_manage_page_under_the_same_link() {
    let app = spawn_app(crate::support::Backend::Sqlite).await;
    let first = app.create_poll(json!({ "question": "Opening question?" })).await;
    for javascript in [true, false] {
        let (_driver, owner) = browser(javascript).await;
        let name = if javascript { "stage-add-poll-js" } else { "stage-add-poll-no-js" };
        owner.goto(&app.url(&format!("/polls/{}/manage/{}", first.id, first.key))).await.unwrap();
        click(&owner, "a[href*='/manage/'][href$='/new']").await;
        wait_for_text(&owner, ".notice", "the same manage link as “Opening question?”").await;
        look(&owner, name)
            .await
            .is_page("Create a poll")
            .shows(&["form.poll-form", "#theme option[value='sports'][selected]"]);
        if javascript {
            audit(&owner, name).await;
        }
        let question = format!("Follow-up question, scripts {}?", if javascript { "on" } else { "off" });
        owner.find(Locator::Css("#question")).await.unwrap().send_keys(&question).await.unwrap();
        owner.find(Locator::Css("#option-0")).await.unwrap().send_keys("Yes").await.unwrap();
        owner.find(Locator::Css("#option-1")).await.unwrap().send_keys("No").await.unwrap();
        click(&owner, ".actions button.primary").await;
        wait_for_text(&owner, "h1", &question).await;
        let path = owner.execute("return location.pathname", vec![]).await.unwrap();
        assert!(
            path.as_str().unwrap().ends_with(&format!("/manage/{}", first.key)),
            "{name}: under the same link: {path}"
        );
        look(&owner, &format!("{name}-created")).await.is_page(&question).lacks(&[".manage-link"]);
    }
}
