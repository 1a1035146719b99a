//! On stage: join codes, the presenter's controls as plain forms, results held for the
//! reveal, and votes per minute in the pages and the exports.

use std::collections::HashSet;
use std::time::Duration;

use reqwest::StatusCode;
use rstest::rstest;
use rstest_reuse::apply;
use serde_json::json;

use crate::on_each_backend;
use crate::support::sse::SseClient;
use crate::support::{Backend, OwnedPoll, TestApp, new_client, spawn_app};

/// The poll's join code as its page shows it.
async fn code_of(app: &TestApp, poll: i64) -> String {
    app.get(&format!("/polls/{poll}")).await.text(".join-code-line .code")
}

fn present_path(poll: &OwnedPoll) -> String {
    format!("/polls/{}/manage/{}/present", poll.id, poll.key)
}

/// A button of the owner's presenter view, pressed without JavaScript.
async fn press(app: &TestApp, poll: &OwnedPoll, action: &str) -> crate::support::Page {
    app.post_form(&present_path(poll), &[("action", action)]).await
}

#[apply(on_each_backend)]
#[tokio::test]
async fn a_code_typed_in_any_case_leads_to_its_poll_and_a_wrong_one_says_what_is_wrong(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let mut codes = HashSet::new();
    let mut polls = Vec::new();
    for i in 0..6 {
        let poll = app.create_poll(json!({ "question": format!("Question {i}?") })).await;
        let code = code_of(&app, poll.id).await;
        assert_eq!(code.len(), 6, "{code}");
        assert!(code.chars().all(|c| "23456789ABCDEFGHJKMNPQRSTUVWXYZ".contains(c)), "no look-alikes: {code}");
        assert!(codes.insert(code.clone()), "{code} given twice");
        polls.push((poll, code));
    }
    // Consecutive polls: codes that do not count up.
    let in_order: Vec<&String> = polls.iter().map(|(_, code)| code).collect();
    let mut sorted = in_order.clone();
    sorted.sort();
    assert_ne!(in_order, sorted, "codes follow no order: {in_order:?}");

    let (poll, code) = &polls[2];
    let lower = app.get(&format!("/j/{}", code.to_lowercase())).await;
    assert_eq!(lower.status, StatusCode::SEE_OTHER);
    assert_eq!(lower.header("location"), format!("/polls/{}/join", poll.id));
    // The home page's box: spaces, dashes and case forgiven.
    let home = app.get("/").await;
    assert_eq!(home.attrs("form.join-box", "action"), ["/j"]);
    assert_eq!(home.attrs("form.join-box input", "name"), ["code"]);
    let typed = format!(" {}-{} ", &code[..3].to_lowercase(), &code[3..]);
    let boxed = app.get(&format!("/j?code={}", as_query(&typed))).await;
    assert_eq!(boxed.status, StatusCode::SEE_OTHER);
    assert_eq!(boxed.header("location"), format!("/j/{code}"));
    let phone = app.get(&format!("/polls/{}/join", poll.id)).await;
    assert_eq!(phone.status, StatusCode::OK);
    assert_eq!(phone.text("h1"), "Question 2?");
    assert_eq!(phone.attrs(".follow", "sse-connect"), [format!("/polls/{}/stage?showing={}", poll.id, poll.id)]);

    // The address on the wall, opened as it is: the box, nothing wrong yet.
    let bare = app.get("/j").await;
    assert_eq!(bare.status, StatusCode::OK);
    assert_eq!(bare.texts("h1"), ["Join a poll"]);
    assert!(bare.attrs("#join-code", "aria-invalid").is_empty() && bare.texts("#join-problem").is_empty());
    for (typed, status, said) in [
        (
            "AB0DEF",
            StatusCode::BAD_REQUEST,
            "A join code has no 0: codes use the digits 2–9 and the letters A–Z except I, L and O.",
        ),
        ("ABC", StatusCode::BAD_REQUEST, "A join code has 6 characters; 3 were typed."),
        ("", StatusCode::BAD_REQUEST, "Type the code shown on the screen."),
    ] {
        let page = app.get(&format!("/j?code={typed}")).await;
        assert_eq!(page.status, status, "{typed}");
        assert_eq!(page.text("#join-problem"), said, "{typed}");
        assert_eq!(page.attrs("#join-code", "aria-invalid"), ["true"]);
        assert_eq!(page.texts("h1"), ["Join a poll"]);
    }
    // A well-formed code of no poll: a 404 that says so, not how many polls there are.
    let mut unknown = None;
    for candidate in ["ZZZZZZ", "YYYYYY", "XXXXXX", "WWWWWW"] {
        let page = app.get(&format!("/j/{candidate}")).await;
        if page.status == StatusCode::NOT_FOUND {
            unknown = Some((candidate, page));
            break;
        }
    }
    let (candidate, page) = unknown.expect("one of four random codes leads nowhere");
    assert!(page.text("#join-problem").starts_with(&format!("No poll or presentation has the code {candidate}.")));
    let hx = app.get_hx("/j?code=l1O").await;
    assert_eq!(hx.status, StatusCode::BAD_REQUEST);
    assert!(!hx.is_full_document(), "htmx gets the fragment");
    let theme = app.get("/themes/sports/present").await;
    let theme_code = theme.text(".stage-code");
    let joined = app.get(&format!("/j/{theme_code}")).await;
    assert_eq!((joined.status, joined.header("location")), (StatusCode::SEE_OTHER, "/themes/sports".to_owned()));
    assert!(!codes.contains(&theme_code), "a theme's code is not a poll's");
}

