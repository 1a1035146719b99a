//! VoteStream's HTML, as pure functions from plain view structs to [`Markup`].
//!
//! Every page module has `fragment()`: what an HTMX request swaps into `#main`, and what
//! `layout::page()` wraps into a whole document, so both render the same markup.

pub mod components;
pub mod error;
pub mod home;
pub mod layout;
pub mod manage;
pub mod model;
pub mod new_poll;
pub mod paths;
pub mod poll;
pub mod presenter;
pub mod stats;
pub mod theme;
pub mod timeline;

pub use maud::Markup;
pub use model::*;
