//! Headless Chromium through chromedriver, and what a person sees of a page: its
//! structure read in one script, a screenshot under `target/screenshots/`, an axe-core audit.

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde::Deserialize;
use serde_json::json;

use crate::support;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A phone's width: every page must fit it without scrolling sideways.
pub const PHONE_WIDTH: u32 = 390;

/// chromedriver on a free loopback port, stopped when dropped.
pub struct Driver {
    child: Child,
    port: u16,
    profile: PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        // chromedriver leads its own process group: the browsers it started go with it,
        // even when a test failed before closing its session.
        let group = format!("kill -KILL -- -{} 2>/dev/null", self.child.id());
        let _ = Command::new("bash").arg("-c").arg(group).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// How a browser is set up.
#[derive(Clone, Copy, Default)]
pub struct Options {
    /// Off: a reader without scripts (plain forms and links).
    pub no_javascript: bool,
    /// Block third-party cookies, as privacy-minded browsers do.
    pub block_third_party_cookies: bool,
    /// A desktop screen of this size (the wall of a room) instead of a phone.
    pub screen: Option<(u32, u32)>,
}

/// A projector's screen: the presenter view's size.
pub const WALL: (u32, u32) = (1920, 1080);

/// A headless Chromium session, `PHONE_WIDTH` wide, with JavaScript on or off.
pub async fn browser(javascript: bool) -> (Driver, Client) {
    browser_with(Options { no_javascript: !javascript, ..Options::default() }).await
}

pub async fn browser_with(options: Options) -> (Driver, Client) {
    for binary in [CHROMIUM, CHROMEDRIVER] {
        if !std::path::Path::new(binary).exists() {
            support::missing_server(binary, "apt-get install chromium chromium-driver");
        }
    }
    let port = support::free_port();
    let child = Command::new(CHROMEDRIVER)
        .process_group(0)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let profile = std::env::temp_dir().join(format!("votestream-chromium-{:x}", rand::random::<u64>()));
    let driver = Driver { child, port, profile };
    let status = format!("http://127.0.0.1:{port}/status");
    support::eventually(&format!("chromedriver ready on port {port}"), Duration::from_secs(20), async || {
        reqwest::get(&status).await.ok().is_some_and(|r| r.status().is_success())
    })
    .await;
    let mut args = vec![
        "--headless=new".to_owned(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-dev-shm-usage".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--disable-quic".into(),
        "--no-first-run".into(),
        format!("--user-data-dir={}", driver.profile.display()),
    ];
    if options.no_javascript {
        args.push("--blink-settings=scriptEnabled=false".into());
    }

    let mut capabilities = serde_json::Map::new();
    // cookie_controls_mode 1: block third-party cookies (Chromium's setting of that name).
    let prefs = json!({ "profile.cookie_controls_mode": if options.block_third_party_cookies { 1 } else { 0 } });
    // The viewport of a phone, so every look also checks the page fits one.
    let phone = json!({ "deviceMetrics": { "width": PHONE_WIDTH, "height": 844, "pixelRatio": 1.0, "mobile": true, "touch": false } });
    // Or a desktop screen's, when asked.
    let screen = options.screen.map(|(width, height)| {
        json!({ "deviceMetrics": { "width": width, "height": height, "pixelRatio": 1.0, "mobile": false, "touch": false } })
    });
    let viewport = screen.unwrap_or(phone);
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({ "binary": CHROMIUM, "args": args, "prefs": prefs, "mobileEmulation": viewport }),
    );
    let client = ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("start a Chromium session");
    (driver, client)
}

pub fn screenshot_path(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("{name}.png"))
}

/// Saves what the browser shows now as `target/screenshots/{name}.png`.
pub async fn screenshot(client: &Client, name: &str) {
    std::fs::write(screenshot_path(name), client.screenshot().await.unwrap()).unwrap();
}

