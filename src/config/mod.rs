//! Typed settings from the environment (and `.env`, read before this runs), in sections:
//! each section a struct here, each variable's name, default and meaning once in
//! [`vars`], read and checked in [`read`].

mod read;
pub mod vars;

use std::net::SocketAddr;
use std::time::Duration;

use ipnet::IpNet;

use read::Reader;
pub use read::redact;
use vars::{cookies, embed, http, limits, live, logs, redis, storage};

/// A setting that is present but malformed.
#[derive(Debug, thiserror::Error)]
#[error("{name}={value:?} is not valid: {reason}")]
pub struct ConfigError {
    name: &'static str,
    value: String,
    reason: String,
}

impl ConfigError {
    fn new(name: &'static str, value: String, reason: &str) -> Self {
        Self { name, value, reason: reason.to_owned() }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Which storage backend a `DATABASE_URL` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `postgres://…` or `postgresql://…`.
    Postgres,
    /// `sqlite://…` (the embedded default).
    Sqlite,
}

/// The largest `VOTE_BATCH_MAX` (the statements' bind limits).
pub const MAX_VOTE_BATCH: usize = 1000;

/// How the vote writer groups ballots into transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchSettings {
    /// Most ballots in one transaction.
    pub max: usize,
    /// Longest the first ballot of a batch waits for others.
    pub wait: Duration,
}

/// Everything the server reads from its environment, by section ([`vars`] says what each
/// variable means).
#[derive(Debug, Clone)]
pub struct Settings {
    pub http: Http,
    pub storage: Storage,
    pub redis: Redis,
    pub limits: Limits,
    pub live: StreamConfig,
    pub cookies: Cookies,
    pub embed: Embed,
    pub logs: Logs,
}

/// How the server listens, what it answers and whom it believes.
#[derive(Debug, Clone)]
pub struct Http {
    pub bind_addr: SocketAddr,
    /// Sent as `X-Replica`.
    pub replica_name: String,
    pub request_timeout: Duration,
    /// A connection that has not sent its request headers within this is closed.
    pub header_read_timeout: Duration,
    pub body_limit: usize,
    /// Whose `X-Forwarded-*` headers are believed; empty: the TCP peer is the client.
    pub trusted_proxies: Vec<IpNet>,
    /// Where people reach the site, for links; `None`: taken from each request.
    pub public_url: Option<String>,
    /// Which `Host` names requests may carry.
    pub allowed_hosts: HostRule,
}

/// Where state lives and how it is reached.
#[derive(Debug, Clone)]
pub struct Storage {
    /// Never logged whole (it may hold a password): see [`Storage::database_url_redacted`].
    pub database_url: Secret<String>,
    /// Streaming standbys for page reads (`DATABASE_READ_URL`), each kept secret like the primary's.
    pub read_urls: Vec<Secret<String>>,
    /// A standby further behind is skipped.
    pub read_max_lag: Duration,
    /// Through a transaction-pooling PgBouncer: no session state, no named statements.
    pub transaction_pooling: bool,
    pub seed_demo: bool,
    pub max_connections: u32,
    /// Longest a request waits for a free connection before it is answered 503.
    pub acquire_timeout: Duration,
    pub breaker: BreakerSettings,
    /// Page reads are answered from memory this long after the database answered them.
    pub read_fresh: Duration,
    pub vote_batch: BatchSettings,
}

/// The live bus across replicas and the shared cache.
#[derive(Debug, Clone)]
pub struct Redis {
    /// `None` keeps the bus and the cache in-process.
    pub url: Option<Secret<String>>,
    /// Namespace of our channels and keys.
    pub prefix: String,
    /// How long a cached poll lives; zero: nothing is cached.
    pub cache_ttl: Duration,
    pub breaker: BreakerSettings,
}

/// How much one client, and all of them, may ask of a replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `RATE_LIMIT`: off lifts every quota and stream cap.
    pub enabled: bool,
    pub quotas: Quotas,
    pub sse_max_per_client: usize,
    pub sse_max_per_replica: usize,
}

/// The voter cookie.
#[derive(Debug, Clone)]
pub struct Cookies {
    /// Signs the voter cookie; `None`: kept beside the SQLite file, or made per process.
    pub key: Option<Secret<String>>,
    pub secure: CookieSecure,
}

