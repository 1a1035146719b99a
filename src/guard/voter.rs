//! The voter cookie: a random id given on first visit, signed by the server (a client
//! cannot choose its id; a tampered cookie makes a new voter), HttpOnly, SameSite=Lax, and
//! Secure when the request came over HTTPS or the settings say always.

use std::path::Path;

use anyhow::Context;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::SignedCookieJar;
use axum_extra::extract::cookie::{Cookie, Key, SameSite};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::client::{ClientIp, OverHttps};
use super::headers::EMBED_PREFIX;
use crate::config::{Backend, CookieSecure, Cookies, Storage};
use crate::domain::{Ballot, VoterId};
use crate::error::AppError;

/// The cookie's name.
pub const COOKIE: &str = "vs_voter";
/// How long a browser keeps its voter id: 400 days, the most browsers allow.
const MAX_AGE: time::Duration = time::Duration::days(400);
/// Bytes of a generated key (HMAC-SHA256 signing and encryption halves).
const KEY_BYTES: usize = 64;

/// What the voter middleware needs: the signing key and the `Secure` rule.
#[derive(Clone)]
pub struct VoterCookies {
    key: Key,
    secure: CookieSecure,
}

impl VoterCookies {
    /// From the settings: `COOKIE_KEY`; else, embedded, the key kept beside the SQLite
    /// file (made on first start); else a key of this process's own, with a warning.
    pub fn new(cookies: &Cookies, storage: &Storage) -> anyhow::Result<Self> {
        let key = match (&cookies.key, storage.backend()) {
            (Some(key), _) => Key::from(key.expose().as_bytes()),
            (None, Backend::Sqlite) => {
                let options: sqlx::sqlite::SqliteConnectOptions =
                    storage.database_url.expose().parse().context("DATABASE_URL is not a valid SQLite URL")?;
                let folder = options.get_filename().parent().unwrap_or(Path::new(".")).to_path_buf();
                Key::from(&kept_key(&folder.join("cookie.key"))?)
            }
            (None, Backend::Postgres) => {
                tracing::warn!(
                    "no COOKIE_KEY: this process signs voter cookies with a key of its own; set one COOKIE_KEY on every replica"
                );
                Key::from(&random_key())
            }
        };
        Ok(Self { key, secure: cookies.secure })
    }

    /// The voter id in the request's cookies, if it carries our signature and is valid.
    fn voter(&self, jar: &SignedCookieJar) -> Option<VoterId> {
        jar.get(COOKIE).and_then(|cookie| VoterId::parse(cookie.value()))
    }

    /// The cookie that gives a browser its voter id. Inside an iframe on another site a
    /// Lax cookie is never sent, so there, when it can be Secure, it is `SameSite=None`
    /// and `Partitioned` (kept per embedding site, which browsers that block third-party
    /// cookies still allow). Over plain HTTP that cannot be: the frame's voter is then a
    /// new one per vote, held back by the address's vote quota.
    fn cookie(&self, voter: &VoterId, https: bool, embedded: bool) -> Cookie<'static> {
        let secure = match self.secure {
            CookieSecure::Always => true,
            CookieSecure::Never => false,
            CookieSecure::Auto => https,
        };
        let cross_site = embedded && secure;
        Cookie::build((COOKIE, voter.to_string()))
            .path("/")
            .max_age(MAX_AGE)
            .http_only(true)
            .same_site(if cross_site { SameSite::None } else { SameSite::Lax })
            .partitioned(cross_site)
            .secure(secure)
            .build()
    }
}

fn random_key() -> Vec<u8> {
    (0..KEY_BYTES).map(|_| rand::random::<u8>()).collect()
}

