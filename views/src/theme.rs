//! `/themes/{slug}`: a theme's polls, numbered.

use maud::{Markup, html};

use crate::components::{back_link, count, theme_class};
use crate::model::{PollTotal, ThemePage, ThemeSummary};
use crate::paths;

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

/// A poll's vote count on the theme page; `oob` marks it for an out-of-band swap.
fn votes(poll: &PollTotal, oob: bool) -> Markup {
    html! {
        span.poll-votes id={ "poll-" (poll.id) "-votes" } hx-swap-oob=[oob.then_some("true")] {
            (count(poll.total, "vote"))
            @if poll.closed { " · closed" }
        }
    }
}

/// The live update of a theme page: every poll's count, each swapped into its place.
pub fn totals(polls: &[PollTotal]) -> Markup {
    html! {
        @for poll in polls { (votes(poll, true)) }
    }
}

/// The numbered poll list.
pub fn fragment(model: &ThemePage) -> Markup {
    html! {
        (back_link(&paths::Home.to_string(), "Back to themes"))
        (header(&model.theme))
        div.live-totals hidden hx-ext="sse" sse-connect=(paths::paged(paths::ThemeEvents { slug: model.theme.slug.clone() }, model.after)) sse-swap="totals"
            hx-target="this" hx-swap="innerHTML" {}
        @if model.polls.is_empty() {
            p.empty { "No polls in this theme yet." }
        } @else {
            ol.poll-list {
                @for (i, poll) in model.polls.iter().enumerate() {
                    li.poll-card.(theme_class(&model.theme.slug)) {
                        span.poll-number { "#" (model.first_number + i) }
                        h2 { (poll.question) }
                        ul.option-list {
                            @for option in &poll.options { li { (option) } }
                        }
                        p.meta {
                            (votes(&PollTotal { id: poll.id, total: poll.total_votes, closed: poll.closed }, false))
                        }
                        a.button href=(paths::Poll { id: poll.id }) {
                            @if poll.closed { "See results" } @else { "Vote now" }
                        }
                    }
                }
            }
        }
        @if let Some(next) = model.next_after {
            nav.pager aria-label="More polls" {
                a.button href=(paths::paged(paths::Theme { slug: model.theme.slug.clone() }, Some(next))) { "More polls →" }
            }
        }
        p.create-here {
            a href=(paths::NewPoll::in_theme(&model.theme.slug)) { "+ Create a poll in " (model.theme.name) }
        }
    }
}

/// Page title.
pub fn title(model: &ThemePage) -> String {
    model.theme.name.clone()
}
