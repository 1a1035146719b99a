//! What a hostile client tries beyond the obvious: forged `Host` names, text that reads
//! in another order or looks like another option, bodies in a shape we never documented.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{Backend, TestApp, spawn_app, spawn_app_with};

async fn get_with_host(app: &TestApp, path: &str, host: &str) -> (StatusCode, String, String) {
    let response = app.client.get(app.url(path)).header("host", host).send().await.unwrap();
    let status = response.status();
    let content_type =
        response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, content_type, response.text().await.unwrap())
}

#[tokio::test]
async fn without_public_url_a_forged_host_is_refused_and_never_reflected() {
    let app = spawn_app(Backend::Sqlite).await;
    let poll = app.first_poll("Sports").await;

    for path in [
        format!("/polls/{poll}"),
        format!("/polls/{poll}/qr.svg"),
        format!("/oembed?url=http://evil.example/polls/{poll}"),
    ] {
        let (status, content_type, body) = get_with_host(&app, &path, "evil.example").await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert!(body.contains("does not answer for the host “evil.example”"), "{path}: says why: {body}");
        assert!(!body.contains("http://evil.example"), "{path}: no link to the forged host: {body}");
        let json = path.starts_with("/oembed");
        assert_eq!(content_type.starts_with("application/json"), json, "{path}: the caller's format ({content_type})");
    }
    let (status, content_type, body) = get_with_host(&app, "/api/polls", "evil.example").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(content_type.starts_with("application/json"), "{content_type}");

    // The names it is reached by locally still work, with any port, and so do the probes.
    let port = app.addr.port();
    for host in [format!("127.0.0.1:{port}"), format!("localhost:{port}"), "[::1]".to_owned()] {
        let (status, _, body) = get_with_host(&app, &format!("/polls/{poll}"), &host).await;
        assert_eq!(status, StatusCode::OK, "{host}: {body}");
    }
    assert_eq!(get_with_host(&app, "/healthz", "evil.example").await.0, StatusCode::OK, "load balancers probe by IP");
}

#[tokio::test]
async fn allowed_hosts_names_the_public_host_when_there_is_no_public_url() {
    let app = spawn_app_with(Backend::Sqlite, &[("ALLOWED_HOSTS", "votes.example, 127.0.0.1")]).await;
    let poll = app.first_poll("Sports").await;

    let (status, _, body) = get_with_host(&app, &format!("/polls/{poll}"), "votes.example:8443").await;
    let (other, _, _) = get_with_host(&app, &format!("/polls/{poll}"), "evil.example").await;
    let (loopback, _, _) = get_with_host(&app, &format!("/polls/{poll}"), "localhost").await;

    assert_eq!(status, StatusCode::OK);
    assert!(body.contains(&format!("http://votes.example:8443/polls/{poll}")), "links from the allowed host");
    assert_eq!(other, StatusCode::BAD_REQUEST);
    assert_eq!(loopback, StatusCode::BAD_REQUEST, "the list replaces the default");
}

#[tokio::test]
async fn with_public_url_links_come_from_it_whatever_the_host() {
    let app = spawn_app_with(Backend::Sqlite, &[("PUBLIC_URL", "https://votes.example")]).await;
    let poll = app.first_poll("Sports").await;

    let (status, _, body) = get_with_host(&app, &format!("/polls/{poll}"), "evil.example").await;

    assert_eq!(status, StatusCode::OK);
    assert!(body.contains(&format!("https://votes.example/polls/{poll}")), "the public address");
    assert!(!body.contains("evil.example"), "nothing of the request's host");
}

/// The start-up log of the server binary with `extra` settings, listening on every
/// interface, up to its "ready" line (within 30 s); the server is stopped after.
async fn start_up_log(dir: &std::path::Path, extra: &[(&str, &str)]) -> String {
    use tokio::io::AsyncBufReadExt;
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_votestream"));
    command
        .env_clear()
        .env("DATABASE_URL", format!("sqlite://{}/v.db", dir.display()))
        .env("BIND_ADDR", "0.0.0.0:0")
        .env("SEED_DEMO", "false")
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .arg("serve")
        .kill_on_drop(true)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    for (k, v) in extra {
        command.env(k, v);
    }
    let mut child = command.spawn().unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    let read = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let ready = line.contains("VoteStream ready");
            seen.push(line);
            if ready {
                break;
            }
        }
    })
    .await;
    child.kill().await.unwrap();
    assert!(read.is_ok(), "no ready line within 30 s:\n{}", seen.join("\n"));
    seen.join("\n")
}