/// Framing poll pages in other sites.
#[derive(Debug, Clone)]
pub struct Embed {
    /// Origins that may frame `/embed/…` pages; `["*"]`: any.
    pub allowed_origins: Vec<String>,
}

/// What the server writes to its log (`RUST_LOG` is read by the log filter itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Logs {
    pub format: LogFormat,
    /// One request in this many is logged; 0: none but the errors and the slow.
    pub requests_every: u64,
    /// A request at least this slow is always logged.
    pub slow: Duration,
}

/// Stream timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamConfig {
    /// At most one frame per viewer per this interval; states in between are skipped.
    pub throttle: Duration,
    /// The reconnection delay suggested to clients (`retry:`).
    pub retry: Duration,
    /// Comment lines this often keep proxies from closing an idle stream.
    pub keep_alive: Duration,
    /// Live frames this replica sends per second at most, over all its viewers: with
    /// more viewers than `throttle` allows for, each waits longer between frames.
    pub frames_per_second: u32,
}

impl StreamConfig {
    /// How long a stream waits after a frame while `viewers` streams are open on this
    /// replica: the throttle, or longer when the replica's frame budget would otherwise be
    /// exceeded.
    pub fn pause(&self, viewers: usize) -> Duration {
        let share = Duration::from_secs_f64(viewers as f64 / f64::from(self.frames_per_second.max(1)));
        self.throttle.max(share)
    }
}

/// Which `Host` names requests may carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostRule {
    /// `PUBLIC_URL` is set: links come from it, so any host is harmless.
    Any,
    /// Neither set: the loopback names and the bind address.
    Default(Vec<String>),
    /// `ALLOWED_HOSTS`.
    Listed(Vec<String>),
}

impl HostRule {
    /// The names answered, or `None` for any.
    pub fn names(&self) -> Option<&[String]> {
        match self {
            Self::Any => None,
            Self::Default(names) | Self::Listed(names) => Some(names),
        }
    }
}

/// When the voter cookie is marked `Secure` (sent over HTTPS only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieSecure {
    /// When the request came over HTTPS: `X-Forwarded-Proto: https` from a trusted proxy.
    Auto,
    /// Always (the site is only ever served over HTTPS).
    Always,
    /// Never.
    Never,
}

/// A circuit breaker's settings, from `{NAME}_TIMEOUT_MS`, `{NAME}_BREAKER_FAILURES` and
/// `{NAME}_BREAKER_COOLDOWN_MS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerSettings {
    /// Longest one call may take (half of it counts as slow).
    pub timeout: Duration,
    /// Failed or slow calls within ten seconds that open the breaker.
    pub failures: u32,
    /// How long it stays open before one probe call.
    pub cooldown: Duration,
}

impl BreakerSettings {
    /// The breaker's configuration.
    pub fn config(self) -> crate::breaker::BreakerConfig {
        crate::breaker::BreakerConfig {
            failures: self.failures,
            window: Duration::from_secs(10),
            slow: self.timeout / 2,
            timeout: self.timeout,
            cooldown: self.cooldown,
        }
    }
}

/// A quota per client address: `burst` requests at once, refilled at `per_minute`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Requests allowed back to back.
    pub burst: u32,
    /// Requests regained per minute.
    pub per_minute: u32,
}

/// The quotas, each from `{NAME}_BURST` and `{NAME}_PER_MINUTE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quotas {
    /// `READ_*`: page, fragment, API and stream requests (GET and HEAD).
    pub read: Quota,
    /// `VOTE_*`: votes, by form or API.
    pub vote: Quota,
    /// `CREATE_*`: posts of the poll form (Create, Add option, Remove) and API creations.
    pub create: Quota,
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests can pass a map.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let read = Reader::new(lookup);
        Ok(Self {
            http: Http::read(&read)?,
            storage: Storage::read(&read)?,
            redis: Redis::read(&read)?,
            limits: Limits::read(&read)?,
            live: StreamConfig {
                throttle: read.millis_or_zero(&live::SSE_THROTTLE_MS)?,
                retry: read.millis(&live::SSE_RETRY_MS)?,
                keep_alive: read.secs(&live::SSE_KEEPALIVE_SECS)?,
                frames_per_second: read.count(&live::SSE_FRAMES_PER_SECOND)?,
            },
            cookies: Cookies::read(&read)?,
            embed: Embed { allowed_origins: read::origins(read.text(&embed::EMBED_ALLOWED_ORIGINS))? },
            logs: Logs {
                format: read.choice(&logs::LOG_FORMAT, &[("text", LogFormat::Text), ("json", LogFormat::Json)])?,
                requests_every: read.parse(&logs::LOG_REQUESTS_EVERY, "expected a whole number")?,
                slow: read.millis(&logs::LOG_SLOW_MS)?,
            },
        })
    }
}

