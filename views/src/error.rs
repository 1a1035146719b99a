//! The 404 page and the error page.

use maud::{Markup, html};

use crate::model::ErrorView;
use crate::paths;

/// The message with a way back.
pub fn fragment(error: &ErrorView) -> Markup {
    html! {
        section.error-page {
            p.status { (error.status) }
            h1 { (error.title) }
            p.message { (error.message) }
            a.button href=(paths::Home) { "Back to themes" }
        }
    }
}
