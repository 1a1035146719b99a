//! Every URL of the site, defined once: the router registers each route by its `PATH`,
//! and every link, form action and redirect is built from the same type (`Display`).

use std::fmt;

use axum_extra::routing::TypedPath;
use serde::Deserialize;

/// `/`: the themes.
#[derive(Debug, Clone, Copy, TypedPath, Deserialize)]
#[typed_path("/")]
pub struct Home;

/// `/themes/{slug}`: a theme's polls.
#[derive(Debug, Clone, TypedPath, Deserialize)]
#[typed_path("/themes/{slug}")]
pub struct Theme {
    /// The theme's slug (or API key).
    pub slug: String,
}

/// The query of a paged list: `?after=<last id of the previous page>&limit=<size>`.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct PageQuery {
    /// The last id of the previous page.
    pub after: Option<i64>,
    /// Items per page.
    pub limit: Option<u32>,
}

/// `path` for the page after `after` (the first page when `None`).
pub fn paged(path: impl fmt::Display, after: Option<i64>) -> String {
    match after {
        Some(after) => format!("{path}?after={after}"),
        None => path.to_string(),
    }
}

/// `/themes/{slug}/events`: live totals of a theme's polls.
#[derive(Debug, Clone, TypedPath, Deserialize)]
#[typed_path("/themes/{slug}/events")]
pub struct ThemeEvents {
    /// The theme's slug (or API key).
    pub slug: String,
}

/// `/themes.css`: one colour class per theme.
#[derive(Debug, Clone, Copy, TypedPath, Deserialize)]
#[typed_path("/themes.css")]
pub struct ThemesCss;

/// `/polls`: where the poll form posts.
#[derive(Debug, Clone, Copy, TypedPath, Deserialize)]
#[typed_path("/polls")]
pub struct Polls;

/// `/polls/new`: the poll form.
#[derive(Debug, Clone, Copy, TypedPath, Deserialize)]
#[typed_path("/polls/new")]
pub struct NewPoll;

/// The query of [`NewPoll`]: a theme to preselect.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct NewPollQuery {
    /// The theme's slug.
    pub theme: Option<String>,
}

impl NewPoll {
    /// The form with the theme `slug` preselected (a [`NewPollQuery`]). Built here rather
    /// than with `with_query_params`, which writes `?&theme=…`.
    pub fn in_theme(slug: &str) -> String {
        let query = form_urlencoded::Serializer::new(String::new()).append_pair("theme", slug).finish();
        format!("{}?{query}", Self::PATH)
    }
}

/// `/polls/{id}`: the vote page.
#[derive(Debug, Clone, Copy, TypedPath, Deserialize)]
#[typed_path("/polls/{id}")]
pub struct Poll {
    /// The poll.
    pub id: i64,
}

/// `/polls/{id}/manage/{key}`: the owner's page, reached only by the secret manage link.
#[derive(Debug, Clone, TypedPath, Deserialize)]
#[typed_path("/polls/{id}/manage/{key}")]
pub struct ManagePoll {
    /// The poll.
    pub id: i64,
    /// The manage key.
    pub key: String,
}

/// `/polls/{id}/manage/{key}/new`: the poll form for another poll under the same manage
/// key (the next question of the same talk).
#[derive(Debug, Clone, TypedPath, Deserialize)]
#[typed_path("/polls/{id}/manage/{key}/new")]
pub struct ManageNewPoll {
    /// The poll whose key the new one shares.
    pub id: i64,
    /// The manage key.
    pub key: String,
}

/// Where a freshly created poll's owner lands: the manage page saying the link is shown
/// only now.
pub fn manage_new(id: i64, key: &str) -> String {
    format!("{}?created", ManagePoll { id, key: key.to_owned() })
}

/// `/polls/{id}/present`: the presenter view, read-only; it follows the presentation the
/// poll's owner started from this poll.
#[derive(Debug, Clone, Copy, TypedPath, Deserialize)]
#[typed_path("/polls/{id}/present")]
pub struct PollPresent {
    /// The poll the presentation started from.
    pub id: i64,
}

