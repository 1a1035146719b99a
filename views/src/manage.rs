//! `/polls/{id}/manage/{key}`: the owner's page. Close or reopen, a closing time, who sees
//! results when, duplicate protection, delete. Every action is a plain form.

use maud::{Markup, html};

use crate::components::count;
use crate::model::ManagePage;
use crate::paths;
use crate::poll::{downloads, results};

/// The choices of "Show results", as (value, label).
const RESULTS_SHOWN: [(&str, &str); 3] = [
    ("always", "Always, to everyone"),
    ("after_vote", "To each voter after they vote"),
    ("after_close", "To everyone once the poll closes"),
];

/// The choices of "One vote per", as (value, label).
const PROTECTION: [(&str, &str); 3] =
    [("cookie", "Browser (a cookie)"), ("ip", "Network address"), ("none", "Nothing: every vote counts")];

/// The choices of "Close automatically", as (value, label). Relative, so no time zone is
/// guessed; the page shows the resulting time in UTC.
const CLOSES_IN: [(&str, &str); 6] = [
    ("never", "No closing time"),
    ("300", "In 5 minutes"),
    ("900", "In 15 minutes"),
    ("3600", "In 1 hour"),
    ("86400", "In 1 day"),
    ("604800", "In 1 week"),
];

/// What the page adds to the document's head: the copy button's script.
pub fn head() -> Markup {
    html! { script src=(paths::SHARE_JS) defer {} }
}

/// Page title.
pub fn title(model: &ManagePage) -> String {
    format!("Manage: {}", model.question)
}

fn radios(name: &str, legend: &str, choices: &[(&str, &str)], current: &str) -> Markup {
    html! {
        fieldset.radios {
            legend { (legend) }
            @for (value, label) in choices {
                label {
                    input type="radio" name=(name) value=(value) checked[*value == current];
                    " " (label)
                }
            }
        }
    }
}

/// The page.
pub fn fragment(model: &ManagePage) -> Markup {
    let poll_id = model.results.poll_id;
    html! {
        article.manage {
            p.step { "Manage your poll" }
            h1.question { (model.question) }
            @if model.created {
                section.manage-link role="status" {
                    h2 { "Your poll is live. Keep this manage link" }
                    p { "It is the only way to close, change or delete the poll. It is shown only now: VoteStream keeps no copy it could show again." }
                    div.copy-row {
                        input #manage-url type="url" readonly value=(model.manage_url) aria-label="Manage link";
                        button.copy type="button" data-copy="manage-url" { "Copy link" }
                    }
                }
            }
            @if let Some(notice) = &model.notice {
                p.notice role="status" { (notice) }
            }
            p.state {
                @if model.held { "Closed, results held for your reveal · " }
                @else if model.results.closed { "Closed · " } @else { "Open · " }
                (count(model.results.voters, "voter"))
                @if model.max_choices > 1 { " · up to " (model.max_choices) " choices each" }
                @if let Some(at) = &model.closes_at {
                    @if !model.results.closed { " · closes " (at) }
                }
                " · "
                a href=(paths::Poll { id: poll_id }) { "View the poll" }
            }
            form.manage-actions method="post" action=(model.action) {
                @if model.results.closed {
                    button.button type="submit" name="action" value="reopen" { "Reopen voting" }
                    @if model.held {
                        button.button type="submit" name="action" value="reveal" { "Reveal the results" }
                    }
                } @else {
                    button.button type="submit" name="action" value="close" { "Close voting now" }
                }
                // A document of its own (its own layout and keys), not a boosted swap into this one.
                a.button.secondary href=(model.present) hx-boost="false" { "Present on a screen" }
                a href=(model.add_poll) { "Add a poll with this manage link" }
            }
            @if let Some(code) = &model.join_code {
                p.join-code-line { "Join code " strong.code { (code) } ": the audience types it at " a href=(paths::Join) { "/j" } "." }
            }
            (results(&model.results))
            (downloads(poll_id))
            form.manage-settings method="post" action=(model.action) {
                h2 { "Settings" }
                (radios("results", "Show results", &RESULTS_SHOWN, model.results_shown))
                (radios("protection", "One vote per", &PROTECTION, model.protection))
                label for="closes-in" { "Close automatically" }
                select #closes-in name="closes_in" {
                    @if let Some(at) = &model.closes_at {
                        option value="keep" selected { "Keep: " (at) }
                    }
                    @for (value, label) in CLOSES_IN {
                        option value=(value) selected[model.closes_at.is_none() && value == "never"] { (label) }
                    }
                }
                button.button type="submit" name="action" value="settings" { "Save settings" }
            }
            form.manage-delete method="post" action=(model.action) {
                h2 { "Delete" }
                label {
                    input type="checkbox" name="confirm" value="yes";
                    " Delete this poll and its " (count(model.results.total(), "vote")) " for good"
                }
                button.button.danger type="submit" name="action" value="delete" { "Delete poll" }
            }
        }
    }
}

/// After a delete: what is gone, and the way on.
pub fn deleted(question: &str, votes: i64) -> Markup {
    html! {
        article.manage {
            h1 { "Poll deleted" }
            p role="status" { "“" (question) "” and its " (count(votes, "vote")) " are gone." }
            p { a.button href=(paths::Home) { "Back to VoteStream" } }
        }
    }
}
