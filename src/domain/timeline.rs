//! Votes over time: per poll, how many votes each minute brought, counted with the other
//! counters when a batch commits (never by reading ballots back).

/// `(minute since 1970, votes)`, ascending, only minutes that had votes.
pub type Timeline = Vec<(i64, i64)>;

/// The most minutes a page's timeline carries: the latest day that had votes. The
/// exports carry them all.
pub const SHOWN_MINUTES: usize = 1440;

/// A poll's votes over time, as a poll read or a live update carries it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct VotesOverTime {
    /// Votes per minute: up to [`SHOWN_MINUTES`] of them from a poll's own read, the
    /// current minute's count from a vote's read-back, none from a list.
    #[serde(default)]
    pub minutes: Timeline,
    /// Whether `minutes` holds all a page draws (a poll's own read), not only the latest
    /// minute or none.
    #[serde(default)]
    pub complete: bool,
    /// When voting ended, in minutes since 1970.
    #[serde(default)]
    pub closed_minute: Option<i64>,
}

impl VotesOverTime {
    /// `newer` (the state of a later update) with these minutes folded in: counts only
    /// grow, so the larger of two readings is the later one ([`merge`]).
    #[must_use]
    pub fn folded_into(&self, newer: &Self) -> Self {
        let mut minutes = self.minutes.clone();
        merge(&mut minutes, &newer.minutes);
        Self { minutes, complete: self.complete || newer.complete, closed_minute: newer.closed_minute }
    }
}

/// The minute `unix` seconds fall in.
pub fn minute_of(unix: i64) -> i64 {
    unix.div_euclid(60)
}

/// `recent` counts (absolute, as stored when they were read) folded into `timeline`: a
/// minute's count only grows, so the larger of two readings is the later one, and
/// updates may arrive twice or out of order. The oldest minutes past [`SHOWN_MINUTES`]
/// fall off.
pub fn merge(timeline: &mut Timeline, recent: &[(i64, i64)]) {
    for &(minute, votes) in recent {
        match timeline.binary_search_by_key(&minute, |(m, _)| *m) {
            Ok(at) => timeline[at].1 = timeline[at].1.max(votes),
            Err(at) => timeline.insert(at, (minute, votes)),
        }
    }
    if timeline.len() > SHOWN_MINUTES {
        timeline.drain(..timeline.len() - SHOWN_MINUTES);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_merge_in_any_order_and_twice_without_counting_twice() {
        let mut timeline = vec![(10, 3), (12, 1)];
        merge(&mut timeline, &[(12, 4), (13, 2)]);
        merge(&mut timeline, &[(12, 2), (11, 5)]);
        merge(&mut timeline, &[(13, 2)]);
        assert_eq!(timeline, [(10, 3), (11, 5), (12, 4), (13, 2)]);

        let mut long: Timeline = (0..SHOWN_MINUTES as i64).map(|m| (m, 1)).collect();
        merge(&mut long, &[(SHOWN_MINUTES as i64 + 5, 9)]);
        assert_eq!(long.len(), SHOWN_MINUTES);
        assert_eq!((long[0].0, long.last().copied()), (1, Some((SHOWN_MINUTES as i64 + 5, 9))));
        assert_eq!(minute_of(119), 1);
        assert_eq!(minute_of(-1), -1);
    }
}
