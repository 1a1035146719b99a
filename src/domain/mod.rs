//! The domain: what the app keeps (themes, polls, votes) and the validated values the
//! rest of the code may assume about user input. Storage, routes and the live bus all
//! speak these types.

pub mod page;
pub mod poll;
pub mod text;
pub mod theme;
pub mod vote;
pub mod voter;

pub use page::Page;
pub use poll::{
    Field, MAX_OPTION_CHARS, MAX_OPTIONS, MAX_QUESTION_CHARS, MIN_OPTIONS, NewPoll, OptionText, Poll, PollContent,
    PollDraft, PollOption, Problem, Question,
};
pub use theme::{Theme, ThemeContent, ThemeStats, Totals};
pub use vote::{Refusal, VoteOutcome};
pub use voter::VoterId;
