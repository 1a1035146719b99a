//! Real-browser tests: headless Chromium driven through chromedriver, a phone's width.
//! Each flow checks what a person sees after every step (one heading, one poll card, the
//! controls present or gone, nothing past the screen's edge, nothing swapped into the
//! wrong place), saves a screenshot under `target/screenshots/` and ends with an
//! axe-core audit of where it ended.

#![allow(clippy::unwrap_used)]

use votestream_harness as support;

mod embed;
mod harness;
mod keyboard;
mod live;
mod owners;
mod pages;
mod share;
mod stage;
mod voting;