/// Elements a page holds at most once: a second one means a page (or part of one) was
/// swapped into another.
const SINGLETONS: [&str; 18] = [
    "main",
    ".stage",
    ".stage-join",
    ".follow",
    ".join-box",
    "h1",
    "article",
    ".site-header",
    ".site-footer",
    "a.back",
    ".step",
    ".ballot",
    ".live",
    ".notice",
    ".open-full",
    ".share",
    ".after-vote",
    "form.vote-form",
];

/// What a person sees of the current document (or frame): its live DOM and layout, read
/// in one script when it was looked at.
#[derive(Debug, Deserialize)]
pub struct Seen {
    /// The screenshot's name.
    #[serde(skip)]
    pub name: String,
    /// The document as it stands, scripts' changes included.
    html: String,
    /// The visible text of `main`.
    pub text: String,
    /// The layout viewport's width, and how far the page reaches past it.
    pub width: f64,
    pub overflow: f64,
    /// Whether this is a frame inside another page.
    framed: bool,
}

const READ_PAGE: &str = r#"
    const root = document.documentElement;
    const main = document.querySelector('main');
    return {
        html: root.outerHTML,
        text: main ? main.innerText : document.body.innerText,
        width: root.clientWidth,
        overflow: Math.max(root.scrollWidth, document.body.scrollWidth) - root.clientWidth,
        framed: window.top !== window,
    };
"#;

/// Reads the page's structure, saves a screenshot named `name`, and checks what holds on
/// every page: the phone's width (a frame: its own) with nothing reaching past it, and no
/// element of `SINGLETONS` twice.
pub async fn look(client: &Client, name: &str) -> Seen {
    look_at(client, name, PHONE_WIDTH).await
}

/// The same on a screen `width` wide.
pub async fn look_at(client: &Client, name: &str, width: u32) -> Seen {
    let value = client.execute(READ_PAGE, vec![]).await.expect("read the page");
    let mut seen: Seen = serde_json::from_value(value).unwrap();
    seen.name = name.to_owned();
    screenshot(client, name).await;
    if !seen.framed {
        assert_eq!(seen.width, f64::from(width), "{name}: the page is laid out {width} px wide");
    }
    assert!(seen.overflow <= 0.0, "{name}: the page reaches {} px past the screen's edge", seen.overflow);
    for singleton in SINGLETONS {
        let count = seen.count(singleton);
        assert!(count <= 1, "{name}: {count} × `{singleton}`, one inside another:\n{}", seen.text);
    }
    seen
}

impl Seen {
    /// How many elements match `selector`.
    pub fn count(&self, selector: &str) -> usize {
        let parsed = scraper::Selector::parse(selector).unwrap_or_else(|e| panic!("selector {selector}: {e:?}"));
        scraper::Html::parse_document(&self.html).select(&parsed).count()
    }

    /// One heading saying `heading`, in one `main`.
    pub fn is_page(&self, heading: &str) -> &Self {
        let headings: Vec<String> = {
            let h1 = scraper::Selector::parse("h1").unwrap();
            let html = scraper::Html::parse_document(&self.html);
            html.select(&h1)
                .map(|e| e.text().collect::<String>().split_whitespace().collect::<Vec<_>>().join(" "))
                .collect()
        };
        assert_eq!(headings, [heading], "{}: one h1", self.name);
        assert_eq!(self.count("main"), 1, "{}: one main", self.name);
        self
    }

    /// A poll page (or frame): one card, its question the one heading and said once.
    pub fn is_poll(&self, question: &str) -> &Self {
        self.is_page(question);
        assert_eq!(self.count("article"), 1, "{}: one poll card", self.name);
        assert_eq!(self.text.matches(question).count(), 1, "{}: the question once in:\n{}", self.name, self.text);
        self
    }

    /// Each of `selectors` is on the page.
    pub fn shows(&self, selectors: &[&str]) -> &Self {
        for selector in selectors {
            assert!(self.count(selector) > 0, "{}: `{selector}` expected, not found in:\n{}", self.name, self.text);
        }
        self
    }

