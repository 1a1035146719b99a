use reqwest::StatusCode;
use rstest::rstest;
use rstest_reuse::apply;
use serde_json::json;

use crate::on_each_backend;
use crate::support::{Backend, new_client, spawn_app};

#[apply(on_each_backend)]
#[tokio::test]
async fn themes_are_listed_with_keys_and_counts(#[case] backend: Backend) {
    let app = spawn_app(backend).await;

    let themes = app.api("/api/themes").await;

    let keys: Vec<&str> = themes.as_array().unwrap().iter().map(|t| t["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["OnTrend", "MoralDilemmas", "Sports"]);
    assert_eq!(themes[1]["slug"], "moral-dilemmas");
    assert_eq!(themes[1]["color"], "#4ecdc4");
    assert_eq!(themes[1]["poll_count"], 4);
    assert_eq!(themes[1]["vote_count"], 0);
}

#[apply(on_each_backend)]
#[tokio::test]
async fn a_themes_polls_come_by_key_or_slug_with_their_options(#[case] backend: Backend) {
    let app = spawn_app(backend).await;

    let by_key = app.api("/api/themes/OnTrend/polls").await;
    let by_slug = app.api("/api/themes/on-trend/polls").await;
    let unknown = app.get("/api/themes/Nope/polls").await;

    assert_eq!(by_key, by_slug);
    assert_eq!(by_key.as_array().unwrap().len(), 3);
    assert_eq!(by_key[0]["theme"], "OnTrend");
    assert_eq!(by_key[0]["options"][0]["text"], "A generative AI app");
    assert_eq!(by_key[0]["options"][0]["votes"], 0);
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.json()["error"], "There is no theme “Nope”.");
}

#[apply(on_each_backend)]
#[tokio::test]
async fn all_polls_and_one_poll_are_readable(#[case] backend: Backend) {
    let app = spawn_app(backend).await;

    let all = app.api("/api/polls").await;
    let id = all[4]["id"].as_i64().unwrap();
    let one = app.api(&format!("/api/polls/{id}")).await;
    let missing = app.get("/api/polls/999999").await;

    assert_eq!(all.as_array().unwrap().len(), 10);
    assert_eq!(one, all[4]);
    assert_eq!(one["closed"], false);
    assert_eq!(one["total"], 0);
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.json()["error"].as_str().unwrap().contains("There is no poll 999999"));
}

#[apply(on_each_backend)]
#[tokio::test]
async fn a_poll_created_through_the_api_is_answered_with_201_and_its_address(#[case] backend: Backend) {
    let app = spawn_app(backend).await;

    let created = app
        .post_json("/api/polls", &json!({ "question": "Pineapple on pizza?", "theme": "OnTrend", "options": [{ "text": "Yes" }, { "text": "No" }] }))
        .await;

    assert_eq!(created.status, StatusCode::CREATED);
    let body = created.json();
    let id = body["id"].as_i64().unwrap();
    assert_eq!(created.header("location"), format!("/api/polls/{id}"));
    assert_eq!(body["question"], "Pineapple on pizza?");
    assert_eq!(body["theme"], "OnTrend");
    assert_eq!(body["options"].as_array().unwrap().len(), 2);
    assert_eq!(created.header("cache-control"), "no-store", "the answer holds the manage key");
    let key = body["manage_key"].as_str().unwrap();
    assert_eq!(body["manage_url"].as_str().unwrap(), app.url(&format!("/polls/{id}/manage/{key}")));
    // The key is in this answer only.
    let later = app.api(&format!("/api/polls/{id}")).await;
    assert!(!later.to_string().contains(key));
    let mut first = body.clone();
    first.as_object_mut().unwrap().retain(|k, _| !k.starts_with("manage_"));
    assert_eq!(later, first);
}

#[apply(on_each_backend)]
#[tokio::test]
async fn an_invalid_api_poll_gets_422_with_a_message_per_field(#[case] backend: Backend) {
    let app = spawn_app(backend).await;

    let page = app
        .post_json(
            "/api/polls",
            &json!({ "question": "", "theme": "Cooking", "options": [{ "text": "A" }, { "text": "a" }] }),
        )
        .await;

    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    let body = page.json();
    assert_eq!(body["fields"]["question"], "Enter a question.");
    assert_eq!(body["fields"]["theme"], "There is no theme “Cooking”. Choose one from the list.");
    assert_eq!(body["fields"]["options[1]"], "Option 2 repeats option 1.");
    assert!(body["error"].as_str().unwrap().starts_with("The poll was not created: Enter a question."));
    assert_eq!(app.scalar("select count(*) from polls").await, 10);
}

