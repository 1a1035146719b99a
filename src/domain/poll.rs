//! Polls: as stored, and as submitted (question, theme and 2–10 options, checked field by
//! field).

use std::collections::HashMap;

use super::owner::{ResultsShown, Settings};
use super::text;
use super::timeline::VotesOverTime;

/// Fewest options a poll may have.
pub const MIN_OPTIONS: usize = 2;
/// Most options a poll may have.
pub const MAX_OPTIONS: usize = 10;
/// Longest question, in characters.
pub const MAX_QUESTION_CHARS: usize = 300;
/// Longest option, in characters.
pub const MAX_OPTION_CHARS: usize = 200;

/// A poll question: not blank, no control characters, at most [`MAX_QUESTION_CHARS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question(String);

impl Question {
    /// Checks and tidies a question as typed.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let text = text::clean(raw).map_err(|problem| problem.describe("The question"))?;
        let chars = text.chars().count();
        if text::is_blank(&text) {
            Err("Enter a question.".into())
        } else if chars > MAX_QUESTION_CHARS {
            Err(format!("The question is too long: {chars} characters, at most {MAX_QUESTION_CHARS}."))
        } else {
            Ok(Self(text))
        }
    }

    /// The question text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An option's text: not blank, no control characters, at most [`MAX_OPTION_CHARS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionText(String);

impl OptionText {
    /// Checks and tidies option number `number` (1-based, for the message).
    pub fn parse(raw: &str, number: usize) -> Result<Self, String> {
        let text = text::clean(raw).map_err(|problem| problem.describe(&format!("Option {number}")))?;
        let chars = text.chars().count();
        if text::is_blank(&text) {
            Err(format!("Option {number} is blank: fill it in or remove it."))
        } else if chars > MAX_OPTION_CHARS {
            Err(format!("Option {number} is too long: {chars} characters, at most {MAX_OPTION_CHARS}."))
        } else {
            Ok(Self(text))
        }
    }

    /// The option text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A poll as stored: question, state, the owner's settings and options in order with
/// their counters.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Poll {
    /// Database id.
    pub id: i64,
    /// Its theme.
    pub theme_id: i64,
    /// The question.
    pub question: String,
    /// Voting has ended.
    pub closed: bool,
    /// How many options one voter may pick (1: a single choice).
    pub max_choices: u8,
    /// The owner's settings.
    pub settings: Settings,
    /// Ballots cast (one voter may pick several options).
    pub voters: i64,
    /// Grows with every owner change (close, reopen, settings).
    pub revision: i64,
    /// Options in order.
    pub options: Vec<PollOption>,
    /// Closed from the presenter, its results held until the owner reveals them.
    #[serde(default)]
    pub held: bool,
    /// The poll a presentation started from this one shows now, if it moved on.
    #[serde(default)]
    pub stage: Option<i64>,
    /// Votes per minute (only single-poll reads load them; lists leave them out).
    #[serde(default)]
    pub timeline: VotesOverTime,
}

impl Poll {
    /// Votes over all options.
    pub fn total(&self) -> i64 {
        self.options.iter().map(|o| o.votes).sum()
    }

    /// Whether a viewer who has (or has not) voted may see the results.
    pub fn shows_results(&self, voted: bool) -> bool {
        results_visible(self.settings.results, self.is_final(), voted)
    }

    /// Whether its results are final and shown to everyone: closed, and not held for a
    /// reveal.
    pub fn is_final(&self) -> bool {
        self.closed && !self.held
    }
}

/// The visibility rule, for a stored poll and for a live update alike: a closed poll's
/// results are final and shown to everyone (`closed`: closed and not held for a reveal).
pub fn results_visible(shown: ResultsShown, closed: bool, voted: bool) -> bool {
    match shown {
        ResultsShown::Always => true,
        ResultsShown::AfterVote => closed || voted,
        ResultsShown::AfterClose => closed,
    }
}

/// An option with its stored counter.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PollOption {
    /// Database id.
    pub id: i64,
    /// Text.
    pub text: String,
    /// Votes for it.
    pub votes: i64,
}

/// A poll as submitted, before checking.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PollDraft {
    /// The question as typed.
    pub question: String,
    /// The theme as given (a slug from the form, a key or slug from the API).
    pub theme: String,
    /// The option texts as typed.
    pub options: Vec<String>,
    /// How many options a voter may pick, as typed (blank: one).
    pub max_choices: String,
}

