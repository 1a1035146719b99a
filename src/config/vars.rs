//! Every environment variable the server reads: its name, default and meaning, written
//! here once, by section. `from_lookup` reads only through these, the README's
//! Configuration tables are [`markdown`] of them (a test compares), and `votestream
//! settings` prints the same.

/// One variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Var {
    /// As set in the environment: `BIND_ADDR`.
    pub name: &'static str,
    /// The value used when the variable is unset or blank (`""`: none).
    pub default: &'static str,
    /// The default as the README says it, when it is not one literal value.
    pub default_said: Option<&'static str>,
    /// What it does, in a sentence or two (Markdown).
    pub meaning: &'static str,
}

/// A group of variables with one concern, and the part of `Settings` that holds it.
#[derive(Debug, Clone, Copy)]
pub struct Section {
    /// `http`: the `Settings` field holding it.
    pub name: &'static str,
    /// One line on what the section governs.
    pub about: &'static str,
    pub vars: &'static [Var],
}

/// Declares a section: a module of `Var` constants named as the variables, each with its
/// doc comment as its meaning, and the section's list.
macro_rules! section {
    ($(#[doc = $about:literal])+ $section:ident {
        $( $(#[doc = $meaning:literal])+ $name:ident = $default:literal $(, said $said:literal)?; )+
    }) => {
        pub mod $section {
            use super::{Section, Var};
            $(
                pub const $name: Var = Var {
                    name: stringify!($name),
                    default: $default,
                    default_said: section!(@said $($said)?),
                    meaning: concat!($($meaning),+),
                };
            )+
            pub const SECTION: Section = Section {
                name: stringify!($section),
                about: concat!($($about),+),
                vars: &[$($name),+],
            };
        }
    };
    (@said) => { None };
    (@said $said:literal) => { Some($said) };
}

section! {
    /// How the server listens, what it answers and whom it believes.
    http {
        /// The listen address.
        BIND_ADDR = "127.0.0.1:3000";
        /// Sent as `X-Replica` on every response.
        REPLICA_NAME = "", said "`$HOSTNAME`, else `local`";
        /// A request taking longer gets 408.
        REQUEST_TIMEOUT_SECS = "10";
        /// A connection that has not sent its request headers by then is closed, and so is a
        /// kept-alive one that waits that long for its next request (a proxy's idle upstream
        /// connections must be let go sooner: `deploy/nginx.conf`, `keepalive_timeout`).
        HEADER_READ_TIMEOUT_SECS = "5";
        /// Larger request bodies get 413.
        BODY_LIMIT_BYTES = "65536";
        /// Comma-separated networks (`10.0.0.0/8`) or addresses whose `X-Forwarded-For`,
        /// `X-Real-IP` and `X-Forwarded-Proto` are believed; from anyone else the TCP peer is
        /// the client.
        TRUSTED_PROXIES = "";
        /// The address people reach the site at (`https://votes.example`), for share links,
        /// QR codes, link previews, oEmbed and the manage link; unset, each request's `Host` is
        /// used, and must be one of `ALLOWED_HOSTS`.
        PUBLIC_URL = "";
        /// While `PUBLIC_URL` is unset: the host names (comma-separated, no scheme or port)
        /// requests may name in `Host`; any other gets `400` (health, readiness and metrics
        /// answer any). A server listening beyond loopback with neither set warns at start.
        ALLOWED_HOSTS = "", said "`localhost`, `127.0.0.1`, `::1` and the bind address";
    }
}

section! {
    /// Where state lives and how it is reached.
    storage {
        /// `sqlite://path` (file and folder created if missing) or `postgres://…` (the
        /// password is never logged).
        DATABASE_URL = "sqlite://data/votestream.db";
        /// Load the demo themes and polls on start if missing.
        SEED_DEMO = "true";
        /// Comma-separated `postgres://…` URLs of streaming standbys: page and list reads go
        /// to one of them (in turn) while it is up and no further behind than
        /// `DB_READ_MAX_LAG_MS`, else to the primary. Writes, the tally read back after a
        /// vote, owners' pages and a voter's own page always read the primary.
        DATABASE_READ_URL = "";
        /// A standby whose replay is further behind than this is skipped until it catches up.
        DB_READ_MAX_LAG_MS = "1000";
        /// `true` when `DATABASE_URL` (and `DATABASE_READ_URL`) go through a PgBouncer in
        /// `pool_mode = transaction`: every statement then runs unnamed inside a transaction,
        /// no startup parameter is sent, and `serve` does not migrate (run `votestream
        /// migrate` against the database itself first).
        DB_TRANSACTION_POOLING = "false";
        /// Database pool size (per URL: the primary's and each standby's).
        DB_MAX_CONNECTIONS = "10";
        /// Longest a request waits for a free database connection before a 503.
        DB_ACQUIRE_TIMEOUT_MS = "2000";
        /// The database breaker: a call's time limit (half of it counts as slow).
        DB_TIMEOUT_MS = "3000";
        /// The database breaker: failed or slow calls within 10 s that open it.
        DB_BREAKER_FAILURES = "3";
        /// The database breaker: how long it stays open before a probe.
        DB_BREAKER_COOLDOWN_MS = "5000";
        /// Page reads other than a poll's own state (themes, lists, home counts) are answered
        /// from memory this long after the database answered them; `0` always asks.
        READ_FRESH_MS = "1000";
        /// The vote writer commits up to so many ballots (at most 1000) in one transaction.
        VOTE_BATCH_MAX = "256";
        /// How long the vote writer waits, after a batch's first ballot, for others to join it.
        VOTE_BATCH_WAIT_MS = "2";
    }
}

section! {
    /// The live bus across replicas and the shared cache.
    redis {
        /// `redis://…`: live updates across replicas and the shared cache; unset keeps both
        /// inside the process (one replica). `redis+cluster://host:port,host:port,…` names a
        /// Redis Cluster by some of its nodes: each poll's updates then go by sharded Pub/Sub
        /// (`SPUBLISH`/`SSUBSCRIBE`), inside the shard that holds the poll's channel.
        REDIS_URL = "";
        /// Namespace of our Redis channels and keys, so deployments can share a Redis.
        REDIS_PREFIX = "votestream";
        /// How long a cached poll lives (entries are dropped on every vote anyway); 0 caches
        /// nothing, so every read goes to the database (set it alike on every replica: one
        /// that caches nothing also drops nothing from the others' shared copies).
        CACHE_TTL_SECS = "30";
        /// The Redis breaker (cache and publish calls): a call's time limit.
        REDIS_TIMEOUT_MS = "300";
        /// The Redis breaker: failed or slow calls within 10 s that open it.
        REDIS_BREAKER_FAILURES = "3";
        /// The Redis breaker: how long it stays open before a probe.
        REDIS_BREAKER_COOLDOWN_MS = "5000";
    }
}

section! {
    /// How much one client, and all of them, may ask of a replica.
    limits {
        /// `on`, or `off` to lift every quota and stream cap (load tests; the log says so at
        /// start).
        RATE_LIMIT = "on";
        /// Page, fragment, API and stream requests (GET/HEAD) one client address may make at
        /// once.
        READ_BURST = "120";
        /// Of those, how many a client address regains per minute.
        READ_PER_MINUTE = "600";
        /// Votes (form or API) one client address may send at once.
        VOTE_BURST = "20";
        /// Of those, how many a client address regains per minute.
        VOTE_PER_MINUTE = "30";
        /// Posts of the poll form (Create, Add option, Remove) and API creations one client
        /// address may make at once.
        CREATE_BURST = "30";
        /// Of those, how many a client address regains per minute.
        CREATE_PER_MINUTE = "3";
        /// Live streams open at once per client address.
        SSE_MAX_PER_CLIENT = "20";
        /// Live streams open at once on one replica.
        SSE_MAX_PER_REPLICA = "20000";
    }
}

section! {
    /// The live results streams.
    live {
        /// A viewer gets at most one live frame per interval, always ending on the latest
        /// state.
        SSE_THROTTLE_MS = "100";
        /// The reconnection delay suggested to SSE clients (`retry:`).
        SSE_RETRY_MS = "2000";
        /// Keep-alive comments on idle streams.
        SSE_KEEPALIVE_SECS = "15";
        /// Live frames a replica sends per second at most, over all its viewers: with more
        /// viewers than the throttle allows for, each waits longer between frames (20,000
        /// viewers: one frame a second each), so a crowd slows the bars instead of queueing
        /// behind them.
        SSE_FRAMES_PER_SECOND = "20000";
    }
}

section! {
    /// The voter cookie.
    cookies {
        /// Signs the voter cookie (at least 64 characters; the same on every replica; never
        /// logged). Unset: the embedded default makes one and keeps it in `cookie.key` beside
        /// its SQLite file; with PostgreSQL each process makes its own and warns.
        COOKIE_KEY = "";
        /// `auto` (Secure when a trusted proxy says the request came over HTTPS), `always`,
        /// `never`.
        COOKIE_SECURE = "auto";
    }
}

section! {
    /// Framing poll pages in other sites.
    embed {
        /// The sites that may frame `/embed/…` pages: origins (`https://blog.example`)
        /// separated by commas or spaces, or `*` for any; every other page may not be framed
        /// at all.
        EMBED_ALLOWED_ORIGINS = "*";
    }
}

section! {
    /// What the server writes to its log.
    logs {
        /// The log filter (tracing's `EnvFilter` syntax).
        RUST_LOG = "info,sqlx=warn";
        /// `text` or `json`.
        LOG_FORMAT = "text";
        /// One request in this many is logged, with a span around what it logs (nginx's
        /// access log already has every request and its id); 1 logs every request, 0 only
        /// these: server errors and slow requests are always logged.
        LOG_REQUESTS_EVERY = "100";
        /// A request that takes at least this long is always logged (milliseconds).
        LOG_SLOW_MS = "1000";
    }
}

/// Every section, in the README's order.
pub const SECTIONS: &[Section] = &[
    http::SECTION,
    storage::SECTION,
    redis::SECTION,
    limits::SECTION,
    live::SECTION,
    cookies::SECTION,
    embed::SECTION,
    logs::SECTION,
];

/// The variables as the README's Configuration tables: one table per section.
pub fn markdown() -> String {
    let mut text = String::new();
    for section in SECTIONS {
        text += &format!(
            "### `{}`: {}\n\n| variable | meaning | default |\n|---|---|---|\n",
            section.name,
            lower(section.about)
        );
        for var in section.vars {
            let default = match (var.default_said, var.default) {
                (Some(said), _) => said.to_owned(),
                (None, "") => "unset".to_owned(),
                (None, value) => format!("`{value}`"),
            };
            text += &format!("| `{}` | {} | {default} |\n", var.name, one_line(var.meaning));
        }
        text += "\n";
    }
    text
}

/// A doc comment's lines as one line of text.
fn one_line(doc: &str) -> String {
    doc.split('\n').map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}

/// "How the server…" → "how the server…" after a colon; the full stop dropped.
fn lower(about: &str) -> String {
    let line = one_line(about);
    let line = line.trim_end_matches('.');
    let mut chars = line.chars();
    chars.next().map(|c| c.to_lowercase().chain(chars).collect()).unwrap_or_default()
}