/// The key in `path` (hex), made and written (owner-only) if missing.
fn kept_key(path: &Path) -> anyhow::Result<Vec<u8>> {
    if let Ok(text) = std::fs::read_to_string(path) {
        return decode_hex(text.trim())
            .with_context(|| format!("{} is not a hex key; delete it to make a new one", path.display()));
    }
    let key = random_key();
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    if let Some(folder) = path.parent() {
        std::fs::create_dir_all(folder).with_context(|| format!("creating {}", folder.display()))?;
    }
    std::fs::write(path, hex).with_context(|| format!("writing {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("restricting {}", path.display()))?;
    }
    tracing::info!(path = %path.display(), "made the voter cookie key");
    Ok(key)
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    let bytes: Option<Vec<u8>> = (0..text.len())
        .step_by(2)
        .map(|i| text.get(i..i + 2).and_then(|pair| u8::from_str_radix(pair, 16).ok()))
        .collect();
    bytes.filter(|b| b.len() >= KEY_BYTES)
}

/// Who is voting: the browser's id, and its network address as a keyed hash (so
/// one-per-address polls can refuse a second ballot without storing any address).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Voter {
    /// The browser's voter id.
    pub id: VoterId,
    /// HMAC-SHA-256 of the client address under the cookie key, in hex.
    pub address: String,
    /// Given its id by this very request: it cannot have voted yet.
    pub fresh: bool,
}

impl Voter {
    /// This voter's ballot for `options` in a poll.
    pub fn ballot(&self, poll_id: i64, options: Vec<i64>) -> Ballot {
        Ballot::new(poll_id, options, self.id.clone(), self.address.clone())
    }
}

impl VoterCookies {
    /// The keyed hash of a client address.
    fn address(&self, ip: std::net::IpAddr) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.key.signing()).expect("HMAC takes a key of any length");
        mac.update(ip.to_string().as_bytes());
        mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Gives every request a voter: the signed cookie's, or a new one that the response sets.
pub async fn assign(State(cookies): State<VoterCookies>, mut request: Request, next: Next) -> Response {
    let jar = SignedCookieJar::from_headers(request.headers(), cookies.key.clone());
    let https = request.extensions().get::<OverHttps>().is_some_and(|OverHttps(https)| *https);
    let embedded = request.uri().path().starts_with(EMBED_PREFIX);
    let (voter, fresh) = match cookies.voter(&jar) {
        Some(voter) => (voter, false),
        None => (VoterId::random(), true),
    };
    // `client::identify` runs before this on every route; without it there is no address.
    if let Some(&ClientIp(ip)) = request.extensions().get::<ClientIp>() {
        let address = cookies.address(ip);
        request.extensions_mut().insert(Voter { id: voter.clone(), address, fresh });
    }
    let response = next.run(request).await;
    if fresh { (jar.add(cookies.cookie(&voter, https, embedded)), response).into_response() } else { response }
}

/// Voting handlers take the voter with its address.
impl<S: Send + Sync> FromRequestParts<S> for Voter {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Voter>()
            .cloned()
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("client or voter middleware missing on this route")))
    }
}

