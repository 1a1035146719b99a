//! The server in this process (feature `app`): a fresh database on either backend (a real
//! PostgreSQL or a SQLite file), the real server on port 0, a cookie-aware client.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{Client, StatusCode, redirect};
use scraper::{Html, Selector};
pub use votestream::config::Backend;

use votestream::config::Settings;
use votestream::startup::Application;
use votestream::store::DynStore;

use crate::eventually;

/// A server started for one test, over its own fresh database.
pub struct TestApp {
    pub addr: SocketAddr,
    pub database_url: String,
    pub store: DynStore,
    pub state: votestream::state::AppState,
    /// Namespace of this app's Redis channels and keys.
    pub redis_prefix: String,
    /// The test's browser: keeps cookies, does not follow redirects.
    pub client: Client,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    /// Removes a SQLite database's folder when dropped.
    owns_database: bool,
}

/// A response read whole.
/// A poll a test created, with what its owner holds.
pub struct OwnedPoll {
    pub id: i64,
    pub key: String,
    pub manage_url: String,
    pub options: Vec<i64>,
}

pub struct Page {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    pub fn html(&self) -> Html {
        Html::parse_document(&self.body)
    }

    /// Text of every element matching `selector`, white space folded.
    pub fn texts(&self, selector: &str) -> Vec<String> {
        let selector = Selector::parse(selector).unwrap();
        self.html()
            .select(&selector)
            .map(|e| e.text().collect::<String>().split_whitespace().collect::<Vec<_>>().join(" "))
            .collect()
    }

    /// Text of the first element matching `selector`; panics if there is none.
    pub fn text(&self, selector: &str) -> String {
        self.texts(selector).into_iter().next().unwrap_or_else(|| panic!("no {selector} in:\n{}", self.body))
    }

    /// The addresses of the page's scripts, without their fingerprints (`?v=…`).
    pub fn script_paths(&self) -> Vec<String> {
        self.attrs("script", "src").into_iter().map(|src| src.split('?').next().unwrap().to_owned()).collect()
    }

    /// An attribute of every element matching `selector`.
    pub fn attrs(&self, selector: &str, attr: &str) -> Vec<String> {
        let selector = Selector::parse(selector).unwrap();
        self.html().select(&selector).filter_map(|e| e.value().attr(attr).map(str::to_owned)).collect()
    }

    pub fn header(&self, name: &str) -> String {
        self.headers.get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// True for a whole HTML document (with the layout), false for a fragment.
    pub fn is_full_document(&self) -> bool {
        self.body.starts_with("<!DOCTYPE html>") && self.body.contains("<header class=\"site-header\">")
    }
}

pub fn new_client() -> Client {
    Client::builder().cookie_store(true).redirect(redirect::Policy::none()).build().unwrap()
}

/// A client that keeps no cookies (a new voter on every request) and connects from
/// `source`, a loopback address of its own (127.0.0.2…), so it is another client to the server.
pub fn client_from(source: &str) -> Client {
    Client::builder().local_address(Some(source.parse().unwrap())).redirect(redirect::Policy::none()).build().unwrap()
}

/// Starts the server over a fresh database of `backend` with the demo content.
pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with(backend, &[]).await
}

/// Starts the server with extra environment settings.
pub async fn spawn_app_with(backend: Backend, extra: &[(&str, &str)]) -> TestApp {
    let database_url = fresh_database(backend).await;
    let mut app = spawn_replica(&database_url, extra).await;
    app.owns_database = true;
    app
}

/// A new empty database: in the shared test PostgreSQL, or a new SQLite file.
pub async fn fresh_database(backend: Backend) -> String {
    match backend {
        Backend::Postgres => crate::postgres::server().fresh_database().await,
        Backend::Sqlite => {
            let dir = std::env::temp_dir().join(format!("votestream-sqlite-{:x}", rand::random::<u64>()));
            std::fs::create_dir_all(&dir).unwrap();
            format!("sqlite://{}/votestream.db", dir.display())
        }
    }
}

/// The voter cookie key replicas of one deployment share.
pub const SHARED_COOKIE_KEY: &str = "test-key-shared-by-the-replicas-of-one-cluster-0123456789abcdef0123456789";