/// Spaces and dashes as a form sends them in a query.
fn as_query(text: &str) -> String {
    text.replace(' ', "+")
}

#[apply(on_each_backend)]
#[tokio::test]
async fn the_presenter_moves_through_the_theme_and_every_follower_fetches_the_new_poll(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let first = app.create_poll(json!({ "question": "First on stage?" })).await;
    let second = app.create_poll(json!({ "question": "Second on stage?" })).await;

    let wall = app.get(&present_path(&first)).await;
    assert_eq!(wall.status, StatusCode::OK);
    assert_eq!(wall.texts("h1"), ["First on stage?"]);
    assert_eq!(wall.header("cache-control"), "no-store", "the key is in the address: like the manage page");
    assert_eq!(wall.header("referrer-policy"), "no-referrer");
    let code = wall.text(".stage-code");
    assert_eq!(code, code_of(&app, first.id).await);
    assert!(wall.text(".stage-address").ends_with("/j"), "{}", wall.text(".stage-address"));
    assert_eq!(wall.attrs(".stage-qr", "src"), [format!("/j/{code}/qr.svg")]);
    let qr = app.get(&format!("/j/{}/qr.svg", code.to_lowercase())).await;
    assert_eq!((qr.status, qr.header("content-type")), (StatusCode::OK, "image/svg+xml".to_owned()));
    let keys = wall.attrs(".stage-controls [data-key]", "data-key");
    assert_eq!(keys, ["ArrowLeft", "ArrowRight", "C", "R", "F"]);
    assert_eq!(wall.attrs(".stage-controls button[value='reveal']", "disabled"), [""], "nothing to reveal yet");

    assert_eq!(press(&app, &first, "next").await.status, StatusCode::SEE_OTHER);
    let wall = app.get(&present_path(&first)).await;
    assert_eq!(wall.texts("h1"), ["Second on stage?"]);
    assert_eq!(wall.attrs(".follow", "sse-connect"), [format!("/polls/{}/stage?showing={}", first.id, second.id)]);
    // The phone that joined with the first poll's code now shows the second poll; so does
    // the read-only wall.
    let phone = app.get(&format!("/polls/{}/join", first.id)).await;
    assert_eq!(phone.text("h1"), "Second on stage?");
    assert_eq!(phone.attrs(".choice", "value").len(), 3, "a ballot to vote with");
    let public = app.get(&format!("/polls/{}/present", first.id)).await;
    assert_eq!(public.texts("h1"), ["Second on stage?"]);
    assert!(public.attrs("form.stage-controls", "action").is_empty(), "read-only: no controls");

    // Another owner's poll: the wall says so and closing it is refused.
    let refused = press(&app, &first, "close").await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(refused.text(".stage .notice").contains("Only this poll's owner"), "{}", refused.text(".stage .notice"));
    assert!(app.api(&format!("/api/polls/{}", second.id)).await["closed"] == false);
    let last = press(&app, &first, "next").await;
    assert_eq!(last.status, StatusCode::CONFLICT);
    assert_eq!(last.text(".stage .notice"), "This is the theme's last poll.");

    assert_eq!(press(&app, &first, "previous").await.status, StatusCode::SEE_OTHER);
    assert_eq!(app.get(&format!("/polls/{}/join", first.id)).await.text("h1"), "First on stage?");
    let stranger =
        app.post_form(&format!("/polls/{}/manage/{}/present", first.id, second.key), &[("action", "next")]).await;
    assert_eq!(stranger.status, StatusCode::FORBIDDEN, "another poll's key moves nothing");
    let bogus = press(&app, &first, "dance").await;
    assert_eq!(bogus.status, StatusCode::BAD_REQUEST);
    assert!(bogus.text(".message").contains("“dance”"));
}

