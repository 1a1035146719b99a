//! Creating a poll and managing it: the form's option rows and messages, the manage page,
//! closing while a viewer looks, revealing results at the close, deleting.

use std::time::Duration;

use fantoccini::{Client, Locator};
use rstest::rstest;

use crate::harness::{
    audit, audit_if_scripted, browser, click, document_kept, look, mark_document, text, wait_for_text,
};
use crate::support::{self, TestApp, spawn_app};

async fn option_rows(client: &Client) -> usize {
    client.find_all(Locator::Css(".option-row")).await.unwrap().len()
}

async fn type_into(client: &Client, css: &str, text: &str) {
    let field = client.wait().for_element(Locator::Css(css)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

/// Fills the form, adds and removes rows, sends it once with a blank option (the message
/// shows beside that option), then fixes it and creates the poll; returns the manage URL.
async fn create_through_the_form(app: &TestApp, client: &Client, javascript: bool) -> String {
    let js = if javascript { "js" } else { "no-js" };
    client.goto(&app.url("/")).await.unwrap();
    if javascript {
        mark_document(client).await;
    }
    client.find(Locator::LinkText("Create a poll")).await.unwrap().click().await.unwrap();
    wait_for_text(client, "main h1", "Create a poll").await;
    look(client, &format!("create-blank-{js}")).await.is_page("Create a poll").lacks(&["button.remove"]);
    type_into(client, "#question", "Best time to vote?").await;
    client.find(Locator::Css("#theme")).await.unwrap().select_by_value("sports").await.unwrap();
    type_into(client, "#option-0", "Morning").await;
    type_into(client, "#option-1", "Evening").await;

    // Two rows more, then the first removed: the others keep their text.
    click(client, "button.add").await;
    support::eventually("a third row", Duration::from_secs(10), async || option_rows(client).await == 3).await;
    type_into(client, "#option-2", "Noon").await;
    click(client, "button.add").await;
    support::eventually("a fourth row", Duration::from_secs(10), async || option_rows(client).await == 4).await;
    click(client, "button.remove[value='remove:0']").await;
    support::eventually("three rows again", Duration::from_secs(10), async || option_rows(client).await == 3).await;
    let values = client
        .execute("return Array.from(document.querySelectorAll('.option-row input')).map(i => i.value)", vec![])
        .await
        .unwrap();
    assert_eq!(values, serde_json::json!(["Evening", "Noon", ""]), "the removed row went, the others stayed");
    look(client, &format!("create-rows-{js}"))
        .await
        .is_page("Create a poll")
        .shows(&["button.remove"])
        .lacks(&[".field-error"]);

    // The blank third option is refused beside itself, the rest of the form kept.
    click(client, "button.primary").await;
    wait_for_text(client, ".form-summary", "Please fix the marked fields.").await;
    let seen = look(client, &format!("create-error-{js}")).await;
    seen.is_page("Create a poll").shows(&["#option-2-error", ".option-row.invalid #option-2"]);
    assert_eq!(seen.count(".field-error"), 1, "one message, beside the one field at fault");
    let described = client.find(Locator::Css("#option-2")).await.unwrap().attr("aria-describedby").await.unwrap();
    assert_eq!(described.as_deref(), Some("option-2-error"), "the field names its message");
    let beside = client
        .execute(
            "const f = document.getElementById('option-2').getBoundingClientRect();
             const m = document.getElementById('option-2-error').getBoundingClientRect();
             return m.top >= f.top && m.top - f.bottom < 60;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(beside, serde_json::json!(true), "the message sits right under its field");
    assert_eq!(
        client.find(Locator::Css("#question")).await.unwrap().prop("value").await.unwrap().as_deref(),
        Some("Best time to vote?")
    );
    audit_if_scripted(client, &format!("create-error-{js}"), javascript).await;

    type_into(client, "#option-2", "Midnight").await;
    click(client, "button.primary").await;

    wait_for_text(client, ".manage-link h2", "Your poll is live. Keep this manage link").await;
    look(client, &format!("created-manage-{js}"))
        .await
        .is_page("Best time to vote?")
        .shows(&[".manage-link", ".manage-actions button"]);
    assert_eq!(text(client, ".manage-actions button").await, "Close voting now");
    assert_eq!(document_kept(client).await, javascript, "htmx swaps with JavaScript, whole pages without");
    audit_if_scripted(client, &format!("created-manage-{js}"), javascript).await;
    let manage_url = client.find(Locator::Css("#manage-url")).await.unwrap().prop("value").await.unwrap().unwrap();
    assert!(manage_url.starts_with(&app.url("/polls/")) && manage_url.contains("/manage/"), "{manage_url}");
    manage_url
}

#[rstest]
#[case::with_javascript(true)]
#[case::without_javascript(false)]
#[tokio::test]
async fn an_owner_creates_a_poll_and_closes_it_while_a_viewer_looks(#[case] javascript: bool) {
    let js = if javascript { "js" } else { "no-js" };
    let app = spawn_app(support::Backend::Sqlite).await;
    let (_owner_driver, owner) = browser(javascript).await;
    let manage_url = create_through_the_form(&app, &owner, javascript).await;
    let poll: i64 = manage_url.split('/').nth(4).unwrap().parse().unwrap();
    let (_viewer_driver, viewer) = browser(true).await;
    viewer.goto(&app.url(&format!("/polls/{poll}"))).await.unwrap();
    wait_for_text(&viewer, ".so-far", "0 votes so far").await;
    mark_document(&viewer).await;
    app.wait_until_watched(poll).await;

    // The viewer has a choice focused, as a keyboard user about to vote would.
    viewer.execute("document.querySelector('.choice').focus()", vec![]).await.unwrap();

    click(&owner, ".manage-actions button").await;

    wait_for_text(&owner, ".manage-actions button", "Reopen voting").await;
    look(&owner, &format!("closed-manage-{js}"))
        .await
        .is_page("Best time to vote?")
        .lacks(&[".manage-link"])
        .says("Closed ·");
    // The viewer's open ballot gives way to the final results, in place.
    wait_for_text(&viewer, ".ballot .total", "0 votes in total · final results").await;
    look(&viewer, &format!("closed-viewer-{js}"))
        .await
        .is_poll("Best time to vote?")
        .shows(&[".result"])
        .lacks(&[".choice", "form.vote-form"]);
    assert!(document_kept(&viewer).await, "updated in place, not reloaded");
    support::eventually("the focus kept in the results", Duration::from_secs(10), async || {
        let focus = viewer.execute("return document.activeElement.matches('.ballot')", vec![]).await.unwrap();
        focus == serde_json::json!(true)
    })
    .await;
    audit(&viewer, "closed-viewer").await;
}

#[tokio::test]
async fn results_kept_until_the_close_appear_to_a_voter_when_it_closes() {
    let app = spawn_app(support::Backend::Sqlite).await;
    let poll = app.create_poll(serde_json::json!({ "results": "after_close" })).await;
    let (_viewer_driver, viewer) = browser(true).await;
    let (_owner_driver, owner) = browser(true).await;
    viewer.goto(&app.url(&format!("/polls/{}", poll.id))).await.unwrap();
    mark_document(&viewer).await;
    click(&viewer, ".choice:nth-child(2)").await;
    wait_for_text(&viewer, ".notice", "You voted for “Coffee”.").await;
    look(&viewer, "withheld-after-vote")
        .await
        .is_poll("Tea, coffee or water?")
        .shows(&[".withheld"])
        .lacks(&[".result"])
        .says("Results are shown when the poll closes.");
    app.wait_until_watched(poll.id).await;

    owner.goto(&poll.manage_url).await.unwrap();
    click(&owner, ".manage-actions button").await;
    wait_for_text(&owner, ".manage-actions button", "Reopen voting").await;

    wait_for_text(&viewer, ".live .total", "1 vote in total · final results").await;
    look(&viewer, "revealed-at-close").await.is_poll("Tea, coffee or water?").shows(&[".result"]).lacks(&[".withheld"]);
    assert_eq!(text(&viewer, ".result:nth-child(2) .count").await, "1 vote · 100%");
    assert!(document_kept(&viewer).await);
    audit(&viewer, "revealed-at-close").await;
}

#[tokio::test]
async fn an_owner_deletes_a_poll_while_a_voter_watches_its_bars() {
    let app = spawn_app(support::Backend::Sqlite).await;
    let poll = app.create_poll(serde_json::json!({})).await;
    let (_viewer_driver, viewer) = browser(true).await;
    let (_owner_driver, owner) = browser(true).await;
    viewer.goto(&app.url(&format!("/polls/{}", poll.id))).await.unwrap();
    mark_document(&viewer).await;
    click(&viewer, ".choice:nth-child(2)").await;
    wait_for_text(&viewer, ".total", "1 vote in total").await;
    app.wait_until_watched(poll.id).await;

    // The box must be ticked first: without it, nothing is deleted and the page says so.
    owner.goto(&poll.manage_url).await.unwrap();
    click(&owner, ".manage-delete button").await;
    wait_for_text(&owner, ".notice", "Tick the box to confirm").await;
    look(&owner, "delete-unconfirmed").await.is_page("Tea, coffee or water?").shows(&[".manage-delete button"]);
    click(&owner, ".manage-delete input[name=confirm]").await;
    click(&owner, ".manage-delete button").await;

    wait_for_text(&owner, "main h1", "Poll deleted").await;
    look(&owner, "deleted-owner")
        .await
        .is_page("Poll deleted")
        .lacks(&[".manage-actions", ".manage-delete"])
        .says("“Tea, coffee or water?” and its 1 vote are gone.");
    audit(&owner, "deleted-owner").await;
    wait_for_text(&viewer, ".live", "This poll was deleted by its owner.").await;
    look(&viewer, "deleted-viewer").await.is_poll("Tea, coffee or water?").lacks(&[".result"]);
    assert!(document_kept(&viewer).await, "told in place");
    audit(&viewer, "deleted-viewer").await;
    assert_eq!(app.scalar("select count(*) from ballots").await, 0);
}
