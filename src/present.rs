//! Presentation: from domain values to the view models the templates take. Pure functions,
//! used by the routes and by the live hub alike.

use serde::Serialize;
use utoipa::ToSchema;
use votestream_views::{
    Ballot, Follow, FormErrors, FormLimits, JoinInfo, NewPollForm, OptionTally, PollCard, PresentPage, Results, Reveal,
    Share, ThemeCard, ThemeChoice, ThemePage, ThemeSummary, TimelineView, VotePage, paths,
};

use crate::domain::{
    Field, MAX_OPTION_CHARS, MAX_OPTIONS, MAX_QUESTION_CHARS, MIN_OPTIONS, Page, Place, Poll, PollDraft, PollOption,
    Problem, ResultsShown, Theme, ThemeStats, VotesOverTime, results_visible, rfc3339,
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
    /// Closed from the presenter, results held for the reveal.
    pub held: bool,
    /// Votes per minute.
    pub timeline: &'a VotesOverTime,
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
            held: poll.held,
            timeline: &poll.timeline,
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
            held: update.held,
            timeline: &update.timeline,
        }
    }

    /// Whether the results are final and shown to everyone.
    fn is_final(&self) -> bool {
        self.closed && !self.held
    }
}

/// The result bars of a tally as a viewer who has (or has not) voted may see them:
/// withheld (with the number who voted) when the owner's rule says so.
pub fn results(tally: &Tally<'_>, voted: bool) -> Results {
    let withheld = (!results_visible(tally.shown, tally.is_final(), voted)).then_some(match tally.shown {
        _ if tally.held => Reveal::OnReveal,
        ResultsShown::AfterVote => Reveal::AfterVote,
        _ => Reveal::AfterClose,
    });
    Results {
        poll_id: tally.poll_id,
        options: tally.options.iter().map(|o| OptionTally { id: o.id, text: o.text.clone(), votes: o.votes }).collect(),
        closed: tally.closed,
        voters: tally.voters,
        timeline: if withheld.is_none() {
            timeline(&tally.timeline.minutes, tally.timeline.closed_minute)
        } else {
            None
        },
        withheld,
    }
}

/// The most bars a timeline draws: minutes are grouped to stay within it.
pub const TIMELINE_BARS: i64 = 60;
/// The fewest minutes a timeline spans (ending with the latest).
const MIN_TIMELINE_MINUTES: i64 = 30;

/// A minute as pages show it: `14:02 UTC`, with the day (`Nov 30 14:02 UTC`) when the
/// timeline spans more than one.
fn minute_label(minute: i64, with_day: bool) -> String {
    let format = if with_day {
        time::macros::format_description!("[month repr:short] [day] [hour]:[minute] UTC")
    } else {
        time::macros::format_description!("[hour]:[minute] UTC")
    };
    time::OffsetDateTime::from_unix_timestamp(minute.saturating_mul(60))
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

/// Votes per minute binned for drawing, from the first minute with votes to the close
/// (or the latest votes): at most [`TIMELINE_BARS`] bars. `None` before any vote.
pub fn timeline(minutes: &[(i64, i64)], closed_minute: Option<i64>) -> Option<TimelineView> {
    let (first, _) = *minutes.first()?;
    let (last, _) = *minutes.last()?;
    let end = closed_minute.map_or(last, |closed| closed.max(last));
    // Half an hour at least, so the first votes are not one bar the whole width.
    let first = first.min(end - (MIN_TIMELINE_MINUTES - 1));
    let span = end - first + 1;
    let per_bar = (span + TIMELINE_BARS - 1) / TIMELINE_BARS;
    let mut bars = vec![0_i64; usize::try_from((span + per_bar - 1) / per_bar).unwrap_or(1)];
    for &(minute, votes) in minutes {
        if let Some(bar) = usize::try_from((minute - first) / per_bar).ok().and_then(|i| bars.get_mut(i)) {
            *bar += votes;
        }
    }
    let with_day = span >= 24 * 60;
    Some(TimelineView {
        bars,
        minutes_per_bar: per_bar,
        // The close falls at the end of its minute; in tenths of a bar.
        close_tenths: closed_minute.filter(|c| *c >= first).map(|c| (c - first + 1) * 10 / per_bar),
        from: minute_label(first, with_day),
        to: minute_label(end + 1, with_day),
        closed_at: closed_minute.map(|c| minute_label(c, with_day)),
    })
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
    /// Closed from the presenter, results held until the owner reveals them.
    pub held: bool,
    /// Votes per minute, oldest first: every minute that had votes in a poll's results
    /// (`GET /api/polls/{id}/results`), the latest day of them in a poll read alone;
    /// absent while the results are withheld, before the first vote, in lists of polls and
    /// in live frames.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub timeline: Vec<MinuteVotes>,
}

/// The votes one minute brought.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MinuteVotes {
    /// The minute's start, RFC 3339 (UTC).
    pub minute: String,
    /// Votes cast in it.
    pub votes: i64,
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
    let shown = results_visible(tally.shown, tally.is_final(), voted);
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
        held: tally.held,
        timeline: if shown { minute_votes(&tally.timeline.minutes) } else { Vec::new() },
    }
}

