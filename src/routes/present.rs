//! From stored rows to view models.

use votestream_views::{Ballot, OptionTally, Results, ThemeSummary, VotePage};

use crate::domain::VoterId;
use crate::error::{AppError, Result};
use crate::store::{Poll, PollOption, Store, Theme};

pub fn theme_summary(theme: &Theme) -> ThemeSummary {
    ThemeSummary {
        slug: theme.slug.clone(),
        name: theme.name.clone(),
        icon: theme.icon.clone(),
        description: theme.description.clone(),
    }
}

pub fn results(poll_id: i64, options: &[PollOption], closed: bool) -> Results {
    Results {
        poll_id,
        options: options.iter().map(|o| OptionTally { id: o.id, text: o.text.clone(), votes: o.votes }).collect(),
        closed,
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
    let theme = store
        .theme_by_id(poll.theme_id)
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("poll {} has no theme", poll.id)))?;
    let ids = store.poll_ids_of_theme(poll.theme_id).await?;
    let index = ids.iter().position(|id| *id == poll.id).unwrap_or(0);
    let choice = store.choice(poll.id, voter).await?;
    Ok(VotePage {
        theme: theme_summary(&theme),
        question: poll.question.clone(),
        step: index + 1,
        steps: ids.len().max(1),
        results: results(poll.id, &poll.options, poll.closed),
        ballot: ballot(&poll, choice, again),
        next_poll: ids.get(index + 1).copied(),
    })
}