#[apply(on_each_backend)]
#[tokio::test]
async fn malformed_api_bodies_get_json_errors_that_say_what_is_wrong(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let poll = app.first_poll("Sports").await;
    let raw = |body: &'static str, content_type: &'static str| {
        app.client.post(app.url("/api/polls")).header("content-type", content_type).body(body).send()
    };

    let broken = raw("{\"question\": ", "application/json").await.unwrap();
    let wrong_type = raw("question=x", "application/x-www-form-urlencoded").await.unwrap();
    let missing_field = app.post_json("/api/polls", &json!({ "question": "Q?" })).await;
    let wrong_shape = app.post_json(&format!("/api/polls/{poll}/vote"), &json!({ "choice": "first" })).await;

    assert_eq!(broken.status(), StatusCode::BAD_REQUEST);
    assert!(broken.json::<serde_json::Value>().await.unwrap()["error"].as_str().unwrap().contains("parse"));
    assert_eq!(wrong_type.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(
        wrong_type.json::<serde_json::Value>().await.unwrap()["error"].as_str().unwrap().contains("application/json")
    );
    assert_eq!(missing_field.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(missing_field.json()["error"].as_str().unwrap().contains("missing field `theme`"));
    assert_eq!(wrong_shape.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong_shape.json()["error"].as_str().unwrap().contains("choice"));
}

#[apply(on_each_backend)]
#[tokio::test]
async fn voting_by_choice_index_as_the_original_app_did(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let poll = app.first_poll("OnTrend").await;

    let vote = app.post_json(&format!("/api/polls/{poll}/vote"), &json!({ "choice": 2 })).await;

    assert_eq!(vote.status, StatusCode::OK);
    let body = vote.json();
    assert_eq!(body["status"], "accepted");
    assert_eq!(body["results"]["total"], 1);
    assert_eq!(body["results"]["options"][2]["votes"], 1);
    assert_eq!(body["results"]["options"][2]["text"], "The resurgence of niche forums");
    let results = app.api(&format!("/api/polls/{poll}/results")).await;
    assert_eq!(results, body["results"]);
}

#[apply(on_each_backend)]
#[tokio::test]
async fn voting_by_option_id_and_the_refusals(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let poll = app.first_poll("OnTrend").await;
    let options = app.poll_options(poll).await;
    let foreign_option = app.poll_options(app.first_poll("Sports").await).await[0];
    let accepted = app.post_json(&format!("/api/polls/{poll}/vote"), &json!({ "option_id": options[3] })).await;
    let again = app.post_json(&format!("/api/polls/{poll}/vote"), &json!({ "choice": 0 })).await;

    assert_eq!(accepted.status, StatusCode::OK);
    let chosen = accepted.json()["results"]["options"][3]["text"].as_str().unwrap().to_owned();
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(
        again.json(),
        json!({
            "error": format!("You already voted for “{chosen}”. One vote per poll."),
            "option_id": options[3],
            "option_ids": [options[3]],
        }),
        "the same words as the vote page"
    );
    assert_eq!(again.header("cache-control"), "no-store", "like every other refusal");

    let fresh = new_client();
    let cases = [
        (
            "index out of range",
            json!({ "choice": 4 }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "choice 4 is out of range: this poll has 4 options, numbered 0 to 3.",
        ),
        ("negative index", json!({ "choice": -1 }), StatusCode::UNPROCESSABLE_ENTITY, "choice -1 is out of range"),
        (
            "both fields",
            json!({ "choice": 0, "option_id": options[0] }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "exactly one",
        ),
        ("neither field", json!({}), StatusCode::UNPROCESSABLE_ENTITY, "Give exactly one of \"choice\""),
        (
            "another poll's option",
            json!({ "option_id": foreign_option }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "is not part of poll",
        ),
        ("unknown field", json!({ "pick": 1 }), StatusCode::UNPROCESSABLE_ENTITY, "unknown field `pick`"),
    ];
    for (description, body, status, message) in cases {
        let response = fresh.post(app.url(&format!("/api/polls/{poll}/vote"))).json(&body).send().await.unwrap();
        assert_eq!(response.status(), status, "{description}");
        let error: serde_json::Value = response.json().await.unwrap();
        assert!(error["error"].as_str().unwrap().contains(message), "{description}: {error}");
    }
    let unknown = fresh.post(app.url("/api/polls/424242/vote")).json(&json!({ "option_id": 1 })).send().await.unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert_eq!(app.api(&format!("/api/polls/{poll}/results")).await["total"], 1);
}

#[apply(on_each_backend)]
#[tokio::test]
async fn an_unknown_api_path_is_a_json_404(#[case] backend: Backend) {
    let app = spawn_app(backend).await;

    let page = app.get("/api/nothing/here").await;

    assert_eq!(page.status, StatusCode::NOT_FOUND);
    assert_eq!(page.json()["error"], "No such API endpoint.");
}