/// A timeline as the exports write it.
pub fn minute_votes(timeline: &[(i64, i64)]) -> Vec<MinuteVotes> {
    timeline.iter().map(|&(minute, votes)| MinuteVotes { minute: rfc3339(minute.saturating_mul(60)), votes }).collect()
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
        join_code: None,
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

/// How a page follows the presentation started from poll `start` while it shows poll
/// `showing`: the stage stream, and `refresh` fetched again when it moves.
pub fn follow(start: i64, showing: i64, refresh: impl std::fmt::Display) -> Follow {
    Follow { stream: format!("{}?showing={showing}", paths::PollStage { id: start }), refresh: refresh.to_string() }
}

/// How to join, on `origin`, with `code`: the address shown without its scheme.
pub fn join_info(origin: &str, code: String) -> JoinInfo {
    let host = origin.split_once("://").map_or(origin, |(_, host)| host);
    JoinInfo { address: format!("{host}{}", paths::Join), qr: paths::JoinQr { code: code.clone() }.to_string(), code }
}

/// The wall showing `poll`, at `place` in `theme`: the results as the room sees them (as
/// someone who has not voted).
pub fn present_page(poll: &Poll, theme: &Theme, place: Place, join: Option<JoinInfo>, browse: String) -> PresentPage {
    PresentPage {
        theme: theme_summary(theme),
        poll_id: poll.id,
        question: poll.question.clone(),
        step: (usize::try_from(place.position).unwrap_or(1), usize::try_from(place.of).unwrap_or(1)),
        results: results(&Tally::of(poll), false),
        join,
        previous: place.previous,
        next: place.next,
        controls: None,
        browse,
        follow: None,
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
        action: paths::Polls.to_string(),
        sharing_key_of: None,
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
            held: false,
            stage: None,
            timeline: VotesOverTime::default(),
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
        let middle = vote_page(
            &poll(5, false),
            &theme(),
            Place { position: 2, of: 3, next: Some(8), previous: Some(2) },
            Ok(vec![]),
            None,
        );
        let at_last = Place { position: 3, of: 3, next: None, previous: Some(5) };
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

    #[test]
    fn a_timeline_groups_minutes_into_at_most_sixty_bars_and_marks_the_close() {
        // Minute 29,000,040 is 2025-02-19 22:00 UTC.
        let start = 29_000_040;
        assert_eq!(timeline(&[], None), None, "nothing before the first vote");

        // Two votes in one minute: the chart still spans half an hour, one bar a minute.
        let early = timeline(&[(start, 2)], None).expect("a timeline");
        assert_eq!((early.bars.len(), early.minutes_per_bar), (30, 1));
        assert_eq!(early.bars.last(), Some(&2));
        assert_eq!((early.from.as_str(), early.to.as_str()), ("21:31 UTC", "22:01 UTC"));

        // Two hours of votes, closed at the end: two minutes a bar, 60 bars, every vote in one.
        let minutes: Vec<(i64, i64)> = (0..120).map(|m| (start + m, 1 + m % 3)).collect();
        let long = timeline(&minutes, Some(start + 119)).expect("a timeline");
        assert_eq!((long.bars.len(), long.minutes_per_bar), (60, 2));
        assert_eq!(long.bars.iter().sum::<i64>(), minutes.iter().map(|(_, v)| v).sum::<i64>());
        assert_eq!(long.close_tenths, Some(600), "the close at the right edge");
        assert_eq!(long.closed_at.as_deref(), Some("23:59 UTC"));

        // Over a day: the labels carry the date.
        let days = timeline(&[(start, 1), (start + 2 * 1440, 1)], None).expect("a timeline");
        assert!(days.bars.len() <= 60 && days.from == "Feb 19 22:00 UTC", "{days:?}");
    }
}
