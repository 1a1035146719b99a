//! The demo themes and polls from `seeds/demo.toml`, compiled in and loaded idempotently.

use anyhow::Context;
use serde::Deserialize;

use crate::store::Store;

/// The demo content, as shipped.
const DEMO: &str = include_str!("../seeds/demo.toml");

/// A seed file: themes with their polls.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedData {
    /// Themes in display order.
    pub themes: Vec<SeedTheme>,
}

/// One theme of a seed file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedTheme {
    /// API key (`OnTrend`).
    pub key: String,
    /// Display name.
    pub name: String,
    /// URL slug.
    pub slug: String,
    /// One emoji.
    pub icon: String,
    /// `#rrggbb`.
    pub color: String,
    /// A sentence or two.
    pub description: String,
    /// Its polls, in order.
    #[serde(default)]
    pub polls: Vec<SeedPoll>,
}

/// One poll of a seed theme.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedPoll {
    /// The question.
    pub question: String,
    /// Option texts, in order.
    pub options: Vec<String>,
}

/// What a seeding run added.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeedReport {
    /// Themes that were missing.
    pub themes_added: usize,
    /// Polls that were missing.
    pub polls_added: usize,
}

/// Parses the shipped demo content.
pub fn demo() -> anyhow::Result<SeedData> {
    toml::from_str(DEMO).context("parsing seeds/demo.toml")
}

/// Adds whatever of the demo content is missing.
pub async fn load_demo(store: &dyn Store) -> anyhow::Result<SeedReport> {
    let data = demo()?;
    store.seed(&data).await.context("loading the demo content")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::PollDraft;

    #[test]
    fn the_demo_content_parses_and_every_poll_would_pass_validation() {
        let data = demo().expect("demo.toml parses");
        assert_eq!(data.themes.len(), 3);
        for theme in &data.themes {
            assert!(theme.color.len() == 7 && theme.color.starts_with('#'), "{}", theme.slug);
            for poll in &theme.polls {
                let draft = PollDraft {
                    question: poll.question.clone(),
                    theme: theme.slug.clone(),
                    options: poll.options.clone(),
                };
                assert!(draft.validate(Some(1)).is_ok(), "{}", poll.question);
            }
        }
    }
}
