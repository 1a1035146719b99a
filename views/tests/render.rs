//! The templates render what the pages promise, without a server.

use votestream_views::components::{count, letter, percent};
use votestream_views::paths;
use votestream_views::{
    Ballot, ErrorView, FormErrors, FormLimits, NewPollForm, OptionTally, Results, ThemeSummary, VotePage, error,
    layout, poll,
};

fn theme() -> ThemeSummary {
    ThemeSummary { slug: "sports".into(), name: "Sports".into(), icon: "⚽".into(), description: "Predictions".into() }
}

fn vote_page(ballot: Ballot) -> VotePage {
    VotePage {
        theme: theme(),
        question: "Who wins?".into(),
        step: 2,
        steps: 3,
        results: Results {
            poll_id: 7,
            options: vec![
                OptionTally { id: 70, text: "Home".into(), votes: 1 },
                OptionTally { id: 71, text: "Away".into(), votes: 2 },
            ],
            closed: false,
            voters: 3,
            withheld: None,
            timeline: None,
        },
        max_choices: 1,
        ballot,
        refusal: None,
        voting_paused: false,
        embedded: false,
        share: None,
        next_poll: Some(8),
        join_code: None,
    }
}

#[test]
fn letters_counts_and_percentages() {
    assert_eq!((letter(0), letter(1), letter(9)), ('A', 'B', 'J'));
    assert_eq!(
        (count(0, "vote"), count(1, "vote"), count(2, "poll")),
        ("0 votes".into(), "1 vote".into(), "2 polls".into())
    );
    assert_eq!((percent(1, 3), percent(2, 3), percent(0, 0), percent(5, 5)), (33, 67, 0, 100));
}

