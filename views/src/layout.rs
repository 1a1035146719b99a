//! The document around every page.

use maud::{DOCTYPE, Markup, html};

use crate::model::Follow;
use crate::paths;

/// htmx settings: no injected styles or eval (so the CSP holds), and 4xx answers
/// (validation, already voted) are swapped in like any other page.
const HTMX_CONFIG: &str = r#"{"includeIndicatorStyles":false,"allowEval":false,"allowScriptTags":false,"responseHandling":[{"code":"204","swap":false},{"code":"[234]..","swap":true},{"code":"5..","swap":true,"error":true}]}"#;

/// What every document's head starts with: encoding, viewport, htmx and its settings,
/// the stylesheets, the title.
pub fn shared_head(title: &str) -> Markup {
    html! {
        meta charset="utf-8";
        meta name="viewport" content="width=device-width, initial-scale=1";
        meta name="htmx-config" content=(HTMX_CONFIG);
        title { (title) " · VoteStream" }
        link rel="stylesheet" href=(paths::APP_CSS);
        link rel="stylesheet" href=(paths::ThemesCss);
        script src=(paths::HTMX_JS) defer {}
        script src=(paths::HTMX_SSE_JS) defer {}
        script src=(paths::APP_JS) defer {}
    }
}

/// A full HTML document with `content` as the main part.
pub fn page(title: &str, content: Markup) -> Markup {
    page_with_head(title, html! {}, content)
}

/// The same, with `head` (link previews, discovery links) added to the document's head.
pub fn page_with_head(title: &str, head: Markup, content: Markup) -> Markup {
    document(title, head, None, content)
}

/// A page that follows a presentation (a phone that joined one): when the presenter
/// moves on, the page shows the new poll.
pub fn page_following(title: &str, head: Markup, follow: &Follow, content: Markup) -> Markup {
    document(title, head, Some(follow), content)
}

fn document(title: &str, head: Markup, follow: Option<&Follow>, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                (shared_head(title))
                link rel="icon" href=(paths::FAVICON) type="image/svg+xml";
                (head)
            }
            body hx-boost="true" hx-target="#main" hx-swap="innerHTML show:window:top" {
                a.skip href="#main" { "Skip to content" }
                header.site-header {
                    a.brand href=(paths::Home) { span.brand-mark aria-hidden="true" { "▮▮▮" } " VoteStream" }
                    nav aria-label="Main" {
                        a href=(paths::Home) { "Themes" }
                        a.button.small href=(paths::NewPoll) { "Create a poll" }
                    }
                }
                @if let Some(follow) = follow {
                    (crate::presenter::follower(follow))
                }
                main #main tabindex="-1" { (content) }
                footer.site-footer {
                    p { "VoteStream — vote and watch what everyone thinks. " a href=(paths::Stats) { "Stats" } }
                }
            }
        }
    }
}

/// What an HTMX request receives: the fragment, with a `<title>` htmx moves into the head.
pub fn fragment(title: &str, content: Markup) -> Markup {
    html! {
        title { (title) " · VoteStream" }
        (content)
    }
}

/// The document around an embedded poll: no site header or footer, and the script that
/// tells the host page how tall the poll is.
pub fn embed(title: &str, content: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                (shared_head(title))
                script src=(paths::EMBED_JS) defer {}
            }
            body.embedded hx-boost="true" hx-target="#main" hx-swap="innerHTML" {
                main #main tabindex="-1" { (content) }
            }
        }
    }
}
