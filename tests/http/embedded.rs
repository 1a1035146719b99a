use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Backend, fresh_database, spawn_replica};

#[tokio::test]
async fn the_embedded_app_keeps_polls_and_votes_across_a_restart() {
    let database_url = fresh_database(Backend::Sqlite).await;
    let first = spawn_replica(&database_url, &[]).await;
    let created = first
        .post_json(
            "/api/polls",
            &json!({ "question": "Still there?", "theme": "Sports", "options": [{ "text": "Yes" }, { "text": "No" }] }),
        )
        .await;
    let poll = created.json()["id"].as_i64().unwrap();
    first.post_json(&format!("/api/polls/{poll}/vote"), &json!({ "choice": 0 })).await;
    let demo = first.first_poll("OnTrend").await;
    first.vote(demo, first.poll_options(demo).await[2]).await;
    first.stop().await;

    let second = spawn_replica(&database_url, &[]).await;

    let kept = second.api(&format!("/api/polls/{poll}/results")).await;
    assert_eq!(kept["total"], 1);
    assert_eq!(kept["options"][0]["votes"], 1);
    assert_eq!(second.api(&format!("/api/polls/{demo}/results")).await["options"][2]["votes"], 1);
    assert_eq!(second.scalar("select count(*) from polls").await, 11, "seeding on restart added nothing");
    assert_eq!(second.scalar("select count(*) from votes").await, 2);
    let page = second.get("/stats").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.texts(".stats dd")[3], "2");
    second.stop().await;
    std::fs::remove_dir_all(std::path::Path::new(database_url.trim_start_matches("sqlite://")).parent().unwrap())
        .unwrap();
}

#[tokio::test]
async fn the_embedded_database_file_and_its_folder_are_created_on_first_start() {
    let database_url = fresh_database(Backend::Sqlite).await;
    let nested = database_url.replace("/votestream.db", "/more/folders/votes.db");

    let app = spawn_replica(&nested, &[]).await;

    let file = std::path::PathBuf::from(nested.trim_start_matches("sqlite://"));
    assert!(file.exists(), "{} was created", file.display());
    assert_eq!(app.api("/api/themes").await.as_array().unwrap().len(), 3);
    app.stop().await;
    std::fs::remove_dir_all(file.parent().unwrap().parent().unwrap().parent().unwrap()).unwrap();
}
