//! A keyboard alone: Tab to a control, Enter or Space to use it. The focus is visible
//! where it is, and after each swap it lands where a person reads next.

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::{Client, Locator};
use serde_json::json;

use crate::harness::{audit, browser, look, wait_for_text};
use crate::support::{self, spawn_app};

pub(crate) const TAB: &str = "\u{E004}";
pub(crate) const ENTER: &str = "\u{E007}";
const SPACE: &str = "\u{E00D}";
const DOWN: &str = "\u{E015}";

/// The focused element: a selector-like description, and whether the browser draws the
/// focus (`:focus-visible` with an outline or ring).
async fn focused(client: &Client) -> (String, bool) {
    let value = client
        .execute(
            "const e = document.activeElement; const s = getComputedStyle(e);
             const drawn = e.matches(':focus-visible') && ((s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== 'none');
             return [e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className ? '.' + String(e.className).split(' ').join('.') : '') + (e.textContent.trim() ? ' ' + e.textContent.trim().slice(0, 40) : ''), drawn];",
            vec![],
        )
        .await
        .unwrap();
    (value[0].as_str().unwrap().to_owned(), value[1].as_bool().unwrap())
}

/// Presses Tab until the focused element matches `css`, checking the focus is drawn there.
pub(crate) async fn tab_to(client: &Client, css: &str) {
    let mut seen = Vec::new();
    for _ in 0..40 {
        press(client, TAB).await;
        let matches =
            client.execute("return document.activeElement.matches(arguments[0])", vec![json!(css)]).await.unwrap();
        let (element, drawn) = focused(client).await;
        if matches == json!(true) {
            assert!(drawn, "the focus on {element} is visible");
            return;
        }
        seen.push(element);
    }
    panic!("Tab never reached {css}; went through {seen:?}");
}

/// Types `keys` on the keyboard, into whatever has the focus (as a person does: no element
/// is named, so a swap in between cannot make the target stale).
pub(crate) async fn press(client: &Client, keys: &str) {
    let mut actions = KeyActions::new("keyboard".to_owned());
    for key in keys.chars() {
        actions = actions.then(KeyAction::Down { value: key }).then(KeyAction::Up { value: key });
    }
    client.perform_actions(actions).await.unwrap();
}

/// Waits until the focus is on an element matching `css` (after a swap), drawn.
async fn focus_lands_on(client: &Client, css: &str) {
    support::eventually(&format!("the focus on {css}"), std::time::Duration::from_secs(10), async || {
        let on = client.execute("return document.activeElement.matches(arguments[0])", vec![json!(css)]).await.unwrap();
        let (element, drawn) = focused(client).await;
        // htmx done with the swap (no request, swap or settle under way), as a person's
        // next key press comes after the page has settled.
        let settled = client
            .execute("return !document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling')", vec![])
            .await
            .unwrap();
        if on == json!(true) && drawn && settled == json!(true) { Ok(()) } else { Err((element, drawn)) }
    })
    .await;
}

#[tokio::test]
async fn a_keyboard_alone_can_vote() {
    let app = spawn_app(support::Backend::Sqlite).await;
    let poll = app.first_poll("OnTrend").await;
    let (_driver, client) = browser(true).await;
    client.goto(&app.url(&format!("/polls/{poll}"))).await.unwrap();
    client.find(Locator::Css("body")).await.unwrap().click().await.unwrap();

    tab_to(&client, ".choice:nth-child(2)").await;
    press(&client, ENTER).await;

    wait_for_text(&client, ".notice", "You voted for").await;
    focus_lands_on(&client, ".notice").await;
    look(&client, "keyboard-voted")
        .await
        .is_poll("What will be the next 'big social network' to dominate the market?")
        .lacks(&[".choice"]);
    // From the notice, the next stop is the way on.
    tab_to(&client, ".after-vote a.button").await;
    audit(&client, "keyboard-voted").await;
    assert_eq!(app.scalar("select count(*) from votes").await, 1);
}

#[tokio::test]
async fn a_keyboard_alone_can_create_and_manage_a_poll() {
    let app = spawn_app(support::Backend::Sqlite).await;
    let (_driver, client) = browser(true).await;
    client.goto(&app.url("/")).await.unwrap();
    client.find(Locator::Css("body")).await.unwrap().click().await.unwrap();

    tab_to(&client, "a[href='/polls/new']").await;
    press(&client, ENTER).await;
    wait_for_text(&client, "main h1", "Create a poll").await;
    focus_lands_on(&client, "main h1").await;
    tab_to(&client, "#question").await;
    press(&client, "Lunch or dinner?").await;
    tab_to(&client, "#theme").await;
    press(&client, DOWN).await;
    tab_to(&client, "#option-0").await;
    press(&client, "Lunch").await;
    tab_to(&client, "#option-1").await;
    press(&client, "Dinner").await;
    // Space on "Add option" adds a row, and the focus goes on into it.
    tab_to(&client, "button.add").await;
    press(&client, SPACE).await;
    focus_lands_on(&client, "#option-2").await;
    // Enter with the new row blank: the focus goes to the field at fault.
    press(&client, ENTER).await;
    wait_for_text(&client, ".form-summary", "Please fix the marked fields.").await;
    focus_lands_on(&client, "#option-2[aria-invalid='true']").await;
    press(&client, "Both").await;
    press(&client, ENTER).await;

    wait_for_text(&client, ".manage-link h2", "Your poll is live").await;
    focus_lands_on(&client, "main h1").await;
    tab_to(&client, ".manage-actions button").await;
    press(&client, SPACE).await;

    wait_for_text(&client, ".manage-actions button", "Reopen voting").await;
    focus_lands_on(&client, "main h1").await;
    look(&client, "keyboard-managed").await.is_page("Lunch or dinner?");
    audit(&client, "keyboard-managed").await;
    assert_eq!(app.scalar("select count(*) from polls where closed_at is not null").await, 1, "closed by the keyboard");
}
