//! A poll's owner: the manage link, closing (now and at a set time), who sees results
//! when, duplicate protection, deleting; and polls that take several choices.

use std::time::Duration;

use reqwest::StatusCode;
use rstest::rstest;
use rstest_reuse::apply;
use serde_json::json;

use crate::on_each_backend;
use crate::support::{Backend, OwnedPoll, TestApp, eventually, new_client, spawn_app};

/// Posts a manage-page form as the owner's browser would.
async fn manage(app: &TestApp, poll: &OwnedPoll, fields: &[(&str, &str)]) -> crate::support::Page {
    app.post_form(&format!("/polls/{}/manage/{}", poll.id, poll.key), fields).await
}

async fn vote_as(app: &TestApp, voter: &reqwest::Client, poll: i64, options: &[i64]) -> crate::support::Page {
    let fields: Vec<(&str, String)> = options.iter().map(|o| ("option", o.to_string())).collect();
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    app.post_form_with(voter, &format!("/polls/{poll}/votes"), &fields, &[]).await
}

#[apply(on_each_backend)]
#[tokio::test]
async fn the_manage_key_is_stored_only_as_its_hash_and_a_wrong_key_reveals_nothing(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let poll = app.create_poll(json!({ "question": "Secret plans?" })).await;
    let stored = app.scalar_text(&format!("select manage_hash from polls where id = {}", poll.id)).await;
    assert_ne!(stored, poll.key);
    assert!(!stored.contains(&poll.key));
    assert_eq!(stored.len(), 64, "a SHA-256 digest in hex");

    let owner = app.get(&format!("/polls/{}/manage/{}", poll.id, poll.key)).await;
    assert_eq!(owner.status, StatusCode::OK);
    assert_eq!(owner.text("h1.question"), "Secret plans?");
    assert_eq!(owner.header("cache-control"), "no-store");
    assert_eq!(owner.header("referrer-policy"), "no-referrer", "the key in the address never leaks in a Referer");
    assert_eq!(owner.header("x-robots-tag"), "noindex");
    assert!(owner.texts(".manage-link").is_empty(), "the link is shown with its warning only on creation");

    let wrong_key = "0".repeat(64);
    let attempts = [
        format!("/polls/{}/manage/{wrong_key}", poll.id),
        format!("/polls/{}/manage/short", poll.id),
        format!("/polls/999999/manage/{}", poll.key),
    ];
    let mut bodies = Vec::new();
    for path in &attempts {
        let page = app.get(path).await;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
        assert!(!page.body.contains("Secret plans?"), "{path}: nothing about the poll");
        bodies.push(page.text(".error-page .message"));
        let post = app.post_form(path, &[("action", "close")]).await;
        assert_eq!(post.status, StatusCode::FORBIDDEN, "{path}");
    }
    assert!(bodies.iter().all(|b| b == &bodies[0]), "the same answer whatever was wrong: {bodies:?}");
    assert!(bodies[0].contains("This manage link is not valid"), "{}", bodies[0]);

    let no_key = app.post_json(&format!("/api/polls/{}", poll.id), &json!({})).await;
    assert_eq!(no_key.status, StatusCode::METHOD_NOT_ALLOWED);
    let unsigned = new_client().patch(app.url(&format!("/api/polls/{}", poll.id))).json(&json!({ "closed": true }));
    let unsigned = unsigned.send().await.unwrap();
    assert_eq!(unsigned.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(unsigned.headers()["www-authenticate"], "Bearer");
    let wrong = app.patch_poll(poll.id, &wrong_key, &json!({ "closed": true })).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);
    assert!(wrong.json()["error"].as_str().unwrap().contains("not valid"));
    assert_eq!(app.api(&format!("/api/polls/{}", poll.id)).await["closed"], false, "nothing changed");
}

#[apply(on_each_backend)]
#[tokio::test]
async fn the_owner_closes_and_reopens_from_the_manage_page(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let poll = app.create_poll(json!({})).await;

    let closed = manage(&app, &poll, &[("action", "close")]).await;
    assert_eq!(closed.status, StatusCode::SEE_OTHER);
    let refused = vote_as(&app, &new_client(), poll.id, &poll.options[..1]).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert_eq!(refused.text(".notice"), "This poll is closed: voting has ended.");
    let page = app.get(&closed.header("location")).await;
    assert_eq!(page.texts(".manage-actions button"), ["Reopen voting"]);

    assert_eq!(manage(&app, &poll, &[("action", "reopen")]).await.status, StatusCode::SEE_OTHER);
    let accepted = vote_as(&app, &new_client(), poll.id, &poll.options[..1]).await;
    assert_eq!(accepted.status, StatusCode::SEE_OTHER);
    assert_eq!(app.api(&format!("/api/polls/{}", poll.id)).await["total"], 1);

    let nonsense = manage(&app, &poll, &[("action", "explode")]).await;
    assert_eq!(nonsense.status, StatusCode::BAD_REQUEST);
    let bad_setting = manage(&app, &poll, &[("action", "settings"), ("results", "sometimes")]).await;
    assert_eq!(bad_setting.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad_setting.text(".error-page .message").contains("“sometimes” is not a choice"));
}

