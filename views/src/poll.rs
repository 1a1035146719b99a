//! `/polls/{id}`: one poll, as choices before voting and as result bars after.

use maud::{Markup, html};

use crate::components::{PAUSED, back_link, count, letter, percent, quoted_list, theme_class};
use crate::model::{Ballot, Results, Reveal, Share, VotePage};
use crate::paths;

/// The result bars, swapped in on their own by `/polls/{id}/results` and by the live
/// stream. The same for every viewer, so a replica renders it once per update.
pub fn results(results: &Results) -> Markup {
    if let Some(reveal) = results.withheld {
        return withheld(results, reveal);
    }
    let total = results.total();
    html! {
        section.results id={ "results-" (results.poll_id) } aria-label="Results" {
            ol.result-list {
                @for (i, option) in results.options.iter().enumerate() {
                    @let pct = percent(option.votes, total);
                    li.result data-option-id=(option.id) {
                        div.result-label {
                            span.letter aria-hidden="true" { (letter(i)) }
                            span.text { (option.text) }
                            span.count { (count(option.votes, "vote")) " · " (pct) "%" }
                        }
                        progress value=(option.votes) max=(total.max(1)) aria-label={ (option.text) ": " (pct) "%" } {
                            (pct) "%"
                        }
                    }
                }
            }
            p.total aria-live="polite" {
                (count(total, "vote")) " in total"
                @if results.voters != total { " from " (count(results.voters, "voter")) }
                @if results.closed { " · final results" }
            }
            @if let Some(timeline) = &results.timeline {
                (crate::timeline::figure(timeline))
            }
        }
    }
}

/// In place of the bars while the results are not shown to this viewer: how many have
/// voted, and when the results appear.
fn withheld(results: &Results, reveal: Reveal) -> Markup {
    html! {
        section.results.withheld id={ "results-" (results.poll_id) } aria-label="Results" {
            p.total aria-live="polite" { (have_voted(results.voters)) }
            p.reveal {
                @match reveal {
                    Reveal::AfterVote => "Results are shown once you have voted.",
                    Reveal::AfterClose => "Results are shown when the poll closes.",
                    Reveal::OnReveal => "Voting has ended. The results are shown when the presenter reveals them.",
                }
            }
        }
    }
}

/// The ballot's listener for `event: closed`: the results take the ballot's place.
fn on_close() -> Markup {
    html! { div.on-close hidden sse-swap="closed" hx-target="closest .ballot" hx-swap="innerHTML" {} }
}

/// What takes an open ballot's place when the poll closes with its results held for the
/// presenter's reveal: `content` (the notice), and the listener again, for the reveal's
/// `event: closed` on the same stream.
pub fn awaiting_reveal(content: Markup) -> Markup {
    html! { (on_close()) (content) }
}

/// Results that follow the poll's stream: every `event: results` replaces them.
pub fn live(poll_id: i64, content: Markup) -> Markup {
    html! {
        // hx-target and hx-swap here override the page-wide boost settings on <body>.
        div.live hx-ext="sse" sse-connect=(paths::PollEvents { id: poll_id }) sse-swap="results"
            hx-target="this" hx-swap="innerHTML" {
            (content)
        }
    }
}

/// In place of the results of a poll its owner deleted.
pub fn removed(poll_id: i64) -> Markup {
    html! {
        section.results.removed id={ "results-" (poll_id) } aria-label="Results" {
            p.total role="status" { "This poll was deleted by its owner." }
        }
    }
}

/// "1 has voted", "12 have voted".
pub fn have_voted(voters: i64) -> String {
    if voters == 1 { "1 has voted".to_owned() } else { format!("{voters} have voted") }
}

/// The running total shown above an open ballot, updated live.
pub fn total(total: i64) -> Markup {
    html! { (count(total, "vote")) " so far" }
}

/// The texts of the options with `ids`, quoted and joined.
fn option_texts(results: &Results, ids: &[i64]) -> String {
    quoted_list(results.options.iter().filter(|o| ids.contains(&o.id)).map(|o| o.text.as_str()))
}

/// What the viewer is told above the results.
fn notice(model: &VotePage) -> Option<String> {
    if let Some(refusal) = &model.refusal {
        return Some(refusal.clone());
    }
    if model.voting_paused {
        return Some(PAUSED.to_owned());
    }
    match &model.ballot {
        Ballot::Open => None,
        Ballot::Voted { option_ids } => Some(format!("You voted for {}.", option_texts(&model.results, option_ids))),
        Ballot::Closed { option_ids } if option_ids.is_empty() => Some("This poll is closed: voting has ended.".into()),
        Ballot::Closed { option_ids } => {
            Some(format!("This poll is closed. You voted for {}.", option_texts(&model.results, option_ids)))
        }
    }
}

