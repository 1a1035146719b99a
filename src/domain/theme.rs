//! Themes: the groups polls belong to, as stored and as seeded.

use super::poll::PollContent;

/// A theme.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Theme {
    /// Database id.
    pub id: i64,
    /// Short stable name used by the API (`OnTrend`).
    pub key: String,
    /// URL slug (`on-trend`).
    pub slug: String,
    /// Display name (`#OnTrend`).
    pub name: String,
    /// One emoji.
    pub icon: String,
    /// `#rrggbb`.
    pub color: String,
    /// A sentence or two.
    pub description: String,
}

/// A theme with its totals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThemeStats {
    /// The theme.
    pub theme: Theme,
    /// Its number of polls.
    pub poll_count: i64,
    /// Votes over all its polls.
    pub vote_count: i64,
}

/// A theme to add with its polls, as demo content describes it (no ids yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThemeContent {
    /// API key (`OnTrend`).
    pub key: String,
    /// URL slug (`on-trend`).
    pub slug: String,
    /// Display name.
    pub name: String,
    /// One emoji.
    pub icon: String,
    /// `#rrggbb`.
    pub color: String,
    /// A sentence or two.
    pub description: String,
    /// Its polls, in order.
    pub polls: Vec<PollContent>,
}

/// Totals over everything, for `/stats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    /// Themes.
    pub themes: i64,
    /// Polls.
    pub polls: i64,
    /// Options.
    pub options: i64,
    /// Vote rows.
    pub votes: i64,
}
