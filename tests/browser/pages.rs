//! The pages no flow ends on, each as a person first sees it, audited.

use crate::harness::{audit, browser, look};
use crate::support::{self, spawn_app};

#[tokio::test]
async fn every_other_page_looks_whole_and_passes_an_accessibility_audit() {
    let app = spawn_app(support::Backend::Sqlite).await;
    let poll = app.first_poll("OnTrend").await;
    let owned = app.create_poll(serde_json::json!({ "max_choices": 2, "results": "after_vote" })).await;
    let (_driver, client) = browser(true).await;
    let pages = [
        ("home", "/".to_owned(), "What does everyone think?"),
        ("theme", "/themes/on-trend".into(), "#OnTrend"),
        ("poll", format!("/polls/{poll}"), "What will be the next 'big social network' to dominate the market?"),
        ("withheld-ballot", format!("/polls/{}", owned.id), "Tea, coffee or water?"),
        ("manage", format!("/polls/{}/manage/{}", owned.id, owned.key), "Tea, coffee or water?"),
        ("new-poll", "/polls/new".into(), "Create a poll"),
        ("stats", "/stats".into(), "Stats"),
        ("not-found", "/nowhere".into(), "Not found"),
        ("embed", format!("/embed/polls/{poll}"), "What will be the next 'big social network' to dominate the market?"),
    ];
    for (name, path, heading) in &pages {
        client.goto(&app.url(path)).await.unwrap();
        look(&client, &format!("page-{name}")).await.is_page(heading);
        audit(&client, path).await;
    }
}