#[apply(on_each_backend)]
#[tokio::test]
async fn a_poll_closes_by_itself_at_its_closing_time(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let poll = app.create_poll(json!({})).await;
    let soon = time::OffsetDateTime::now_utc() + time::Duration::seconds(2);
    let at = soon.format(&time::format_description::well_known::Rfc3339).unwrap();
    let set = app.patch_poll(poll.id, &poll.key, &json!({ "closes_at": at })).await;
    assert_eq!(set.status, StatusCode::OK, "{}", set.body);
    assert_eq!(set.json()["closes_at"].as_str().unwrap()[..19], at[..19]);
    assert_eq!(vote_as(&app, &new_client(), poll.id, &poll.options[..1]).await.status, StatusCode::SEE_OTHER);

    eventually("the poll closed at its time", Duration::from_secs(10), async || {
        app.api(&format!("/api/polls/{}", poll.id)).await["closed"] == true
    })
    .await;
    let late = vote_as(&app, &new_client(), poll.id, &poll.options[..1]).await;
    assert_eq!(late.status, StatusCode::CONFLICT);
    assert_eq!(app.api(&format!("/api/polls/{}", poll.id)).await["total"], 1, "the vote before the time counted");

    let past = app.patch_poll(poll.id, &poll.key, &json!({ "closes_at": "2001-01-01T00:00:00Z" })).await;
    assert_eq!(past.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(past.json()["error"].as_str().unwrap().contains("has passed"));
    // Reopening clears a closing time that has passed, so the poll stays open.
    let reopened = app.patch_poll(poll.id, &poll.key, &json!({ "closed": false })).await;
    assert_eq!((reopened.json()["closed"].clone(), reopened.json()["closes_at"].clone()), (json!(false), json!(null)));
}

#[apply(on_each_backend)]
#[tokio::test]
async fn results_after_voting_are_withheld_on_page_fragment_api_and_export_until_then(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let poll = app.create_poll(json!({ "results": "after_vote" })).await;
    vote_as(&app, &new_client(), poll.id, &poll.options[..1]).await;
    let viewer = new_client();
    let get = |path: String| {
        let viewer = viewer.clone();
        let url = app.url(&path);
        async move { viewer.get(url).send().await.unwrap() }
    };

    let fragment = get(format!("/polls/{}/results", poll.id)).await.text().await.unwrap();
    assert!(fragment.contains("1 has voted") && fragment.contains("Results are shown once you have voted."));
    assert!(!fragment.contains("votes in total"), "{fragment}");
    let api: serde_json::Value = get(format!("/api/polls/{}/results", poll.id)).await.json().await.unwrap();
    assert_eq!(
        (api["withheld"].clone(), api["total"].clone(), api["voters"].clone()),
        (json!(true), json!(null), json!(1))
    );
    assert!(api["options"][0].get("votes").is_none(), "{api}");
    let poll_json: serde_json::Value = get(format!("/api/polls/{}", poll.id)).await.json().await.unwrap();
    assert!(poll_json["options"][0].get("votes").is_none(), "{poll_json}");
    let csv = get(format!("/api/polls/{}/results.csv", poll.id)).await;
    assert_eq!(csv.status(), StatusCode::FORBIDDEN);
    let listed = app.api("/api/themes/Sports/polls").await;
    let listed = listed.as_array().unwrap().iter().find(|p| p["id"] == poll.id).unwrap().clone();
    assert_eq!(listed["total"], json!(null), "lists withhold too");

    vote_as(&app, &viewer, poll.id, &poll.options[1..2]).await;

    let fragment = get(format!("/polls/{}/results", poll.id)).await.text().await.unwrap();
    assert!(fragment.contains("2 votes in total"), "{fragment}");
    let api: serde_json::Value = get(format!("/api/polls/{}/results", poll.id)).await.json().await.unwrap();
    assert_eq!(api["total"], 2);
    assert_eq!(get(format!("/api/polls/{}/results.csv", poll.id)).await.status(), StatusCode::OK);
    let page = viewer.get(app.url(&format!("/polls/{}", poll.id))).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Download the results"), "voters get the downloads");
}

#[apply(on_each_backend)]
#[tokio::test]
async fn results_after_closing_are_withheld_from_voters_too_until_the_close(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let poll = app.create_poll(json!({ "results": "after_close" })).await;
    let voter = new_client();
    vote_as(&app, &voter, poll.id, &poll.options[2..3]).await;

    let page = voter.get(app.url(&format!("/polls/{}", poll.id))).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("You voted for “Water”.") && page.contains("Results are shown when the poll closes."));
    assert!(!page.contains("votes in total") && !page.contains("Download the results"), "{page}");
    let owner = app.get(&format!("/polls/{}/manage/{}", poll.id, poll.key)).await;
    assert_eq!(owner.texts(".result .count")[2], "1 vote · 100%", "the owner always sees the results");

    app.patch_poll(poll.id, &poll.key, &json!({ "closed": true })).await;

    let stranger = app.get(&format!("/polls/{}/results", poll.id)).await;
    assert!(stranger.body.contains("1 vote in total · final results"), "{}", stranger.body);
}

