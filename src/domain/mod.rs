//! The domain: what the app keeps (themes, polls, votes) and the validated values the
//! rest of the code may assume about user input. Storage, routes and the live bus all
//! speak these types.

pub mod code;
pub mod owner;
pub mod page;
pub mod poll;
pub mod text;
pub mod theme;
pub mod timeline;
pub mod vote;
pub mod voter;

pub use code::{CodeProblem, JoinCodes, Joined};
pub use owner::{
    ManageKey, OwnerChange, Protection, ResultsShown, Settings, describe_time, parse_closing_time, rfc3339, unix_now,
};
pub use page::Page;
pub use poll::{
    Field, MAX_OPTION_CHARS, MAX_OPTIONS, MAX_QUESTION_CHARS, MIN_OPTIONS, NewPoll, OptionText, Poll, PollContent,
    PollDraft, PollOption, Problem, Question, results_visible,
};
pub use theme::{Place, Theme, ThemeContent, ThemeStats, Totals};
pub use timeline::{SHOWN_MINUTES, Timeline, VotesOverTime, minute_of};
pub use vote::{Ballot, Refusal, VoteOutcome};
pub use voter::VoterId;