/// `/polls/{id}/manage/{key}/present`: the owner's presenter view, with its controls.
#[derive(Debug, Clone, TypedPath, Deserialize)]
#[typed_path("/polls/{id}/manage/{key}/present")]
pub struct ManagePresent {
    /// The poll the presentation started from.
    pub id: i64,
    /// The manage key.
    pub key: String,
}

/// `/polls/{id}/join`: what a phone that joined the presentation started from this poll
/// shows: the poll on the wall, changing when the presenter moves on.
#[derive(Debug, Clone, Copy, TypedPath, Deserialize)]
#[typed_path("/polls/{id}/join")]
pub struct PollJoin {
    /// The poll the presentation started from.
    pub id: i64,
}

/// `/polls/{id}/stage`: SSE, `event: stage` each time the presentation started from this
/// poll moves to another poll (data: that poll's id).
#[derive(Debug, Clone, Copy, TypedPath, Deserialize)]
#[typed_path("/polls/{id}/stage")]
pub struct PollStage {
    /// The poll the presentation started from.
    pub id: i64,
}

/// `/themes/{slug}/present`: a theme's polls on the wall, one at a time (`?poll=…`).
#[derive(Debug, Clone, TypedPath, Deserialize)]
#[typed_path("/themes/{slug}/present")]
pub struct ThemePresent {
    /// The theme's slug (or API key).
    pub slug: String,
}

/// The query of [`ThemePresent`]: which of the theme's polls is on the wall.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct PresentQuery {
    /// The poll (the theme's first when absent).
    pub poll: Option<i64>,
}

impl ThemePresent {
    /// The theme's wall showing `poll`.
    pub fn at(slug: &str, poll: i64) -> String {
        format!("{}?poll={poll}", Self { slug: slug.to_owned() })
    }
}

/// `/j`: the join box's target (`?code=…`), leading on to [`JoinCode`].
#[derive(Debug, Clone, Copy, TypedPath, Deserialize)]
#[typed_path("/j")]
pub struct Join;

/// The query of [`Join`].
#[derive(Debug, Clone, Default, Deserialize)]
pub struct JoinQuery {
    /// The code as typed.
    pub code: Option<String>,
}

/// `/j/{code}`: join a poll or a theme's presentation by its code (any case).
#[derive(Debug, Clone, TypedPath, Deserialize)]
#[typed_path("/j/{code}")]
pub struct JoinCode {
    /// The code.
    pub code: String,
}

/// `/j/{code}/qr.svg`: the join link as a QR code.
#[derive(Debug, Clone, TypedPath, Deserialize)]
#[typed_path("/j/{code}/qr.svg")]
pub struct JoinQr {
    /// The code.
    pub code: String,
}

/// `/polls/{id}/votes`: where a vote is posted.
#[derive(Debug, Clone, Copy, TypedPath, Deserialize)]
#[typed_path("/polls/{id}/votes")]
pub struct PollVotes {
    /// The poll.
    pub id: i64,
}

/// `/polls/{id}/results`: the result bars alone.
#[derive(Debug, Clone, Copy, TypedPath, Deserialize)]
#[typed_path("/polls/{id}/results")]
pub struct PollResults {
    /// The poll.
    pub id: i64,
}

/// `/polls/{id}/events`: the poll's live results.
#[derive(Debug, Clone, Copy, TypedPath, Deserialize)]
#[typed_path("/polls/{id}/events")]
pub struct PollEvents {
    /// The poll.
    pub id: i64,
}

/// `/embed/polls/{id}`: the poll alone, for an iframe on another site.
#[derive(Debug, Clone, Copy, TypedPath, Deserialize)]
#[typed_path("/embed/polls/{id}")]
pub struct EmbedPoll {
    /// The poll.
    pub id: i64,
}

/// `/embed/polls/{id}/votes`: where a vote inside the iframe is posted.
#[derive(Debug, Clone, Copy, TypedPath, Deserialize)]
#[typed_path("/embed/polls/{id}/votes")]
pub struct EmbedPollVotes {
    /// The poll.
    pub id: i64,
}

/// `/polls/{id}/qr.svg`: the poll's address as a QR code.
#[derive(Debug, Clone, Copy, TypedPath, Deserialize)]
#[typed_path("/polls/{id}/qr.svg")]
pub struct PollQr {
    /// The poll.
    pub id: i64,
}