impl Http {
    fn read(read: &Reader<impl Fn(&str) -> Option<String>>) -> Result<Self, ConfigError> {
        let bind_addr = read.address(&http::BIND_ADDR)?;
        let public_url = match read.set(&http::PUBLIC_URL) {
            Some(value) => match read::origins((http::PUBLIC_URL.name, value.clone()))?.as_slice() {
                [one] if one != "*" => Some(one.clone()),
                _ => {
                    return Err(ConfigError::new(
                        http::PUBLIC_URL.name,
                        value,
                        "expected one address such as https://votes.example",
                    ));
                }
            },
            None => None,
        };
        let allowed_hosts = match (&public_url, read.set(&http::ALLOWED_HOSTS)) {
            (Some(_), _) => HostRule::Any,
            (None, Some(value)) => HostRule::Listed(read::host_names((http::ALLOWED_HOSTS.name, value))?),
            (None, None) => HostRule::Default(read::default_hosts(bind_addr)),
        };
        // `REPLICA_NAME`'s default is the machine's name, which containers set as `HOSTNAME`.
        let replica_name = match read.set(&http::REPLICA_NAME) {
            Some(name) => name,
            None => read.raw("HOSTNAME").filter(|h| !h.is_empty()).unwrap_or_else(|| "local".into()),
        };
        Ok(Self {
            bind_addr,
            replica_name: read::identifier((http::REPLICA_NAME.name, replica_name))?,
            request_timeout: read.secs(&http::REQUEST_TIMEOUT_SECS)?,
            header_read_timeout: read.secs(&http::HEADER_READ_TIMEOUT_SECS)?,
            body_limit: read.count(&http::BODY_LIMIT_BYTES)?,
            trusted_proxies: read::networks(read.text(&http::TRUSTED_PROXIES))?,
            public_url,
            allowed_hosts,
        })
    }
}

impl Storage {
    fn read(read: &Reader<impl Fn(&str) -> Option<String>>) -> Result<Self, ConfigError> {
        let (name, database_url) = read.text(&storage::DATABASE_URL);
        read::backend_of(&database_url)
            .map_err(|reason| ConfigError::new(name, read::redact(&database_url), &reason))?;
        let batch_max: usize = read.count(&storage::VOTE_BATCH_MAX)?;
        // Each ballot binds up to 3 × 10 values; SQLite takes 32,766 per statement.
        if batch_max > MAX_VOTE_BATCH {
            let reason = format!("at most {MAX_VOTE_BATCH}");
            return Err(ConfigError::new(storage::VOTE_BATCH_MAX.name, batch_max.to_string(), &reason));
        }
        let (read_name, read_urls) = read.text(&storage::DATABASE_READ_URL);
        let read_urls: Vec<Secret<String>> = read_urls
            .split(',')
            .map(str::trim)
            .filter(|url| !url.is_empty())
            .map(|url| match read::backend_of(url) {
                Ok(Backend::Postgres) if read::backend_of(&database_url) == Ok(Backend::Postgres) => {
                    Ok(Secret(url.to_owned()))
                }
                _ => Err(ConfigError::new(
                    read_name,
                    read::redact(url),
                    "expected postgres://… URLs of standbys of a PostgreSQL DATABASE_URL",
                )),
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            database_url: Secret(database_url),
            read_urls,
            read_max_lag: read.millis(&storage::DB_READ_MAX_LAG_MS)?,
            transaction_pooling: read.flag(&storage::DB_TRANSACTION_POOLING)?,
            seed_demo: read.flag(&storage::SEED_DEMO)?,
            max_connections: read.count(&storage::DB_MAX_CONNECTIONS)?,
            acquire_timeout: read.millis(&storage::DB_ACQUIRE_TIMEOUT_MS)?,
            breaker: BreakerSettings {
                timeout: read.millis(&storage::DB_TIMEOUT_MS)?,
                failures: read.count(&storage::DB_BREAKER_FAILURES)?,
                cooldown: read.millis(&storage::DB_BREAKER_COOLDOWN_MS)?,
            },
            read_fresh: read.millis_or_zero(&storage::READ_FRESH_MS)?,
            vote_batch: BatchSettings { max: batch_max, wait: read.millis(&storage::VOTE_BATCH_WAIT_MS)? },
        })
    }

