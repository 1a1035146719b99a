//! `/themes/{slug}`: a theme's polls, numbered.

use maud::{Markup, html};

use crate::components::{back_link, count, theme_class};
use crate::model::{ThemePage, ThemeSummary};

/// The theme's heading, shared with nothing else but kept apart for reading.
fn header(theme: &ThemeSummary) -> Markup {
    html! {
        header.theme-header.(theme_class(&theme.slug)) {
            span.theme-icon aria-hidden="true" { (theme.icon) }
            h1 { (theme.name) }
            p { (theme.description) }
        }
    }
}

/// The numbered poll list.
pub fn fragment(model: &ThemePage) -> Markup {
    html! {
        (back_link("/", "Back to themes"))
        (header(&model.theme))
        @if model.polls.is_empty() {
            p.empty { "No polls in this theme yet." }
        } @else {
            ol.poll-list {
                @for (i, poll) in model.polls.iter().enumerate() {
                    li.poll-card.(theme_class(&model.theme.slug)) {
                        span.poll-number { "#" (i + 1) }
                        h2 { (poll.question) }
                        ul.option-list {
                            @for option in &poll.options { li { (option) } }
                        }
                        p.meta {
                            (count(poll.total_votes, "vote"))
                            @if poll.closed { " · closed" }
                        }
                        a.button href={ "/polls/" (poll.id) } {
                            @if poll.closed { "See results" } @else { "Vote now" }
                        }
                    }
                }
            }
        }
        p.create-here {
            a href={ "/polls/new?theme=" (model.theme.slug) } { "+ Create a poll in " (model.theme.name) }
        }
    }
}

/// Page title.
pub fn title(model: &ThemePage) -> String {
    model.theme.name.clone()
}

/// The full page.
pub fn page(model: &ThemePage) -> Markup {
    crate::layout::page(&title(model), fragment(model))
}