/// A field of a poll draft, in form order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Field {
    /// The question.
    Question,
    /// The theme.
    Theme,
    /// The options as a whole (their number).
    Options,
    /// One option, by 0-based position.
    Option(usize),
    /// How many options a voter may pick.
    MaxChoices,
}

impl Field {
    /// The name API clients see: `question`, `theme`, `options`, `options[2]`.
    pub fn name(self) -> String {
        match self {
            Self::Question => "question".into(),
            Self::Theme => "theme".into(),
            Self::Options => "options".into(),
            Self::Option(i) => format!("options[{i}]"),
            Self::MaxChoices => "max_choices".into(),
        }
    }
}

/// One thing wrong with a draft, and the field it belongs next to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where.
    pub field: Field,
    /// What is wrong, said to the person who typed it.
    pub message: String,
}

impl Problem {
    fn new(field: Field, message: String) -> Self {
        Self { field, message }
    }
}

/// A checked question with its options: no theme yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollContent {
    /// The question.
    pub question: Question,
    /// The options, in order, no two alike.
    pub options: Vec<OptionText>,
}

impl PollContent {
    /// Checks a question and its options; every problem is reported, in form order.
    pub fn parse(question: &str, options: &[String]) -> Result<Self, Vec<Problem>> {
        let mut problems = Vec::new();
        let question = Question::parse(question).map_err(|m| problems.push(Problem::new(Field::Question, m))).ok();
        if options.len() < MIN_OPTIONS {
            problems.push(Problem::new(Field::Options, format!("A poll needs at least {MIN_OPTIONS} options.")));
        } else if options.len() > MAX_OPTIONS {
            problems.push(Problem::new(Field::Options, format!("A poll can have at most {MAX_OPTIONS} options.")));
        }
        let mut checked = Vec::with_capacity(options.len());
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (i, text) in options.iter().enumerate() {
            match OptionText::parse(text, i + 1) {
                Ok(option) => {
                    let folded = text::comparison_key(option.as_str());
                    if let Some(first) = seen.get(&folded) {
                        let message = format!("Option {} repeats option {}.", i + 1, first + 1);
                        problems.push(Problem::new(Field::Option(i), message));
                    } else {
                        seen.insert(folded, i);
                        checked.push(option);
                    }
                }
                Err(message) => problems.push(Problem::new(Field::Option(i), message)),
            }
        }
        match question {
            Some(question) if problems.is_empty() => Ok(Self { question, options: checked }),
            _ => Err(problems),
        }
    }
}

/// A checked poll, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPoll {
    /// The theme's id.
    pub theme_id: i64,
    /// Question and options.
    pub content: PollContent,
    /// How many options a voter may pick.
    pub max_choices: u8,
    /// The owner's settings.
    pub settings: Settings,
}

impl PollDraft {
    /// Checks every field; `theme_id` is the theme the draft names, if it exists.
    /// All problems are reported at once, in form order, so a form can show each next to
    /// its field.
    pub fn validate(&self, theme_id: Option<i64>) -> Result<NewPoll, Vec<Problem>> {
        let theme = if self.theme.trim().is_empty() {
            Some("Choose a theme.".to_owned())
        } else if theme_id.is_none() {
            Some(format!("There is no theme “{}”. Choose one from the list.", self.theme.trim()))
        } else {
            None
        };
        let max_choices = parse_max_choices(&self.max_choices, self.options.len());
        match (PollContent::parse(&self.question, &self.options), theme_id, theme, max_choices) {
            (Ok(content), Some(theme_id), None, Ok(max_choices)) => {
                Ok(NewPoll { theme_id, content, max_choices, settings: Settings::default() })
            }
            (content, _, theme, max_choices) => {
                let mut problems = content.err().unwrap_or_default();
                problems.extend(theme.map(|m| Problem::new(Field::Theme, m)));
                problems.extend(max_choices.err().map(|m| Problem::new(Field::MaxChoices, m)));
                problems.sort_by_key(|p| p.field);
                Err(problems)
            }
        }
    }
}