#[tokio::test]
async fn a_server_listening_beyond_loopback_without_either_setting_warns_at_start() {
    let dir = std::env::temp_dir().join(format!("votestream-warn-{:x}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let warning = "listening beyond loopback with neither PUBLIC_URL nor ALLOWED_HOSTS";
    let cases: [(&[(&str, &str)], bool); 3] = [
        (&[], true),
        (&[("PUBLIC_URL", "https://votes.example")], false),
        (&[("ALLOWED_HOSTS", "votes.example")], false),
    ];
    for (extra, warns) in cases {
        let log = start_up_log(&dir, extra).await;
        assert_eq!(log.contains(warning), warns, "{extra:?}:\n{log}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn text_that_reads_in_another_order_or_repeats_another_option_is_refused() {
    let app = spawn_app(Backend::Sqlite).await;
    let cases = [
        (
            "a right-to-left override in the question",
            "Tea\u{202E}?",
            ["a", "b"],
            "question",
            "bidirectional control character (U+202E)",
        ),
        (
            "an isolate in an option",
            "Tea?",
            ["a", "b\u{2066}c\u{2069}"],
            "options[1]",
            "bidirectional control character (U+2066)",
        ),
        ("a Cyrillic е", "Tea?", ["Yes", "Y\u{435}s"], "options[1]", "Option 2 repeats option 1."),
        ("full case folding", "Tea?", ["Straße", "STRASSE"], "options[1]", "Option 2 repeats option 1."),
    ];
    for (what, question, options, field, says) in cases {
        let body = json!({ "question": question, "theme": "Sports", "options": options.map(|t| json!({ "text": t })) });

        let created = app.post_json("/api/polls", &body).await;

        assert_eq!(created.status, StatusCode::UNPROCESSABLE_ENTITY, "{what}: {}", created.body);
        let json = created.json();
        let message = json["fields"][field].as_str().unwrap_or_else(|| panic!("{what}: no {field} in {json}"));
        assert!(message.contains(says), "{what}: {message}");
    }
    // The form says the same, beside the field.
    let form =
        [("question", "Tea?"), ("theme", "sports"), ("option", "Yes"), ("option", "Y\u{435}s"), ("intent", "create")];
    let page = app.post_form("/polls", &form).await;
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(page.texts("#option-1-error"), ["Option 2 repeats option 1."]);
    assert_eq!(app.scalar("select count(*) from polls where question like 'Tea%'").await, 0, "nothing stored");
}

#[tokio::test]
async fn a_body_that_is_not_the_documented_shape_is_refused_naming_the_field() {
    let app = spawn_app(Backend::Sqlite).await;
    let poll = app.create_poll(json!({})).await;
    let cases = [
        (
            "options as arrays",
            "/api/polls",
            json!({ "question": "Tea?", "theme": "Sports", "options": [["a"], ["b"]] }),
            "options[0]",
        ),
        (
            "the whole poll as an array",
            "/api/polls",
            json!(["Tea?", "Sports", [{ "text": "a" }, { "text": "b" }]]),
            "a JSON object",
        ),
        ("a vote as an array", &format!("/api/polls/{}/vote", poll.id), json!([0]), "a JSON object"),
    ];
    for (what, path, body, says) in cases {
        let refused = app.post_json(path, &body).await;

        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{what}: {}", refused.body);
        let message = refused.json()["error"].as_str().unwrap().to_owned();
        assert!(message.contains(says) && message.contains("a JSON object"), "{what}: {message}");
    }
    let patch = app.patch_poll(poll.id, &poll.key, &json!([true])).await;
    assert_eq!(patch.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", patch.body);
    assert_eq!(app.scalar("select count(*) from polls where question = 'Tea?'").await, 0, "nothing stored");
    assert_eq!(app.scalar("select count(*) from ballots").await, 0, "no vote counted");
}
