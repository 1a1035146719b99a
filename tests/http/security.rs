use reqwest::StatusCode;
use rstest::rstest;
use rstest_reuse::apply;

use crate::on_each_backend;
use crate::support::{Backend, new_client, spawn_app, spawn_app_with};

#[apply(on_each_backend)]
#[tokio::test]
async fn pages_carry_a_strict_content_security_policy(#[case] backend: Backend) {
    let app = spawn_app(backend).await;

    let page = app.get("/").await;

    let csp = page.header("content-security-policy");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(csp.contains("style-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(page.header("x-content-type-options"), "nosniff");
    assert!(!page.body.contains("style=\""), "no inline styles for the CSP to block");
    assert!(page.texts("script").iter().all(String::is_empty), "no inline scripts");
}

#[apply(on_each_backend)]
#[tokio::test]
async fn the_voter_cookie_is_http_only_and_same_site(#[case] backend: Backend) {
    let app = spawn_app(backend).await;

    let first = app.get("/").await;
    let second = app.get("/").await;

    let cookie = first.header("set-cookie");
    assert!(cookie.starts_with("vs_voter="), "{cookie}");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax") && cookie.contains("Path=/"), "{cookie}");
    assert_eq!(second.header("set-cookie"), "", "set once, then kept");
}

#[apply(on_each_backend)]
#[tokio::test]
async fn cross_site_form_posts_are_refused_and_change_nothing(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let poll = app.first_poll("OnTrend").await;
    let option = app.poll_options(poll).await[0].to_string();
    let path = format!("/polls/{poll}/votes");
    let cases: [(&str, &[(&str, &str)]); 3] = [
        ("fetch metadata says cross-site", &[("Sec-Fetch-Site", "cross-site")]),
        ("foreign Origin", &[("Sec-Fetch-Site", "same-site"), ("Origin", "https://evil.example")]),
        ("Origin only, foreign", &[("Origin", "https://evil.example")]),
    ];
    for (description, headers) in cases {
        let mut request = app.client.post(app.url(&path)).form(&[("option", option.as_str())]);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{description}");
        assert!(response.text().await.unwrap().contains("came from another site"), "{description}");
    }
    let api = app
        .client
        .post(app.url(&format!("/api/polls/{poll}/vote")))
        .header("Sec-Fetch-Site", "cross-site")
        .json(&serde_json::json!({ "choice": 0 }))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::FORBIDDEN);
    assert!(api.json::<serde_json::Value>().await.unwrap()["error"].as_str().unwrap().contains("another site"));
    assert_eq!(app.scalar("select count(*) from votes").await, 0);
}

#[apply(on_each_backend)]
#[tokio::test]
async fn a_same_origin_post_with_a_matching_origin_header_is_accepted(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let poll = app.first_poll("OnTrend").await;
    let option = app.poll_options(poll).await[0].to_string();

    let response = app
        .client
        .post(app.url(&format!("/polls/{poll}/votes")))
        .header("Origin", format!("http://{}", app.addr))
        .form(&[("option", option.as_str())])
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
}

#[apply(on_each_backend)]
#[tokio::test]
async fn an_oversized_body_is_refused_with_413(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let huge = "x".repeat(100_000);

    let page = app.post_form("/polls", &[("question", huge.as_str()), ("theme", "sports")]).await;

    assert_eq!(page.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(app.scalar("select count(*) from polls").await, 10);
}

#[apply(on_each_backend)]
#[tokio::test]
async fn a_client_cannot_choose_its_voter_id(#[case] backend: Backend) {
    let app = spawn_app(backend).await;
    let poll = app.first_poll("Sports").await;
    let options = app.poll_options(poll).await;
    let victim = app
        .post_form_with(&new_client(), &format!("/polls/{poll}/votes"), &[("option", &options[0].to_string())], &[])
        .await;
    // The signed value ends with the voter's id: a forger can read it, but not sign it.
    let signed = victim.header("set-cookie");
    let value = signed.split(';').next().unwrap().trim_start_matches("vs_voter=");
    let victims_id = &value[value.len() - 32..];

    let forged = new_client()
        .post(app.url(&format!("/polls/{poll}/votes")))
        .header("Sec-Fetch-Site", "same-origin")
        .header("Cookie", format!("vs_voter={victims_id}"))
        .form(&[("option", options[1].to_string())])
        .send()
        .await
        .unwrap();

    assert_eq!(victim.status, StatusCode::SEE_OTHER);
    assert_eq!(forged.status(), StatusCode::SEE_OTHER, "counted as a new voter, not refused as the victim");
    let reissued = forged.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(reissued.starts_with("vs_voter="), "{reissued}");
    assert!(!reissued.contains(victims_id), "not the id it chose: {reissued}");
    assert_eq!(app.scalar("select count(*) from votes").await, 2);
}

#[tokio::test]
async fn the_voter_cookie_is_secure_when_a_trusted_proxy_says_https() {
    let app = spawn_app_with(Backend::Sqlite, &[("TRUSTED_PROXIES", "127.0.0.1")]).await;
    let plain = new_client().get(app.url("/")).send().await.unwrap();
    let https = new_client().get(app.url("/")).header("X-Forwarded-Proto", "https").send().await.unwrap();
    let untrusted = spawn_app(Backend::Sqlite).await;
    let spoofed = new_client().get(untrusted.url("/")).header("X-Forwarded-Proto", "https").send().await.unwrap();

    let cookie = |response: &reqwest::Response| response.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(!cookie(&plain).contains("Secure"), "{}", cookie(&plain));
    assert!(cookie(&https).contains("Secure"), "{}", cookie(&https));
    assert!(!cookie(&spoofed).contains("Secure"), "only a trusted proxy's word counts");
}
