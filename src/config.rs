//! Typed settings from the environment (and `.env`, read before this runs).

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;
use std::str::FromStr;
use std::time::Duration;

/// A setting that is present but malformed.
#[derive(Debug, thiserror::Error)]
#[error("{name}={value:?} is not valid: {reason}")]
pub struct ConfigError {
    name: &'static str,
    value: String,
    reason: String,
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

/// Everything the server reads from its environment.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `DATABASE_URL`: where state lives. Never logged whole (it may hold a password).
    pub database_url: Secret<String>,
    /// `BIND_ADDR`: the listen address.
    pub bind_addr: SocketAddr,
    /// `SEED_DEMO`: load the demo themes and polls on start if missing.
    pub seed_demo: bool,
    /// `LOG_FORMAT`: `text` or `json`.
    pub log_format: LogFormat,
    /// `DB_MAX_CONNECTIONS`: database pool size.
    pub db_max_connections: u32,
    /// `REQUEST_TIMEOUT_SECS`: longest a request may take before a 408.
    pub request_timeout: Duration,
    /// `HEADER_READ_TIMEOUT_SECS`: a connection that has not sent its request headers
    /// within this is closed (slow-loris clients hold nothing for long).
    pub header_read_timeout: Duration,
    /// `BODY_LIMIT_BYTES`: largest request body accepted.
    pub body_limit: usize,
    /// `REDIS_URL`: Redis for the live bus and the cache; `None` keeps both in-process.
    pub redis_url: Option<Secret<String>>,
    /// `REDIS_PREFIX`: namespace of our channels and keys, so deployments can share a Redis.
    pub redis_prefix: String,
    /// `SSE_THROTTLE_MS`: at most one live frame per viewer per this interval.
    pub sse_throttle: Duration,
    /// `SSE_RETRY_MS`: reconnection delay suggested to SSE clients.
    pub sse_retry: Duration,
    /// `SSE_KEEPALIVE_SECS`: interval of keep-alive comments on idle streams.
    pub sse_keep_alive: Duration,
    /// `CACHE_TTL_SECS`: how long cached polls live.
    pub cache_ttl: Duration,
    /// `REPLICA_NAME`: sent as `X-Replica` on every response (default: `HOSTNAME`, else `local`).
    pub replica_name: String,
    /// `TRUSTED_PROXIES`: comma-separated networks (CIDR, or single addresses) whose
    /// `X-Forwarded-For`/`X-Real-IP` are believed. Empty: the TCP peer is the client.
    pub trusted_proxies: Vec<IpNet>,
    /// `RATE_LIMIT`: `on`, or `off` to lift every quota and stream cap (load tests).
    pub rate_limit: bool,
    /// Requests each client address may make.
    pub quotas: Quotas,
    /// `SSE_MAX_PER_CLIENT`: live streams one client address may hold open on a replica.
    pub sse_max_per_client: usize,
    /// `SSE_MAX_PER_REPLICA`: live streams a replica holds open at most.
    pub sse_max_per_replica: usize,
    /// `READ_FRESH_MS`: page reads (themes, lists, counts; not a poll's own state) are
    /// answered from memory this long after the database answered them (0: never).
    pub read_fresh: Duration,
    /// `VOTE_BATCH_MAX`, `VOTE_BATCH_WAIT_MS`: the vote writer commits up to so many
    /// ballots together, gathered for at most so long after the first.
    pub vote_batch: BatchSettings,
    /// `DB_ACQUIRE_TIMEOUT_MS`: longest a request waits for a free database connection
    /// before it is answered 503 (the vote path sheds load instead of queueing).
    pub db_acquire_timeout: Duration,
    /// `DB_*`: the database's circuit breaker.
    pub db_breaker: BreakerSettings,
    /// `REDIS_*`: Redis's circuit breaker (cache and publish calls).
    pub redis_breaker: BreakerSettings,
    /// `COOKIE_KEY`: signs the voter cookie; every replica needs the same one (at least 64
    /// characters). Unset: the embedded default keeps one in `cookie.key` beside its
    /// database; with PostgreSQL each process makes its own and says so. Never logged.
    pub cookie_key: Option<Secret<String>>,
    /// `COOKIE_SECURE`: when the voter cookie is marked `Secure`.
    pub cookie_secure: CookieSecure,
    /// `PUBLIC_URL`: the address people reach this site at (`https://votes.example`), for
    /// share links, QR codes, oEmbed and link previews. Unset: taken from each request.
    pub public_url: Option<String>,
    /// `ALLOWED_HOSTS`: while `PUBLIC_URL` is unset, the `Host` names (comma-separated,
    /// without port) requests may carry, since links are then built from it.
    pub allowed_hosts: HostRule,
    /// `EMBED_ALLOWED_ORIGINS`: the sites that may frame `/embed/…` pages, as origins
    /// (`https://blog.example`) separated by commas or spaces; `*` lets any site.
    pub embed_allowed_origins: Vec<String>,
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
        let get = |name: &'static str, default: &str| {
            let value = lookup(name).filter(|v| !v.trim().is_empty());
            (name, value.unwrap_or_else(|| default.to_owned()))
        };
        let (name, database_url) = get("DATABASE_URL", "sqlite://data/votestream.db");
        backend_of(&database_url).map_err(|reason| ConfigError { name, value: redact(&database_url), reason })?;
        let mut settings = Self {
            database_url: Secret(database_url),
            bind_addr: parse(get("BIND_ADDR", "127.0.0.1:3000"), "expected host:port, such as 127.0.0.1:3000")?,
            seed_demo: parse_bool(get("SEED_DEMO", "true"))?,
            log_format: match get("LOG_FORMAT", "text") {
                (_, v) if v.eq_ignore_ascii_case("text") => LogFormat::Text,
                (_, v) if v.eq_ignore_ascii_case("json") => LogFormat::Json,
                (name, value) => return Err(ConfigError { name, value, reason: "expected text or json".into() }),
            },
            db_max_connections: positive(
                parse(get("DB_MAX_CONNECTIONS", "10"), "expected a whole number")?,
                "DB_MAX_CONNECTIONS",
            )?,
            request_timeout: Duration::from_secs(positive(
                parse(get("REQUEST_TIMEOUT_SECS", "10"), "expected a whole number of seconds")?,
                "REQUEST_TIMEOUT_SECS",
            )?),
            header_read_timeout: Duration::from_secs(positive(
                parse(get("HEADER_READ_TIMEOUT_SECS", "5"), "expected a whole number of seconds")?,
                "HEADER_READ_TIMEOUT_SECS",
            )?),
            body_limit: positive(
                parse(get("BODY_LIMIT_BYTES", "65536"), "expected a number of bytes")?,
                "BODY_LIMIT_BYTES",
            )?,
            redis_url: match lookup("REDIS_URL").filter(|v| !v.trim().is_empty()) {
                Some(url) if url.starts_with("redis://") || url.starts_with("rediss://") => Some(Secret(url)),
                Some(url) => {
                    return Err(ConfigError {
                        name: "REDIS_URL",
                        value: redact(&url),
                        reason: "expected a redis://… URL".into(),
                    });
                }
                None => None,
            },
            redis_prefix: identifier(get("REDIS_PREFIX", "votestream"))?,
            sse_throttle: Duration::from_millis(parse(get("SSE_THROTTLE_MS", "100"), "expected milliseconds")?),
            sse_retry: Duration::from_millis(positive(
                parse(get("SSE_RETRY_MS", "2000"), "expected milliseconds")?,
                "SSE_RETRY_MS",
            )?),
            sse_keep_alive: Duration::from_secs(positive(
                parse(get("SSE_KEEPALIVE_SECS", "15"), "expected seconds")?,
                "SSE_KEEPALIVE_SECS",
            )?),
            cache_ttl: Duration::from_secs(positive(
                parse(get("CACHE_TTL_SECS", "30"), "expected seconds")?,
                "CACHE_TTL_SECS",
            )?),
            replica_name: identifier(get("REPLICA_NAME", &lookup("HOSTNAME").unwrap_or_else(|| "local".into())))?,
            trusted_proxies: networks(get("TRUSTED_PROXIES", ""))?,
            rate_limit: parse_bool(get("RATE_LIMIT", "on"))?,
            quotas: Quotas {
                read: quota(&get, ("READ_BURST", "120"), ("READ_PER_MINUTE", "600"))?,
                vote: quota(&get, ("VOTE_BURST", "20"), ("VOTE_PER_MINUTE", "30"))?,
                create: quota(&get, ("CREATE_BURST", "30"), ("CREATE_PER_MINUTE", "3"))?,
            },
            sse_max_per_client: positive(
                parse(get("SSE_MAX_PER_CLIENT", "20"), "expected a whole number")?,
                "SSE_MAX_PER_CLIENT",
            )?,
            sse_max_per_replica: positive(
                parse(get("SSE_MAX_PER_REPLICA", "20000"), "expected a whole number")?,
                "SSE_MAX_PER_REPLICA",
            )?,
            read_fresh: Duration::from_millis(parse(get("READ_FRESH_MS", "1000"), "expected milliseconds")?),
            vote_batch: BatchSettings {
                max: match positive(
                    parse::<usize>(get("VOTE_BATCH_MAX", "256"), "expected a whole number")?,
                    "VOTE_BATCH_MAX",
                )? {
                    // Each ballot binds up to 3 × 10 values; SQLite takes 32,766 per statement.
                    max if max > MAX_VOTE_BATCH => {
                        return Err(ConfigError {
                            name: "VOTE_BATCH_MAX",
                            value: max.to_string(),
                            reason: format!("at most {MAX_VOTE_BATCH}"),
                        });
                    }
                    max => max,
                },
                wait: millis(&get, ("VOTE_BATCH_WAIT_MS", "2"))?,
            },
            db_acquire_timeout: millis(&get, ("DB_ACQUIRE_TIMEOUT_MS", "2000"))?,
            db_breaker: breaker(
                &get,
                [("DB_TIMEOUT_MS", "3000"), ("DB_BREAKER_FAILURES", "3"), ("DB_BREAKER_COOLDOWN_MS", "5000")],
            )?,
            cookie_key: match lookup("COOKIE_KEY").filter(|v| !v.trim().is_empty()) {
                Some(key) if key.len() >= 64 => Some(Secret(key)),
                Some(_) => {
                    return Err(ConfigError {
                        name: "COOKIE_KEY",
                        value: "(not shown)".into(),
                        reason: "expected at least 64 characters, such as `openssl rand -hex 32` twice".into(),
                    });
                }
                None => None,
            },
            cookie_secure: match get("COOKIE_SECURE", "auto") {
                (_, v) if v.eq_ignore_ascii_case("auto") => CookieSecure::Auto,
                (_, v) if v.eq_ignore_ascii_case("always") => CookieSecure::Always,
                (_, v) if v.eq_ignore_ascii_case("never") => CookieSecure::Never,
                (name, value) => {
                    return Err(ConfigError { name, value, reason: "expected auto, always or never".into() });
                }
            },
            embed_allowed_origins: origins(get("EMBED_ALLOWED_ORIGINS", "*"))?,
            public_url: match lookup("PUBLIC_URL").filter(|v| !v.trim().is_empty()) {
                Some(value) => match origins(("PUBLIC_URL", value.clone()))?.as_slice() {
                    [one] if one != "*" => Some(one.clone()),
                    _ => {
                        let reason = "expected one address such as https://votes.example".into();
                        return Err(ConfigError { name: "PUBLIC_URL", value, reason });
                    }
                },
                None => None,
            },
            allowed_hosts: HostRule::Any,
            redis_breaker: breaker(
                &get,
                [("REDIS_TIMEOUT_MS", "300"), ("REDIS_BREAKER_FAILURES", "3"), ("REDIS_BREAKER_COOLDOWN_MS", "5000")],
            )?,
        };
        if settings.public_url.is_none() {
            settings.allowed_hosts = match lookup("ALLOWED_HOSTS").filter(|v| !v.trim().is_empty()) {
                Some(value) => HostRule::Listed(host_names(("ALLOWED_HOSTS", value))?),
                None => HostRule::Default(default_hosts(settings.bind_addr)),
            };
        }
        Ok(settings)
    }

    /// The storage backend `database_url` names.
    pub fn backend(&self) -> Backend {
        backend_of(self.database_url.expose()).unwrap_or(Backend::Sqlite)
    }

    /// `redis_url` without its password, for logs.
    pub fn redis_url_redacted(&self) -> Option<String> {
        self.redis_url.as_ref().map(|url| redact(url.expose()))
    }

    /// `database_url` without its password, for logs.
    pub fn database_url_redacted(&self) -> String {
        redact(self.database_url.expose())
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

/// A quota from its two variables (name, default), both more than 0.
fn quota(
    get: &impl Fn(&'static str, &str) -> (&'static str, String),
    (burst_name, burst_default): (&'static str, &str),
    (rate_name, rate_default): (&'static str, &str),
) -> Result<Quota, ConfigError> {
    Ok(Quota {
        burst: positive(parse(get(burst_name, burst_default), "expected a whole number")?, burst_name)?,
        per_minute: positive(parse(get(rate_name, rate_default), "expected a whole number")?, rate_name)?,
    })
}

/// A positive number of milliseconds.
fn millis(
    get: &impl Fn(&'static str, &str) -> (&'static str, String),
    (name, default): (&'static str, &str),
) -> Result<Duration, ConfigError> {
    Ok(Duration::from_millis(positive(parse(get(name, default), "expected milliseconds")?, name)?))
}

/// A breaker's three variables (timeout, failures, cooldown) with their defaults.
fn breaker(
    get: &impl Fn(&'static str, &str) -> (&'static str, String),
    [timeout, failures, cooldown]: [(&'static str, &str); 3],
) -> Result<BreakerSettings, ConfigError> {
    let (failures_name, failures_default) = failures;
    Ok(BreakerSettings {
        timeout: millis(get, timeout)?,
        failures: positive(parse(get(failures_name, failures_default), "expected a whole number")?, failures_name)?,
        cooldown: millis(get, cooldown)?,
    })
}

/// `*`, or origins (`scheme://host[:port]`, nothing more) separated by commas or spaces.
fn origins((name, value): (&'static str, String)) -> Result<Vec<String>, ConfigError> {
    let items: Vec<&str> = value.split([',', ' ']).map(str::trim).filter(|i| !i.is_empty()).collect();
    if items == ["*"] {
        return Ok(vec!["*".to_owned()]);
    }
    items
        .iter()
        .map(|item| {
            let origin = url::Url::parse(item).ok().filter(|u| {
                matches!(u.scheme(), "http" | "https") && u.host().is_some() && u.path() == "/" && !item.ends_with('/')
            });
            origin.map(|u| u.origin().ascii_serialization()).ok_or_else(|| ConfigError {
                name,
                value: value.clone(),
                reason: format!("“{item}” is not an origin such as https://blog.example (or use * alone)"),
            })
        })
        .collect()
}

/// The `Host` names a server answers without `PUBLIC_URL` or `ALLOWED_HOSTS`: loopback's,
/// and the address it listens on.
fn default_hosts(bind: SocketAddr) -> Vec<String> {
    let mut hosts: Vec<String> = ["localhost", "127.0.0.1", "::1"].map(str::to_owned).into();
    let own = bind.ip().to_string();
    if !bind.ip().is_unspecified() && !hosts.contains(&own) {
        hosts.push(own);
    }
    hosts
}

/// Comma-separated host names or addresses, without scheme or port: `votes.example, 10.0.0.7`.
fn host_names((name, value): (&'static str, String)) -> Result<Vec<String>, ConfigError> {
    value
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            let bare = item.trim_start_matches('[').trim_end_matches(']');
            // As browsers send it: an address as written, a name lowercase and in punycode.
            let host = match bare.parse::<IpAddr>() {
                Ok(address) => Some(address.to_string()),
                Err(_) if !bare.contains(['/', ':', '[', ']']) => {
                    url::Host::parse(bare).ok().map(|h| h.to_string().to_ascii_lowercase())
                }
                Err(_) => None,
            };
            if let Some(host) = host {
                Ok(host)
            } else {
                Err(ConfigError {
                    name,
                    value: value.clone(),
                    reason: format!("“{item}” is not a host name such as votes.example (no scheme, no port)"),
                })
            }
        })
        .collect()
}

/// Comma-separated networks: `10.0.0.0/8`, `::1`, `192.0.2.7`.
fn networks((name, value): (&'static str, String)) -> Result<Vec<IpNet>, ConfigError> {
    value
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| {
            item.parse::<IpNet>().or_else(|_| item.parse::<IpAddr>().map(IpNet::from)).map_err(|_| ConfigError {
                name,
                value: value.clone(),
                reason: format!("“{item}” is not a network such as 10.0.0.0/8 or an address such as 127.0.0.1"),
            })
        })
        .collect()
}

/// A header- and key-safe name: letters, digits, `-`, `_`, `.`.
fn identifier((name, value): (&'static str, String)) -> Result<String, ConfigError> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if ok {
        Ok(value)
    } else {
        Err(ConfigError { name, value, reason: "expected up to 64 letters, digits, '-', '_' or '.'".into() })
    }
}

fn backend_of(url: &str) -> Result<Backend, String> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Backend::Postgres)
    } else if url.starts_with("sqlite:") {
        Ok(Backend::Sqlite)
    } else {
        Err("expected a postgres://… or sqlite://… URL".into())
    }
}

/// The URL with its password replaced by `***`, for logs and error messages. Anything
/// else that might hold credentials (an `@` outside a parsed `user:password@host`) is not
/// shown at all.
fn redact(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut url) if url.has_authority() => {
            if url.password().is_some() {
                // Only fails for URLs that cannot have credentials, and this one has an authority.
                let _ = url.set_password(Some("***"));
            }
            url.to_string()
        }
        _ if !raw.contains('@') => raw.to_owned(),
        _ => "(not shown: it may hold a password)".to_owned(),
    }
}

fn parse<T: FromStr>((name, value): (&'static str, String), reason: &str) -> Result<T, ConfigError> {
    value.trim().parse().map_err(|_| ConfigError { name, value, reason: reason.to_owned() })
}

fn parse_bool((name, value): (&'static str, String)) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(ConfigError { name, value, reason: "expected true or false".into() }),
    }
}

fn positive<T: Default + PartialEq + ToString>(value: T, name: &'static str) -> Result<T, ConfigError> {
    if value == T::default() {
        Err(ConfigError { name, value: value.to_string(), reason: "must be more than 0".into() })
    } else {
        Ok(value)
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
        assert_eq!(s.database_url.expose(), "sqlite://data/votestream.db");
        assert_eq!(s.backend(), Backend::Sqlite);
        assert_eq!(s.bind_addr.to_string(), "127.0.0.1:3000");
        assert!(s.seed_demo);
        assert_eq!(s.log_format, LogFormat::Text);
        assert!(s.rate_limit && s.trusted_proxies.is_empty());
        assert_eq!(s.quotas.vote, Quota { burst: 20, per_minute: 30 });
    }

    #[test]
    fn allowed_hosts_default_to_loopback_and_the_bind_address_and_give_way_to_public_url() {
        assert_eq!(
            settings(&[]).expect("default").allowed_hosts.names().expect("a list").to_vec(),
            ["localhost", "127.0.0.1", "::1"]
        );
        let lan = settings(&[("BIND_ADDR", "192.0.2.7:3000")]).expect("valid");
        assert_eq!(lan.allowed_hosts.names().expect("a list").to_vec(), ["localhost", "127.0.0.1", "::1", "192.0.2.7"]);
        let any = settings(&[("BIND_ADDR", "0.0.0.0:3000")]).expect("valid");
        assert_eq!(
            any.allowed_hosts.names().expect("a list").to_vec(),
            ["localhost", "127.0.0.1", "::1"],
            "0.0.0.0 names no host"
        );
        let listed =
            settings(&[("ALLOWED_HOSTS", "Votes.example, [2001:db8::1], 192.0.2.7, bücher.example")]).expect("valid");
        assert_eq!(
            listed.allowed_hosts.names().expect("a list").to_vec(),
            ["votes.example", "2001:db8::1", "192.0.2.7", "xn--bcher-kva.example"]
        );
        assert!(matches!(listed.allowed_hosts, HostRule::Listed(_)));
        let public =
            settings(&[("PUBLIC_URL", "https://votes.example"), ("ALLOWED_HOSTS", "x.example")]).expect("valid");
        assert_eq!(public.allowed_hosts, HostRule::Any, "links come from PUBLIC_URL: any Host is harmless");
    }

    /// `(NAME, default)` for every variable `from_lookup` reads, from its own source.
    fn variables_read() -> Vec<(String, Option<String>)> {
        let source = include_str!("config.rs");
        let start = source.find("pub fn from_lookup").expect("from_lookup");
        let body = &source[start..start + source[start..].find("\n    }\n").expect("its end")];
        let mut found = Vec::new();
        let mut rest = body;
        while let Some(at) = rest.find("(\"") {
            rest = &rest[at + 2..];
            let name: String = rest.chars().take_while(|c| c.is_ascii_uppercase() || *c == '_').collect();
            let after = &rest[name.len()..];
            if name.len() < 3 || !after.starts_with('"') {
                continue;
            }
            let default = after.strip_prefix("\", \"").map(|d| d[..d.find('"').unwrap_or(0)].to_owned());
            if name != "HOSTNAME" && !found.iter().any(|(n, _): &(String, Option<String>)| *n == name) {
                found.push((name, default));
            }
        }
        found
    }

    #[test]
    fn every_setting_read_is_in_the_readme_table_with_its_default() {
        let readme = include_str!("../README.md");
        let section = readme.split("## Configuration").nth(1).expect("the README's configuration section");
        let rows: Vec<&str> =
            section.lines().take_while(|l| !l.starts_with("## ")).filter(|l| l.starts_with("| `")).collect();
        let read = variables_read();
        assert!(read.len() > 30, "the settings were found in the source: {read:?}");
        for (name, default) in read {
            let row = rows
                .iter()
                .find(|row| row.split('|').nth(1).is_some_and(|names| names.contains(&format!("`{name}`"))))
                .unwrap_or_else(|| panic!("{name} is read but not in the README's table"));
            let documented = row.rsplit('|').nth(1).unwrap_or_default();
            match default.as_deref() {
                Some("") => assert!(documented.contains("empty"), "{name}: the README should say empty: {row}"),
                Some(default) => {
                    assert!(documented.contains(&format!("`{default}`")), "{name}: default {default} not in: {row}")
                }
                None => {}
            }
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
        assert_eq!(s.database_url.expose(), "postgres://vs:hunter2@db/vs", "the value itself is kept");
    }

    #[test]
    fn embed_origins_are_a_star_or_a_list_of_origins() {
        assert_eq!(settings(&[]).expect("default").embed_allowed_origins, ["*"]);
        let s = settings(&[("EMBED_ALLOWED_ORIGINS", "https://blog.example, http://127.0.0.1:8081")]).expect("valid");
        assert_eq!(s.embed_allowed_origins, ["https://blog.example", "http://127.0.0.1:8081"]);
    }

    #[test]
    fn trusted_proxies_take_networks_and_single_addresses() {
        let s = settings(&[("TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1 ,::1")]).expect("valid");
        let shown: Vec<String> = s.trusted_proxies.iter().map(ToString::to_string).collect();
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
    fn the_database_password_is_redacted() {
        let s = settings(&[("DATABASE_URL", "postgres://vs:secret@db:5432/vs")]).expect("valid");
        assert_eq!(s.backend(), Backend::Postgres);
        assert_eq!(s.database_url_redacted(), "postgres://vs:***@db:5432/vs");
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
            assert_eq!(redact(url), expected, "{description}");
        }
        for (description, unparsable) in
            [("no scheme", "vs:secret@db"), ("a broken host", "postgres://vs:secret@[db/vs")]
        {
            let shown = redact(unparsable);
            assert!(!shown.contains("secret"), "{description}: {shown}");
        }
        let error = settings(&[("REDIS_URL", "cache:6379@x:secret")]).expect_err("not redis://").to_string();
        assert!(!error.contains("secret"), "{error}");
    }
}
