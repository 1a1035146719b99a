//! Small pieces shared by the pages.

use maud::{Markup, html};

/// The letter shown before option `index`: A, B, C…
pub fn letter(index: usize) -> char {
    // At most ten options, so the alphabet never runs out; fall back to '?' defensively.
    u8::try_from(index).ok().filter(|i| *i < 26).map_or('?', |i| char::from(b'A' + i))
}

/// `1 vote`, `2 votes`.
pub fn count(n: i64, noun: &str) -> String {
    if n == 1 { format!("1 {noun}") } else { format!("{n} {noun}s") }
}

/// `votes` out of `total` as a whole percentage (0 when nobody voted).
pub fn percent(votes: i64, total: i64) -> i64 {
    if total <= 0 { 0 } else { (votes * 100 + total / 2) / total }
}

/// The class that gives an element its theme's colour (from `/themes.css`).
pub fn theme_class(slug: &str) -> String {
    format!("theme-{slug}")
}

/// A "← Back to …" link.
pub fn back_link(href: &str, text: &str) -> Markup {
    html! { a.back href=(href) { "← " (text) } }
}

/// What a page says while the database is away and it shows the latest copy it has.
pub const PAUSED: &str = "VoteStream cannot reach its database just now. You are seeing the latest results it has, \
     and voting is paused; it resumes by itself.";

/// The banner above a page rendered while the database is away.
pub fn paused_banner() -> Markup {
    html! { p.notice.paused role="status" { (PAUSED) } }
}

/// Texts quoted and joined: "“Tea”", "“Tea” and “Cake”", "“A”, “B” and “C”".
pub fn quoted_list<'a>(texts: impl IntoIterator<Item = &'a str>) -> String {
    let quoted: Vec<String> = texts.into_iter().map(|t| format!("“{t}”")).collect();
    match quoted.split_last() {
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} and {last}", rest.join(", ")),
        None => String::new(),
    }
}