/// "How many may a voter pick": blank is one; otherwise a whole number from 1 to the
/// number of options.
fn parse_max_choices(raw: &str, options: usize) -> Result<u8, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(1);
    }
    let most = options.clamp(1, MAX_OPTIONS);
    match raw.parse::<usize>() {
        Ok(n) if (1..=most).contains(&n) => Ok(u8::try_from(n).unwrap_or(1)),
        _ => Err(format!(
            "Choices per voter must be a whole number from 1 to {most} (the number of options), not “{raw}”."
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(question: &str, theme: &str, options: &[&str]) -> PollDraft {
        PollDraft {
            question: question.into(),
            theme: theme.into(),
            options: options.iter().map(|s| (*s).to_owned()).collect(),
            max_choices: String::new(),
        }
    }

    #[test]
    fn choices_per_voter_are_between_one_and_the_number_of_options() {
        let mut d = draft("Pick?", "t", &["a", "b", "c"]);
        assert_eq!(d.validate(Some(1)).expect("blank is one").max_choices, 1);
        d.max_choices = " 3 ".into();
        assert_eq!(d.validate(Some(1)).expect("all three").max_choices, 3);
        for bad in ["0", "4", "-1", "two", "1.5", "99999999999999999999"] {
            d.max_choices = bad.into();
            let problems = d.validate(Some(1)).expect_err(bad);
            assert_eq!(problems.iter().map(|p| p.field).collect::<Vec<_>>(), [Field::MaxChoices], "{bad}");
            assert!(problems[0].message.contains("from 1 to 3"), "{}", problems[0].message);
        }
    }

    #[test]
    fn a_good_draft_is_tidied_and_accepted() {
        let poll = draft("  Tea\n or   coffee? ", "drinks", &[" Tea", "Coffee "]).validate(Some(7)).expect("valid");
        assert_eq!(poll.content.question.as_str(), "Tea or coffee?");
        assert_eq!(poll.theme_id, 7);
        assert_eq!(poll.content.options.iter().map(OptionText::as_str).collect::<Vec<_>>(), ["Tea", "Coffee"]);
    }

    #[test]
    fn each_problem_is_reported_against_its_field() {
        let long_q = "q".repeat(MAX_QUESTION_CHARS + 1);
        let long_o = "o".repeat(MAX_OPTION_CHARS + 1);
        let eleven: Vec<String> = (0..11).map(|i| format!("option {i}")).collect();
        let eleven: Vec<&str> = eleven.iter().map(String::as_str).collect();
        let cases: Vec<(&str, PollDraft, Option<i64>, &str, &str)> = vec![
            ("blank question", draft("   ", "t", &["a", "b"]), Some(1), "question", "Enter a question."),
            ("long question", draft(&long_q, "t", &["a", "b"]), Some(1), "question", "too long: 301 characters"),
            ("no theme", draft("q", "", &["a", "b"]), None, "theme", "Choose a theme."),
            ("unknown theme", draft("q", "nope", &["a", "b"]), None, "theme", "There is no theme “nope”"),
            ("one option", draft("q", "t", &["a"]), Some(1), "options", "at least 2 options"),
            ("eleven options", draft("q", "t", &eleven), Some(1), "options", "at most 10 options"),
            ("blank option", draft("q", "t", &["a", " "]), Some(1), "options[1]", "Option 2 is blank"),
            ("long option", draft("q", "t", &["a", &long_o]), Some(1), "options[1]", "Option 2 is too long"),
            (
                "duplicate option",
                draft("q", "t", &["Yes", "no", " yes "]),
                Some(1),
                "options[2]",
                "Option 3 repeats option 1.",
            ),
            (
                "NUL in the question",
                draft("Tea\0?", "t", &["a", "b"]),
                Some(1),
                "question",
                "control character (U+0000)",
            ),
            (
                "escape in an option",
                draft("q", "t", &["a", "b\u{1b}"]),
                Some(1),
                "options[1]",
                "Option 2 contains a control",
            ),
            (
                "invisible question",
                draft("\u{200B}\u{2060}", "t", &["a", "b"]),
                Some(1),
                "question",
                "Enter a question.",
            ),
            ("invisible option", draft("q", "t", &["a", "\u{3164}"]), Some(1), "options[1]", "Option 2 is blank"),
            ("full-width lookalike", draft("q", "t", &["Yes", "Ｙｅｓ"]), Some(1), "options[1]", "repeats option 1"),
            (
                "zero-width lookalike",
                draft("q", "t", &["Yes", "Y\u{200B}es"]),
                Some(1),
                "options[1]",
                "repeats option 1",
            ),
        ];
        for (description, draft, theme_id, field, expected) in cases {
            let problems = draft.validate(theme_id).expect_err(description);
            let found = problems.iter().find(|p| p.field.name() == field);
            assert!(
                found.is_some_and(|p| p.message.contains(expected)),
                "{description}: expected {field} to say {expected:?}, got {problems:?}"
            );
            assert_eq!(problems.len(), 1, "{description}: only one problem expected, got {problems:?}");
        }
    }
}
