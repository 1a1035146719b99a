//! The presenter view: a poll on the wall of a room, readable from the back: the question,
//! large live bars and the number of voters, beside them how to join (a short address, the
//! code, its QR code); for the owner, the controls, each with its key.

use maud::{DOCTYPE, Markup, html};

use crate::components::theme_class;
use crate::model::{Follow, JoinInfo, PresentPage, PresenterControls};
use crate::paths;
use crate::poll::{live, results};

/// Page title.
pub fn title(model: &PresentPage) -> String {
    format!("Presenting: {}", model.question)
}

/// The element that follows a presentation: when `event: stage` arrives, it fetches
/// `refresh` into `#main`. Outside `#main`, so a vote or a link swapped into `#main`
/// keeps it.
pub fn follower(follow: &Follow) -> Markup {
    html! {
        div.follow hx-ext="sse" sse-connect=(follow.stream) {
            // The address follows too: a reload shows where the presentation is.
            div hx-get=(follow.refresh) hx-trigger="sse:stage" hx-target="#main" hx-swap="innerHTML" hx-push-url="true" {}
        }
    }
}

/// How to join, beside the poll.
fn join_box(join: &JoinInfo) -> Markup {
    html! {
        aside.stage-join aria-labelledby="join-title" {
            h2 #join-title { "Vote on your phone" }
            p.stage-address { "Go to " strong { (join.address) } }
            p.stage-code-label { "and enter the code" }
            p.stage-code { (join.code) }
            img.stage-qr src=(join.qr) width="240" height="240" alt={ "QR code of " (join.address) "/" (join.code) };
        }
    }
}

/// A control: a button of the owner's form, or a link of the read-only view.
fn neighbour(model: &PresentPage, target: Option<i64>, forward: bool) -> Markup {
    let (label, key, value) =
        if forward { ("Next", "ArrowRight", "next") } else { ("Previous", "ArrowLeft", "previous") };
    let text = if forward {
        html! { (label) " " kbd { "→" } }
    } else {
        html! { kbd { "←" } " " (label) }
    };
    html! {
        @if model.controls.is_some() {
            button.button.stage-button type="submit" name="action" value=(value) data-key=(key)
                aria-keyshortcuts=(key) disabled[target.is_none()] { (text) }
        } @else if let Some(poll) = target {
            a.button.stage-button href={ (model.browse) "?poll=" (poll) } data-key=(key) aria-keyshortcuts=(key)
                rel=(if forward { "next" } else { "prev" }) { (text) }
        }
    }
}

fn full_screen() -> Markup {
    html! {
        button.button.secondary.stage-button type="button" data-fullscreen data-key="F" aria-keyshortcuts="F" hidden {
            "Full screen " kbd { "F" }
        }
    }
}

/// The owner's controls: one form, a button per action, each with its key.
fn owner_controls(model: &PresentPage, controls: &PresenterControls) -> Markup {
    html! {
        form.stage-controls method="post" action=(controls.action) aria-label="Presenter controls" {
            (neighbour(model, model.previous, false))
            (neighbour(model, model.next, true))
            button.button.stage-button type="submit" name="action" value="close" data-key="C" aria-keyshortcuts="C"
                disabled[controls.closed || !controls.owns_poll] { "Close voting " kbd { "C" } }
            button.button.stage-button type="submit" name="action" value="reveal" data-key="R" aria-keyshortcuts="R"
                disabled[!controls.held || !controls.owns_poll] { "Reveal results " kbd { "R" } }
            (full_screen())
        }
        @if !controls.owns_poll {
            p.stage-note { "Close and Reveal work on the polls this manage link owns; this one is someone else's." }
        }
    }
}

/// The wall.
pub fn fragment(model: &PresentPage) -> Markup {
    let (step, steps) = model.step;
    html! {
        article.stage.(theme_class(&model.theme.slug)) {
            div.stage-poll {
                p.stage-step { (model.theme.icon) " " (model.theme.name) " · poll " (step) " of " (steps) }
                h1.stage-question { (model.question) }
                @if let Some(controls) = &model.controls {
                    @if let Some(notice) = &controls.notice {
                        p.notice role="status" { (notice) }
                    }
                }
                (live(model.poll_id, results(&model.results)))
            }
            @if let Some(join) = &model.join {
                (join_box(join))
            }
            @if let Some(controls) = &model.controls {
                (owner_controls(model, controls))
            } @else if model.previous.is_some() || model.next.is_some() {
                nav.stage-controls aria-label="Polls of the theme" {
                    (neighbour(model, model.previous, false))
                    (neighbour(model, model.next, true))
                    (full_screen())
                }
            } @else {
                // Nothing to browse (it follows the presenter): full screen alone, once scripts run.
                div.stage-controls { (full_screen()) }
            }
        }
    }
}

/// The whole document: no site header or footer, the wall fills the screen.
pub fn page(model: &PresentPage) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                (crate::layout::shared_head(&title(model)))
                link rel="icon" href=(paths::FAVICON) type="image/svg+xml";
                script src=(paths::PRESENT_JS) defer {}
            }
            body.presenting {
                @if let Some(follow) = &model.follow {
                    (follower(follow))
                }
                main #main tabindex="-1" { (fragment(model)) }
            }
        }
    }
}
