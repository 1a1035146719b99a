//! Themes: the groups polls belong to, as stored and as seeded.

use super::poll::PollContent;

/// A theme. As stored its `id` is the database id; a theme still to be added has none
/// (`Theme<()>`), with the same fields otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Theme<Id = i64> {
    /// Database id.
    pub id: Id,
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

/// A theme to add with its polls, as demo content describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThemeContent {
    /// The theme, without an id yet.
    pub theme: Theme<()>,
    /// Its polls, in order.
    pub polls: Vec<PollContent>,
}

/// Where a poll stands among its theme's polls (oldest first): the page's "2 of 7" and its
/// link onwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    /// From 1.
    pub position: i64,
    /// The theme's polls.
    pub of: i64,
    /// The theme's next poll, if any.
    pub next: Option<i64>,
    /// The theme's poll before it, if any.
    pub previous: Option<i64>,
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