    /// The storage backend `database_url` names.
    pub fn backend(&self) -> Backend {
        read::backend_of(self.database_url.expose()).unwrap_or(Backend::Sqlite)
    }

    /// `database_url` without its password, for logs.
    pub fn database_url_redacted(&self) -> String {
        read::redact(self.database_url.expose())
    }
}

/// The scheme of a `REDIS_URL` naming a Redis Cluster by some of its nodes.
pub const CLUSTER_SCHEME: &str = "redis+cluster://";

impl Redis {
    /// The cluster's seed nodes as `redis://` URLs, when `url` names a Redis Cluster.
    pub fn cluster_nodes(&self) -> Option<Vec<String>> {
        let rest = self.url.as_ref()?.expose().strip_prefix(CLUSTER_SCHEME)?;
        let (credentials, hosts) = rest.rsplit_once('@').map_or(("", rest), |(c, h)| (c, h));
        let hosts = hosts.trim_end_matches('/');
        Some(
            hosts
                .split(',')
                .filter(|host| !host.is_empty())
                .map(|host| {
                    if credentials.is_empty() {
                        format!("redis://{host}")
                    } else {
                        format!("redis://{credentials}@{host}")
                    }
                })
                .collect(),
        )
    }

    fn read(read: &Reader<impl Fn(&str) -> Option<String>>) -> Result<Self, ConfigError> {
        let url = match read.set(&redis::REDIS_URL) {
            Some(url) if ["redis://", "rediss://", CLUSTER_SCHEME].iter().any(|scheme| url.starts_with(scheme)) => {
                Some(Secret(url))
            }
            Some(url) => {
                return Err(ConfigError::new(
                    redis::REDIS_URL.name,
                    read::redact(&url),
                    "expected a redis://… or redis+cluster://… URL",
                ));
            }
            None => None,
        };
        Ok(Self {
            url,
            prefix: read::identifier(read.text(&redis::REDIS_PREFIX))?,
            cache_ttl: read.secs_or_zero(&redis::CACHE_TTL_SECS)?,
            breaker: BreakerSettings {
                timeout: read.millis(&redis::REDIS_TIMEOUT_MS)?,
                failures: read.count(&redis::REDIS_BREAKER_FAILURES)?,
                cooldown: read.millis(&redis::REDIS_BREAKER_COOLDOWN_MS)?,
            },
        })
    }

    /// `url` without its password, for logs.
    pub fn url_redacted(&self) -> Option<String> {
        self.url.as_ref().map(|url| read::redact(url.expose()))
    }
}

impl Limits {
    fn read(read: &Reader<impl Fn(&str) -> Option<String>>) -> Result<Self, ConfigError> {
        let quota = |burst, per_minute| -> Result<Quota, ConfigError> {
            Ok(Quota { burst: read.count(burst)?, per_minute: read.count(per_minute)? })
        };
        Ok(Self {
            enabled: read.flag(&limits::RATE_LIMIT)?,
            quotas: Quotas {
                read: quota(&limits::READ_BURST, &limits::READ_PER_MINUTE)?,
                vote: quota(&limits::VOTE_BURST, &limits::VOTE_PER_MINUTE)?,
                create: quota(&limits::CREATE_BURST, &limits::CREATE_PER_MINUTE)?,
            },
            sse_max_per_client: read.count(&limits::SSE_MAX_PER_CLIENT)?,
            sse_max_per_replica: read.count(&limits::SSE_MAX_PER_REPLICA)?,
        })
    }
}

impl Cookies {
    fn read(read: &Reader<impl Fn(&str) -> Option<String>>) -> Result<Self, ConfigError> {
        let key = match read.set(&cookies::COOKIE_KEY) {
            Some(key) if key.len() >= 64 => Some(Secret(key)),
            Some(_) => {
                let reason = "expected at least 64 characters, such as `openssl rand -hex 32` twice";
                return Err(ConfigError::new(cookies::COOKIE_KEY.name, "(not shown)".into(), reason));
            }
            None => None,
        };
        let secure = read.choice(
            &cookies::COOKIE_SECURE,
            &[("auto", CookieSecure::Auto), ("always", CookieSecure::Always), ("never", CookieSecure::Never)],
        )?;
        Ok(Self { key, secure })
    }
}