/// Other handlers take only the voter's id.
impl<S: Send + Sync> FromRequestParts<S> for VoterId {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Ok(Voter::from_request_parts(parts, state).await?.id)
    }
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderValue, header};

    use super::*;

    fn cookies(secure: CookieSecure) -> VoterCookies {
        VoterCookies { key: Key::from(&[7; KEY_BYTES]), secure }
    }

    /// What a browser sends back after receiving `set_cookie` values, plus `extra` cookies.
    fn jar(cookies: &VoterCookies, sent: &[String]) -> SignedCookieJar {
        let mut headers = HeaderMap::new();
        for value in sent {
            headers.append(header::COOKIE, HeaderValue::from_str(value).expect("header"));
        }
        SignedCookieJar::from_headers(&headers, cookies.key.clone())
    }

    /// The `name=value` part of the cookie the server would set for `voter`.
    fn issued(cookies: &VoterCookies, voter: &VoterId) -> String {
        let jar = SignedCookieJar::new(cookies.key.clone()).add(cookies.cookie(voter, false, false));
        let cookie = jar.get(COOKIE).expect("just added");
        // The jar verifies on get; what goes on the wire is the signed form.
        let response = (jar, "").into_response();
        let set = response.headers()[header::SET_COOKIE].to_str().expect("text").to_owned();
        assert!(set.contains(cookie.value()), "the id travels with its signature: {set}");
        set.split(';').next().expect("name=value").to_owned()
    }

    #[test]
    fn a_signed_cookie_is_read_back_among_others_and_anything_else_is_a_new_voter() {
        let cookies = cookies(CookieSecure::Auto);
        let voter = VoterId::random();
        let sent = issued(&cookies, &voter);
        let (name, signed) = sent.split_once('=').expect("name=value");
        let tampered = format!("{name}={}", signed.replacen(voter.as_str(), &VoterId::random().to_string(), 1));
        let cases = [
            ("as issued", vec![sent.clone()], Some(voter.clone())),
            ("among others", vec![format!("theme=dark; {sent}; x=1")], Some(voter.clone())),
            ("in a second Cookie header", vec!["a=1".to_owned(), sent.clone()], Some(voter.clone())),
            ("no cookie", vec![], None),
            ("an unsigned id of the client's choosing", vec![format!("{COOKIE}={voter}")], None),
            ("another id under the same signature", vec![tampered], None),
            ("a look-alike name", vec![format!("x{sent}")], None),
        ];
        for (description, sent, expected) in cases {
            assert_eq!(cookies.voter(&jar(&cookies, &sent)), expected, "{description}");
        }
    }

    #[test]
    fn another_key_does_not_accept_our_cookies() {
        let ours = cookies(CookieSecure::Auto);
        let theirs = VoterCookies { key: Key::from(&[9; KEY_BYTES]), secure: CookieSecure::Auto };
        let sent = issued(&ours, &VoterId::random());
        assert_eq!(theirs.voter(&jar(&theirs, &[sent])), None);
    }

    #[test]
    fn the_cookie_is_http_only_same_site_long_lived_and_secure_when_it_should_be() {
        let voter = VoterId::random();
        let cases = [
            (CookieSecure::Auto, false, false),
            (CookieSecure::Auto, true, true),
            (CookieSecure::Always, false, true),
            (CookieSecure::Never, true, false),
        ];
        for (rule, https, secure) in cases {
            let set = cookies(rule).cookie(&voter, https, false).to_string();
            for part in ["Path=/", "HttpOnly", "SameSite=Lax", "Max-Age=34560000"] {
                assert!(set.contains(part), "{part} in {set}");
            }
            assert_eq!(set.contains("Secure"), secure, "{rule:?} over https={https}: {set}");
        }
    }

    #[test]
    fn inside_a_frame_over_https_the_cookie_is_partitioned_and_cross_site() {
        let voter = VoterId::random();
        let framed = cookies(CookieSecure::Auto).cookie(&voter, true, true).to_string();
        let framed_plain = cookies(CookieSecure::Auto).cookie(&voter, false, true).to_string();

        for part in ["SameSite=None", "Secure", "Partitioned", "HttpOnly"] {
            assert!(framed.contains(part), "{part} in {framed}");
        }
        assert!(framed_plain.contains("SameSite=Lax") && !framed_plain.contains("Partitioned"), "{framed_plain}");
    }

    #[test]
    fn the_embedded_key_is_made_once_and_kept() {
        let dir = std::env::temp_dir().join(format!("votestream-key-{:x}", rand::random::<u64>()));
        let path = dir.join("cookie.key");

        let first = kept_key(&path).expect("made");
        let second = kept_key(&path).expect("read back");
        std::fs::write(&path, "not hex").expect("spoil it");
        let spoiled = kept_key(&path);
        let _ = std::fs::remove_dir_all(&dir);

        assert_eq!(first, second);
        assert_eq!(first.len(), KEY_BYTES);
        assert!(spoiled.is_err());
    }
}
