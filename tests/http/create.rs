use reqwest::StatusCode;
use rstest::rstest;
use rstest_reuse::apply;

use crate::on_each_backend;
use crate::support::{Backend, spawn_app};

/// A form submission as (name, value) pairs.
type Fields<'a> = Vec<(&'a str, &'a str)>;

fn fields<'a>(question: &'a str, theme: &'a str, options: &[&'a str], intent: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut fields = vec![("question", question), ("theme", theme)];
    fields.extend(options.iter().map(|o| ("option", *o)));
    fields.push(("intent", intent));
    fields
}

#[apply(on_each_backend)]
#[tokio::test]
async fn the_new_poll_form_offers_the_themes_and_two_blank_options(#[case] backend: Backend) {
    let app = spawn_app(backend).await;

    let page = app.get("/polls/new").await;
    let preselected = app.get("/polls/new?theme=sports").await;

    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.text("h1"), "Create a poll");
    assert_eq!(page.attrs("select#theme option", "value"), ["", "on-trend", "moral-dilemmas", "sports"]);
    assert_eq!(page.attrs("input[name=option]", "value"), ["", ""]);
    assert_eq!(page.texts("label[for^=option-]"), ["Option 1", "Option 2"]);
    assert!(page.texts("button.remove").is_empty(), "two is the minimum");
    assert_eq!(page.text("button.add"), "+ Add option");
    assert_eq!(preselected.attrs("select#theme option[selected]", "value"), ["sports"]);
}

#[apply(on_each_backend)]
#[tokio::test]
async fn add_option_works_without_javascript_and_keeps_what_was_typed(#[case] backend: Backend) {
    let app = spawn_app(backend).await;

    let page = app.post_form("/polls", &fields("Tea or coffee?", "on-trend", &["Tea", "Coffee"], "add")).await;

    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.attrs("input[name=option]", "value"), ["Tea", "Coffee", ""]);
    assert_eq!(page.text("textarea#question"), "Tea or coffee?");
    assert_eq!(page.attrs("select#theme option[selected]", "value"), ["on-trend"]);
    assert_eq!(page.texts("button.remove").len(), 3);
    assert!(page.texts(".field-error").is_empty(), "no complaints while editing");
    assert_eq!(app.scalar("select count(*) from polls").await, 10, "nothing created");
}

#[apply(on_each_backend)]
#[tokio::test]
async fn remove_option_removes_that_row_but_never_below_two(#[case] backend: Backend) {
    let app = spawn_app(backend).await;

    let page = app.post_form("/polls", &fields("Q?", "sports", &["a", "b", "c"], "remove:1")).await;
    let at_minimum = app.post_form("/polls", &fields("Q?", "sports", &["a", "c"], "remove:0")).await;

    assert_eq!(page.attrs("input[name=option]", "value"), ["a", "c"]);
    assert_eq!(at_minimum.attrs("input[name=option]", "value"), ["a", "c"]);
}

#[apply(on_each_backend)]
#[tokio::test]
async fn the_form_stops_offering_more_than_ten_options(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let nine: Vec<String> = (1..=9).map(|i| format!("o{i}")).collect();
    let nine: Vec<&str> = nine.iter().map(String::as_str).collect();

    let page = app.post_form("/polls", &fields("Q?", "sports", &nine, "add")).await;

    assert_eq!(page.attrs("input[name=option]", "value").len(), 10);
    assert!(page.texts("button.add").is_empty());
}

#[apply(on_each_backend)]
#[tokio::test]
async fn an_htmx_form_action_gets_the_form_fragment(#[case] backend: Backend) {
    let app = spawn_app(backend).await;

    let page = app
        .post_form_with(&app.client, "/polls", &fields("Q?", "sports", &["a", "b"], "add"), &[("HX-Request", "true")])
        .await;

    assert_eq!(page.status, StatusCode::OK);
    assert!(!page.is_full_document());
    assert_eq!(page.attrs("input[name=option]", "value"), ["a", "b", ""]);
}

#[apply(on_each_backend)]
#[tokio::test]
async fn a_valid_poll_is_created_and_shown_in_its_theme(#[case] backend: Backend) {
    let app = spawn_app(backend).await;

    let created = app
        .post_form(
            "/polls",
            &fields("  Which   season is best? ", "moral-dilemmas", &["Spring", "Summer", "Autumn"], "create"),
        )
        .await;

    assert_eq!(created.status, StatusCode::SEE_OTHER);
    let location = created.header("location");
    assert!(location.starts_with("/polls/") && location.contains("/manage/"), "to the manage page: {location}");
    let manage = app.get(&location).await;
    assert_eq!(manage.text("h2"), "Your poll is live. Keep this manage link");
    assert_eq!(manage.attrs("#manage-url", "value"), [app.url(location.trim_end_matches("?created"))]);
    let poll_link = manage.attrs(".state a", "href");
    let page = app.get(&poll_link[0]).await;
    assert_eq!(page.text("h1.question"), "Which season is best?");
    assert_eq!(page.text(".step"), "Step 5 of 5 · Moral Dilemmas");
    assert_eq!(page.texts(".choice .text"), ["Spring", "Summer", "Autumn"]);
    let theme = app.get("/themes/moral-dilemmas").await;
    assert_eq!(theme.texts(".poll-card h2").last().unwrap(), "Which season is best?");
    assert_eq!(theme.texts(".poll-number").last().unwrap(), "#5");
}

