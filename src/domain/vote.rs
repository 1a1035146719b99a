//! A ballot, and what becomes of it.

use super::poll::Poll;
use super::voter::VoterId;

/// One voter's ballot in one poll: one option, or up to the poll's `max_choices`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ballot {
    /// The poll.
    pub poll_id: i64,
    /// The chosen options, each once, in ascending order (so concurrent ballots touch
    /// counters in one order).
    pub options: Vec<i64>,
    /// The browser's voter id.
    pub voter: VoterId,
    /// A keyed hash of the voter's network address (for one-per-address polls); never
    /// the address itself.
    pub address: String,
}

impl Ballot {
    /// A ballot for `options` (duplicates collapse: each option counts once per voter).
    pub fn new(poll_id: i64, mut options: Vec<i64>, voter: VoterId, address: String) -> Self {
        options.sort_unstable();
        options.dedup();
        Self { poll_id, options, voter, address }
    }
}

/// The outcome of casting one ballot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VoteOutcome {
    /// Committed.
    Accepted {
        /// The poll as read after the commit (so the last commit's read includes every
        /// earlier vote). `None` when that read failed: the vote is stored all the same,
        /// and the next update or a reload shows it.
        poll: Option<Poll>,
    },
    /// Not stored, and why.
    Refused(Refusal),
}

/// Why a ballot was not stored.
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
    /// More options than the poll allows.
    TooManyChoices {
        /// How many the poll allows.
        max: u8,
        /// How many were picked.
        picked: usize,
    },
    /// The poll no longer takes votes.
    Closed,
    /// This voter had voted in this poll already.
    AlreadyVoted {
        /// Their earlier choices: ids and texts, in the poll's order.
        choices: Vec<(i64, String)>,
    },
    /// A ballot from this network address is already counted (one-per-address polls).
    SameAddress,
}
