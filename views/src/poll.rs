//! `/polls/{id}`: one poll, as choices before voting and as result bars after.

use maud::{Markup, html};

use crate::components::{back_link, count, letter, percent, theme_class};
use crate::model::{Ballot, Results, VotePage};

/// The result bars, swapped in on their own by `/polls/{id}/results`.
pub fn results(results: &Results) -> Markup {
    let total = results.total();
    html! {
        section.results id={ "results-" (results.poll_id) } aria-live="polite" aria-label="Results" {
            ol.result-list {
                @for (i, option) in results.options.iter().enumerate() {
                    @let pct = percent(option.votes, total);
                    @let chosen = results.chosen == Some(option.id);
                    li.result.chosen[chosen] data-option-id=(option.id) {
                        div.result-label {
                            span.letter aria-hidden="true" { (letter(i)) }
                            span.text { (option.text) @if chosen { span.your-vote { " (your vote)" } } }
                            span.count { (count(option.votes, "vote")) " · " (pct) "%" }
                        }
                        progress value=(option.votes) max=(total.max(1)) aria-label={ (option.text) ": " (pct) "%" } {
                            (pct) "%"
                        }
                    }
                }
            }
            p.total { (count(total, "vote")) " in total" }
        }
    }
}

/// The text of the option with `id`, for messages.
fn option_text(results: &Results, id: i64) -> &str {
    results.options.iter().find(|o| o.id == id).map_or("an option", |o| o.text.as_str())
}

/// What the viewer is told above the results.
fn notice(model: &VotePage) -> Option<String> {
    match model.ballot {
        Ballot::Open => None,
        Ballot::Voted { option_id, again } => {
            let text = option_text(&model.results, option_id);
            Some(if again {
                format!("You already voted for “{text}”. One vote per poll.")
            } else {
                format!("You voted for “{text}”.")
            })
        }
        Ballot::Closed { option_id } => Some(match option_id {
            Some(id) => format!("This poll is closed. You voted for “{}”.", option_text(&model.results, id)),
            None => "This poll is closed: voting has ended.".to_owned(),
        }),
    }
}

fn choices(model: &VotePage) -> Markup {
    let poll_id = model.results.poll_id;
    html! {
        form.vote-form method="post" action={ "/polls/" (poll_id) "/votes" } {
            p #prompt { "Select your answer:" }
            div.choices role="group" aria-labelledby="prompt" {
                @for (i, option) in model.results.options.iter().enumerate() {
                    button.choice type="submit" name="option" value=(option.id) {
                        span.letter aria-hidden="true" { (letter(i)) }
                        span.text { (option.text) }
                    }
                }
            }
        }
    }
}

fn after_vote(model: &VotePage) -> Markup {
    html! {
        nav.after-vote aria-label="Continue" {
            @if let Some(next) = model.next_poll {
                a.button href={ "/polls/" (next) } { "Next poll →" }
            } @else {
                span.done { "That was the last poll in " (model.theme.name) "." }
            }
            a href={ "/themes/" (model.theme.slug) } { "Back to " (model.theme.name) }
        }
    }
}

/// The poll: step, question, then choices or results.
pub fn fragment(model: &VotePage) -> Markup {
    html! {
        (back_link(&format!("/themes/{}", model.theme.slug), "Back to polls"))
        article.poll.(theme_class(&model.theme.slug)) {
            p.step { "Step " (model.step) " of " (model.steps) " · " (model.theme.name) }
            progress.steps value=(model.step) max=(model.steps)
                aria-label={ "Step " (model.step) " of " (model.steps) } {}
            h1.question { (model.question) }
            @if let Some(text) = notice(model) {
                p.notice role="status" { (text) }
            }
            @if model.ballot == Ballot::Open {
                (choices(model))
            } @else {
                (results(&model.results))
                (after_vote(model))
            }
        }
    }
}

/// Page title.
pub fn title(model: &VotePage) -> String {
    model.question.clone()
}

/// The full page.
pub fn page(model: &VotePage) -> Markup {
    crate::layout::page(&title(model), fragment(model))
}