/// `n` replicas on one fresh database and the shared Redis, as behind a load balancer.
pub async fn spawn_replicas(n: usize, extra: &[(&str, &str)]) -> Vec<TestApp> {
    let database_url = crate::postgres::server().fresh_database().await;
    let redis_url = crate::redis::server().url();
    // Test clusters share one Redis: each gets its own namespace, as deployments would.
    let prefix = format!("test{:x}", rand::random::<u64>());
    let mut replicas = Vec::new();
    for i in 1..=n {
        let name = format!("replica-{i}");
        let mut env = vec![
            ("REDIS_URL", redis_url.as_str()),
            ("REPLICA_NAME", name.as_str()),
            ("REDIS_PREFIX", prefix.as_str()),
            ("COOKIE_KEY", SHARED_COOKIE_KEY),
        ];
        env.extend_from_slice(extra);
        replicas.push(spawn_replica(&database_url, &env).await);
    }
    replicas
}

/// Starts one server on an existing database.
pub async fn spawn_replica(database_url: &str, extra: &[(&str, &str)]) -> TestApp {
    let database_url = database_url.to_owned();
    let mut env: HashMap<String, String> = HashMap::from([
        ("DATABASE_URL".into(), database_url.clone()),
        ("BIND_ADDR".into(), "127.0.0.1:0".into()),
        ("SEED_DEMO".into(), "true".into()),
        ("DB_MAX_CONNECTIONS".into(), "20".into()),
        // Tests drive hundreds of requests from one address; the limits' own tests turn them on.
        ("RATE_LIMIT".into(), "off".into()),
    ]);
    for (k, v) in extra {
        env.insert((*k).into(), (*v).into());
    }
    let settings = Settings::from_lookup(|name| env.get(name).cloned()).unwrap();
    let redis_prefix = settings.redis.prefix.clone();
    let app = Application::build(settings).await.expect("the server starts");
    let addr = app.local_addr().unwrap();
    let state = app.state();
    let store = state.polls.store().clone();
    let server = tokio::spawn(app.run_until(std::future::pending()));
    TestApp {
        addr,
        database_url,
        store,
        state,
        redis_prefix,
        client: new_client(),
        server: Some(server),
        owns_database: false,
    }
}

impl TestApp {
    /// Shuts the server down gracefully and waits until it has stopped.
    pub async fn stop(mut self) {
        self.state.shutdown.cancel();
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    async fn read(response: reqwest::Response) -> Page {
        Page { status: response.status(), headers: response.headers().clone(), body: response.text().await.unwrap() }
    }

    pub async fn get(&self, path: &str) -> Page {
        Self::read(self.client.get(self.url(path)).send().await.unwrap()).await
    }

    /// A GET as htmx sends it.
    pub async fn get_hx(&self, path: &str) -> Page {
        Self::read(self.client.get(self.url(path)).header("HX-Request", "true").send().await.unwrap()).await
    }

    /// A form post as a browser on our own page sends it.
    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        self.post_form_with(&self.client, path, fields, &[]).await
    }

