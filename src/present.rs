//! Presentation: from domain values to the view models the templates take. Pure functions,
//! used by the routes and by the live hub alike.

use serde::Serialize;
use utoipa::ToSchema;
use votestream_views::{
    Ballot, FormErrors, FormLimits, NewPollForm, OptionTally, PollCard, Results, Reveal, Share, ThemeCard, ThemeChoice,
    ThemePage, ThemeSummary, VotePage, paths,
};

use crate::domain::{
    Field, MAX_OPTION_CHARS, MAX_OPTIONS, MAX_QUESTION_CHARS, MIN_OPTIONS, Page, Place, Poll, PollDraft, PollOption,
    Problem, ResultsShown, Theme, ThemeStats, results_visible,
};
use crate::live::PollUpdate;

/// The poll form's limits: the ones the domain checks against.
pub const FORM_LIMITS: FormLimits = FormLimits {
    min_options: MIN_OPTIONS,
    max_options: MAX_OPTIONS,
    question_chars: MAX_QUESTION_CHARS,
    option_chars: MAX_OPTION_CHARS,
};

/// The parts of a theme shown in headers and links.
pub fn theme_summary(theme: &Theme) -> ThemeSummary {
    ThemeSummary {
        slug: theme.slug.clone(),
        name: theme.name.clone(),
        icon: theme.icon.clone(),
        description: theme.description.clone(),
    }
}

/// The home page's cards.
pub fn theme_cards(stats: &[ThemeStats]) -> Vec<ThemeCard> {
    stats
        .iter()
        .map(|s| ThemeCard { theme: theme_summary(&s.theme), poll_count: s.poll_count, vote_count: s.vote_count })
        .collect()
}

/// One page of a theme: its polls, numbered from `first_number`, and where the next page
/// starts.
pub fn theme_page(theme: &Theme, page: Page, polls: Vec<Poll>, first_number: usize) -> ThemePage {
    ThemePage {
        theme: theme_summary(theme),
        first_number,
        after: page.after,
        next_after: page.next_after(polls.iter().map(|p| p.id)),
        polls: polls
            .into_iter()
            .map(|p| PollCard {
                id: p.id,
                total_votes: p.voters,
                question: p.question,
                options: p.options.into_iter().map(|o| o.text).collect(),
                closed: p.closed,
            })
            .collect(),
    }
}

/// What result bars are drawn from: a stored poll or a live update.
#[derive(Debug, Clone, Copy)]
pub struct Tally<'a> {
    /// The poll.
    pub poll_id: i64,
    /// Its options with their votes.
    pub options: &'a [PollOption],
    /// Voting has ended.
    pub closed: bool,
    /// Ballots cast.
    pub voters: i64,
    /// The owner's visibility rule.
    pub shown: ResultsShown,
}

impl<'a> Tally<'a> {
    /// The tally of a stored poll.
    pub fn of(poll: &'a Poll) -> Self {
        Self {
            poll_id: poll.id,
            options: &poll.options,
            closed: poll.closed,
            voters: poll.voters,
            shown: poll.settings.results,
        }
    }

    /// The tally of a live update.
    pub fn of_update(update: &'a PollUpdate) -> Self {
        Self {
            poll_id: update.poll_id,
            options: &update.options,
            closed: update.closed,
            voters: update.voters,
            shown: update.shown,
        }
    }
}

/// The result bars of a tally as a viewer who has (or has not) voted may see them:
/// withheld (with the number who voted) when the owner's rule says so.
pub fn results(tally: &Tally<'_>, voted: bool) -> Results {
    let withheld = (!results_visible(tally.shown, tally.closed, voted)).then_some(match tally.shown {
        ResultsShown::AfterVote => Reveal::AfterVote,
        _ => Reveal::AfterClose,
    });
    Results {
        poll_id: tally.poll_id,
        options: tally.options.iter().map(|o| OptionTally { id: o.id, text: o.text.clone(), votes: o.votes }).collect(),
        closed: tally.closed,
        voters: tally.voters,
        withheld,
    }
}

/// A poll's results as the API and the live JSON streams give them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ResultsBody {
    /// The poll.
    pub poll_id: i64,
    /// Every option, in order; without its votes while the results are withheld.
    pub options: Vec<OptionResult>,
    /// All votes; `null` while the results are withheld.
    pub total: Option<i64>,
    /// How many voters have voted.
    pub voters: i64,
    /// Whether voting has ended.
    pub closed: bool,
    /// The owner's rule: `always`, `after_vote` or `after_close`.
    pub results_shown: String,
    /// Whether this caller may not see the votes yet.
    pub withheld: bool,
}

