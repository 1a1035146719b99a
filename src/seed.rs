//! The demo themes and polls: `seeds/demo.toml`, compiled in, checked like any new poll, and
//! loaded idempotently. The TOML format lives here and nowhere else.

use anyhow::{Context, anyhow};
use serde::Deserialize;

use crate::domain::{PollContent, Theme, ThemeContent};
use crate::store::{SeedReport, Store};

/// The demo content, as shipped.
const DEMO: &str = include_str!("../seeds/demo.toml");

/// A seed file: themes with their polls.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedFile {
    /// Themes in display order.
    themes: Vec<SeedTheme>,
}

/// One theme of a seed file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedTheme {
    key: String,
    name: String,
    slug: String,
    icon: String,
    color: String,
    description: String,
    #[serde(default)]
    polls: Vec<SeedPoll>,
}

/// One poll of a seed theme.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SeedPoll {
    question: String,
    options: Vec<String>,
}

/// Parses seed TOML into checked themes; a poll that would not pass the form's checks is
/// an error naming it.
pub fn parse(toml_text: &str) -> anyhow::Result<Vec<ThemeContent>> {
    let file: SeedFile = toml::from_str(toml_text)?;
    file.themes
        .into_iter()
        .map(|theme| {
            let polls = theme
                .polls
                .into_iter()
                .map(|poll| {
                    PollContent::parse(&poll.question, &poll.options).map_err(|problems| {
                        let messages: Vec<String> = problems.into_iter().map(|p| p.message).collect();
                        anyhow!("poll “{}” of theme {}: {}", poll.question, theme.slug, messages.join(" "))
                    })
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            Ok(ThemeContent {
                theme: Theme {
                    id: (),
                    key: theme.key,
                    name: theme.name,
                    slug: theme.slug,
                    icon: theme.icon,
                    color: theme.color,
                    description: theme.description,
                },
                polls,
            })
        })
        .collect()
}

/// The shipped demo content.
pub fn demo() -> anyhow::Result<Vec<ThemeContent>> {
    parse(DEMO).context("reading seeds/demo.toml")
}

/// Adds whatever of the demo content is missing.
pub async fn load_demo(store: &dyn Store) -> anyhow::Result<SeedReport> {
    let themes = demo()?;
    store.seed(&themes).await.context("loading the demo content")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_content_parses_and_every_poll_passes_the_checks() {
        let themes = demo().expect("demo.toml is valid");
        assert_eq!(themes.len(), 3);
        for ThemeContent { theme, polls } in &themes {
            assert!(theme.color.len() == 7 && theme.color.starts_with('#'), "{}", theme.slug);
            assert!(!polls.is_empty(), "{} has polls", theme.slug);
        }
    }

    #[test]
    fn a_seed_poll_that_fails_the_checks_is_named() {
        let text = r##"
            [[themes]]
            key = "T"
            name = "T"
            slug = "t"
            icon = "x"
            color = "#000000"
            description = "d"
            [[themes.polls]]
            question = "Only one?"
            options = ["yes"]
        "##;
        let error = parse(text).expect_err("one option is too few").to_string();
        assert!(error.contains("Only one?") && error.contains("at least 2 options"), "{error}");
    }
}
