//! From stored rows to view models.

use votestream_views::{Ballot, ThemeSummary, VotePage};

use crate::domain::VoterId;
use crate::error::{AppError, Result};
use crate::store::{Poll, Store, Theme};
use crate::web::results_view;

pub fn theme_summary(theme: &Theme) -> ThemeSummary {
    ThemeSummary {
        slug: theme.slug.clone(),
        name: theme.name.clone(),
        icon: theme.icon.clone(),
        description: theme.description.clone(),
    }
}

/// How the voter's ballot stands; `again` marks a refused second vote.
pub fn ballot(poll: &Poll, choice: Option<i64>, again: bool) -> Ballot {
    match (poll.closed, choice) {
        (true, option_id) => Ballot::Closed { option_id },
        (false, Some(option_id)) => Ballot::Voted { option_id, again },
        (false, None) => Ballot::Open,
    }
}

/// Everything the vote page shows for `voter`.
pub async fn vote_page(store: &dyn Store, poll: Poll, voter: &VoterId, again: bool) -> Result<VotePage> {
    // Three independent lookups: one round trip of waiting, not three.
    let (theme, ids, choice) = tokio::try_join!(
        store.theme_by_id(poll.theme_id),
        store.poll_ids_of_theme(poll.theme_id),
        store.choice(poll.id, voter),
    )?;
    let theme = theme.ok_or_else(|| AppError::Internal(anyhow::anyhow!("poll {} has no theme", poll.id)))?;
    let index = ids.iter().position(|id| *id == poll.id).unwrap_or(0);
    Ok(VotePage {
        theme: theme_summary(&theme),
        question: poll.question.clone(),
        step: index + 1,
        steps: ids.len().max(1),
        results: results_view(poll.id, &poll.options, poll.closed),
        ballot: ballot(&poll, choice, again),
        next_poll: ids.get(index + 1).copied(),
    })
}
