//! HTTP tests: the real server over a real PostgreSQL, driven like a browser or a script.

#![allow(clippy::unwrap_used)]

#[path = "../support/mod.rs"]
mod support;

mod api;
mod create;
mod embedded;
mod pages;
mod security;
mod voting;