/// A value that must never reach a log or an error message: its `Debug` says
/// `[redacted]`, and reading it takes an explicit [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps `value`.
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The value itself, for the one place that needs it.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> std::fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Settings::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn an_empty_environment_gives_the_documented_defaults() {
        let s = settings(&[]).expect("defaults are valid");
        assert_eq!(s.storage.database_url.expose(), "sqlite://data/votestream.db");
        assert_eq!(s.storage.backend(), Backend::Sqlite);
        assert_eq!(s.http.bind_addr.to_string(), "127.0.0.1:3000");
        assert!(s.storage.seed_demo);
        assert_eq!(s.logs.format, LogFormat::Text);
        assert!(s.limits.enabled && s.http.trusted_proxies.is_empty());
        assert_eq!(s.limits.quotas.vote, Quota { burst: 20, per_minute: 30 });
    }

    #[test]
    fn allowed_hosts_default_to_loopback_and_the_bind_address_and_give_way_to_public_url() {
        assert_eq!(
            settings(&[]).expect("default").http.allowed_hosts.names().expect("a list").to_vec(),
            ["localhost", "127.0.0.1", "::1"]
        );
        let lan = settings(&[("BIND_ADDR", "192.0.2.7:3000")]).expect("valid");
        assert_eq!(
            lan.http.allowed_hosts.names().expect("a list").to_vec(),
            ["localhost", "127.0.0.1", "::1", "192.0.2.7"]
        );
        let any = settings(&[("BIND_ADDR", "0.0.0.0:3000")]).expect("valid");
        assert_eq!(
            any.http.allowed_hosts.names().expect("a list").to_vec(),
            ["localhost", "127.0.0.1", "::1"],
            "0.0.0.0 names no host"
        );
        let listed =
            settings(&[("ALLOWED_HOSTS", "Votes.example, [2001:db8::1], 192.0.2.7, bücher.example")]).expect("valid");
        assert_eq!(
            listed.http.allowed_hosts.names().expect("a list").to_vec(),
            ["votes.example", "2001:db8::1", "192.0.2.7", "xn--bcher-kva.example"]
        );
        assert!(matches!(listed.http.allowed_hosts, HostRule::Listed(_)));
        let public =
            settings(&[("PUBLIC_URL", "https://votes.example"), ("ALLOWED_HOSTS", "x.example")]).expect("valid");
        assert_eq!(public.http.allowed_hosts, HostRule::Any, "links come from PUBLIC_URL: any Host is harmless");
    }

    #[test]
    fn a_crowded_replica_stretches_each_viewers_pause_to_keep_within_its_frame_budget() {
        let live = settings(&[("SSE_THROTTLE_MS", "100"), ("SSE_FRAMES_PER_SECOND", "20000")]).expect("valid").live;
        assert_eq!(live.pause(1), Duration::from_millis(100), "one viewer: the throttle");
        assert_eq!(live.pause(2_000), Duration::from_millis(100), "2,000 × 10 frames/s fit in 20,000");
        assert_eq!(live.pause(4_000), Duration::from_millis(200), "4,000 viewers share 20,000 frames/s: 5 each");
        let error = settings(&[("SSE_FRAMES_PER_SECOND", "0")]).expect_err("zero").to_string();
        assert!(error.contains("more than 0"), "{error}");
    }

    #[test]
    fn the_readme_tables_are_the_variables_as_written_in_vars() {
        let readme = include_str!("../../README.md");
        let tables = vars::markdown();
        assert!(
            readme.contains(&tables),
            "README.md's Configuration tables differ from src/config/vars.rs; `votestream settings` prints them:\n{tables}"
        );
    }

    #[test]
    fn every_variable_read_is_documented_and_every_documented_one_is_read() {
        let asked = std::cell::RefCell::new(Vec::new());
        Settings::from_lookup(|name| {
            asked.borrow_mut().push(name.to_owned());
            None
        })
        .expect("defaults are valid");
        let mut asked = asked.into_inner();
        asked.retain(|name| name != "HOSTNAME"); // the machine's, not a setting: REPLICA_NAME's default
        asked.sort();
        asked.dedup();
        let mut documented: Vec<String> = vars::SECTIONS
            .iter()
            .flat_map(|s| s.vars)
            .map(|v| v.name.to_owned())
            .filter(|name| name != vars::logs::RUST_LOG.name) // read by the log filter
            .collect();
        documented.sort();
        assert_eq!(asked, documented);
        assert!(
            include_str!("../telemetry.rs").contains("RUST_LOG.default"),
            "the log filter's default is the documented one"
        );
    }

    #[test]
    fn each_documented_default_is_the_value_used_when_unset() {
        let unset = format!("{:?}", settings(&[]).expect("defaults are valid"));
        for var in vars::SECTIONS.iter().flat_map(|s| s.vars).filter(|v| !v.default.is_empty()) {
            let set = settings(&[(var.name, var.default)]).unwrap_or_else(|e| panic!("{}: {e}", var.name));
            assert_eq!(format!("{set:?}"), unset, "{} set to its documented default changes the settings", var.name);
        }
    }

    #[test]
    fn printing_the_settings_shows_no_secret() {
        let key = "k".repeat(64);
        let s = settings(&[
            ("DATABASE_URL", "postgres://vs:hunter2@db/vs"),
            ("REDIS_URL", "redis://:sesame@cache:6379"),
            ("COOKIE_KEY", &key),
        ])
        .expect("valid");

        let printed = format!("{s:?}");

        for secret in ["hunter2", "sesame", key.as_str()] {
            assert!(!printed.contains(secret), "{secret} shown in {printed}");
        }
        assert!(printed.contains("[redacted]"));
        assert_eq!(s.storage.database_url.expose(), "postgres://vs:hunter2@db/vs", "the value itself is kept");
    }

    #[test]
    fn embed_origins_are_a_star_or_a_list_of_origins() {
        assert_eq!(settings(&[]).expect("default").embed.allowed_origins, ["*"]);
        let s = settings(&[("EMBED_ALLOWED_ORIGINS", "https://blog.example, http://127.0.0.1:8081")]).expect("valid");
        assert_eq!(s.embed.allowed_origins, ["https://blog.example", "http://127.0.0.1:8081"]);
    }

    #[test]
    fn trusted_proxies_take_networks_and_single_addresses() {
        let s = settings(&[("TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1 ,::1")]).expect("valid");
        let shown: Vec<String> = s.http.trusted_proxies.iter().map(ToString::to_string).collect();
        assert_eq!(shown, ["10.0.0.0/8", "127.0.0.1/32", "::1/128"]);
    }

    #[test]
    fn bad_values_are_named_in_the_error() {
        let cases = [
            ("BIND_ADDR", "localhost", "BIND_ADDR=\"localhost\""),
            ("SEED_DEMO", "maybe", "expected true or false"),
            ("LOG_FORMAT", "xml", "expected text or json"),
            ("DATABASE_URL", "mysql://x", "postgres://"),
            ("DB_MAX_CONNECTIONS", "0", "more than 0"),
            ("REPLICA_NAME", "a b", "letters, digits"),
            ("REDIS_URL", "localhost:6379", "redis://"),
            ("SSE_THROTTLE_MS", "fast", "milliseconds"),
            ("TRUSTED_PROXIES", "10.0.0.0/8, nginx", "“nginx” is not a network"),
            ("RATE_LIMIT", "sometimes", "expected true or false"),
            ("VOTE_PER_MINUTE", "0", "more than 0"),
            ("VOTE_BATCH_MAX", "5000", "at most 1000"),
            ("VOTE_BATCH_WAIT_MS", "0", "more than 0"),
            ("READ_FRESH_MS", "soon", "milliseconds"),
            ("CREATE_BURST", "-1", "whole number"),
            ("SSE_MAX_PER_CLIENT", "0", "more than 0"),
            ("DB_BREAKER_FAILURES", "0", "more than 0"),
            ("REDIS_TIMEOUT_MS", "soon", "milliseconds"),
            ("COOKIE_KEY", "short", "at least 64 characters"),
            ("COOKIE_SECURE", "sometimes", "auto, always or never"),
            ("EMBED_ALLOWED_ORIGINS", "https://blog.example/path", "is not an origin"),
            ("EMBED_ALLOWED_ORIGINS", "blog.example", "is not an origin"),
            ("EMBED_ALLOWED_ORIGINS", "https://a.example *", "is not an origin"),
            ("PUBLIC_URL", "https://a.example https://b.example", "expected one address"),
            ("PUBLIC_URL", "votes.example", "is not an origin"),
            ("ALLOWED_HOSTS", "https://votes.example", "is not a host name"),
            ("ALLOWED_HOSTS", "votes.example:8080", "is not a host name"),
            ("ALLOWED_HOSTS", "votes.example, a b", "is not a host name"),
        ];
        for (name, value, expected) in cases {
            let error = settings(&[(name, value)]).expect_err(name).to_string();
            assert!(error.contains(expected), "{name}={value}: {error}");
        }
        let key_error = settings(&[("COOKIE_KEY", "secret")]).expect_err("short key").to_string();
        assert!(!key_error.contains("secret"), "the key is never shown: {key_error}");
    }

    #[test]
    fn standbys_are_read_as_a_list_and_only_beside_a_postgres_primary() {
        let s = settings(&[
            ("DATABASE_URL", "postgres://vs:pw@primary/vs"),
            ("DATABASE_READ_URL", " postgres://vs:pw@standby-1/vs, postgres://vs:pw@standby-2/vs ,"),
            ("DB_READ_MAX_LAG_MS", "250"),
        ])
        .expect("valid");
        let urls: Vec<&str> = s.storage.read_urls.iter().map(|url| url.expose().as_str()).collect();
        assert_eq!(urls, ["postgres://vs:pw@standby-1/vs", "postgres://vs:pw@standby-2/vs"]);
        assert_eq!(s.storage.read_max_lag, std::time::Duration::from_millis(250));
        assert!(settings(&[]).expect("defaults").storage.read_urls.is_empty());
        let error = settings(&[("DATABASE_READ_URL", "postgres://vs:secret@standby/vs")])
            .expect_err("a standby beside SQLite")
            .to_string();
        assert!(error.contains("DATABASE_READ_URL") && !error.contains("secret"), "{error}");
    }

    #[test]
    fn a_redis_cluster_url_names_its_seed_nodes() {
        let s = settings(&[("REDIS_URL", "redis+cluster://:pw@127.0.0.1:7000,127.0.0.1:7001/")]).expect("valid");
        assert_eq!(
            s.redis.cluster_nodes().expect("a cluster"),
            ["redis://:pw@127.0.0.1:7000", "redis://:pw@127.0.0.1:7001"]
        );
        assert_eq!(settings(&[("REDIS_URL", "redis://127.0.0.1:6379")]).expect("valid").redis.cluster_nodes(), None);
        let error = settings(&[("REDIS_URL", "memcached://h:1")]).expect_err("bad scheme").to_string();
        assert!(error.contains("redis+cluster://"), "{error}");
    }

    #[test]
    fn the_database_password_is_redacted() {
        let s = settings(&[("DATABASE_URL", "postgres://vs:secret@db:5432/vs")]).expect("valid");
        assert_eq!(s.storage.backend(), Backend::Postgres);
        assert_eq!(s.storage.database_url_redacted(), "postgres://vs:***@db:5432/vs");
        let error = settings(&[("DATABASE_URL", "mongo://u:secret@h")]).expect_err("bad scheme").to_string();
        assert!(!error.contains("secret"), "{error}");
    }

    #[test]
    fn no_part_of_any_password_reaches_the_redacted_url() {
        let cases = [
            ("an @ in the password", "postgres://vs:p@ss@db:5432/vs", "postgres://vs:***@db:5432/vs"),
            ("a : in the password", "postgres://vs:a:b@db/vs", "postgres://vs:***@db/vs"),
            (
                "an escaped password",
                "postgres://vs:p%40ss%2Fw@db/vs?sslmode=require",
                "postgres://vs:***@db/vs?sslmode=require",
            ),
            ("a password without a user", "redis://:hunter2@cache:6379/0", "redis://:***@cache:6379/0"),
            ("no password", "postgres://vs@db/vs", "postgres://vs@db/vs"),
            ("the embedded default", "sqlite://data/votestream.db", "sqlite://data/votestream.db"),
        ];
        for (description, url, expected) in cases {
            assert_eq!(read::redact(url), expected, "{description}");
        }
        for (description, unparsable) in
            [("no scheme", "vs:secret@db"), ("a broken host", "postgres://vs:secret@[db/vs")]
        {
            let shown = read::redact(unparsable);
            assert!(!shown.contains("secret"), "{description}: {shown}");
        }
        let error = settings(&[("REDIS_URL", "cache:6379@x:secret")]).expect_err("not redis://").to_string();
        assert!(!error.contains("secret"), "{error}");
    }
}