#[apply(on_each_backend)]
#[tokio::test]
async fn closed_from_the_presenter_an_after_close_poll_holds_its_results_until_the_reveal(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let poll = app.create_poll(json!({ "question": "Held?", "results": "after_close" })).await;
    let voter = new_client();
    app.post_form_with(&voter, &format!("/polls/{}/votes", poll.id), &[("option", &poll.options[1].to_string())], &[])
        .await;

    let reveal_early = press(&app, &poll, "reveal").await;
    assert_eq!(reveal_early.status, StatusCode::CONFLICT);
    assert!(reveal_early.text(".stage .notice").starts_with("Close voting first"));
    assert_eq!(press(&app, &poll, "close").await.status, StatusCode::SEE_OTHER);
    let results = app.api(&format!("/api/polls/{}/results", poll.id)).await;
    assert_eq!((results["closed"].as_bool(), results["held"].as_bool()), (Some(true), Some(true)));
    assert_eq!(results["withheld"], true, "closed, yet held for the reveal");
    let wall = app.get(&present_path(&poll)).await;
    assert_eq!(wall.text(".stage .reveal"), "Voting has ended. The results are shown when the presenter reveals them.");
    assert!(wall.attrs(".stage-controls button[value='reveal']", "disabled").is_empty(), "R is live now");
    let manage = app.get(&format!("/polls/{}/manage/{}", poll.id, poll.key)).await;
    assert!(manage.text(".state").starts_with("Closed, results held for your reveal"));
    let csv = app.get(&format!("/api/polls/{}/timeline.csv", poll.id)).await;
    assert_eq!(csv.status, StatusCode::FORBIDDEN, "held results are not downloadable either");

    assert_eq!(press(&app, &poll, "reveal").await.status, StatusCode::SEE_OTHER);
    let results = app.api(&format!("/api/polls/{}/results", poll.id)).await;
    assert_eq!((results["withheld"].as_bool(), results["total"].as_i64()), (Some(false), Some(1)));
    let wall = app.get(&format!("/polls/{}/present", poll.id)).await;
    assert_eq!(wall.text(".stage .total"), "1 vote in total · final results");
    // A close from the manage page shows an after-close poll's results at once, as before.
    let other = app.create_poll(json!({ "question": "Not held?", "results": "after_close" })).await;
    app.post_form(&format!("/polls/{}/manage/{}", other.id, other.key), &[("action", "close")]).await;
    assert_eq!(app.api(&format!("/api/polls/{}/results", other.id)).await["withheld"], false);
}

