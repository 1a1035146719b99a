//! Lists come in pages: keyset cursors that stay stable while polls are being created.

use reqwest::StatusCode;
use rstest::rstest;
use rstest_reuse::apply;
use serde_json::json;

use crate::on_each_backend;
use crate::support::sse::SseClient;
use crate::support::{Backend, TestApp, spawn_app};

async fn create_polls(app: &TestApp, theme: &str, count: usize, tag: &str) {
    for i in 0..count {
        let body =
            json!({ "question": format!("{tag} {i}?"), "theme": theme, "options": [{"text": "a"}, {"text": "b"}] });
        assert_eq!(app.post_json("/api/polls", &body).await.status, StatusCode::CREATED);
    }
}

/// The `rel="next"` target of a `Link` header, if any.
fn next_link(link: &str) -> Option<String> {
    link.strip_prefix('<').and_then(|rest| rest.split_once(">; rel=\"next\"")).map(|(url, _)| url.to_owned())
}

#[apply(on_each_backend)]
#[tokio::test]
async fn api_pages_stay_stable_while_polls_are_created(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    create_polls(&app, "Sports", 45, "Before").await;
    let existing: i64 =
        app.scalar("select count(*) from polls where theme_id = (select id from themes where key = 'Sports')").await;

    let mut seen = Vec::new();
    let mut next = Some("/api/themes/Sports/polls?limit=20".to_owned());
    let mut pages = 0;
    while let Some(path) = next.take() {
        let page = app.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        let polls = page.json();
        let polls = polls.as_array().unwrap();
        assert!(polls.len() <= 20, "a page holds at most its limit");
        seen.extend(polls.iter().map(|p| p["id"].as_i64().unwrap()));
        next = next_link(&page.header("link"));
        pages += 1;
        // Others keep creating polls while this client pages through.
        create_polls(&app, "Sports", 3, &format!("During {pages}")).await;
        assert!(pages < 20, "paging ends");
    }

    let mut sorted = seen.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(seen, sorted, "in order, no poll twice");
    assert!(seen.len() as i64 >= existing, "every poll that existed at the start was listed");
    let default = app.get("/api/polls").await;
    assert_eq!(default.json().as_array().unwrap().len(), 20, "the default page size");
    assert!(next_link(&default.header("link")).is_some_and(|l| l.starts_with("/api/polls?after=")));
}

#[apply(on_each_backend)]
#[tokio::test]
async fn bad_page_requests_are_refused_with_a_message(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let cases = [
        ("/api/polls?limit=0", StatusCode::UNPROCESSABLE_ENTITY, "at least 1"),
        ("/api/polls?limit=101", StatusCode::UNPROCESSABLE_ENTITY, "at most 100"),
        ("/api/polls?limit=-1", StatusCode::BAD_REQUEST, "limit"),
        ("/api/themes/Sports/polls?after=abc", StatusCode::BAD_REQUEST, "after"),
    ];
    for (path, status, says) in cases {
        let page = app.get(path).await;
        assert_eq!(page.status, status, "{path}: {}", page.body);
        assert!(page.json()["error"].as_str().unwrap().contains(says), "{path}: {}", page.body);
    }
    let html = app.get("/themes/sports?limit=1000").await;
    assert_eq!(html.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.text(".error-page .message").contains("at most 100"));
}

#[apply(on_each_backend)]
#[tokio::test]
async fn a_theme_page_shows_one_page_numbered_on_with_its_own_live_stream(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    create_polls(&app, "Sports", 30, "Match").await;

    let first = app.get("/themes/sports").await;
    let more = first.attrs(".pager a", "href");
    let second = app.get(&more[0]).await;

    assert_eq!(first.texts(".poll-card").len(), 20);
    assert_eq!(first.texts(".poll-number")[..2], ["#1", "#2"]);
    assert!(more[0].starts_with("/themes/sports?after="), "{more:?}");
    assert_eq!(second.texts(".poll-number")[0], "#21");
    let stream = second.attrs(".live-totals", "sse-connect");
    assert!(stream[0].starts_with("/themes/sports/events?after="), "{stream:?}");
    let second_ids: Vec<String> = second.attrs(".poll-card .button", "href");
    let mut totals = SseClient::connect(&app.url(&format!("{}&format=json", stream[0])), None).await;
    let event = totals.next_event(std::time::Duration::from_secs(10)).await.unwrap().json();
    let followed: Vec<String> =
        event["polls"].as_array().unwrap().iter().map(|p| format!("/polls/{}", p["id"].as_i64().unwrap())).collect();
    assert_eq!(followed, second_ids, "the stream follows this page's polls, not the whole theme");
}

#[apply(on_each_backend)]
#[tokio::test]
async fn the_poll_list_filters_by_theme_and_by_open_or_closed_across_pages(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let closed = app.create_poll(serde_json::json!({ "theme": "OnTrend", "question": "Closed one?" })).await;
    app.patch_poll(closed.id, &closed.key, &serde_json::json!({ "closed": true })).await;
    let ids = |list: &serde_json::Value| -> Vec<i64> {
        list.as_array().unwrap().iter().map(|p| p["id"].as_i64().unwrap()).collect()
    };

    let on_trend = app.api("/api/polls?theme=on-trend").await;
    let by_key = app.api("/api/polls?theme=OnTrend").await;
    let open_on_trend = app.api("/api/polls?theme=OnTrend&active=true").await;
    let closed_only = app.api("/api/polls?active=false").await;

    assert_eq!(ids(&on_trend), ids(&by_key));
    assert!(on_trend.as_array().unwrap().iter().all(|p| p["theme"] == "OnTrend"));
    assert!(ids(&on_trend).contains(&closed.id));
    assert!(
        !ids(&open_on_trend).contains(&closed.id)
            && open_on_trend.as_array().unwrap().iter().all(|p| p["closed"] == false)
    );
    assert_eq!(ids(&closed_only), [closed.id]);

    // Page by page, the filters stay on the next link.
    let first = app.get("/api/polls?theme=OnTrend&active=true&limit=2").await;
    let link = first.header("link");
    assert!(link.contains("&theme=OnTrend&active=true>; rel=\"next\""), "{link}");
    let next = link.trim_start_matches('<').split('>').next().unwrap();
    let rest = app.api(next).await;
    let mut all = ids(&first.json());
    all.extend(ids(&rest));
    assert_eq!(all, ids(&open_on_trend));

    for (query, says) in [("active=maybe", "active must be true or false"), ("theme=nowhere", "There is no theme")] {
        let refused = app.get(&format!("/api/polls?{query}")).await;
        assert!(refused.status.is_client_error(), "{query}");
        assert!(refused.json()["error"].as_str().unwrap().contains(says), "{query}: {}", refused.body);
    }
}
