//! A poll's owner: the manage key, and the settings only its holder may change.

use std::fmt;

use sha2::{Digest, Sha256};

use super::voter::{is_hex, random_hex};

/// When a poll's results are shown to a viewer who is not its owner. Once a poll is
/// closed its results are shown to everyone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResultsShown {
    /// To everyone, all the time.
    #[default]
    Always,
    /// To a viewer once they have voted.
    AfterVote,
    /// To everyone once the poll is closed.
    AfterClose,
}

impl ResultsShown {
    /// Every choice, in the order a form lists them.
    pub const ALL: [Self; 3] = [Self::Always, Self::AfterVote, Self::AfterClose];

    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Always => "always",
            Self::AfterVote => "after_vote",
            Self::AfterClose => "after_close",
        }
    }

    /// The choice with this name.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == value)
    }
}

/// What makes a second vote in the same poll a duplicate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Protection {
    /// One ballot per browser (the voter cookie).
    #[default]
    Cookie,
    /// One ballot per network address.
    Ip,
    /// None: every ballot counts.
    None,
}

impl Protection {
    /// Every choice, in the order a form lists them.
    pub const ALL: [Self; 3] = [Self::Cookie, Self::Ip, Self::None];

    /// The stored and wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cookie => "cookie",
            Self::Ip => "ip",
            Self::None => "none",
        }
    }

    /// The choice with this name.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == value)
    }
}

/// What the owner decides about a poll besides its text.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Settings {
    /// When results are shown.
    pub results: ResultsShown,
    /// How duplicate votes are refused.
    pub protection: Protection,
    /// When the poll closes by itself (unix seconds), if ever.
    pub closes_at: Option<i64>,
}

/// Now, in unix seconds: how closing times are kept.
pub fn unix_now() -> i64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
}

/// A unix time as RFC 3339 (UTC), as the API writes it.
pub fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

/// A closing time as the API takes it: RFC 3339, in the future.
pub fn parse_closing_time(text: &str) -> Result<i64, String> {
    let at = time::OffsetDateTime::parse(text.trim(), &time::format_description::well_known::Rfc3339)
        .map_err(|_| format!("“{text}” is not a time: write it as RFC 3339, such as 2030-01-31T18:00:00Z."))?;
    let unix = at.unix_timestamp();
    if unix <= unix_now() {
        return Err(format!("The closing time {text} has passed: choose a time in the future."));
    }
    Ok(unix)
}

/// A closing time as pages show it: "2030-01-31 18:00 UTC".
pub fn describe_time(unix: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp(unix).ok().and_then(|t| t.format(&format).ok()).unwrap_or_default()
}

/// What the owner asks to change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerChange {
    /// Stop taking votes now.
    Close,
    /// Take votes again (a closing time already past is cleared).
    Reopen,
    /// New settings.
    Configure(Settings),
    /// From the presenter: stop taking votes, and if the results are shown after the close,
    /// hold them until [`OwnerChange::Reveal`].
    CloseForReveal,
    /// From the presenter: show the results held since the close.
    Reveal,
    /// From the presenter: the presentation started at this poll moves to the poll with
    /// this id (this poll itself: back to the start).
    Present(i64),
}

/// The secret in a poll's manage link: 256 random bits as 64 hex digits. Only its
/// [`digest`](Self::digest) is stored.
#[derive(Clone, PartialEq, Eq)]
pub struct ManageKey(String);

impl ManageKey {
    /// A new random key.
    pub fn random() -> Self {
        Self(random_hex(2))
    }

    /// Accepts exactly what [`ManageKey::random`] makes.
    pub fn parse(value: &str) -> Option<Self> {
        is_hex(value, 64).then(|| Self(value.to_owned()))
    }

    /// The key itself, for the link shown once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What is stored and compared: SHA-256 in hex. The key is random, so no salt is needed.
    pub fn digest(&self) -> String {
        format!("{:x}", Sha256::digest(self.0.as_bytes()))
    }
}

/// Never printed: logs and panics show a placeholder.
impl fmt::Debug for ManageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ManageKey(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_back_hide_in_logs_and_store_only_their_digest() {
        let key = ManageKey::random();
        assert_eq!(ManageKey::parse(key.expose()), Some(key.clone()));
        assert_ne!(key, ManageKey::random());
        assert_eq!(format!("{key:?}"), "ManageKey(…)");
        assert_eq!(key.digest().len(), 64);
        assert!(!key.digest().contains(key.expose()));
        for bad in ["", "abc", &"G".repeat(64), &"a".repeat(63), &"A".repeat(64)] {
            assert_eq!(ManageKey::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn closing_times_are_rfc_3339_in_the_future() {
        assert_eq!(rfc3339(1_900_000_000), "2030-03-17T17:46:40Z");
        assert_eq!(parse_closing_time("2030-03-17T17:46:40Z"), Ok(1_900_000_000));
        assert_eq!(parse_closing_time("2030-03-17T19:46:40+02:00"), Ok(1_900_000_000));
        assert_eq!(describe_time(1_900_000_000), "2030-03-17 17:46 UTC");
        assert!(parse_closing_time("2001-01-01T00:00:00Z").expect_err("past").contains("has passed"));
        assert!(parse_closing_time("tomorrow").expect_err("not a time").contains("RFC 3339"));
    }

    #[test]
    fn settings_names_round_trip() {
        for c in ResultsShown::ALL {
            assert_eq!(ResultsShown::parse(c.as_str()), Some(c));
        }
        for c in Protection::ALL {
            assert_eq!(Protection::parse(c.as_str()), Some(c));
        }
        assert_eq!(ResultsShown::parse("sometimes"), None);
        assert_eq!(Protection::parse("captcha"), None);
    }
}
