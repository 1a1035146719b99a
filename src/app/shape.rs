//! What never changes about a poll once created, kept in memory: ballots are checked
//! against it before they reach the vote writer.

use std::sync::Arc;

use crate::domain::{Poll, Refusal};

/// A poll's options in order and how many a voter may pick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    /// Option ids, in order.
    pub options: Vec<i64>,
    /// How many a voter may pick.
    pub max_choices: u8,
}

impl Shape {
    /// The shape of `poll`.
    pub fn of(poll: &Poll) -> Self {
        Self { options: poll.options.iter().map(|o| o.id).collect(), max_choices: poll.max_choices }
    }

    /// Why `options` cannot be a ballot in poll `poll_id`, if they cannot.
    pub fn refusal(&self, poll_id: i64, options: &[i64]) -> Option<Refusal> {
        if let Some(&option_id) = options.iter().find(|o| !self.options.contains(o)) {
            return Some(Refusal::UnknownOption { poll_id, option_id });
        }
        let mut distinct = options.to_vec();
        distinct.sort_unstable();
        distinct.dedup();
        (distinct.len() > usize::from(self.max_choices))
            .then_some(Refusal::TooManyChoices { max: self.max_choices, picked: distinct.len() })
    }
}

/// Shapes of polls, kept in the process (they never change; a deleted poll's shape
/// lingers harmlessly: the writer refuses its ballots).
pub type Shapes = moka::future::Cache<i64, Arc<Shape>>;

/// How many poll shapes a replica keeps.
pub const SHAPES_KEPT: u64 = 100_000;