    /// None of `selectors` is on the page.
    pub fn lacks(&self, selectors: &[&str]) -> &Self {
        for selector in selectors {
            assert_eq!(self.count(selector), 0, "{}: `{selector}` should be gone:\n{}", self.name, self.text);
        }
        self
    }

    /// The page's text holds `expected`.
    pub fn says(&self, expected: &str) -> &Self {
        assert!(self.text.contains(expected), "{}: {expected:?} not in:\n{}", self.name, self.text);
        self
    }
}

pub async fn text(client: &Client, css: &str) -> String {
    client.wait().for_element(Locator::Css(css)).await.unwrap().text().await.unwrap()
}

/// Waits until the element's text contains `expected` (htmx swaps land asynchronously).
pub async fn wait_for_text(client: &Client, css: &str, expected: &str) {
    support::eventually(&format!("{css} saying {expected:?}"), Duration::from_secs(15), async || {
        let found = match client.find(Locator::Css(css)).await {
            Ok(element) => element.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if found.contains(expected) { Ok(()) } else { Err(found) }
    })
    .await;
}

/// Waits until the page's address has the path `path`.
pub async fn wait_for_path(client: &Client, path: &str) {
    support::eventually(&format!("the address {path}"), Duration::from_secs(15), async || {
        let now = client.execute("return location.pathname", vec![]).await.unwrap();
        if now == json!(path) { Ok(()) } else { Err(now) }
    })
    .await;
}

pub async fn click(client: &Client, css: &str) {
    client.wait().for_element(Locator::Css(css)).await.unwrap().click().await.unwrap();
}

/// Whether htmx is running on the page (false with JavaScript off).
pub async fn htmx_loaded(client: &Client) -> bool {
    client.execute("return typeof htmx === 'object'", vec![]).await.map(|v| v == json!(true)).unwrap_or(false)
}

/// Marks the current document; the mark survives htmx swaps but not a full page load.
pub async fn mark_document(client: &Client) {
    client.execute("window.votestreamMark = 'still here'", vec![]).await.unwrap();
}

pub async fn document_kept(client: &Client) -> bool {
    client
        .execute("return window.votestreamMark === 'still here'", vec![])
        .await
        .map(|v| v == json!(true))
        .unwrap_or(false)
}

/// A number the page computes.
pub async fn number(client: &Client, script: &str) -> f64 {
    client.execute(script, vec![]).await.unwrap().as_f64().unwrap()
}

/// axe-core's findings of serious or critical impact on the current document.
pub async fn accessibility_findings(client: &Client) -> Vec<String> {
    const AXE: &str = include_str!("axe/axe.min.js");
    client.execute(AXE, vec![]).await.expect("inject axe-core");
    let findings = client
        .execute(
            "return axe.run(document, { resultTypes: ['violations'] }).then(r => r.violations
                .filter(v => v.impact === 'serious' || v.impact === 'critical')
                .map(v => v.impact + ' ' + v.id + ': ' + v.help + ' — ' + v.nodes.map(n => n.target.join(' ')).join(', ')))",
            vec![],
        )
        .await
        .expect("run axe-core");
    findings.as_array().unwrap().iter().map(|f| f.as_str().unwrap().to_owned()).collect()
}

/// The audit where it can run: axe-core needs scripts, so a flow with them off leaves the
/// audit of the same page to its twin with them on.
pub async fn audit_if_scripted(client: &Client, name: &str, javascript: bool) {
    if javascript {
        audit(client, name).await;
    }
}

/// The axe-core audit of the page a flow ended on: no serious or critical finding.
pub async fn audit(client: &Client, name: &str) {
    let findings = accessibility_findings(client).await;
    assert!(findings.is_empty(), "{name}: serious or critical accessibility findings:\n{}", findings.join("\n"));
}
