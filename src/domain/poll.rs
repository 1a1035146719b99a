//! A new poll: question, theme and 2–10 options, checked field by field.

use std::collections::HashMap;

/// Fewest options a poll may have.
pub const MIN_OPTIONS: usize = 2;
/// Most options a poll may have.
pub const MAX_OPTIONS: usize = 10;
/// Longest question, in characters.
pub const MAX_QUESTION_CHARS: usize = 300;
/// Longest option, in characters.
pub const MAX_OPTION_CHARS: usize = 200;

/// Trims and folds runs of white space (newlines included) into one space.
fn tidy(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A poll question: not blank, at most [`MAX_QUESTION_CHARS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question(String);

impl Question {
    /// Checks and tidies a question as typed.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = tidy(text);
        let chars = text.chars().count();
        if chars == 0 {
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

/// An option's text: not blank, at most [`MAX_OPTION_CHARS`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionText(String);

impl OptionText {
    /// Checks and tidies option number `number` (1-based, for the message).
    pub fn parse(text: &str, number: usize) -> Result<Self, String> {
        let text = tidy(text);
        let chars = text.chars().count();
        if chars == 0 {
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

/// A poll as submitted, before checking.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PollDraft {
    /// The question as typed.
    pub question: String,
    /// The theme as given (a slug from the form, a key or slug from the API).
    pub theme: String,
    /// The option texts as typed.
    pub options: Vec<String>,
}

/// What is wrong with a draft, per field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PollErrors {
    /// About the question.
    pub question: Option<String>,
    /// About the theme.
    pub theme: Option<String>,
    /// About the number of options.
    pub options: Option<String>,
    /// About each option, by position.
    pub option: Vec<Option<String>>,
}

impl PollErrors {
    /// True when no field has a message.
    pub fn is_empty(&self) -> bool {
        self.question.is_none()
            && self.theme.is_none()
            && self.options.is_none()
            && self.option.iter().all(Option::is_none)
    }

    /// All messages in form order, for an API answer or a log line.
    pub fn messages(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(m) = &self.question {
            out.push(("question".to_owned(), m.clone()));
        }
        if let Some(m) = &self.theme {
            out.push(("theme".to_owned(), m.clone()));
        }
        if let Some(m) = &self.options {
            out.push(("options".to_owned(), m.clone()));
        }
        for (i, m) in self.option.iter().enumerate() {
            if let Some(m) = m {
                out.push((format!("options[{i}]"), m.clone()));
            }
        }
        out
    }
}

/// A checked poll, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPoll {
    /// The question.
    pub question: Question,
    /// The theme's id.
    pub theme_id: i64,
    /// The options, in order, no two alike.
    pub options: Vec<OptionText>,
}

impl PollDraft {
    /// Checks every field; `theme_id` is the theme the draft names, if it exists.
    /// All problems are reported at once, so a form can show each next to its field.
    pub fn validate(&self, theme_id: Option<i64>) -> Result<NewPoll, PollErrors> {
        let mut errors = PollErrors { option: vec![None; self.options.len()], ..PollErrors::default() };
        let question = Question::parse(&self.question).map_err(|m| errors.question = Some(m)).ok();
        if self.theme.trim().is_empty() {
            errors.theme = Some("Choose a theme.".into());
        } else if theme_id.is_none() {
            errors.theme = Some(format!("There is no theme “{}”. Choose one from the list.", self.theme.trim()));
        }
        if self.options.len() < MIN_OPTIONS {
            errors.options = Some(format!("A poll needs at least {MIN_OPTIONS} options."));
        } else if self.options.len() > MAX_OPTIONS {
            errors.options = Some(format!("A poll can have at most {MAX_OPTIONS} options."));
        }
        let mut options = Vec::with_capacity(self.options.len());
        let mut seen: HashMap<String, usize> = HashMap::new();
        for (i, text) in self.options.iter().enumerate() {
            match OptionText::parse(text, i + 1) {
                Ok(option) => {
                    let folded = option.as_str().to_lowercase();
                    if let Some(first) = seen.get(&folded) {
                        errors.option[i] = Some(format!("Option {} repeats option {}.", i + 1, first + 1));
                    } else {
                        seen.insert(folded, i);
                        options.push(option);
                    }
                }
                Err(message) => errors.option[i] = Some(message),
            }
        }
        match (question, theme_id) {
            (Some(question), Some(theme_id)) if errors.is_empty() => Ok(NewPoll { question, theme_id, options }),
            _ => Err(errors),
        }
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
        }
    }

    #[test]
    fn a_good_draft_is_tidied_and_accepted() {
        let poll = draft("  Tea\n or   coffee? ", "drinks", &[" Tea", "Coffee "]).validate(Some(7)).expect("valid");
        assert_eq!(poll.question.as_str(), "Tea or coffee?");
        assert_eq!(poll.theme_id, 7);
        assert_eq!(poll.options.iter().map(OptionText::as_str).collect::<Vec<_>>(), ["Tea", "Coffee"]);
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
        ];
        for (description, draft, theme_id, field, expected) in cases {
            let errors = draft.validate(theme_id).expect_err(description);
            let messages = errors.messages();
            let found = messages.iter().find(|(f, _)| f == field);
            assert!(
                found.is_some_and(|(_, m)| m.contains(expected)),
                "{description}: expected {field} to say {expected:?}, got {messages:?}"
            );
            assert_eq!(messages.len(), 1, "{description}: only one problem expected, got {messages:?}");
        }
    }
}
