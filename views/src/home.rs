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
            (join_box(None))
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

/// "Join with a code": the code read off a presenter's screen. `problem`: why the code
/// just typed was not one, said next to the field.
pub fn join_box(problem: Option<(&str, &str)>) -> Markup {
    html! {
        // A whole page load, not a boosted swap: the page it leads to follows the
        // presenter from outside `main`.
        form.join-box method="get" action=(paths::Join) aria-label="Join with a code" hx-boost="false" {
            label for="join-code" { "Join with a code" }
            div.join-row {
                input #join-code type="text" name="code" required minlength="6" maxlength="12"
                    autocomplete="off" autocapitalize="characters" spellcheck="false"
                    placeholder="K7P2QX" value=[problem.map(|(typed, _)| typed)]
                    aria-invalid=[problem.map(|_| "true")] aria-describedby=[problem.map(|_| "join-problem")];
                button.button type="submit" { "Join" }
            }
            @if let Some((_, message)) = problem {
                p #join-problem .field-error role="alert" { (message) }
            }
        }
    }
}

/// `/j`: the box alone, or again with what was wrong with the code typed.
pub fn join_page(problem: Option<(&str, &str)>) -> Markup {
    html! {
        section.hero {
            h1 { "Join a poll" }
            p { "Type the six characters shown on the presenter's screen." }
            (join_box(problem))
        }
    }
}