/// One option of a poll's results.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OptionResult {
    /// The option's id (what a vote names).
    pub id: i64,
    /// Its text.
    pub text: String,
    /// Its votes; absent while the results are withheld.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub votes: Option<i64>,
}

/// The results as a viewer who has (or has not) voted may see them: withheld results keep
/// the options and the number of voters, not the votes.
pub fn results_body(tally: &Tally<'_>, voted: bool) -> ResultsBody {
    let shown = results_visible(tally.shown, tally.closed, voted);
    let options = tally
        .options
        .iter()
        .map(|o| OptionResult { id: o.id, text: o.text.to_owned(), votes: shown.then_some(o.votes) })
        .collect();
    let total: i64 = tally.options.iter().map(|o| o.votes).sum();
    ResultsBody {
        poll_id: tally.poll_id,
        options,
        total: shown.then_some(total),
        voters: tally.voters,
        closed: tally.closed,
        results_shown: tally.shown.as_str().to_owned(),
        withheld: !shown,
    }
}

/// The same as a JSON value (the live JSON streams add their version to it).
pub fn results_json(tally: &Tally<'_>, voted: bool) -> serde_json::Value {
    serde_json::to_value(results_body(tally, voted)).unwrap_or_default()
}

/// How the voter's ballot stands, given the options they chose (none: not voted).
pub fn ballot(poll: &Poll, choices: Vec<i64>) -> Ballot {
    match (poll.closed, choices.is_empty()) {
        (true, _) => Ballot::Closed { option_ids: choices },
        (false, false) => Ballot::Voted { option_ids: choices },
        (false, true) => Ballot::Open,
    }
}

/// The vote page of `poll`, at `place` in its theme, for a voter whose
/// earlier choices are `choices` (`Err(())` when they cannot be known: the database is away
/// and voting is paused); `refusal` says why the vote just posted was not stored.
pub fn vote_page(
    poll: &Poll,
    theme: &Theme,
    place: Place,
    choices: Result<Vec<i64>, ()>,
    refusal: Option<String>,
) -> VotePage {
    let voting_paused = choices.is_err();
    let choices = choices.unwrap_or_default();
    VotePage {
        theme: theme_summary(theme),
        question: poll.question.clone(),
        step: usize::try_from(place.position).unwrap_or(1),
        steps: usize::try_from(place.of).unwrap_or(1),
        results: results(&Tally::of(poll), !choices.is_empty()),
        max_choices: poll.max_choices,
        ballot: ballot(poll, choices),
        refusal,
        voting_paused,
        embedded: false,
        share: None,
        next_poll: place.next,
    }
}

/// The share box of `poll`, with absolute addresses on `origin` (`https://votes.example`).
pub fn share(origin: &str, poll: &Poll) -> Share {
    let url = format!("{origin}{}", paths::Poll { id: poll.id });
    Share {
        qr: paths::PollQr { id: poll.id }.to_string(),
        embed_snippet: embed_snippet(origin, poll.id, &poll.question),
        oembed: paths::OEmbed::of(&url),
        url,
    }
}

/// The embed frame's size as oEmbed suggests it; the snippet starts at this height, which
/// `embed-host.js` then fits to the poll (without scripts, the frame keeps it).
pub const EMBED_WIDTH: u32 = 560;
pub const EMBED_HEIGHT: u32 = 420;

/// The iframe snippet that embeds a poll in another site's page, as the README documents
/// it. It is text to copy (and oEmbed's `html`), so the question is escaped here.
pub fn embed_snippet(origin: &str, poll_id: i64, question: &str) -> String {
    let title = question.replace('&', "&amp;").replace('"', "&quot;").replace('<', "&lt;");
    format!(
        "<iframe src=\"{origin}{}\" title=\"{title}\" style=\"width:100%;height:{EMBED_HEIGHT}px;border:0\" loading=\"lazy\"></iframe>\n\
         <script src=\"{origin}{}\" async></script>",
        paths::EmbedPoll { id: poll_id },
        paths::EMBED_HOST_JS.unversioned(),
    )
}

/// The poll form: `draft` as typed, with each problem next to its field.
pub fn poll_form(themes: &[Theme], draft: PollDraft, problems: &[Problem], focus_option: Option<usize>) -> NewPollForm {
    NewPollForm {
        themes: themes
            .iter()
            .map(|t| ThemeChoice { slug: t.slug.clone(), name: t.name.clone(), icon: t.icon.clone() })
            .collect(),
        errors: form_errors(problems, draft.options.len()),
        question: draft.question,
        theme: draft.theme,
        options: draft.options,
        max_choices: draft.max_choices,
        limits: FORM_LIMITS,
        focus_option,
    }
}