#[apply(on_each_backend)]
#[tokio::test]
async fn votes_per_minute_are_counted_with_the_votes_drawn_on_the_page_and_exported(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let poll = app.create_poll(json!({ "question": "Over time?" })).await;
    let fresh = app.get(&format!("/polls/{}/results", poll.id)).await;
    assert!(fresh.attrs("figure.timeline", "class").is_empty(), "no timeline before the first vote");
    for i in 0..5 {
        app.post_form_with(
            &new_client(),
            &format!("/polls/{}/votes", poll.id),
            &[("option", &poll.options[i % 3].to_string())],
            &[],
        )
        .await;
    }
    let results = app.api(&format!("/api/polls/{}/results", poll.id)).await;
    let timeline = results["timeline"].as_array().unwrap();
    let counted: i64 = timeline.iter().map(|m| m["votes"].as_i64().unwrap()).sum();
    assert_eq!(counted, 5);
    assert!(timeline[0]["minute"].as_str().unwrap().ends_with(":00Z"), "{timeline:?}");
    assert_eq!(app.counters_out_of_step().await, 0, "the minutes add up to the votes");

    let page = app.get(&format!("/polls/{}/results", poll.id)).await;
    assert_eq!(page.attrs("figure.timeline svg path.bars", "class").len(), 1);
    assert!(page.text("figure.timeline figcaption").starts_with("Votes per minute, "));
    assert!(page.text("figure.timeline figcaption").contains("most 5 votes in one"), "{}", page.text("figcaption"));

    app.post_form(&format!("/polls/{}/manage/{}", poll.id, poll.key), &[("action", "close")]).await;
    let closed = app.get(&format!("/polls/{}/results", poll.id)).await;
    assert_eq!(closed.attrs("figure.timeline line.close", "class").len(), 1, "the close is marked");
    assert!(closed.text("figcaption").contains("closed "));

    let csv = app.get(&format!("/api/polls/{}/timeline.csv", poll.id)).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(csv.header("content-disposition"), format!("attachment; filename=\"poll-{}-timeline.csv\"", poll.id));
    let mut reader = csv::Reader::from_reader(csv.body.as_bytes());
    assert_eq!(reader.headers().unwrap().iter().collect::<Vec<_>>(), ["minute_utc", "votes"]);
    let rows: Vec<(String, i64)> =
        reader.records().map(|r| r.unwrap()).map(|r| (r[0].to_owned(), r[1].parse().unwrap())).collect();
    assert_eq!(rows.iter().map(|(_, v)| v).sum::<i64>(), 5);
    assert_eq!(rows[0].0, timeline[0]["minute"].as_str().unwrap());
    // Deleting the poll takes its minutes with it.
    app.post_form(&format!("/polls/{}/manage/{}", poll.id, poll.key), &[("action", "delete"), ("confirm", "yes")])
        .await;
    assert_eq!(app.scalar("select count(*) from poll_minutes").await, 0);
}

#[apply(on_each_backend)]
#[tokio::test]
async fn a_follower_reconnecting_is_compared_with_what_it_was_last_sent(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let first = app.create_poll(json!({ "question": "One?" })).await;
    let second = app.create_poll(json!({ "question": "Two?" })).await;
    let third = app.create_poll(json!({ "question": "Three?" })).await;
    let stream = app.url(&format!("/polls/{}/stage?showing={}", first.id, first.id));
    let mut follower = SseClient::connect(&stream, None).await;
    press(&app, &first, "next").await;
    let moved = follower.until(Duration::from_secs(5), "the move", |e| e.event == "stage").await;
    assert_eq!((moved.data.clone(), moved.id.clone()), (second.id.to_string(), Some(second.id.to_string())));
    press(&app, &first, "next").await;
    follower.until(Duration::from_secs(5), "the second move", |e| e.data == third.id.to_string()).await;
    drop(follower);

    // Offline meanwhile, the presenter went back to the second poll. The follower's address
    // still names the first; its Last-Event-ID, the third. It is told: the second.
    press(&app, &first, "previous").await;
    let mut back = SseClient::connect(&stream, Some(&third.id.to_string())).await;
    let told = back.until(Duration::from_secs(5), "where the presentation is", |e| e.event == "stage").await;
    assert_eq!(told.data, second.id.to_string());
    // Reconnecting where it already is: nothing to fetch.
    let mut same = SseClient::connect(&stream, Some(&second.id.to_string())).await;
    assert_eq!(same.next_event(Duration::from_millis(800)).await, None, "no needless refetch");
}

