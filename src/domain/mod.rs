//! Validated values: what the rest of the code may assume about user input.

pub mod poll;
pub mod voter;

pub use poll::{
    MAX_OPTION_CHARS, MAX_OPTIONS, MAX_QUESTION_CHARS, MIN_OPTIONS, NewPoll, OptionText, PollDraft, PollErrors,
    Question,
};
pub use voter::VoterId;
