//! Results to take away: CSV and JSON, linked from the poll page.

use reqwest::StatusCode;
use rstest::rstest;
use rstest_reuse::apply;
use serde_json::json;

use crate::on_each_backend;
use crate::support::{Backend, spawn_app};

#[apply(on_each_backend)]
#[tokio::test]
async fn results_download_as_csv_that_a_parser_reads_back(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let texts = ["Yes, \"definitely\"", "=1+1", "Ünïcödé; ça va", "Plain"];
    let created = app
        .post_json(
            "/api/polls",
            &json!({ "question": "Awkward?", "theme": "Sports", "options": texts.map(|t| json!({ "text": t })) }),
        )
        .await;
    let poll = created.json()["id"].as_i64().unwrap();
    app.post_json(&format!("/api/polls/{poll}/vote"), &json!({ "choice": 0 })).await;
    let page = app.get(&format!("/polls/{poll}")).await;

    let links = page.attrs(".downloads a", "href");
    let csv = app.get(&links[0]).await;
    let json = app.get(&links[1]).await;

    assert_eq!(
        links,
        [
            format!("/api/polls/{poll}/results.csv"),
            format!("/api/polls/{poll}/results"),
            format!("/api/polls/{poll}/timeline.csv")
        ]
    );
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.header("content-type").starts_with("text/csv"));
    assert_eq!(csv.header("content-disposition"), format!("attachment; filename=\"poll-{poll}-results.csv\""));
    let mut reader = csv::Reader::from_reader(csv.body.as_bytes());
    let rows: Vec<Vec<String>> = reader.records().map(|r| r.unwrap().iter().map(str::to_owned).collect()).collect();
    let read_back: Vec<&str> = rows.iter().map(|r| r[1].as_str()).collect();
    assert_eq!(read_back, ["Yes, \"definitely\"", "'=1+1", "Ünïcödé; ça va", "Plain"], "a formula is made inert");
    assert_eq!(rows[0][2..], ["1".to_owned(), "100".to_owned()]);
    assert_eq!(json.json()["total"], 1);
    let missing = app.get("/api/polls/999999/results.csv").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.json()["error"].as_str().unwrap().contains("There is no poll 999999"));
}