#[test]
fn an_open_poll_shows_lettered_choices_and_no_results() {
    let html = poll::fragment(&vote_page(Ballot::Open)).into_string();

    assert!(html.contains("Step 2 of 3"));
    assert!(html.contains(r#"<button class="choice" type="submit" name="option" value="70">"#), "{html}");
    assert!(html.contains(">A</span>") && html.contains(">B</span>"));
    assert!(!html.contains("class=\"results\""));
}

#[test]
fn after_voting_the_results_and_next_link_show() {
    let html = poll::fragment(&vote_page(Ballot::Voted { option_ids: vec![71] })).into_string();

    assert!(html.contains("You voted for “Away”."));
    assert!(html.contains(r#"<progress value="2" max="3""#), "{html}");
    assert!(html.contains("2 votes · 67%"));
    assert!(html.contains(r#"href="/polls/8""#));
    assert!(!html.contains("class=\"choice\""));
}

#[test]
fn a_refused_vote_and_a_closed_poll_say_so() {
    let mut refused = vote_page(Ballot::Voted { option_ids: vec![70] });
    refused.refusal = Some("You already voted for “Home”. One vote per poll.".into());
    let refused = poll::fragment(&refused).into_string();
    let closed = poll::fragment(&vote_page(Ballot::Closed { option_ids: vec![] })).into_string();

    assert!(refused.contains("You already voted for “Home”. One vote per poll."));
    assert!(!refused.contains("You voted for"), "the refusal replaces the usual notice");
    assert!(closed.contains("This poll is closed: voting has ended."));
}

#[test]
fn while_voting_is_paused_the_page_shows_results_and_says_why() {
    let mut page = vote_page(Ballot::Open);
    page.voting_paused = true;

    let html = poll::fragment(&page).into_string();

    assert!(html.contains("voting is paused"), "{html}");
    assert!(!html.contains("class=\"choice\""), "no ballot to press");
    assert!(html.contains("class=\"results\""), "the latest results instead");
}

#[test]
fn an_embedded_poll_is_the_ballot_alone_posting_to_the_embed_route() {
    let mut page = vote_page(Ballot::Open);
    page.embedded = true;

    let html = layout::embed(&poll::title(&page), poll::fragment(&page)).into_string();

    assert!(html.contains(r#"action="/embed/polls/7/votes""#), "{html}");
    assert!(html.contains(r#"href="/polls/7" target="_blank""#), "a way out of the frame");
    assert!(!html.contains("site-header") && !html.contains("Step 2 of 3"), "no site chrome");
    assert!(html.contains(&format!(r#"<script src="/assets/embed.js?v={}" defer>"#, paths::EMBED_JS.version())));
}

#[test]
fn user_text_is_escaped() {
    let mut page = vote_page(Ballot::Open);
    page.question = "<script>alert(1)</script>".into();

    let html = layout::page(&poll::title(&page), poll::fragment(&page)).into_string();

    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert_eq!(html.matches("<script").count(), 3, "only htmx, its SSE extension and app.js");
}

#[test]
fn the_layout_loads_htmx_from_this_origin_with_a_csp_friendly_config() {
    let html = layout::page("T", maud::html! { p { "x" } }).into_string();

    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(
        html.contains(&format!(r#"<script src="/assets/vendor/htmx.min.js?v={}" defer>"#, paths::HTMX_JS.version()))
    );
    assert!(html.contains("&quot;allowEval&quot;:false"));
    assert!(html.contains("&quot;includeIndicatorStyles&quot;:false"));
    assert!(html.contains("<title>T · VoteStream</title>"));
    assert!(!layout::fragment("T", maud::html! {}).into_string().contains("<html"));
}

#[test]
fn form_errors_sit_next_to_their_fields() {
    let form = NewPollForm {
        themes: vec![],
        question: String::new(),
        theme: String::new(),
        options: vec!["a".into(), "a".into()],
        max_choices: String::new(),
        errors: FormErrors {
            question: Some("Enter a question.".into()),
            option: vec![None, Some("Option 2 repeats option 1.".into())],
            ..FormErrors::default()
        },
        limits: FormLimits { min_options: 2, max_options: 10, question_chars: 300, option_chars: 120 },
        focus_option: None,
        action: "/polls".into(),
        sharing_key_of: None,
    };

    let html = votestream_views::new_poll::fragment(&form).into_string();

    assert!(html.contains(r#"<p class="field-error" id="question-error">Enter a question.</p>"#), "{html}");
    assert!(html.contains(r#"<p class="field-error" id="option-1-error">Option 2 repeats option 1.</p>"#));
    assert!(html.contains(r#"aria-describedby="option-1-error""#));
    assert!(!html.contains("button class=\"remove\""), "two options: nothing to remove");
    assert!(html.contains(r#"maxlength="300""#) && html.contains(r#"maxlength="120""#), "limits as given");
}

#[test]
fn the_error_page_names_the_status() {
    let view = ErrorView { status: 404, title: "Not found".into(), message: "No such poll.".into() };

    let html = layout::page(&view.title, error::fragment(&view)).into_string();

    assert!(html.contains("<p class=\"status\">404</p>") && html.contains("No such poll."));
}

/// The start tag of the first element whose tag opens with `opening` (e.g. `<div class="ballot"`).
fn start_tag<'a>(html: &'a str, opening: &str) -> &'a str {
    let at = html.find(opening).unwrap_or_else(|| panic!("no {opening} in {html}"));
    let end = html[at..].find('>').expect("a closed start tag");
    &html[at..=at + end]
}

/// htmx attributes are inherited: an `hx-target` or `hx-swap` on an element that holds a
/// form or link would send that form's answer (a whole page) into the element.
#[test]
fn no_live_region_that_holds_a_form_or_link_sets_a_target_its_children_inherit() {
    let open = poll::fragment(&vote_page(Ballot::Open)).into_string();
    let ballot = start_tag(&open, r#"<div class="ballot""#);
    assert!(!ballot.contains("hx-target") && !ballot.contains("hx-swap"), "the ballot holds the vote form: {ballot}");
    let listener = start_tag(&open, r#"<div class="on-close""#);
    assert!(listener.contains(r#"hx-target="closest .ballot""#), "the close still replaces the ballot: {listener}");

    let voted = poll::fragment(&vote_page(Ballot::Voted { option_ids: vec![1] })).into_string();
    let live_at = voted.find(r#"<div class="live""#).expect("the live results");
    let live = &voted[live_at..live_at + voted[live_at..].find("</section></div>").expect("its end")];
    assert!(
        !live.contains("<a ") && !live.contains("<form"),
        "the live region (hx-target=this) holds no link or form: {live}"
    );
}