#[apply(on_each_backend)]
#[tokio::test]
async fn duplicate_protection_by_browser_by_address_or_none(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let by_cookie = app.create_poll(json!({})).await;
    let by_address = app.create_poll(json!({ "protection": "ip" })).await;
    let unprotected = app.create_poll(json!({ "protection": "none" })).await;
    let (alice, bob) = (new_client(), new_client());

    assert_eq!(vote_as(&app, &alice, by_cookie.id, &by_cookie.options[..1]).await.status, StatusCode::SEE_OTHER);
    assert_eq!(vote_as(&app, &bob, by_cookie.id, &by_cookie.options[..1]).await.status, StatusCode::SEE_OTHER);
    assert_eq!(vote_as(&app, &alice, by_cookie.id, &by_cookie.options[..1]).await.status, StatusCode::CONFLICT);

    assert_eq!(vote_as(&app, &alice, by_address.id, &by_address.options[..1]).await.status, StatusCode::SEE_OTHER);
    let same_address = vote_as(&app, &bob, by_address.id, &by_address.options[1..2]).await;
    assert_eq!(same_address.status, StatusCode::CONFLICT);
    assert_eq!(
        same_address.text(".notice"),
        "A vote from your network address is already counted in this poll: it takes one per address."
    );
    assert!(!same_address.body.contains("You voted"), "bob is not told alice's choice");

    for _ in 0..3 {
        assert_eq!(
            vote_as(&app, &alice, unprotected.id, &unprotected.options[..1]).await.status,
            StatusCode::SEE_OTHER
        );
    }
    assert_eq!(app.api(&format!("/api/polls/{}", unprotected.id)).await["total"], 3);
    assert_eq!(app.api(&format!("/api/polls/{}", by_address.id)).await["total"], 1);
    assert_eq!(app.counters_out_of_step().await, 0);

    let switched = app.patch_poll(by_address.id, &by_address.key, &json!({ "protection": "cookie" })).await;
    assert_eq!(switched.json()["protection"], "cookie");
    assert_eq!(vote_as(&app, &bob, by_address.id, &by_address.options[1..2]).await.status, StatusCode::SEE_OTHER);
}