#[apply(on_each_backend)]
#[tokio::test]
async fn a_poll_followed_first_from_its_theme_page_still_streams_its_whole_timeline(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let poll = app.create_poll(json!({ "question": "Timeline after a theme page?" })).await;
    for _ in 0..3 {
        app.post_form_with(
            &new_client(),
            &format!("/polls/{}/votes", poll.id),
            &[("option", &poll.options[0].to_string())],
            &[],
        )
        .await;
    }
    // The theme page's stream starts the live channel from the list, which has no timeline.
    let mut theme = SseClient::connect(&app.url("/themes/sports/events"), None).await;
    theme.until(Duration::from_secs(5), "the totals", |e| e.event == "totals").await;
    app.wait_until_watched(poll.id).await;
    let mut viewer = SseClient::connect(&app.url(&format!("/polls/{}/events", poll.id)), None).await;
    let results = viewer.until(Duration::from_secs(5), "the results", |e| e.event == "results").await;
    assert!(results.data.contains("most 3 votes in one"), "the whole timeline drawn: {}", results.data);
}

#[apply(on_each_backend)]
#[tokio::test]
async fn a_second_poll_made_from_the_manage_page_shares_its_link_and_the_presenter_closes_both(
    #[case] backend: Backend,
) {
    let app = spawn_app(backend).await;
    let first = app.create_poll(json!({ "question": "Talk, question one?" })).await;
    let form_path = format!("/polls/{}/manage/{}/new", first.id, first.key);
    let form = app.get(&form_path).await;
    assert_eq!(form.status, StatusCode::OK);
    assert_eq!(form.header("cache-control"), "no-store", "its address holds the key");
    assert_eq!(form.attrs("form.poll-form", "action"), std::slice::from_ref(&form_path));
    assert_eq!(form.attrs("#theme option[selected]", "value"), ["sports"], "the first poll's theme");
    assert!(form.text(".notice").contains("the same manage link as “Talk, question one?”"));
    // A row more, then the poll, as the form's buttons post them.
    let added = app
        .post_form(
            &form_path,
            &[("question", "Q"), ("theme", "sports"), ("option", "a"), ("option", "b"), ("intent", "add")],
        )
        .await;
    assert_eq!(added.attrs("input[name='option']", "value").len(), 3);
    let created = app
        .post_form(
            &form_path,
            &[
                ("question", "Talk, question two?"),
                ("theme", "sports"),
                ("option", "Yes"),
                ("option", "No"),
                ("intent", "create"),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER);
    let location = created.header("location");
    assert!(location.ends_with(&format!("/manage/{}", first.key)), "the same key manages it: {location}");
    let second_manage = app.get(&location).await;
    assert_eq!(second_manage.text("h1"), "Talk, question two?");
    let second: i64 = location.split('/').nth(2).unwrap().parse().unwrap();

    // From the first poll's presenter: → to the second, and C closes it (its poll too).
    assert_eq!(press(&app, &first, "next").await.status, StatusCode::SEE_OTHER);
    let wall = app.get(&present_path(&first)).await;
    assert_eq!(wall.texts("h1"), ["Talk, question two?"]);
    assert!(wall.attrs(".stage-note", "class").is_empty(), "no 'someone else's poll' note");
    assert_eq!(press(&app, &first, "close").await.status, StatusCode::SEE_OTHER);
    assert_eq!(app.api(&format!("/api/polls/{second}")).await["closed"], true);
    // Another key gets nothing: neither the form nor a poll under it.
    let stranger = app.create_poll(json!({})).await;
    let refused = app.get(&format!("/polls/{}/manage/{}/new", first.id, stranger.key)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
}