/// `/oembed?url=…`: oEmbed JSON for a poll's address.
#[derive(Debug, Clone, Copy, TypedPath, Deserialize)]
#[typed_path("/oembed")]
pub struct OEmbed;

impl OEmbed {
    /// The oEmbed address for the page at `url`.
    pub fn of(url: &str) -> String {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("url", url)
            .append_pair("format", "json")
            .finish();
        format!("{}?{query}", Self::PATH)
    }
}

/// `/stats`: totals.
#[derive(Debug, Clone, Copy, TypedPath, Deserialize)]
#[typed_path("/stats")]
pub struct Stats;

/// `/healthz`: liveness.
#[derive(Debug, Clone, Copy, TypedPath, Deserialize)]
#[typed_path("/healthz")]
pub struct Healthz;

/// `/readyz`: readiness.
#[derive(Debug, Clone, Copy, TypedPath, Deserialize)]
#[typed_path("/readyz")]
pub struct Readyz;

/// `/metrics`: Prometheus text.
#[derive(Debug, Clone, Copy, TypedPath, Deserialize)]
#[typed_path("/metrics")]
pub struct Metrics;

/// A file under `/assets/`, compiled into the binary. Links to it carry a fingerprint of
/// its content (`?v=…`), so a browser or proxy may keep it for a year: a changed file gets a
/// new address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
    version: u64,
}

/// FNV-1a, 64 bits: a content fingerprint computed at compile time.
const fn fingerprint(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    hash
}

impl Asset {
    /// The route that serves every asset.
    pub const PATH: &'static str = "/assets/{*path}";

    const fn new(name: &'static str, content_type: &'static str, bytes: &'static [u8]) -> Self {
        Self { name, content_type, bytes, version: fingerprint(bytes) }
    }

    /// The file's path below `/assets/`.
    pub const fn name(self) -> &'static str {
        self.name
    }

    /// Its content type.
    pub const fn content_type(self) -> &'static str {
        self.content_type
    }

    /// Its content.
    pub const fn bytes(self) -> &'static [u8] {
        self.bytes
    }

    /// The fingerprint links carry, in hex.
    pub fn version(self) -> String {
        format!("{:016x}", self.version)
    }

    /// The address without the fingerprint, for snippets other sites keep (they should
    /// get the current file, not pin one).
    pub fn unversioned(self) -> String {
        format!("/assets/{}", self.name)
    }
}

impl fmt::Display for Asset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "/assets/{}?v={:016x}", self.name, self.version)
    }
}

const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

/// The stylesheet.
pub const APP_CSS: Asset = Asset::new("app.css", CSS, include_bytes!("../../assets/app.css"));
/// The icon.
pub const FAVICON: Asset = Asset::new("favicon.svg", "image/svg+xml", include_bytes!("../../assets/favicon.svg"));
/// htmx, vendored.
pub const HTMX_JS: Asset = Asset::new("vendor/htmx.min.js", JS, include_bytes!("../../assets/vendor/htmx.min.js"));
/// htmx's SSE extension, vendored.
pub const HTMX_SSE_JS: Asset =
    Asset::new("vendor/htmx-ext-sse.min.js", JS, include_bytes!("../../assets/vendor/htmx-ext-sse.min.js"));
/// Inside an embedded poll: tells the host page its height.
pub const EMBED_JS: Asset = Asset::new("embed.js", JS, include_bytes!("../../assets/embed.js"));
/// For the host page: fits each VoteStream iframe to the height it reports.
pub const EMBED_HOST_JS: Asset = Asset::new("embed-host.js", JS, include_bytes!("../../assets/embed-host.js"));
/// Copy buttons of the share box.
pub const SHARE_JS: Asset = Asset::new("share.js", JS, include_bytes!("../../assets/share.js"));
/// Focus after htmx swaps, on every page.
pub const APP_JS: Asset = Asset::new("app.js", JS, include_bytes!("../../assets/app.js"));
/// The presenter's keys and full screen.
pub const PRESENT_JS: Asset = Asset::new("present.js", JS, include_bytes!("../../assets/present.js"));

