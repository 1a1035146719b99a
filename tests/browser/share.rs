//! The share box on a poll page: the link and its copy button, the QR code, the embed code.

use fantoccini::Locator;

use crate::harness::{audit, browser, click, look, wait_for_text};
use crate::support::{self, spawn_app};

#[tokio::test]
async fn the_share_box_copies_the_link_shows_a_qr_code_and_the_embed_code() {
    let app = spawn_app(support::Backend::Sqlite).await;
    let poll = app.create_poll(serde_json::json!({})).await;
    let (_driver, client) = browser(true).await;
    let poll_url = app.url(&format!("/polls/{}", poll.id));
    client.goto(&poll_url).await.unwrap();

    click(&client, "button[data-copy='share-url']").await;

    // Chromium lets a page that has the focus write the clipboard after a click; the
    // button says so, and the clipboard holds the poll's link.
    wait_for_text(&client, "button[data-copy='share-url']", "Copied").await;
    // Paste it where a person would: into a field, with Ctrl+V.
    client
        .execute(
            "const t = document.createElement('textarea'); t.id = 'paste-here'; document.body.append(t); t.focus()",
            vec![],
        )
        .await
        .unwrap();
    client.active_element().await.unwrap().send_keys("\u{E009}v\u{E000}").await.unwrap();
    let pasted = client.find(Locator::Css("#paste-here")).await.unwrap().prop("value").await.unwrap();
    assert_eq!(pasted.as_deref(), Some(poll_url.as_str()), "the clipboard holds the poll's link");
    client.execute("document.getElementById('paste-here').remove()", vec![]).await.unwrap();
    let qr = client
        .execute("const img = document.querySelector('img.qr'); return img.complete && img.naturalWidth > 0", vec![])
        .await
        .unwrap();
    assert_eq!(qr, serde_json::json!(true), "the QR code image loaded");
    client.find(Locator::Css("details.embed-code summary")).await.unwrap().click().await.unwrap();
    let code = client.find(Locator::Css("#embed-code")).await.unwrap().prop("value").await.unwrap().unwrap();
    assert!(code.contains(&format!("src=\"{}\"", app.url(&format!("/embed/polls/{}", poll.id)))), "{code}");
    assert!(code.contains("/assets/embed-host.js"), "{code}");
    look(&client, "share-box").await.is_poll("Tea, coffee or water?").shows(&[
        ".share img.qr",
        ".share #share-url",
        ".share #embed-code",
    ]);
    audit(&client, "share-box").await;
}