/// The ballot: one button per option, or (when a voter may pick several) a checkbox per
/// option and one button. The whole ballot is replaced by the final results if the poll
/// closes while it is shown.
///
/// htmx attributes are inherited: an `hx-target` on the ballot would also catch the vote
/// form inside it and swap the answer (a whole poll) into the ballot. So the ballot sets
/// none; the close arrives in an empty listener beside the form, which aims at the ballot.
fn choices(model: &VotePage) -> Markup {
    let poll_id = model.results.poll_id;
    let several = model.max_choices > 1;
    html! {
        div.ballot hx-ext="sse" sse-connect=(paths::PollEvents { id: poll_id }) {
            (on_close())
            form.vote-form method="post" action=(votes_path(model)) {
                p.so-far sse-swap="total" hx-target="this" hx-swap="innerHTML" aria-live="polite" {
                    (total(model.results.total()))
                }
                @if several {
                    fieldset.choices.several {
                        legend #prompt { "Select up to " (model.max_choices) " answers:" }
                        @for (i, option) in model.results.options.iter().enumerate() {
                            label.choice {
                                input type="checkbox" name="option" value=(option.id);
                                span.letter aria-hidden="true" { (letter(i)) }
                                span.text { (option.text) }
                            }
                        }
                    }
                    button.button.submit-choices type="submit" { "Vote" }
                } @else {
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
    }
}

fn theme_link(model: &VotePage) -> String {
    paths::Theme { slug: model.theme.slug.clone() }.to_string()
}

/// Where the ballot posts: the embed route inside an iframe, so the answer may be framed.
fn votes_path(model: &VotePage) -> String {
    let id = model.results.poll_id;
    if model.embedded { paths::EmbedPollVotes { id }.to_string() } else { paths::PollVotes { id }.to_string() }
}

/// Inside an iframe, the one way on: the full poll, outside the frame.
fn open_full(model: &VotePage) -> Markup {
    html! {
        p.open-full {
            a href=(paths::Poll { id: model.results.poll_id }) target="_blank" rel="noopener" {
                "Open on VoteStream ↗"
            }
        }
    }
}

/// Where the results can be taken away.
pub fn downloads(poll_id: i64) -> Markup {
    html! {
        p.downloads {
            "Download the results: "
            a href=(paths::api::PollResultsCsv { id: poll_id }) download { "CSV" }
            " · "
            a href=(paths::api::PollResults { id: poll_id }) download { "JSON" }
            " · "
            a href=(paths::api::PollTimelineCsv { id: poll_id }) download { "votes per minute (CSV)" }
        }
    }
}

fn after_vote(model: &VotePage) -> Markup {
    html! {
        @if model.results.withheld.is_none() {
            (downloads(model.results.poll_id))
        }
        nav.after-vote aria-label="Continue" {
            @if let Some(next) = model.next_poll {
                a.button href=(paths::Poll { id: next }) { "Next poll →" }
            } @else {
                span.done { "That was the last poll in " (model.theme.name) "." }
            }
            a href=(theme_link(model)) { "Back to " (model.theme.name) }
        }
    }
}

/// The poll: step, question, then choices or results. Embedded: the question and the
/// ballot or bars alone, with a link to the full poll.
pub fn fragment(model: &VotePage) -> Markup {
    html! {
        @if !model.embedded {
            (back_link(&theme_link(model), "Back to polls"))
        }
        article.poll.(theme_class(&model.theme.slug)) {
            @if !model.embedded {
                p.step { "Step " (model.step) " of " (model.steps) " · " (model.theme.name) }
                progress.steps value=(model.step) max=(model.steps)
                    aria-label={ "Step " (model.step) " of " (model.steps) } {}
            }
            h1.question { (model.question) }
            @if let Some(text) = notice(model) {
                p.notice role="status" { (text) }
            }
            @if model.ballot == Ballot::Open && !model.voting_paused {
                (choices(model))
            } @else {
                (live(model.results.poll_id, results(&model.results)))
                @if !model.embedded {
                    (after_vote(model))
                }
            }
            @if model.embedded {
                (open_full(model))
            }
            @if let Some(share) = &model.share {
                (share_box(share, model.results.poll_id, model.join_code.as_deref()))
            }
        }
    }
}

/// The share box: the link to copy, its QR code, and the embed snippet.
fn share_box(share: &Share, poll_id: i64, join_code: Option<&str>) -> Markup {
    html! {
        section.share aria-labelledby="share-title" {
            h2 #share-title { "Share this poll" }
            div.share-row {
                div.share-fields {
                    label for="share-url" { "Link" }
                    div.copy-row {
                        input #share-url type="url" readonly value=(share.url);
                        button.copy type="button" data-copy="share-url" { "Copy link" }
                    }
                    details.embed-code {
                        summary { "Embed on your site" }
                        label for="embed-code" { "Embed code" }
                        textarea #embed-code readonly rows="3" { (share.embed_snippet) }
                        button.copy type="button" data-copy="embed-code" { "Copy code" }
                    }
                }
                img.qr src=(share.qr) width="160" height="160" alt="QR code of this poll's link";
            }
            @if let Some(code) = join_code {
                p.join-code-line {
                    "Join code " strong.code { (code) } ", typed at " a href=(paths::Join) { "/j" }
                    " · " a href=(paths::PollPresent { id: poll_id }) hx-boost="false" { "Present this poll" }
                }
            }
        }
    }
}

/// What the page adds to the document's head: link previews (Open Graph, Twitter), the
/// oEmbed discovery link, and the copy buttons' script.
pub fn head(model: &VotePage) -> Markup {
    let description = format!(
        "A live poll on VoteStream: {} so far. Vote and watch the results move.",
        count(model.results.total(), "vote")
    );
    html! {
        @if let Some(share) = &model.share {
            meta property="og:type" content="website";
            meta property="og:site_name" content="VoteStream";
            meta property="og:title" content=(model.question);
            meta property="og:description" content=(description);
            meta property="og:url" content=(share.url);
            meta name="twitter:card" content="summary";
            meta name="twitter:title" content=(model.question);
            meta name="twitter:description" content=(description);
            link rel="alternate" type="application/json+oembed" href=(share.oembed) title=(model.question);
            script src=(paths::SHARE_JS) defer {}
        }
    }
}

/// Page title.
pub fn title(model: &VotePage) -> String {
    model.question.clone()
}