#[apply(on_each_backend)]
#[tokio::test]
async fn every_validation_message_shows_next_to_its_field_and_nothing_is_stored(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let long_question = "x".repeat(301);
    let long_option = "y".repeat(201);
    let eleven: Vec<String> = (1..=11).map(|i| format!("o{i}")).collect();
    let eleven: Vec<&str> = eleven.iter().map(String::as_str).collect();
    let cases: Vec<(&str, Fields, &str, &str)> = vec![
        ("blank question", fields("  ", "sports", &["a", "b"], "create"), "#question-error", "Enter a question."),
        (
            "over-long question",
            fields(&long_question, "sports", &["a", "b"], "create"),
            "#question-error",
            "The question is too long: 301 characters, at most 300.",
        ),
        ("no theme", fields("Q?", "", &["a", "b"], "create"), "#theme-error", "Choose a theme."),
        (
            "unknown theme",
            fields("Q?", "cooking", &["a", "b"], "create"),
            "#theme-error",
            "There is no theme “cooking”. Choose one from the list.",
        ),
        (
            "blank option",
            fields("Q?", "sports", &["a", " "], "create"),
            "#option-1-error",
            "Option 2 is blank: fill it in or remove it.",
        ),
        (
            "over-long option",
            fields("Q?", "sports", &[&long_option, "b"], "create"),
            "#option-0-error",
            "Option 1 is too long: 201 characters, at most 200.",
        ),
        (
            "duplicate options",
            fields("Q?", "sports", &["Yes", "No", "yes"], "create"),
            "#option-2-error",
            "Option 3 repeats option 1.",
        ),
        (
            "too few options",
            fields("Q?", "sports", &["only"], "create"),
            "#options-error",
            "A poll needs at least 2 options.",
        ),
        (
            "too many options",
            fields("Q?", "sports", &eleven, "create"),
            "#options-error",
            "A poll can have at most 10 options.",
        ),
    ];
    for (description, form, selector, message) in cases {
        let page = app.post_form("/polls", &form).await;
        assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY, "{description}");
        assert_eq!(page.text(selector), message, "{description}");
        assert_eq!(page.texts(".field-error").len(), 1, "{description}: only that message");
        assert_eq!(page.text(".form-summary"), "Please fix the marked fields.", "{description}");
        let typed: Vec<&str> = form.iter().filter(|(k, _)| *k == "option").map(|(_, v)| *v).collect();
        assert_eq!(page.attrs("input[name=option]", "value"), typed, "{description}: what was typed is kept");
    }
    assert_eq!(app.scalar("select count(*) from polls").await, 10);
    assert_eq!(app.scalar("select count(*) from options").await, 36);
}

#[apply(on_each_backend)]
#[tokio::test]
async fn an_unknown_form_action_is_a_bad_request(#[case] backend: Backend) {
    let app = spawn_app(backend).await;

    let page = app.post_form("/polls", &fields("Q?", "sports", &["a", "b"], "explode")).await;

    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.text(".error-page .message").contains("“explode”"));
}

#[apply(on_each_backend)]
#[tokio::test]
async fn a_question_with_a_script_tag_renders_as_text(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let question = "<script>alert('pwned')</script> & <b>bold</b>?";

    let created =
        app.post_form("/polls", &fields(question, "sports", &["<img src=x onerror=alert(1)>", "fine"], "create")).await;
    let page = app.get(&created.header("location")).await;
    let theme = app.get("/themes/sports").await;

    assert_eq!(page.text("h1.question"), question, "shown as typed");
    assert_eq!(
        page.script_paths(),
        ["/assets/vendor/htmx.min.js", "/assets/vendor/htmx-ext-sse.min.js", "/assets/app.js", "/assets/share.js"],
        "only our own script tags (htmx, the focus after swaps and the share box's copy buttons): {}",
        page.body
    );
    assert!(page.body.contains("&lt;script&gt;alert('pwned')&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;?"));
    assert!(!page.body.contains("<img src=x"));
    assert!(theme.body.contains("&lt;img src=x onerror=alert(1)&gt;"));
}
