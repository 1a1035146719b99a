//! Sharing a poll: the link, its QR code, the embed snippet, link previews and oEmbed.

use reqwest::StatusCode;
use rstest::rstest;
use rstest_reuse::apply;

use crate::on_each_backend;
use crate::support::{Backend, spawn_app, spawn_app_with};

#[apply(on_each_backend)]
#[tokio::test]
async fn the_poll_page_offers_its_link_qr_code_and_embed_snippet(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let poll = app.first_poll("Sports").await;
    let url = app.url(&format!("/polls/{poll}"));

    let page = app.get(&format!("/polls/{poll}")).await;
    let qr = app.get(&page.attrs(".share img.qr", "src")[0]).await;
    let embedded = app.get(&format!("/embed/polls/{poll}")).await;

    assert_eq!(page.attrs("#share-url", "value"), std::slice::from_ref(&url));
    assert_eq!(page.attrs(".copy", "data-copy"), ["share-url", "embed-code"]);
    let snippet = page.text("#embed-code");
    assert!(snippet.contains(&format!("src=\"{}\"", app.url(&format!("/embed/polls/{poll}")))), "{snippet}");
    assert!(snippet.contains("/assets/embed-host.js"), "{snippet}");
    assert_eq!(qr.status, StatusCode::OK);
    assert_eq!(qr.header("content-type"), "image/svg+xml");
    assert!(qr.body.contains("<svg") && qr.body.contains("</svg>"));
    assert!(embedded.texts(".share").is_empty(), "no share box inside a frame");
}

#[apply(on_each_backend)]
#[tokio::test]
async fn a_shared_link_previews_with_the_question_and_offers_oembed(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let poll = app.first_poll("Sports").await;
    let question = app.api(&format!("/api/polls/{poll}")).await["question"].as_str().unwrap().to_owned();
    let page = app.get(&format!("/polls/{poll}")).await;

    let discovery = page.attrs("link[type='application/json+oembed']", "href");
    let oembed = app.get(&discovery[0]).await;

    assert_eq!(page.attrs("meta[property='og:title']", "content"), std::slice::from_ref(&question));
    assert_eq!(page.attrs("meta[property='og:url']", "content"), [app.url(&format!("/polls/{poll}"))]);
    assert_eq!(page.attrs("meta[name='twitter:card']", "content"), ["summary"]);
    assert_eq!(oembed.status, StatusCode::OK);
    let json = oembed.json();
    assert_eq!((json["version"].as_str(), json["type"].as_str()), (Some("1.0"), Some("rich")));
    assert_eq!(json["title"], question);
    assert!(json["html"].as_str().unwrap().contains(&format!("/embed/polls/{poll}\"")));
    let cases = [
        (format!("/oembed?url={}", app.url("/themes/sports")), StatusCode::NOT_FOUND, "not the address of a poll"),
        (
            "/oembed?url=https://elsewhere.example/polls/1".to_owned(),
            StatusCode::NOT_FOUND,
            "not the address of a poll",
        ),
        (
            format!("/oembed?url={}&format=xml", app.url(&format!("/polls/{poll}"))),
            StatusCode::UNPROCESSABLE_ENTITY,
            "format=json",
        ),
        ("/oembed".to_owned(), StatusCode::UNPROCESSABLE_ENTITY, "url="),
    ];
    for (path, status, says) in cases {
        let refused = app.get(&path).await;
        assert_eq!(refused.status, status, "{path}");
        assert!(refused.json()["error"].as_str().unwrap().contains(says), "{path}: {}", refused.body);
    }
}

#[tokio::test]
async fn with_a_public_url_the_shared_addresses_use_it() {
    let app = spawn_app_with(Backend::Sqlite, &[("PUBLIC_URL", "https://votes.example")]).await;
    let poll = app.first_poll("Sports").await;

    let page = app.get(&format!("/polls/{poll}")).await;
    let oembed = app.get(&format!("/oembed?url=https://votes.example/polls/{poll}")).await;

    assert_eq!(page.attrs("#share-url", "value"), [format!("https://votes.example/polls/{poll}")]);
    assert_eq!(oembed.status, StatusCode::OK);
    assert!(oembed.json()["html"].as_str().unwrap().contains("https://votes.example/embed/polls/"));
}