/// Every asset, for the route that serves them.
pub const ASSETS: [Asset; 9] =
    [APP_CSS, FAVICON, HTMX_JS, HTMX_SSE_JS, EMBED_JS, EMBED_HOST_JS, SHARE_JS, APP_JS, PRESENT_JS];

/// The JSON API, under `/api`.
pub mod api {
    use axum_extra::routing::TypedPath;
    use serde::Deserialize;

    /// The API's root, which is no endpoint.
    pub const ROOT: &str = "/api";
    /// Every path below `/api` that no route matches.
    pub const FALLBACK: &str = "/api/{*rest}";

    /// `/api/themes`.
    #[derive(Debug, Clone, Copy, TypedPath, Deserialize)]
    #[typed_path("/api/themes")]
    pub struct Themes;

    /// `/api/themes/{key}/polls`.
    #[derive(Debug, Clone, TypedPath, Deserialize)]
    #[typed_path("/api/themes/{key}/polls")]
    pub struct ThemePolls {
        /// The theme's key (or slug).
        pub key: String,
    }

    /// `/api/polls`: list and create.
    #[derive(Debug, Clone, Copy, TypedPath, Deserialize)]
    #[typed_path("/api/polls")]
    pub struct Polls;

    /// `/api/polls/{id}`.
    #[derive(Debug, Clone, Copy, TypedPath, Deserialize)]
    #[typed_path("/api/polls/{id}")]
    pub struct Poll {
        /// The poll.
        pub id: i64,
    }

    /// `/api/polls/{id}/vote`.
    #[derive(Debug, Clone, Copy, TypedPath, Deserialize)]
    #[typed_path("/api/polls/{id}/vote")]
    pub struct PollVote {
        /// The poll.
        pub id: i64,
    }

    /// `/api/polls/{id}/results`.
    #[derive(Debug, Clone, Copy, TypedPath, Deserialize)]
    #[typed_path("/api/polls/{id}/results")]
    pub struct PollResults {
        /// The poll.
        pub id: i64,
    }

    /// `/api/polls/{id}/results.csv`: the results as a CSV download.
    #[derive(Debug, Clone, Copy, TypedPath, Deserialize)]
    #[typed_path("/api/polls/{id}/results.csv")]
    pub struct PollResultsCsv {
        /// The poll.
        pub id: i64,
    }

    /// `/api/polls/{id}/timeline.csv`: votes per minute as a CSV download.
    #[derive(Debug, Clone, Copy, TypedPath, Deserialize)]
    #[typed_path("/api/polls/{id}/timeline.csv")]
    pub struct PollTimelineCsv {
        /// The poll.
        pub id: i64,
    }

    /// `/api/polls/{id}/stream`: live results as JSON.
    #[derive(Debug, Clone, Copy, TypedPath, Deserialize)]
    #[typed_path("/api/polls/{id}/stream")]
    pub struct PollStream {
        /// The poll.
        pub id: i64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_built_from_the_route_templates() {
        assert_eq!(Poll { id: 7 }.to_string(), "/polls/7");
        assert_eq!(PollEvents { id: 7 }.to_string(), "/polls/7/events");
        assert_eq!(Theme { slug: "on-trend".into() }.to_string(), "/themes/on-trend");
        assert_eq!(NewPoll::in_theme("on-trend"), "/polls/new?theme=on-trend");
        assert_eq!(HTMX_JS.to_string(), format!("/assets/vendor/htmx.min.js?v={}", HTMX_JS.version()));
        assert_eq!(HTMX_JS.unversioned(), "/assets/vendor/htmx.min.js");
        assert_ne!(HTMX_JS.version(), APP_CSS.version(), "fingerprints follow content");
        assert_eq!(api::Poll { id: 3 }.to_string(), "/api/polls/3");
        assert_eq!(Poll::PATH, "/polls/{id}");
        assert_eq!(paged(Theme { slug: "sports".into() }, Some(42)), "/themes/sports?after=42");
        assert_eq!(paged(Theme { slug: "sports".into() }, None), "/themes/sports");
    }

    #[test]
    fn path_segments_are_escaped() {
        assert_eq!(Theme { slug: "a b/c".into() }.to_string(), "/themes/a%20b%2Fc");
        assert_eq!(NewPoll::in_theme("a&b=c"), "/polls/new?theme=a%26b%3Dc");
    }
}