    pub async fn post_form_with(
        &self,
        client: &Client,
        path: &str,
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Page {
        let mut request = client.post(self.url(path)).form(fields).header("Sec-Fetch-Site", "same-origin");
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        Self::read(request.send().await.unwrap()).await
    }

    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> Page {
        Self::read(self.client.post(self.url(path)).json(body).send().await.unwrap()).await
    }

    /// A poll made through the API: "Tea, coffee or water?" in Sports, with `extra` fields
    /// (settings) merged into the body.
    pub async fn create_poll(&self, extra: serde_json::Value) -> OwnedPoll {
        let mut body = serde_json::json!({
            "question": "Tea, coffee or water?",
            "theme": "Sports",
            "options": [{ "text": "Tea" }, { "text": "Coffee" }, { "text": "Water" }],
        });
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let created = self.post_json("/api/polls", &body).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        let json = created.json();
        OwnedPoll {
            id: json["id"].as_i64().unwrap(),
            key: json["manage_key"].as_str().unwrap().to_owned(),
            manage_url: json["manage_url"].as_str().unwrap().to_owned(),
            options: json["options"].as_array().unwrap().iter().map(|o| o["id"].as_i64().unwrap()).collect(),
        }
    }

    /// `PATCH /api/polls/{id}` with `key` as the bearer token.
    pub async fn patch_poll(&self, id: i64, key: &str, body: &serde_json::Value) -> Page {
        let request = self.client.patch(self.url(&format!("/api/polls/{id}"))).bearer_auth(key).json(body);
        Self::read(request.send().await.unwrap()).await
    }

    pub async fn api(&self, path: &str) -> serde_json::Value {
        let page = self.get(path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}: {}", page.body);
        page.json()
    }

    /// Votes through the HTML form with this app's client.
    pub async fn vote(&self, poll: i64, option: i64) -> Page {
        self.post_form(&format!("/polls/{poll}/votes"), &[("option", &option.to_string())]).await
    }

    /// A demo poll: (poll id, its option ids), from the API.
    pub async fn poll_options(&self, poll: i64) -> Vec<i64> {
        let json = self.api(&format!("/api/polls/{poll}")).await;
        json["options"].as_array().unwrap().iter().map(|o| o["id"].as_i64().unwrap()).collect()
    }

    /// The first poll of a demo theme, by theme key.
    pub async fn first_poll(&self, theme_key: &str) -> i64 {
        let polls = self.api(&format!("/api/themes/{theme_key}/polls")).await;
        polls[0]["id"].as_i64().unwrap()
    }

    /// Runs a query returning one number, on whichever backend this app uses.
    pub async fn scalar(&self, sql: &'static str) -> i64 {
        use sqlx::Connection;
        let (n,): (i64,) = if self.database_url.starts_with("postgres") {
            let mut conn = sqlx::PgConnection::connect(&self.database_url).await.unwrap();
            sqlx::query_as(sql).fetch_one(&mut conn).await.unwrap()
        } else {
            let mut conn = sqlx::SqliteConnection::connect(&self.database_url).await.unwrap();
            sqlx::query_as(sql).fetch_one(&mut conn).await.unwrap()
        };
        n
    }

    /// Runs a statement on this app's PostgreSQL database (a test's own change to it).
    pub async fn execute(&self, sql: &'static str) {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&self.database_url).await.unwrap();
        sqlx::raw_sql(sql).execute(&mut conn).await.unwrap();
    }

    /// Runs a query returning one text, on whichever backend this app uses.
    pub async fn scalar_text(&self, sql: &str) -> String {
        use sqlx::Connection;
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        let (text,): (String,) = if self.database_url.starts_with("postgres") {
            let mut conn = sqlx::PgConnection::connect(&self.database_url).await.unwrap();
            sqlx::query_as(sql).fetch_one(&mut conn).await.unwrap()
        } else {
            let mut conn = sqlx::SqliteConnection::connect(&self.database_url).await.unwrap();
            sqlx::query_as(sql).fetch_one(&mut conn).await.unwrap()
        };
        text
    }

    /// Options whose stored counter differs from their vote rows, and polls whose votes
    /// per minute do not add up to their votes (should be none).
    pub async fn counters_out_of_step(&self) -> i64 {
        self.scalar(
            "select (select count(*) from options o where o.votes <> (select count(*) from votes v where v.option_id = o.id))
                  + (select count(*) from polls p
                      where (select coalesce(sum(m.votes), 0) from poll_minutes m where m.poll_id = p.id)
                         <> (select coalesce(sum(o.votes), 0) from options o where o.poll_id = p.id))",
        )
        .await
    }

    /// Waits until this replica watches `poll`: a viewer's live stream is open.
    pub async fn wait_until_watched(&self, poll: i64) {
        eventually(&format!("a live stream open on poll {poll}"), Duration::from_secs(10), async || {
            self.state.polls.live().hub().watched().contains(&poll)
        })
        .await;
    }

    /// Waits until this replica watches `poll` and holds a subscription for it on `redis`,
    /// a server of the test's own.
    pub async fn wait_until_subscribed_on(&self, poll: i64, redis: &crate::redis::OwnRedis) {
        let channel = format!("{}:poll:{poll}", self.redis_prefix);
        eventually(&format!("a subscriber on {channel}"), Duration::from_secs(20), async || {
            self.state.polls.live().hub().watched().contains(&poll) && redis.subscribers(&channel).await > 0
        })
        .await;
    }

    /// Waits until this replica watches `poll` and holds a Redis subscription for it (the
    /// subscribe is asynchronous by design: the first snapshot comes from the database).
    pub async fn wait_until_subscribed(&self, poll: i64) {
        let channel = format!("{}:poll:{poll}", self.redis_prefix);
        eventually(&format!("a subscriber on {channel}"), Duration::from_secs(10), async || {
            self.state.polls.live().hub().watched().contains(&poll)
                && crate::redis::subscribers(&crate::redis::server().url(), &channel).await > 0
        })
        .await;
    }
}

impl Drop for TestApp {
    /// SQLite test databases live in their own temporary folder.
    fn drop(&mut self) {
        if !self.owns_database {
            return;
        }
        if let Some(path) = self.database_url.strip_prefix("sqlite://")
            && let Some(dir) = std::path::Path::new(path).parent()
            && dir.starts_with(std::env::temp_dir())
        {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
