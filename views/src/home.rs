//! `/`: the theme cards.

use maud::{Markup, html};

use crate::components::{count, theme_class};
use crate::model::ThemeCard;
use crate::paths;

/// Page title.
pub const TITLE: &str = "Themes";

/// The theme grid.
pub fn fragment(cards: &[ThemeCard]) -> Markup {
    html! {
        section.hero {
            h1 { "What does everyone think?" }
            p { "Pick a theme, vote, and watch the results move live." }
        }
        @if cards.is_empty() {
            p.empty { "No themes yet. Run " code { "votestream seed" } " to load the demo." }
        } @else {
            ul.theme-grid {
                @for card in cards {
                    li {
                        a.theme-card.(theme_class(&card.theme.slug)) href=(paths::Theme { slug: card.theme.slug.clone() }) {
                            span.theme-icon aria-hidden="true" { (card.theme.icon) }
                            h2 { (card.theme.name) }
                            p { (card.theme.description) }
                            p.meta {
                                span.polls { (count(card.poll_count, "poll")) }
                                " · "
                                span.votes { (count(card.vote_count, "vote")) }
                            }
                        }
                    }
                }
            }
        }
    }
}