/// The form's per-field messages from a list of problems.
fn form_errors(problems: &[Problem], option_rows: usize) -> FormErrors {
    let mut errors = FormErrors { option: vec![None; option_rows], ..FormErrors::default() };
    for problem in problems {
        let message = Some(problem.message.clone());
        match problem.field {
            Field::Question => errors.question = message,
            Field::Theme => errors.theme = message,
            Field::Options => errors.options = message,
            Field::MaxChoices => errors.max_choices = message,
            Field::Option(i) => {
                if let Some(slot) = errors.option.get_mut(i) {
                    *slot = message;
                }
            }
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poll(id: i64, closed: bool) -> Poll {
        Poll {
            id,
            theme_id: 1,
            question: "Tea or coffee?".into(),
            closed,
            max_choices: 1,
            settings: crate::domain::Settings::default(),
            voters: 3,
            revision: 0,
            options: vec![
                PollOption { id: 10, text: "Tea".into(), votes: 2 },
                PollOption { id: 11, text: "Coffee".into(), votes: 1 },
            ],
        }
    }

    fn theme() -> Theme {
        Theme {
            id: 1,
            key: "Drinks".into(),
            slug: "drinks".into(),
            name: "#Drinks".into(),
            icon: "☕".into(),
            color: "#112233".into(),
            description: "Hot ones".into(),
        }
    }

    #[test]
    fn the_vote_page_knows_its_step_and_the_next_poll() {
        let middle =
            vote_page(&poll(5, false), &theme(), Place { position: 2, of: 3, next: Some(8) }, Ok(vec![]), None);
        let at_last = Place { position: 3, of: 3, next: None };
        let last = vote_page(&poll(8, false), &theme(), at_last, Ok(vec![10]), None);
        let paused = vote_page(&poll(8, false), &theme(), at_last, Err(()), None);

        assert_eq!((middle.step, middle.steps, middle.next_poll), (2, 3, Some(8)));
        assert_eq!((last.step, last.next_poll, last.ballot), (3, None, Ballot::Voted { option_ids: vec![10] }));
        assert_eq!(middle.results.total(), 3);
        assert!(paused.voting_paused && !middle.voting_paused);
    }

    #[test]
    fn a_closed_poll_shows_results_whether_or_not_the_voter_voted() {
        assert_eq!(ballot(&poll(1, true), vec![]), Ballot::Closed { option_ids: vec![] });
        assert_eq!(ballot(&poll(1, true), vec![11]), Ballot::Closed { option_ids: vec![11] });
        assert_eq!(ballot(&poll(1, false), vec![]), Ballot::Open);
    }

    #[test]
    fn results_are_withheld_by_the_owners_rule_until_a_vote_or_the_close() {
        let cases = [
            (ResultsShown::Always, false, false, None),
            (ResultsShown::AfterVote, false, false, Some(Reveal::AfterVote)),
            (ResultsShown::AfterVote, false, true, None),
            (ResultsShown::AfterVote, true, false, None),
            (ResultsShown::AfterClose, false, true, Some(Reveal::AfterClose)),
            (ResultsShown::AfterClose, true, false, None),
        ];
        for (shown, closed, voted, expected) in cases {
            let mut p = poll(1, closed);
            p.settings.results = shown;
            assert_eq!(results(&Tally::of(&p), voted).withheld, expected, "{shown:?} closed={closed} voted={voted}");
        }
    }

    #[test]
    fn the_embed_snippet_escapes_the_question() {
        let snippet = embed_snippet("https://votes.example", 7, "Tea \"or\" <coffee> & cake?");

        assert!(snippet.starts_with("<iframe src=\"https://votes.example/embed/polls/7\""), "{snippet}");
        assert!(snippet.contains("title=\"Tea &quot;or&quot; &lt;coffee> &amp; cake?\""), "{snippet}");
        assert!(snippet.contains("<script src=\"https://votes.example/assets/embed-host.js\" async></script>"));
    }

    #[test]
    fn problems_land_next_to_their_fields() {
        let draft = PollDraft {
            question: String::new(),
            theme: "x".into(),
            options: vec!["a".into(), "a".into()],
            max_choices: String::new(),
        };
        let problems = draft.validate(None).expect_err("invalid");

        let form = poll_form(&[theme()], draft, &problems, None);

        assert_eq!(form.errors.question.as_deref(), Some("Enter a question."));
        assert!(form.errors.theme.as_deref().is_some_and(|m| m.contains("There is no theme “x”")));
        assert_eq!(form.errors.for_option(1), Some("Option 2 repeats option 1."));
        assert_eq!(form.errors.for_option(0), None);
        assert_eq!(form.limits, FORM_LIMITS);
    }
}