#[apply(on_each_backend)]
#[tokio::test]
async fn the_owner_deletes_a_poll_with_its_votes_after_confirming(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let poll = app.create_poll(json!({ "question": "Delete me?" })).await;
    let other = app.create_poll(json!({})).await;
    vote_as(&app, &new_client(), poll.id, &poll.options[..1]).await;
    vote_as(&app, &new_client(), other.id, &other.options[..1]).await;

    let unconfirmed = manage(&app, &poll, &[("action", "delete")]).await;
    assert_eq!(unconfirmed.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(unconfirmed.text(".notice").contains("Tick the box to confirm"));
    assert_eq!(app.get(&format!("/polls/{}", poll.id)).await.status, StatusCode::OK, "still there");

    let deleted = manage(&app, &poll, &[("action", "delete"), ("confirm", "yes")]).await;
    assert_eq!(deleted.status, StatusCode::OK);
    assert_eq!(deleted.text("[role=status]"), "“Delete me?” and its 1 vote are gone.");
    assert_eq!(app.get(&format!("/polls/{}", poll.id)).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get(&format!("/polls/{}/manage/{}", poll.id, poll.key)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.scalar("select count(*) from votes").await, 1, "only the other poll's vote is left");
    assert_eq!(app.scalar("select count(*) from ballots").await, 1);

    let wrong = new_client().delete(app.url(&format!("/api/polls/{}", other.id))).bearer_auth(&poll.key).send();
    assert_eq!(wrong.await.unwrap().status(), StatusCode::FORBIDDEN, "one poll's key opens no other");
    let right = new_client().delete(app.url(&format!("/api/polls/{}", other.id))).bearer_auth(&other.key).send();
    assert_eq!(right.await.unwrap().status(), StatusCode::NO_CONTENT);
    assert_eq!(app.scalar("select count(*) from votes").await, 0);

    // The home page's counters follow creations, votes and deletions.
    let themes = app.api("/api/themes").await;
    let sports = themes.as_array().unwrap().iter().find(|t| t["key"] == "Sports").unwrap().clone();
    let polls =
        app.scalar("select count(*) from polls p join themes t on t.id = p.theme_id where t.key = 'Sports'").await;
    let votes = app
        .scalar(
            "select cast(coalesce(sum(o.votes), 0) as bigint) from options o join polls p on p.id = o.poll_id
              join themes t on t.id = p.theme_id where t.key = 'Sports'",
        )
        .await;
    assert_eq!((sports["poll_count"].as_i64(), sports["vote_count"].as_i64()), (Some(polls), Some(votes)));
}

#[apply(on_each_backend)]
#[tokio::test]
async fn two_deletes_at_once_remove_the_poll_once_and_count_it_once(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let poll = app.create_poll(json!({ "question": "Delete me twice?" })).await;
    vote_as(&app, &new_client(), poll.id, &poll.options[..1]).await;
    let sports = |themes: serde_json::Value| {
        let sports = themes.as_array().unwrap().iter().find(|t| t["key"] == "Sports").unwrap().clone();
        (sports["poll_count"].as_i64().unwrap(), sports["vote_count"].as_i64().unwrap())
    };
    let (polls, votes) = sports(app.api("/api/themes").await);

    let delete = || new_client().delete(app.url(&format!("/api/polls/{}", poll.id))).bearer_auth(&poll.key).send();
    let (first, second) = tokio::join!(delete(), delete());
    let mut statuses = [first.unwrap().status(), second.unwrap().status()];
    statuses.sort();

    assert_eq!(
        statuses,
        [StatusCode::NO_CONTENT, StatusCode::FORBIDDEN],
        "one delete; the other finds no poll of that key"
    );
    assert_eq!(sports(app.api("/api/themes").await), (polls - 1, votes - 1), "the theme counts it gone once");
    // The theme's pages still say where its polls stand.
    let first_poll = app.first_poll("Sports").await;
    let page = app.get(&format!("/polls/{first_poll}")).await;
    assert!(page.text(".step").contains(&format!(" of {} · ", polls - 1)), "{}", page.text(".step"));
}

#[apply(on_each_backend)]
#[tokio::test]
async fn a_poll_may_take_several_choices_each_counted_once(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let created = app
        .post_form(
            "/polls",
            &[
                ("question", "Which fruits?"),
                ("theme", "sports"),
                ("option", "Apple"),
                ("option", "Pear"),
                ("option", "Plum"),
                ("max_choices", "2"),
                ("intent", "create"),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let id: i64 = created.header("location").split('/').nth(2).unwrap().parse().unwrap();
    let options = app.poll_options(id).await;
    let page = app.get(&format!("/polls/{id}")).await;
    assert_eq!(page.text("legend"), "Select up to 2 answers:");
    assert_eq!(page.attrs("input[type=checkbox][name=option]", "value").len(), 3);

    let voter = new_client();
    let too_many = vote_as(&app, &voter, id, &options).await;
    assert_eq!(too_many.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        too_many.text(".notice"),
        "You picked 3 options; this poll takes at most 2. Untick some and vote again."
    );
    let twice_the_same = vote_as(&app, &voter, id, &[options[0], options[0], options[2]]).await;
    assert_eq!(twice_the_same.status, StatusCode::SEE_OTHER);
    let again = vote_as(&app, &voter, id, &options[1..2]).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.text(".notice"), "You already voted for “Apple” and “Plum”. One vote per poll.");

    let api = app.post_json(&format!("/api/polls/{id}/vote"), &json!({ "option_ids": [options[1], options[2]] })).await;
    assert_eq!(api.status, StatusCode::OK, "{}", api.body);
    let results = app.api(&format!("/api/polls/{id}/results")).await;
    let votes: Vec<i64> = results["options"].as_array().unwrap().iter().map(|o| o["votes"].as_i64().unwrap()).collect();
    assert_eq!(votes, [1, 1, 2]);
    assert_eq!((results["total"].clone(), results["voters"].clone()), (json!(4), json!(2)));
    let page = app.get(&format!("/polls/{id}/results")).await;
    assert_eq!(page.text(".total"), "4 votes in total from 2 voters");
    assert_eq!(app.counters_out_of_step().await, 0);

    let bad = app
        .post_form(
            "/polls",
            &[
                ("question", "Q?"),
                ("theme", "sports"),
                ("option", "a"),
                ("option", "b"),
                ("max_choices", "3"),
                ("intent", "create"),
            ],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        bad.text("#max-choices-error"),
        "Choices per voter must be a whole number from 1 to 2 (the number of options), not “3”."
    );
}
