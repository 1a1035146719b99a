//! The poll alone, for an iframe on another site: who may frame it, and voting inside it.

use reqwest::StatusCode;
use rstest::rstest;
use rstest_reuse::apply;

use crate::on_each_backend;
use crate::support::{Backend, spawn_app, spawn_app_with};

#[apply(on_each_backend)]
#[tokio::test]
async fn the_embed_page_is_the_poll_alone_and_any_site_may_frame_it_by_default(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let poll = app.first_poll("Sports").await;

    let embed = app.get(&format!("/embed/polls/{poll}")).await;
    let page = app.get(&format!("/polls/{poll}")).await;

    assert_eq!(embed.status, StatusCode::OK);
    assert!(
        embed.header("content-security-policy").ends_with("frame-ancestors *"),
        "{}",
        embed.header("content-security-policy")
    );
    assert_eq!(embed.header("x-frame-options"), "", "no legacy header forbidding frames");
    assert!(!embed.is_full_document(), "no site header or footer");
    assert_eq!(embed.attrs("form.vote-form", "action"), [format!("/embed/polls/{poll}/votes")]);
    assert_eq!(embed.attrs(".open-full a", "href"), [format!("/polls/{poll}")]);
    assert_eq!(embed.attrs(".open-full a", "target"), ["_blank"]);
    assert!(embed.script_paths().contains(&"/assets/embed.js".to_owned()));
    assert!(page.header("content-security-policy").contains("frame-ancestors 'none'"), "other pages stay unframeable");
    assert_eq!(page.header("x-frame-options"), "DENY");
}

#[tokio::test]
async fn only_the_listed_sites_may_frame_it_and_its_errors_show_in_the_frame() {
    let app =
        spawn_app_with(Backend::Sqlite, &[("EMBED_ALLOWED_ORIGINS", "https://blog.example http://127.0.0.1:8081")])
            .await;
    let poll = app.first_poll("Sports").await;

    let embed = app.get(&format!("/embed/polls/{poll}")).await;
    let missing = app.get("/embed/polls/999999").await;

    let policy = embed.header("content-security-policy");
    assert!(policy.ends_with("frame-ancestors https://blog.example http://127.0.0.1:8081"), "{policy}");
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.header("content-security-policy"), policy, "the error may show inside the frame too");
}

#[apply(on_each_backend)]
#[tokio::test]
async fn a_vote_inside_the_frame_stays_in_the_frame(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let poll = app.first_poll("Sports").await;
    let options = app.poll_options(poll).await;

    let voted = app.post_form(&format!("/embed/polls/{poll}/votes"), &[("option", &options[1].to_string())]).await;
    let after = app.get(&voted.header("location")).await;
    let again = app.post_form(&format!("/embed/polls/{poll}/votes"), &[("option", &options[0].to_string())]).await;

    assert_eq!(voted.status, StatusCode::SEE_OTHER);
    assert_eq!(voted.header("location"), format!("/embed/polls/{poll}"));
    assert_eq!(after.texts(".result").len(), options.len(), "the bars");
    assert!(after.text(".notice").starts_with("You voted for"));
    assert!(after.texts(".after-vote").is_empty(), "no site navigation inside the frame");
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(!again.is_full_document() && again.text(".notice").starts_with("You already voted"));
    assert_eq!(app.scalar("select count(*) from votes").await, 1);
}

#[apply(on_each_backend)]
#[tokio::test]
async fn the_resize_scripts_are_served(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    for script in ["/assets/embed.js", "/assets/embed-host.js"] {
        let page = app.get(script).await;
        assert_eq!(page.status, StatusCode::OK, "{script}");
        assert!(page.header("content-type").starts_with("text/javascript"), "{script}");
        assert!(page.body.contains("votestream"), "{script}");
    }
}
