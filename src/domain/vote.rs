//! What becomes of a vote.

use super::poll::PollOption;

/// The outcome of casting one vote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VoteOutcome {
    /// Committed.
    Accepted {
        /// The poll's options with their counts as read after the commit (so the last
        /// commit's read includes every earlier vote). `None` when that read failed: the
        /// vote is stored all the same, and the next update or a reload shows it.
        tally: Option<Vec<PollOption>>,
    },
    /// Not stored, and why.
    Refused(Refusal),
}

/// Why a vote was not stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No such poll.
    UnknownPoll {
        /// The poll asked for.
        poll_id: i64,
    },
    /// The option does not belong to the poll.
    UnknownOption {
        /// The poll voted in.
        poll_id: i64,
        /// The option asked for.
        option_id: i64,
    },
    /// The poll no longer takes votes.
    Closed,
    /// This voter had voted in this poll already.
    AlreadyVoted {
        /// Their earlier choice.
        option_id: i64,
        /// Its text, for the message.
        text: String,
    },
}
