//! `/stats`: totals.

use maud::{Markup, html};

use crate::model::Stats;

/// Page title.
pub const TITLE: &str = "Stats";

/// The totals as a definition list.
pub fn fragment(stats: &Stats) -> Markup {
    let rows = [("Themes", stats.themes), ("Polls", stats.polls), ("Options", stats.options), ("Votes", stats.votes)];
    html! {
        h1 { (TITLE) }
        dl.stats {
            @for (label, value) in rows {
                div { dt { (label) } dd { (value) } }
            }
        }
    }
}
